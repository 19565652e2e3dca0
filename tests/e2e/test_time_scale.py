"""STOREFLOWS_TIME_SCALE: a Wait of days passes in seconds, in the local stack only."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from storeflows_local.waiting import wait_for

pytestmark = pytest.mark.e2e


def test_an_eight_day_wait_passes_in_about_two_seconds_at_four_days_per_second(stack):
    assert stack.time_scale == 4 * 86400
    sfn = boto3.client("stepfunctions")
    definition = {
        "StartAt": "WaitTwoDays",
        "States": {
            "WaitTwoDays": {"Type": "Wait", "SecondsPath": "$.wait_seconds", "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    machine = sfn.create_state_machine(
        name=f"time-scale-{time.time_ns()}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/test",
    )["stateMachineArn"]
    started = time.monotonic()
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"wait_seconds": 8 * 86400}))
    wait_for(
        lambda: sfn.describe_execution(executionArn=execution["executionArn"])["status"] == "SUCCEEDED",
        timeout=15,
        what="the eight-day wait",
    )
    elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 10, f"an eight-day wait took {elapsed:.1f}s at 4 days per second"
