"""Bounded polling for the demo and the tests: wait for a run to finish, or fail loudly."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import boto3

T = TypeVar("T")

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class StillWaiting(AssertionError):
    pass


def wait_for(
    probe: Callable[[], T | None], *, timeout: float = 20.0, interval: float = 0.1, what: str = "condition"
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise StillWaiting(f"gave up after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def state_machine_arn(name_suffix: str) -> str:
    machines = boto3.client("stepfunctions").list_state_machines()["stateMachines"]
    return next(m["stateMachineArn"] for m in machines if m["name"].endswith(name_suffix))


def wait_for_run(state_machine: str, run_name: str, *, timeout: float = 20.0) -> dict:
    """Waits until the named execution exists and has ended; returns describe_execution."""
    sfn = boto3.client("stepfunctions")
    arn = state_machine.replace(":stateMachine:", ":execution:") + f":{run_name}"

    def ended() -> dict | None:
        try:
            execution = sfn.describe_execution(executionArn=arn)
        except sfn.exceptions.ExecutionDoesNotExist:
            return None
        return execution if execution["status"] in TERMINAL else None

    return wait_for(ended, timeout=timeout, what=f"run {run_name}")


def wait_until_quiet(queue_url: str, state_machine: str, *, timeout: float = 20.0) -> None:
    """Waits until the event queue is drained and no run of the state machine is running,
    so a test can assert that something did *not* happen."""
    sqs = boto3.client("sqs")
    sfn = boto3.client("stepfunctions")

    def quiet() -> bool:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        if any(int(value) for value in attributes.values()):
            return False
        return not sfn.list_executions(stateMachineArn=state_machine, statusFilter="RUNNING")["executions"]

    wait_for(quiet, timeout=timeout, what="the event queue to drain and runs to finish")
