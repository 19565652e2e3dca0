"""The replenishment state machine: one run per (order, SKU) waits until the moment the
dispatcher computed (`remind_at` of its subject), sends the reminder, then the optional
second one after `second_reminder_after`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storeflows.errors import UnknownMessage
from storeflows.events import StoreEvent
from storeflows.events.purchase import PurchaseEvent
from storeflows.events.subjects import ReorderSubject
from storeflows.workflows import Workflow, WorkflowStatus, runs

# As the other state-machine tests (tests/workflows/conftest.py).
STORE_ID, WORKFLOW_ID, EMAIL, ORDER_ID = "shop", "wf", "ana@example.com", "1001"

SETTINGS = {"template": "replenishment", "reminder_message": "time-to-reorder"}


def reorder_run_input(settings: dict, *, remind_in: timedelta = timedelta(days=60)) -> dict:
    now = datetime.now(UTC).replace(microsecond=0)
    event = StoreEvent(
        store_id=STORE_ID,
        event_id=f"api:{ORDER_ID}",
        source="api",
        received_at=now,
        event=PurchaseEvent(
            type="purchase",
            order={"id": ORDER_ID, "total": "50.00", "currency": "EUR", "items": [{"sku": "TEA", "quantity": 2}]},
            customer={"email": EMAIL},
        ),
    )
    workflow = Workflow(store_id=STORE_ID, workflow_id=WORKFLOW_ID, status=WorkflowStatus.PUBLISHED, settings=settings)
    subject = ReorderSubject(
        order_id=ORDER_ID, sku="TEA", quantity=2, variant_id="v1", due_at=now + remind_in, remind_at=now + remind_in
    )
    return runs.run_input(event, workflow, subject, EMAIL)


def test_the_reminder_goes_when_the_sku_should_run_out_and_the_run_ends_without_a_second(workflow_engine):
    run_input = reorder_run_input(SETTINGS)
    assert run_input["send"]["subject"]["remind_at"].endswith("Z"), "TimestampPath needs RFC 3339 UTC"
    assert run_input["subject_key"] == f"reorder:{ORDER_ID}:TEA"
    status, states, _ = workflow_engine.run("replenishment", run_input)
    assert status == "SUCCEEDED"
    assert states == ["WaitUntilRunningOut", "SendReminder", "HasSecondReminder?", "ReminderSeriesOver"]
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": "time-to-reorder", "step": "SendReminder"}
    ]


def test_a_second_reminder_follows_after_its_wait(workflow_engine):
    settings = {**SETTINGS, "second_reminder_message": "last-call-reorder", "second_reminder_after": "5d"}
    status, states, _ = workflow_engine.run("replenishment", reorder_run_input(settings))
    assert status == "SUCCEEDED"
    assert states[-2:] == ["WaitBeforeSecondReminder", "SendSecondReminder"]
    assert workflow_engine.sent() == ["time-to-reorder", "last-call-reorder"]


def test_a_moment_already_past_sends_at_once(workflow_engine):
    status, states, _ = workflow_engine.run("replenishment", reorder_run_input(SETTINGS, remind_in=-timedelta(days=3)))
    assert status == "SUCCEEDED"
    assert workflow_engine.sent() == ["time-to-reorder"]


def test_a_failing_send_fails_the_run_with_the_send_error(workflow_engine):
    workflow_engine.send.raises(UnknownMessage("no message 'time-to-reorder'"))
    status, states, failure = workflow_engine.run("replenishment", reorder_run_input(SETTINGS))
    assert status == "FAILED"
    assert states[-1] == "SendReminder"
    assert failure["error"] == "UnknownMessage"
