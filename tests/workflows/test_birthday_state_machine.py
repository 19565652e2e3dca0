"""The birthday and anniversary state machines: the minutes from the schedule's tick to
`send_at` (the run input's `wait_seconds`, storeflows.schedules), then the one message."""

from __future__ import annotations

from datetime import time

from storeflows.errors import UnknownMessage
from storeflows.events.subjects import DateSubject
from storeflows.workflows import Workflow, WorkflowStatus, runs
from storeflows.workflows.templates.birthday import BirthdaySettings

SUBJECT = DateSubject(occasion="birthday", on="2026-12-05", contact="0" * 24)


def birthday_input(wait_seconds: int) -> dict:
    workflow = Workflow(
        store_id="shop",
        workflow_id="birthday",
        status=WorkflowStatus.PUBLISHED,
        settings=BirthdaySettings(message="birthday", send_at=time(9, 30)),
    )
    return {
        **runs.run_input_for_schedule(workflow, SUBJECT, "ana@example.com", tick="2026-12-05T08:00:00+00:00"),
        "wait_seconds": wait_seconds,
        "send_at": "2026-12-05T08:30:00+00:00",
    }


def test_the_run_waits_until_send_at_then_sends_the_birthday_message(workflow_engine):
    run_input = birthday_input(1800)
    status, states, _ = workflow_engine.run("birthday", run_input)
    assert status == "SUCCEEDED"
    assert states == ["WaitUntilSendTime", "SendBirthdayMessage"]
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": "birthday", "step": "SendBirthdayMessage"}
    ]
    assert run_input["send"]["subject"]["type"] == "date"


def test_a_failing_send_fails_the_run_with_the_send_error(workflow_engine):
    workflow_engine.send.raises(UnknownMessage("no message 'birthday'"))
    status, states, failure = workflow_engine.run("birthday", birthday_input(0))
    assert (status, states[-1], failure["error"]) == ("FAILED", "SendBirthdayMessage", "UnknownMessage")


def test_the_anniversary_run_waits_until_send_at_then_sends_its_message(workflow_engine):
    from storeflows.workflows.templates.anniversary import AnniversarySettings

    workflow = Workflow(
        store_id="shop",
        workflow_id="anniversary",
        status=WorkflowStatus.PUBLISHED,
        settings=AnniversarySettings(message="anniversary"),
    )
    subject = DateSubject(occasion="anniversary", on="2026-12-05", contact="0" * 24, years=2)
    run_input = {
        **runs.run_input_for_schedule(workflow, subject, "ana@example.com", tick="2026-12-05T08:00:00+00:00"),
        "wait_seconds": 0,
        "send_at": "2026-12-05T08:00:00+00:00",
    }
    status, states, _ = workflow_engine.run("anniversary", run_input)
    assert (status, states) == ("SUCCEEDED", ["WaitUntilSendTime", "SendAnniversaryMessage"])
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": "anniversary", "step": "SendAnniversaryMessage"}
    ]
