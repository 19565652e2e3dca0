"""Workflow runs: the one module that talks to Step Functions.

A run is (store, workflow, subject). Its name is derived from that triple, so Step Functions
itself refuses a second run of a workflow for one subject — a redelivered event, or Shopify's
orders/paid after orders/create — and ExecutionAlreadyExists counts as done. Each template's
state machine is named `<stack>_<template>`: the functions know the common prefix
(STATE_MACHINE_ARN_PREFIX), never a template's ARN."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from storeflows.aws import client
from storeflows.config import require, settings
from storeflows.events import StoreEvent
from storeflows.events.subjects import RunSubject
from storeflows.messaging.requests import SendRun
from storeflows.storage import keys
from storeflows.workflows import Workflow

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def run_name(store_id: str, subject_key: str, workflow_id: str) -> str:
    """The name of the one run of a workflow for a subject (the dispatcher starts it, an
    erasure stops it). Deterministic, at most 80 legal characters: a readable prefix and a
    hash of the triple."""
    digest = hashlib.sha256(f"{store_id}\x1f{subject_key}\x1f{workflow_id}".encode()).hexdigest()[:40]
    prefix = _NAME_UNSAFE.sub("_", f"{store_id}-{workflow_id}")[:38]
    return f"{prefix}-{digest}"


def run_name_prefix(store_id: str, workflow_id: str) -> str:
    """What every run name of (store, workflow) starts with: run_name's readable part."""
    name = run_name(store_id, "", workflow_id)
    return name[: name.rindex("-") + 1]


def state_machine_arn(template: str) -> str:
    return require("state_machine_arn_prefix") + template


def state_machines_known() -> bool:
    """Whether this environment knows the state machines (the CLI without a stack does not)."""
    return settings().state_machine_arn_prefix is not None


def execution_arn(state_machine: str, name: str) -> str:
    """arn:…:stateMachine:<machine> + run name -> arn:…:execution:<machine>:<run name>."""
    return f"{state_machine.replace(':stateMachine:', ':execution:', 1)}:{name}"


def run_input(event: StoreEvent, workflow: Workflow, subject: RunSubject, email: str) -> dict[str, Any]:
    """Everything a run needs, snapshotted at start; the ASL never builds a key itself."""
    send = SendRun(
        store_id=event.store_id,
        workflow_id=workflow.workflow_id,
        email=email,
        subject=subject,
        frequency_cap_seconds=workflow.settings.frequency_cap_seconds(),
        exit_on_purchase_after=workflow.settings.exit_on_purchase_after(event.received_at, event.event),
    )
    return {
        "store_id": event.store_id,
        "workflow_id": workflow.workflow_id,
        "workflow_version": workflow.version,
        "event_id": event.event_id,
        "email": email,
        "subject_key": subject.key,
        "settings": workflow.settings.model_dump(mode="json"),
        "contact_key": keys.as_attribute_values(keys.contact_key(event.store_id, email)),
        # Without fields left unset (None), so inputs of templates that use none stay as they were.
        "send": send.model_dump(mode="json", exclude_none=True),
        **workflow.settings.run_inputs(event.store_id, email, workflow.workflow_id, subject.key, event.event),
    }


def start_run(event: StoreEvent, workflow: Workflow, subject: RunSubject, email: str) -> bool:
    """Starts the run; False when a run for this (store, workflow, subject) already exists."""
    return start_named_run(workflow, subject.key, run_input(event, workflow, subject, email))


def start_scheduled_run(
    workflow: Workflow,
    subject: RunSubject,
    email: str,
    *,
    tick: str,
    inputs: dict[str, Any],
    exit_on_engagement_after: datetime | None = None,
) -> bool:
    """Starts a run the schedule's tick (its scheduled time, `tick`) found due, with the
    template's `inputs`. False when the run exists already (an earlier or retried tick).
    `exit_on_engagement_after`: the run's sends stop once the contact engages after it."""
    started = {
        **run_input_for_schedule(
            workflow, subject, email, tick=tick, exit_on_engagement_after=exit_on_engagement_after
        ),
        **inputs,
    }
    return start_named_run(workflow, subject.key, started)


def run_input_for_schedule(
    workflow: Workflow,
    subject: RunSubject,
    email: str,
    *,
    tick: str,
    exit_on_engagement_after: datetime | None = None,
) -> dict[str, Any]:
    """The common run input as an event's run has it, the tick in place of the event."""
    send = SendRun(
        store_id=workflow.store_id,
        workflow_id=workflow.workflow_id,
        email=email,
        subject=subject,
        exit_on_engagement_after=exit_on_engagement_after,
    )
    return {
        "store_id": workflow.store_id,
        "workflow_id": workflow.workflow_id,
        "workflow_version": workflow.version,
        "event_id": f"schedule:{tick}",
        "email": email,
        "subject_key": subject.key,
        "settings": workflow.settings.model_dump(mode="json"),
        "contact_key": keys.as_attribute_values(keys.contact_key(workflow.store_id, email)),
        "send": send.model_dump(mode="json", exclude_none=True),
    }


def start_named_run(workflow: Workflow, subject_key: str, started_with: dict[str, Any]) -> bool:
    """Starts the workflow's one run about `subject_key` with this input (a run about no one
    contact, such as a catalogue alert's, builds its own); False when it exists already."""
    try:
        client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn(workflow.template),
            name=run_name(workflow.store_id, subject_key, workflow.workflow_id),
            input=json.dumps(started_with),
        )
    except ClientError as err:
        if err.response["Error"]["Code"] == "ExecutionAlreadyExists":
            return False
        raise
    return True


def possible_runs(
    store_id: str, workflows: Iterable[Workflow], subject_keys: Iterable[str]
) -> list[tuple[str, str, str]]:
    """(workflow, subject, execution ARN) of every run these workflows may have started for
    these subjects: runs are named by (store, subject, workflow), so no listing is needed."""
    subject_keys = sorted(set(subject_keys))
    return [
        (
            workflow.workflow_id,
            subject_key,
            execution_arn(state_machine_arn(workflow.template), run_name(store_id, subject_key, workflow.workflow_id)),
        )
        for workflow in workflows
        for subject_key in subject_keys
    ]


def stop_runs(runs: Iterable[tuple[str, str, str]], *, error: str, cause: str) -> list[dict[str, str]]:
    """Stops those of the runs that are running; returns them (workflow_id, subject)."""
    sfn = client("stepfunctions")
    stopped = []
    for workflow_id, subject_key, arn in runs:
        try:
            if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
                continue
            sfn.stop_execution(executionArn=arn, error=error, cause=cause)
        except ClientError as err:
            if err.response["Error"]["Code"] == "ExecutionDoesNotExist":
                continue
            raise
        stopped.append({"workflow_id": workflow_id, "subject": subject_key})
    return stopped


def _executions(workflow: Workflow, status: str) -> Iterator[dict[str, Any]]:
    """The executions in `status` of the template's state machine that are this workflow's
    runs: names made by run_name for it (the prefix, then the 40-character hash and nothing
    else). When the readable prefix was cut short, two workflows can share it, so each
    candidate's input is read to be sure. One ListExecutions call per 1,000 executions."""
    sfn = client("stepfunctions")
    full = run_name(workflow.store_id, "", workflow.workflow_id)
    prefix = run_name_prefix(workflow.store_id, workflow.workflow_id)
    hash_length = len(full) - len(prefix)
    ambiguous = len(prefix) - 1 < len(f"{workflow.store_id}-{workflow.workflow_id}")
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine_arn(workflow.template), statusFilter=status
    )
    for page in pages:
        for execution in page["executions"]:
            name = execution["name"]
            if not (
                name.startswith(prefix) and len(name) == len(prefix) + hash_length and "-" not in name[len(prefix) :]
            ):
                continue
            if ambiguous:
                started = json.loads(
                    sfn.describe_execution(executionArn=execution["executionArn"]).get("input") or "{}"
                )
                if (started.get("store_id"), started.get("workflow_id")) != (workflow.store_id, workflow.workflow_id):
                    continue
            yield execution


def count_in_flight(workflow: Workflow) -> int:
    """Running executions of the template's state machine for this workflow."""
    return sum(1 for _ in _executions(workflow, "RUNNING"))


def running_runs(workflow: Workflow) -> list[tuple[str, str, str]]:
    """(workflow, "", execution ARN) of the workflow's runs in flight, for stop_runs."""
    return [(workflow.workflow_id, "", execution["executionArn"]) for execution in _executions(workflow, "RUNNING")]


@dataclass(frozen=True)
class FailedRun:
    """One failed run: when it failed, what it was about, the step that failed and why."""

    failed_at: str
    subject: str | None
    email: str | None
    step: str | None
    error: str | None
    cause: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def failed_runs(workflow: Workflow, *, latest: int = 3) -> tuple[int, list[FailedRun]]:
    """How many of the workflow's runs failed (those Step Functions still lists: it keeps an
    execution for 90 days after it ends) and the `latest` most recent failures, each with
    the step that failed and its error and cause. Step Functions calls: the listing (one per
    1,000 failed executions of the template), then two per failure shown (its history and
    its input), so at most 2 x `latest` whatever the number of failures."""
    failed = sorted(
        _executions(workflow, "FAILED"), key=lambda item: item.get("stopDate") or item["startDate"], reverse=True
    )
    return len(failed), [_failure(execution) for execution in failed[:latest]]


# The history's last events hold the failure; its failing step comes before a few more
# (retries of the step, a clean-up step such as the care series' LeaveSeriesAfterFailure).
_HISTORY_EVENTS = 100


def _failure(execution: dict[str, Any]) -> FailedRun:
    sfn = client("stepfunctions")
    arn = execution["executionArn"]
    described = sfn.describe_execution(executionArn=arn)
    events = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=_HISTORY_EVENTS)["events"]
    newest_first = sorted(events, key=lambda event: event["id"], reverse=True)
    details = next(
        (
            event.get("executionFailedEventDetails") or {}
            for event in newest_first
            if event["type"] == "ExecutionFailed"
        ),
        {},
    )
    started = json.loads(described.get("input") or "{}")
    stopped = execution.get("stopDate") or described.get("stopDate") or execution["startDate"]
    return FailedRun(
        failed_at=stopped.isoformat(timespec="seconds") if hasattr(stopped, "isoformat") else str(stopped),
        subject=started.get("subject_key"),
        email=started.get("email"),
        step=failing_step(newest_first),
        error=details.get("error") or described.get("error"),
        cause=_readable_cause(details.get("cause") or described.get("cause")),
    )


def failing_step(newest_first: list[dict[str, Any]]) -> str | None:
    """The state whose task failed: the state entered last before the latest failed (or
    timed out) task; without one (a Fail state reached on its own), the last state entered
    that is not a Fail state."""
    failed_task = next(
        (
            index
            for index, event in enumerate(newest_first)
            if event["type"] != "ExecutionFailed" and event["type"].endswith(("Failed", "TimedOut"))
        ),
        None,
    )
    for event in newest_first[failed_task or 0 :]:
        if event["type"].endswith("StateEntered") and event["type"] != "FailStateEntered":
            return (event.get("stateEnteredEventDetails") or {}).get("name")
    return None


def _readable_cause(cause: str | None) -> str | None:
    """A Lambda task's cause is its error as JSON (errorMessage, errorType, stackTrace): the
    message is what an operator reads."""
    if not cause:
        return cause
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        return parsed["errorMessage"]
    return cause
