"""The VIP template end to end: the purchase that takes a contact over a threshold (order
count or lifetime spend) tags them and sends the VIP message, once ever; purchases below it,
or after it, start nothing; a cancellation leaves the tag."""

from __future__ import annotations

import pytest

from storeflows.events.subjects import VipSubject
from storeflows.workflows.runs import run_name
from storeflows.workflows.templates.vip import VipSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for, wait_for_run, wait_until_quiet

pytestmark = pytest.mark.e2e

SETTINGS = VipSettings(min_total_spent="300", min_orders=3, message="welcome-vip")


def buy(stack, store, order_id, email, total):
    body = purchase(order_id, email, total=total)
    assert post_event(stack.api_url, store, stack.webhook_secret, body).status_code == 202
    return body


def settle(stack, store, email, orders):
    wait_for(lambda: (stack.contact(email, store_id=store) or {}).get("orders_count") == orders, what="the orders")
    wait_until_quiet(stack.event_queue_url, state_machine_arn("_vip"))


def test_the_third_order_makes_a_vip_once_and_later_orders_start_nothing(stack, store_with_workflow, email):
    store = store_with_workflow(SETTINGS, {"welcome-vip": "marketing"})
    for n, total in enumerate(("50.00", "60.00"), start=1):
        buy(stack, store, str(n), email, total)
        settle(stack, store, email, n)
    assert stack.outbox(email) == [] and stack.contact(email, store_id=store)["tags"] == []
    buy(stack, store, "3", email, "40.00")
    run = run_name(store, VipSubject.of_contact(email, "3").key, "wf")
    assert wait_for_run(state_machine_arn("_vip"), run, timeout=20)["status"] == "SUCCEEDED"
    assert [m["subject"] for m in stack.outbox(email)] == ["welcome-vip"]
    assert stack.contact(email, store_id=store)["tags"] == ["vip"]
    buy(stack, store, "4", email, "500.00")  # over the spend threshold too, but a VIP already
    settle(stack, store, email, 4)
    assert [m["subject"] for m in stack.outbox(email)] == ["welcome-vip"]


def test_one_big_order_crosses_the_spend_and_its_redelivery_sends_nothing_more(stack, store_with_workflow, email):
    store = store_with_workflow(SETTINGS, {"welcome-vip": "marketing"})
    body = buy(stack, store, "1", email, "420.00")
    run = run_name(store, VipSubject.of_contact(email, "1").key, "wf")
    assert wait_for_run(state_machine_arn("_vip"), run, timeout=20)["status"] == "SUCCEEDED"
    assert post_event(stack.api_url, store, stack.webhook_secret, body).status_code == 202
    settle(stack, store, email, 1)
    assert [m["subject"] for m in stack.outbox(email)] == ["welcome-vip"]
    # The store cancels the order: the totals drop back, the tag stays (README).
    cancelled = {"type": "cancelled", "order": {"id": "1"}, "customer": {"email": email}}
    assert post_event(stack.api_url, store, stack.webhook_secret, cancelled).status_code == 202
    settle(stack, store, email, 0)
    assert stack.contact(email, store_id=store)["tags"] == ["vip"]
