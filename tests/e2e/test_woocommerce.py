"""WooCommerce end to end through the local stack's demo store, signed with its WooCommerce
secret as WooCommerce signs deliveries."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import requests

from storeflows.workflows.runs import run_name
from storeflows_local.signing import post_woocommerce
from storeflows_local.waiting import wait_for_run, wait_until_quiet

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BODY = (FIXTURES / "woocommerce_order_created.json").read_bytes()
WORKFLOW = "targeted-post-purchase"


def test_the_sample_order_sends_one_thank_you_even_when_updated(stack):
    created = post_woocommerce(stack.api_url, "demo", stack.woocommerce_secret, BODY)
    assert created.status_code == 202, created.text
    assert created.json()["status"] == "accepted"
    wait_for_run(stack.state_machine_arn, run_name("demo", "727", WORKFLOW))
    [mail] = stack.outbox("john.doe@example.com")
    assert mail["subject"] == "Thank you for your first order, John!"
    assert "#727" in mail["text"] and "29.35 USD" in mail["text"]

    # WooCommerce sends order.updated on every later change of the order (here: the same body).
    updated = post_woocommerce(stack.api_url, "demo", stack.woocommerce_secret, BODY, topic="order.updated")
    assert updated.status_code == 202 and updated.json()["status"] == "accepted", updated.text
    wait_until_quiet(stack.event_queue_url, stack.state_machine_arn)
    assert len(stack.outbox("john.doe@example.com")) == 1, "order.updated for the same order sends nothing new"
    assert stack.contact("john.doe@example.com")["orders_count"] == 1


def test_an_order_starts_its_workflow_once_paid_and_only_once(stack, email):
    """The usual life of an order paid by bank transfer: created on-hold, then processing,
    then completed — one thank-you, sent when it is paid."""
    order_id = random.randrange(10**6, 10**9)
    order = json.loads(BODY)
    order.update(id=order_id, number=str(order_id), billing={**order["billing"], "email": email})

    def deliver(status: str, topic: str) -> requests.Response:
        body = json.dumps({**order, "status": status}, separators=(",", ":")).encode()
        return post_woocommerce(stack.api_url, "demo", stack.woocommerce_secret, body, topic=topic)

    on_hold = deliver("on-hold", "order.created")
    assert on_hold.status_code == 202 and on_hold.json()["status"] == "ignored"
    wait_until_quiet(stack.event_queue_url, stack.state_machine_arn)
    assert stack.contact(email) is None and stack.outbox(email) == []

    assert deliver("processing", "order.updated").json()["status"] == "accepted"
    wait_for_run(stack.state_machine_arn, run_name("demo", str(order_id), WORKFLOW))
    assert deliver("completed", "order.updated").json()["status"] == "accepted"
    wait_until_quiet(stack.event_queue_url, stack.state_machine_arn)
    assert len(stack.outbox(email)) == 1
    assert stack.contact(email)["orders_count"] == 1


def test_the_activation_ping_answers_200(stack):
    ping = (FIXTURES / "woocommerce_ping.body.txt").read_bytes()
    answer = requests.post(
        f"{stack.api_url}/webhooks/woocommerce/demo",
        data=ping,
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "user-agent": "WooCommerce/8.6.1 Hookshot (WordPress/6.4.3)",
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ignored"
