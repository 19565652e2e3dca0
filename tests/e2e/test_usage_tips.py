"""Product usage tips end to end with the time scale: buyers of the product get the tips in
order after the delivery wait; a reported delivery starts the first wait early; an order
without the product gets none."""

from __future__ import annotations

from datetime import datetime

import pytest

from storeflows.workflows.runs import run_name
from storeflows.workflows.templates.usage_tips import UsageTipsSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for, wait_for_run, wait_until_quiet

pytestmark = pytest.mark.e2e

MESSAGES = {"tip-1": "marketing", "tip-2": "marketing"}
DRESS = [{"sku": "VENISE-DRESS", "name": "Venise dress", "category": "dresses", "quantity": 1, "price": "129.90"}]
SCARF = [{"sku": "SILK-SCARF", "name": "Silk scarf", "category": "accessories", "quantity": 1, "price": "35.50"}]
STEPS = [{"message": "tip-1", "wait": "2d"}, {"message": "tip-2", "wait": "4d"}]


def test_buyers_of_the_product_get_the_tips_in_order_and_others_none(stack, store_with_workflow, email):
    store = store_with_workflow(
        UsageTipsSettings(trigger={"skus": ["VENISE-DRESS"]}, delivery={"mode": "fixed", "wait": "4d"}, steps=STEPS),
        MESSAGES,
    )
    other = "other-" + email
    assert post_event(stack.api_url, store, stack.webhook_secret, purchase("1", email, items=DRESS)).status_code == 202
    assert post_event(stack.api_url, store, stack.webhook_secret, purchase("2", other, items=SCARF)).status_code == 202
    bought = datetime.now().astimezone()
    assert wait_for_run(state_machine_arn("_usage_tips"), run_name(store, "1", "wf"), timeout=20)["status"] == (
        "SUCCEEDED"
    )
    mails = stack.outbox(email)
    assert [m["subject"] for m in mails] == ["tip-1", "tip-2"]
    first = (datetime.fromisoformat(mails[0]["sent_at"]) - bought).total_seconds()
    assert first >= 6 * 86400 / stack.time_scale - 1, "4 days for the parcel, then the tip's 2 (to the second)"
    wait_until_quiet(stack.event_queue_url, state_machine_arn("_usage_tips"))
    assert stack.outbox(other) == []


def test_a_reported_delivery_starts_the_first_tips_wait(stack, store_with_workflow, email):
    store = store_with_workflow(
        UsageTipsSettings(
            trigger={"categories": ["dresses"]},
            delivery={"mode": "event", "check_every": "12h", "timeout": "100d"},
            steps=STEPS[:1],
        ),
        MESSAGES,
    )
    assert post_event(stack.api_url, store, stack.webhook_secret, purchase("1", email, items=DRESS)).status_code == 202
    wait_for(lambda: stack.contact(email, store_id=store), what="the order")
    delivered = {"type": "delivered", "order": {"id": "1"}, "customer": {"email": email}}
    assert post_event(stack.api_url, store, stack.webhook_secret, delivered).status_code == 202
    # The next check sees it and the tip goes 2 days later: a second, not the 25 s of the timeout.
    wait_for(lambda: [m["subject"] for m in stack.outbox(email)] == ["tip-1"], timeout=6, what="the tip")
