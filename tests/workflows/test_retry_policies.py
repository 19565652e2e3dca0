"""Every Task state of every template retries by the policy of its kind, written once here.

Three kinds of Task: the send function (Lambda's own transient errors, and the send step's
SendThrottled / SendInProgress, which ask for a later attempt), any other function (Lambda's
transient errors), and a direct DynamoDB call (throttling and DynamoDB's internal errors).
Changing a policy is one edit in the ASL files and one here; a state left behind, or a new
kind of Task with no policy, fails this test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASL_FILES = sorted((ROOT / "statemachines").glob("*.asl.json"))

LAMBDA_SERVICE_ERRORS = {
    "ErrorEquals": [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "Lambda.ClientExecutionTimeoutException",
    ],
    "IntervalSeconds": 2,
    "MaxAttempts": 6,
    "BackoffRate": 2.0,
    "JitterStrategy": "FULL",
}
# Retried until the burst has passed: the SES pacer (storeflows.messaging.pacing) refuses what
# does not fit within 2 s. Waits of 5, 10, ... 300 s, each drawn from [0, wait] (full jitter):
# about 150 s an attempt once at the cap, so 1,000 attempts keep a send trying for about 41
# hours (README "Sending at SES's pace"), longer than SES's 24-hour quota window.
SEND_LATER = {
    "ErrorEquals": ["SendThrottled", "SendInProgress"],
    "IntervalSeconds": 5,
    "MaxAttempts": 1000,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 300,
    "JitterStrategy": "FULL",
}
DYNAMODB_THROTTLING = {
    "ErrorEquals": [
        "DynamoDB.ProvisionedThroughputExceededException",
        "DynamoDB.ThrottlingException",
        "DynamoDB.RequestLimitExceeded",
        "DynamoDB.InternalServerErrorException",
    ],
    "IntervalSeconds": 1,
    "MaxAttempts": 6,
    "BackoffRate": 2.0,
    "JitterStrategy": "FULL",
}
POLICIES = {
    "send function": [LAMBDA_SERVICE_ERRORS, SEND_LATER],
    "other function": [LAMBDA_SERVICE_ERRORS],
    "DynamoDB": [DYNAMODB_THROTTLING],
}


def kind(task: dict[str, Any]) -> str | None:
    """Which policy a Task state follows; None for a kind of Task this test has no policy for."""
    resource = task.get("Resource", "")
    if resource == "arn:aws:states:::lambda:invoke":
        return (
            "send function" if task["Parameters"]["FunctionName"] == "${SendMessageFunctionArn}" else "other function"
        )
    if resource.startswith("arn:aws:states:::dynamodb:"):
        return "DynamoDB"
    return None


def tasks(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, state) of every Task state, those inside Parallel branches and Map item
    processors too (none today: a new one must not escape the policies)."""
    for name, state in definition["States"].items():
        if state["Type"] == "Task":
            yield name, state
        nested = [*state.get("Branches", []), *(state[key] for key in ("ItemProcessor", "Iterator") if key in state)]
        for inner in nested:
            yield from tasks(inner)


def retry_problems(definition: dict[str, Any]) -> list[str]:
    problems = []
    for name, task in tasks(definition):
        found = kind(task)
        if found is None:
            problems.append(f"{name}: {task.get('Resource')} is a kind of Task with no retry policy here")
        elif task.get("Retry") != POLICIES[found]:
            problems.append(f"{name}: Retry is not the {found} policy: {task.get('Retry')}")
    return problems


def definition(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda path: path.name)
def test_every_task_retries_by_the_policy_of_its_kind(path):
    assert retry_problems(definition(path)) == []


def test_every_policy_is_followed_by_some_task():
    """A policy no state follows is a stale one (or `kind` no longer recognises its states)."""
    used = {kind(task) for path in ASL_FILES for _, task in tasks(definition(path))}
    assert used == set(POLICIES)


@pytest.mark.parametrize(
    ("template", "state", "change"),
    [
        ("order_value", "SendOrderValueMessage", lambda retry: retry[1].update(MaxAttempts=3)),
        ("order_value", "SendOrderValueMessage", lambda retry: retry.reverse()),  # retriers match in order
        ("consent_confirmation", "CheckLocationAndConsent", lambda retry: retry.append(SEND_LATER)),
        ("care_series", "EnterCareSeries", lambda retry: retry.clear()),
    ],
    ids=["send-max-attempts", "send-retrier-order", "other-function-extra-retrier", "dynamodb-no-retry"],
)
def test_the_checker_names_a_state_whose_policy_differs(template, state, change):
    changed = definition(ROOT / "statemachines" / f"{template}.asl.json")
    change(changed["States"][state]["Retry"])
    [problem] = retry_problems(changed)
    assert problem.startswith(f"{state}: Retry is not the ")


def test_the_checker_names_a_task_of_a_kind_without_a_policy():
    changed = definition(ROOT / "statemachines" / "order_value.asl.json")
    changed["States"]["SendOrderValueMessage"]["Resource"] = "arn:aws:states:::sqs:sendMessage"
    assert retry_problems(changed) == [
        "SendOrderValueMessage: arn:aws:states:::sqs:sendMessage is a kind of Task with no retry policy here"
    ]


@pytest.mark.parametrize(
    "wrap",
    [
        lambda inner: {"Type": "Parallel", "Branches": [inner], "End": True},
        lambda inner: {"Type": "Map", "ItemProcessor": inner, "End": True},
    ],
    ids=["parallel", "map"],
)
def test_the_checker_looks_inside_nested_state_machines(wrap):
    inner = definition(ROOT / "statemachines" / "order_value.asl.json")
    inner["States"]["SendOrderValueMessage"]["Retry"] = [LAMBDA_SERVICE_ERRORS]
    wrapped = {"StartAt": "Nested", "States": {"Nested": wrap(inner)}}
    assert [problem.split(":")[0] for problem in retry_problems(wrapped)] == ["SendOrderValueMessage"]
