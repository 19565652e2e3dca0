"""The review request state machine: the order's delivered stamp looked for every
`check_every` until `delivery_timeout`; once seen, `after`, then the request; never seen,
what is left of `after` counted from the purchase, then the request."""

from __future__ import annotations

SETTINGS = {
    "template": "review_request",
    "message": "review",
    "review_url": "https://shop.example/p/{product_id}/reviews",
    "after": "14d",
    "delivery_timeout": "4d",
    "check_every": "1d",
}


def test_a_delivered_order_is_asked_about_after_the_wait_from_the_delivery(workflow_engine, purchase_run_input):
    run_input = purchase_run_input(SETTINGS)
    workflow_engine.put(run_input["order_key"], delivered_at={"S": "2026-03-01T10:00:00Z"})
    status, states, _ = workflow_engine.run("review_request", run_input)
    assert status == "SUCCEEDED"
    assert states.count("CheckOrderDelivered") == 1
    assert states[-2:] == ["WaitAfterDelivery", "SendReviewRequest"]
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": "review", "step": "SendReviewRequest"}
    ]


def test_without_a_delivery_the_order_is_checked_until_the_timeout_then_asked_after_the_purchase(
    workflow_engine, purchase_run_input
):
    run_input = purchase_run_input(SETTINGS)
    # 14 days from the purchase, of which the 4 days of checks have passed.
    assert run_input["review_wait_without_delivery"] == 10 * 86400
    status, states, _ = workflow_engine.run("review_request", run_input)
    assert status == "SUCCEEDED"
    assert states.count("CheckOrderDelivered") == 4
    assert "WaitAfterDelivery" not in states
    assert states[-2:] == ["WaitRestOfAfterPurchase", "SendReviewRequest"]
    assert workflow_engine.sent() == ["review"]


def test_a_timeout_longer_than_the_wait_asks_at_the_timeout(purchase_run_input):
    run_input = purchase_run_input({**SETTINGS, "after": "2d"})
    assert run_input["review_wait_without_delivery"] == 0
