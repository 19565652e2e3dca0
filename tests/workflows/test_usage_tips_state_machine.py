"""The usage tips state machine: without `delivery` the first tip's wait counts from the
purchase; with it, a fixed wait or the order's delivered stamp polled until the timeout
comes first; then the settings' tips in order (as many as listed, up to five)."""

from __future__ import annotations

SETTINGS = {
    "template": "usage_tips",
    "trigger": {"skus": ["VENISE-DRESS"]},
    "steps": [{"message": "tip-1", "wait": "2d"}, {"message": "tip-2", "wait": "5d"}],
}
DRESS = {"sku": "VENISE-DRESS", "name": "Venise dress", "category": "dresses", "price": "129.90"}


def test_without_delivery_the_tips_count_from_the_purchase(workflow_engine, purchase_run_input):
    run_input = purchase_run_input(SETTINGS, items=[DRESS])
    status, states, _ = workflow_engine.run("usage_tips", run_input)
    assert status == "SUCCEEDED"
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": f"tip-{n}", "step": f"SendTip{n}"} for n in (1, 2)
    ]
    assert states[:2] == ["WaitForDelivery?", "WaitBeforeTip1"]
    assert "SendTip3" not in states and states[-1] == "UsageTipsDone"


def test_a_fixed_delivery_wait_comes_before_the_first_tip(workflow_engine, purchase_run_input):
    run_input = purchase_run_input({**SETTINGS, "delivery": {"mode": "fixed", "wait": "4d"}}, items=[DRESS])
    status, states, _ = workflow_engine.run("usage_tips", run_input)
    assert status == "SUCCEEDED"
    assert states[:3] == ["WaitForDelivery?", "WaitForDelivery", "WaitBeforeTip1"]
    assert "CheckOrderDelivered" not in states


def test_a_reported_delivery_ends_the_polling_and_five_tips_go_in_order(workflow_engine, purchase_run_input):
    steps = [{"message": f"tip-{n}", "wait": "1d"} for n in range(1, 6)]
    delivery = {"mode": "event", "check_every": "12h", "timeout": "36h"}
    run_input = purchase_run_input({**SETTINGS, "steps": steps, "delivery": delivery}, items=[DRESS])
    workflow_engine.put(run_input["order_key"], delivered_at={"S": "2026-03-01T10:00:00Z"})
    status, states, _ = workflow_engine.run("usage_tips", run_input)
    assert status == "SUCCEEDED"
    assert states.count("CheckOrderDelivered") == 1
    assert workflow_engine.sent() == [f"tip-{n}" for n in range(1, 6)]


def test_a_delivery_never_reported_is_checked_until_the_timeout(workflow_engine, purchase_run_input):
    delivery = {"mode": "event", "check_every": "12h", "timeout": "36h"}
    run_input = purchase_run_input({**SETTINGS, "delivery": delivery}, items=[DRESS])
    status, states, _ = workflow_engine.run("usage_tips", run_input)
    assert status == "SUCCEEDED"
    assert states.count("CheckOrderDelivered") == 3
    assert workflow_engine.sent() == ["tip-1", "tip-2"]
