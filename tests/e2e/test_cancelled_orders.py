"""Cancelled Shopify orders end to end: orders/cancelled stops the runs still waiting (a
follow-up, a care series), and a cancelled order is never thanked, whatever arrives after."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import boto3
import pytest

from storeflows.workflows.runs import execution_arn, run_name
from storeflows.workflows.templates.care_series import CareSeriesSettings
from storeflows.workflows.templates.purchase_follow_up import PurchaseFollowUpSettings
from storeflows_local.signing import post_shopify
from storeflows_local.waiting import state_machine_arn, wait_for, wait_for_run, wait_until_quiet

pytestmark = pytest.mark.e2e

SAMPLE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "shopify_orders_create.json").read_text())
ORDER_ID = "820982911946154508"


def order(
    email: str, *, order_id: int = int(ORDER_ID), financial_status: str = "paid", cancelled: bool = False
) -> bytes:
    """Shopify's sample order bought by `email`, paid (or in the given payment state) and not
    cancelled unless asked (the sample as published is cancelled and voided)."""
    body = {**SAMPLE, "id": order_id, "email": email, "contact_email": email, "financial_status": financial_status}
    if not cancelled:
        body.update(cancelled_at=None, cancel_reason=None)
    return json.dumps(body).encode()


def webhook(stack, store: str, topic: str, body: bytes, event_id: str) -> str:
    answer = post_shopify(stack.api_url, store, stack.shopify_secret, body, topic=topic, event_id=event_id)
    assert answer.status_code == 202, answer.text
    return answer.json()["status"]


def subjects(stack, email: str) -> list[str]:
    return [m["subject"] for m in stack.outbox(email)]


def until_it_would_have_ended(stack, workflow_seconds: int) -> None:
    """Sleep past the moment a run's waits would have ended (plus a margin for a busy machine)."""
    time.sleep(workflow_seconds / stack.time_scale + 2)


def test_orders_cancelled_during_the_follow_up_wait_stops_the_follow_up(stack, store_with_workflow, email):
    store = store_with_workflow(
        PurchaseFollowUpSettings(thank_you_message="thanks", follow_up_message="later", follow_up_after="20d"),
        {"thanks": "transactional", "later": "marketing"},
    )
    assert webhook(stack, store, "orders/create", order(email), f"create-{email}") == "accepted"
    wait_for(lambda: subjects(stack, email) == ["thanks"], what="the thank-you")

    assert webhook(stack, store, "orders/cancelled", order(email, cancelled=True), f"cancel-{email}") == "accepted"

    run = wait_for_run(state_machine_arn("_purchase_follow_up"), run_name(store, ORDER_ID, "wf"))
    assert run["status"] == "ABORTED"
    until_it_would_have_ended(stack, 20 * 86400)
    assert subjects(stack, email) == ["thanks"], "no follow-up about a cancelled order"
    contact = stack.contact(email, store_id=store)
    assert (contact["orders_count"], Decimal(contact["total_spent"])) == (0, 0), "a cancelled order is no purchase"
    assert [o["cancel_reason"] for o in contact["orders"]] == ["customer"]


def test_orders_cancelled_during_a_care_series_wait_stops_the_series(stack, store_with_workflow, email):
    store = store_with_workflow(
        CareSeriesSettings(
            trigger={"skus": ["SKU2006-001"]},
            thank_you_message="thanks",
            delivery_check_message="all-well",
            care_tips_message="care-tips",
            cross_sell_message="cross-sell",
            delivery={"mode": "fixed", "wait": "12d"},
            tips_after="2d",
            cross_sell_after="2d",
        ),
        {"thanks": "transactional", "all-well": "transactional", "care-tips": "marketing", "cross-sell": "marketing"},
    )
    assert webhook(stack, store, "orders/create", order(email), f"create-{email}") == "accepted"
    wait_for(lambda: subjects(stack, email) == ["thanks"], what="the thank-you")
    assert stack.contact(email, store_id=store)["in_workflows"] == [{"workflow_id": "wf", "subject": ORDER_ID}]

    assert webhook(stack, store, "orders/cancelled", order(email, cancelled=True), f"cancel-{email}") == "accepted"

    assert wait_for_run(state_machine_arn("_care_series"), run_name(store, ORDER_ID, "wf"))["status"] == "ABORTED"
    assert stack.contact(email, store_id=store)["in_workflows"] == [], "out of the series it was stopped in"
    until_it_would_have_ended(stack, 16 * 86400)
    assert subjects(stack, email) == ["thanks"]


def test_a_pending_order_is_thanked_once_paid_and_a_cancelled_one_never(stack, store_with_workflow, email):
    """Bank transfer: orders/create is pending, orders/paid follows. The cancelled order's
    orders/paid, delivered late, still thanks nobody."""
    store = store_with_workflow(
        PurchaseFollowUpSettings(thank_you_message="thanks", follow_up_message="later", follow_up_after="1d"),
        {"thanks": "transactional", "later": "transactional"},
    )
    machine = state_machine_arn("_purchase_follow_up")
    pending = order(email, financial_status="pending")
    assert webhook(stack, store, "orders/create", pending, f"create-{email}") == "ignored"
    assert webhook(stack, store, "orders/paid", order(email), f"paid-{email}") == "accepted"
    assert wait_for_run(machine, run_name(store, ORDER_ID, "wf"))["status"] == "SUCCEEDED"
    assert subjects(stack, email) == ["thanks", "later"]

    other, second = f"other-{email}", 820982911946154509
    unpaid = order(other, order_id=second, financial_status="pending")
    assert webhook(stack, store, "orders/create", unpaid, f"c-{other}") == "ignored"
    assert webhook(stack, store, "orders/cancelled", order(other, order_id=second, cancelled=True), f"x-{other}") == (
        "accepted"
    )
    assert webhook(stack, store, "orders/paid", order(other, order_id=second), f"p-{other}") == "accepted"
    wait_until_quiet(stack.event_queue_url, machine)
    assert subjects(stack, other) == []
    assert stack.contact(other, store_id=store) is None, "no purchase was recorded"
    sfn = boto3.client("stepfunctions")
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):  # no run started
        sfn.describe_execution(executionArn=execution_arn(machine, run_name(store, str(second), "wf")))
