"""The welcome series state machine: its steps in order with the settings' messages (as many
as the settings list), one series per contact (the WELCOMED# item, written before the first
wait, naming the run for an erasure), again only after `welcome_again_after`, and the
purchase exit handed to every send step in its run (the send step skips; tests/functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storeflows.events import StoreEvent
from storeflows.events.subscription import SubscribedEvent
from storeflows.workflows import Workflow, WorkflowStatus, runs

STORE_ID, WORKFLOW_ID, EMAIL = "shop", "wf", "ana@example.com"  # as tests/workflows/conftest.py

SETTINGS = {"template": "welcome_series"}


def subscribed_run_input(settings: dict, event_id: str = "signup:abc") -> dict:
    """The input the dispatcher gives a welcome run for a confirmed sign-up."""
    event = StoreEvent(
        store_id=STORE_ID,
        event_id=event_id,
        source="browser",
        received_at=datetime.now(UTC),
        event=SubscribedEvent(type="subscribed", customer={"email": EMAIL}, source="popup"),
    )
    workflow = Workflow(store_id=STORE_ID, workflow_id=WORKFLOW_ID, status=WorkflowStatus.PUBLISHED, settings=settings)
    assert workflow.runs_for(event.event), "the dispatcher would start no run for this sign-up"
    return runs.run_input(event, workflow, event.event.run_subject(event.event_id), EMAIL)


def test_the_default_series_sends_three_welcomes_in_order_after_naming_the_run(workflow_engine):
    run_input = subscribed_run_input(SETTINGS)
    named_before_sending = []

    def send(payload):
        named_before_sending.append(workflow_engine.item(run_input["welcome_key"]))
        return {"status": "sent"}

    workflow_engine.send.answer = send
    status, states, _ = workflow_engine.run("welcome_series", run_input)
    assert status == "SUCCEEDED"
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": f"welcome-{n}", "step": f"SendWelcome{n}"} for n in (1, 2, 3)
    ]
    assert states[0] == "EnterWelcomeSeries"
    assert states.index("WaitBeforeWelcome2") < states.index("SendWelcome2")
    assert "SendWelcome4" not in states
    # The item an erasure reads the run's subject from is there before the first wait.
    assert named_before_sending[0]["subject"] == {"S": "event:signup:abc"}
    assert ":execution:" in named_before_sending[0]["execution"]["S"]
    # The purchase exit travels with every send step (the send step checks it).
    assert "exit_on_purchase_after" in run_input["send"]


def test_a_series_has_as_many_steps_as_its_settings_list(workflow_engine):
    steps = [{"message": f"hello-{n}", "wait": "1d"} for n in range(5)]
    status, states, _ = workflow_engine.run("welcome_series", subscribed_run_input({**SETTINGS, "steps": steps}))
    assert status == "SUCCEEDED"
    assert workflow_engine.sent() == [f"hello-{n}" for n in range(5)]
    assert states[-1] == "SendWelcome5"

    workflow_engine.send.payloads.clear()
    one = subscribed_run_input({**SETTINGS, "steps": [{"message": "only"}]}, event_id="signup:other")
    workflow_engine.dynamodb.delete_item(TableName=workflow_engine.table, Key=one["welcome_key"])
    status, states, _ = workflow_engine.run("welcome_series", one)
    assert (status, workflow_engine.sent(), states[-1]) == ("SUCCEEDED", ["only"], "WelcomeSeriesDone")


def test_without_exit_on_purchase_the_sends_carry_no_purchase_exit():
    run_input = subscribed_run_input({**SETTINGS, "exit_on_purchase": False})
    assert "exit_on_purchase_after" not in run_input["send"]


def test_a_contact_welcomed_before_gets_no_second_series(workflow_engine):
    first = subscribed_run_input(SETTINGS, event_id="signup:first")
    assert workflow_engine.run("welcome_series", first).status == "SUCCEEDED"
    workflow_engine.send.payloads.clear()
    status, states, _ = workflow_engine.run("welcome_series", subscribed_run_input(SETTINGS, event_id="signup:again"))
    assert status == "SUCCEEDED"
    assert states == ["EnterWelcomeSeries", "AlreadyWelcomed"]
    assert workflow_engine.sent() == []
    assert workflow_engine.item(first["welcome_key"])["subject"] == {"S": "event:signup:first"}


@pytest.mark.parametrize(("started_at", "welcomed_again"), [("2020-01-01T00:00:00Z", True), (None, False)])
def test_welcome_again_after_lets_a_much_later_sign_up_start_a_series(workflow_engine, started_at, welcomed_again):
    settings = {**SETTINGS, "welcome_again_after": "365d"}
    run_input = subscribed_run_input(settings, event_id="signup:later")
    recent = datetime.now(UTC).isoformat()
    workflow_engine.put(
        run_input["welcome_key"],
        workflow_id={"S": WORKFLOW_ID},
        subject={"S": "event:signup:long-ago"},
        started_at={"S": started_at or recent},
    )
    _, states, _ = workflow_engine.run("welcome_series", run_input)
    assert ("SendWelcome1" in states) is welcomed_again
