"""The order value state machine: the delay after the purchase, then one send of the
message of the order's tier (picked by the dispatcher into the run input)."""

from __future__ import annotations

import pytest

from storeflows.errors import UnknownMessage

SETTINGS = {
    "template": "order_value",
    "tiers": [
        {"min_total": "0", "max_total": "100", "message": "small-order"},
        {"min_total": "100", "message": "big-order"},
    ],
    "delay_after_purchase": "2d",
    "not_more_often_than": "7d",
}


@pytest.mark.parametrize(("total", "message"), [("40.00", "small-order"), ("250.00", "big-order")])
def test_after_the_delay_one_message_of_the_orders_tier_is_sent(workflow_engine, purchase_run_input, total, message):
    run_input = purchase_run_input(SETTINGS, total=total)
    status, states, _ = workflow_engine.run("order_value", run_input)
    assert status == "SUCCEEDED"
    assert states == ["WaitAfterPurchase", "SendOrderValueMessage"]
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": message, "step": "SendOrderValueMessage"}
    ]


def test_the_send_step_is_handed_the_frequency_cap_it_enforces(workflow_engine, purchase_run_input):
    workflow_engine.run("order_value", purchase_run_input(SETTINGS))
    assert workflow_engine.send.payloads[0]["run"]["frequency_cap_seconds"] == 7 * 86400


def test_a_failing_send_fails_the_run_with_the_send_error(workflow_engine, purchase_run_input):
    workflow_engine.send.raises(UnknownMessage("no message 'small-order'"))
    status, states, failure = workflow_engine.run("order_value", purchase_run_input(SETTINGS))
    assert status == "FAILED"
    assert states[-1] == "SendOrderValueMessage"
    assert failure["error"] == "UnknownMessage"
    assert "no message 'small-order'" in failure["cause"]
