"""The wishlist reminder state machine: the run holds the contact's wishlist (one run at a
time, named on the item before its first wait), waits again while products keep coming,
sends one reminder named with the wishlist's version, lets go after the cooldown (or
reminds again of what was added meanwhile), and lets go before failing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from storeflows.errors import UnknownMessage
from storeflows.events import StoreEvent
from storeflows.events.subjects import WishlistSubject
from storeflows.events.wishlist import WishlistAddedEvent
from storeflows.workflows import Workflow, WorkflowStatus, runs

STORE_ID, WORKFLOW_ID, EMAIL = "shop", "wf", "ana@example.com"  # as tests/workflows/conftest.py
SETTINGS = {"template": "wishlist_reminder", "reminder_message": "wishlist"}


def wishlist_run_input(event_id: str = "api:add-1", settings: dict | None = None) -> dict:
    event = StoreEvent(
        store_id=STORE_ID,
        event_id=event_id,
        source="api",
        received_at=datetime.now(UTC),
        event=WishlistAddedEvent(type="wishlist_added", customer={"email": EMAIL}, product={"product_id": "p-1"}),
    )
    workflow = Workflow(
        store_id=STORE_ID, workflow_id=WORKFLOW_ID, status=WorkflowStatus.PUBLISHED, settings=settings or SETTINGS
    )
    assert workflow.runs_for(event.event)
    return runs.run_input(event, workflow, WishlistSubject(started_by=event_id), EMAIL)


def put_wishlist(engine, run_input: dict, adds: int, **attributes) -> None:
    engine.put(run_input["wishlist_key"], adds={"N": str(adds)}, **attributes)


def test_one_reminder_after_the_wait_then_the_wishlist_is_let_go(workflow_engine):
    run_input = wishlist_run_input()
    put_wishlist(workflow_engine, run_input, 1)
    held = []
    workflow_engine.send.answer = lambda payload: (
        held.append(workflow_engine.item(run_input["wishlist_key"])) or {"status": "sent"}
    )
    status, states, _ = workflow_engine.run("wishlist_reminder", run_input)
    assert status == "SUCCEEDED"
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": "wishlist", "step": "SendWishlistReminder#1"}
    ]
    assert held[0]["subject"] == {"S": "wishlist:api:add-1"}, "the item names the run (an erasure finds it)"
    assert states.index("ClaimWishlist") < states.index("WaitBeforeReminder") < states.index("SendWishlistReminder")
    assert states[-1] == "LetGoOfWishlist"
    assert "subject" not in workflow_engine.item(run_input["wishlist_key"])


def test_a_second_run_ends_at_once_while_another_holds_the_wishlist(workflow_engine):
    run_input = wishlist_run_input("api:add-2")
    put_wishlist(workflow_engine, run_input, 2, subject={"S": "wishlist:api:add-1"})
    status, states, _ = workflow_engine.run("wishlist_reminder", run_input)
    assert (status, states) == ("SUCCEEDED", ["ClaimWishlist", "AnotherRunHoldsTheWishlist"])
    assert workflow_engine.sent() == []
    assert workflow_engine.item(run_input["wishlist_key"])["subject"] == {"S": "wishlist:api:add-1"}


# A year of workflow time: about a third of a second here, long enough to act during the wait.
LONG_WAIT = {**SETTINGS, "remind_after": "365d"}


def run_acting_during_the_first_wait(engine, run_input: dict, act) -> tuple[str, list[str]]:
    """Runs the state machine, calling `act()` once the run waits (as the store's events
    would arrive meanwhile); (status, states entered)."""
    arn = engine.sfn.start_execution(
        stateMachineArn=engine.machines["wishlist_reminder"], name="acting", input=json.dumps(run_input)
    )["executionArn"]

    def history() -> list[dict]:
        return engine.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]

    deadline = time.monotonic() + 10
    while not any(event["type"] == "WaitStateEntered" for event in history()):
        assert time.monotonic() < deadline, "the run never reached its wait"
        time.sleep(0.01)
    act()
    while engine.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline + 10, "the run did not end"
        time.sleep(0.02)
    entered = [e["stateEnteredEventDetails"]["name"] for e in history() if e["type"].endswith("StateEntered")]
    return engine.sfn.describe_execution(executionArn=arn)["status"], entered


def added_to(engine, run_input: dict) -> None:
    engine.dynamodb.update_item(
        TableName=engine.table,
        Key=run_input["wishlist_key"],
        UpdateExpression="ADD adds :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )


def test_products_added_during_the_wait_make_it_wait_again(workflow_engine):
    run_input = wishlist_run_input(settings=LONG_WAIT)
    put_wishlist(workflow_engine, run_input, 1)
    status, states = run_acting_during_the_first_wait(
        workflow_engine, run_input, lambda: added_to(workflow_engine, run_input)
    )
    assert status == "SUCCEEDED"
    assert states.count("WaitBeforeReminder") == 2
    assert [payload["step"] for payload in workflow_engine.send.payloads] == ["SendWishlistReminder#2"]


def test_an_erasure_during_the_wait_ends_the_run_without_a_reminder(workflow_engine):
    run_input = wishlist_run_input(settings=LONG_WAIT)
    put_wishlist(workflow_engine, run_input, 1)
    status, states = run_acting_during_the_first_wait(
        workflow_engine,
        run_input,
        lambda: workflow_engine.dynamodb.delete_item(TableName=workflow_engine.table, Key=run_input["wishlist_key"]),
    )
    assert (status, states[-1]) == ("SUCCEEDED", "WishlistGone")
    assert workflow_engine.sent() == []


def test_a_product_added_during_the_cooldown_gets_its_own_reminder_later(workflow_engine):
    run_input = wishlist_run_input()
    put_wishlist(workflow_engine, run_input, 1)

    def send(payload):
        if len(workflow_engine.send.payloads) == 1:
            # Added right after the first reminder: the run cannot let go after the cooldown.
            workflow_engine.dynamodb.update_item(
                TableName=workflow_engine.table,
                Key=run_input["wishlist_key"],
                UpdateExpression="ADD adds :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        return {"status": "sent"}

    workflow_engine.send.answer = send
    status, states, _ = workflow_engine.run("wishlist_reminder", run_input)
    assert status == "SUCCEEDED"
    assert [payload["step"] for payload in workflow_engine.send.payloads] == [
        "SendWishlistReminder#1",
        "SendWishlistReminder#2",
    ]
    assert states.index("WaitCooldown") < states.index("LetGoOfWishlist") < len(states) - 1


def test_a_failed_send_lets_go_of_the_wishlist_then_fails_with_its_error(workflow_engine):
    run_input = wishlist_run_input()
    put_wishlist(workflow_engine, run_input, 1)
    workflow_engine.send.raises(UnknownMessage("store shop has no message wishlist"))
    status, states, failure = workflow_engine.run("wishlist_reminder", run_input)
    assert status == "FAILED"
    assert failure["error"] == "UnknownMessage"
    assert states[-2:] == ["LetGoAfterFailure", "WishlistReminderFailed"]
    assert "subject" not in workflow_engine.item(run_input["wishlist_key"])
