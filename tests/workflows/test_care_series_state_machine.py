"""The care series state machine: the four messages in order, the contact marked inside the
series meanwhile (ACTIVE#, read by broadcasts to exclude them) and no longer once it ends,
the wait for delivery (fixed, or polling the order's delivered stamp until a timeout), and a
failed step leaving the series before the run fails with that step's error."""

from __future__ import annotations

import pytest

from storeflows.errors import UnknownMessage

SETTINGS = {
    "template": "care_series",
    "trigger": {"skus": ["VENISE-DRESS"]},
    "thank_you_message": "thanks",
    "delivery_check_message": "all-well",
    "care_tips_message": "care-tips",
    "cross_sell_message": "cross-sell",
}
DRESS = {"sku": "VENISE-DRESS", "name": "Venise dress", "category": "dresses", "price": "129.90"}
SERIES = [
    ("SendThankYou", "thanks"),
    ("SendDeliveryCheck", "all-well"),
    ("SendCareTips", "care-tips"),
    ("SendCrossSell", "cross-sell"),
]
# Polling: every 12 hours, giving up after a day and a half, so three checks at most.
POLLING = {"mode": "event", "check_every": "12h", "timeout": "36h"}


@pytest.fixture
def run_input(purchase_run_input):
    return purchase_run_input(SETTINGS, items=[DRESS])


def polling_run_input(purchase_run_input):
    return purchase_run_input({**SETTINGS, "delivery": POLLING}, items=[DRESS])


def test_the_series_sends_its_four_messages_in_order_while_the_contact_is_marked_inside(workflow_engine, run_input):
    marked_inside = []

    def send(payload):
        marked_inside.append(workflow_engine.item(run_input["active_key"]))
        return {"status": "sent"}

    workflow_engine.send.answer = send
    status, states, _ = workflow_engine.run("care_series", run_input)
    assert status == "SUCCEEDED"
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": message, "step": step} for step, message in SERIES
    ]
    assert [marker["workflow_id"] for marker in marked_inside] == [{"S": "wf"}] * 4
    assert marked_inside[0]["subject"] == {"S": "1001"}
    assert ":execution:" in marked_inside[0]["execution"]["S"]
    assert states[0] == "EnterCareSeries" and states[-1] == "LeaveCareSeries"
    assert workflow_engine.item(run_input["active_key"]) == {}, "out of the series once it ends"


def test_a_fixed_delivery_wait_never_reads_the_order(workflow_engine, run_input):
    status, states, _ = workflow_engine.run("care_series", run_input)
    assert status == "SUCCEEDED"
    assert "WaitForDelivery" in states
    assert "CheckOrderDelivered" not in states


def test_an_order_reported_delivered_ends_the_polling_at_the_first_check(workflow_engine, purchase_run_input):
    run_input = polling_run_input(purchase_run_input)
    workflow_engine.put(run_input["order_key"], delivered_at={"S": "2025-03-01T10:00:00Z"})
    status, states, _ = workflow_engine.run("care_series", run_input)
    assert status == "SUCCEEDED"
    assert states.count("CheckOrderDelivered") == 1
    assert states.index("CheckOrderDelivered") < states.index("SendDeliveryCheck")
    assert [step for step, _ in SERIES] == [payload["step"] for payload in workflow_engine.send.payloads]


def test_an_order_never_reported_delivered_is_checked_until_the_timeout_then_asked_about_anyway(
    workflow_engine, purchase_run_input
):
    run_input = polling_run_input(purchase_run_input)
    workflow_engine.put(run_input["order_key"], total={"N": "129.90"})  # recorded, never stamped
    status, states, _ = workflow_engine.run("care_series", run_input)
    assert status == "SUCCEEDED"
    assert states.count("CheckOrderDelivered") == 3
    assert states.count("CountDeliveryCheck") == 2
    assert states.index("CheckOrderDelivered") < states.index("SendDeliveryCheck")
    assert workflow_engine.sent() == [message for _, message in SERIES]
    assert workflow_engine.item(run_input["active_key"]) == {}


def test_a_failing_send_leaves_the_series_then_fails_the_run_with_the_send_error(workflow_engine, run_input):
    def send(payload):
        if payload["message_id"] == "care-tips":
            raise UnknownMessage("no message 'care-tips'")
        return {"status": "sent"}

    workflow_engine.send.answer = send
    status, states, failure = workflow_engine.run("care_series", run_input)
    assert status == "FAILED"
    assert states[-3:] == ["SendCareTips", "LeaveSeriesAfterFailure", "CareSeriesFailed"]
    assert failure["error"] == "UnknownMessage"
    assert "no message 'care-tips'" in failure["cause"]
    assert workflow_engine.sent() == ["thanks", "all-well", "care-tips"]
    assert workflow_engine.item(run_input["active_key"]) == {}, "a failed run must not keep the contact excluded"


def test_a_failing_delivery_check_leaves_the_series_then_fails_the_run_with_its_error(
    workflow_engine, purchase_run_input
):
    run_input = polling_run_input(purchase_run_input)
    # A key without its sort key makes the read fail for a reason no retry can fix.
    run_input["order_key"] = {"pk": run_input["order_key"]["pk"]}
    status, states, failure = workflow_engine.run("care_series", run_input)
    assert status == "FAILED"
    assert states[-3:] == ["CheckOrderDelivered", "LeaveSeriesAfterFailure", "CareSeriesFailed"]
    assert failure["error"] == "DynamoDB.ValidationException", failure
    assert "ValidationException" in failure["cause"]
    assert workflow_engine.sent() == ["thanks"]
    assert workflow_engine.item(run_input["active_key"]) == {}
