"""WooCommerce end to end through the local stack's demo store."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from storeflows.dispatch import run_name
from storeflows_local.signing import post_woocommerce
from storeflows_local.waiting import wait_for_run, wait_until_quiet

pytestmark = pytest.mark.e2e
BODY = (Path(__file__).resolve().parents[1] / "fixtures" / "woocommerce_order_created.json").read_bytes()


def test_a_woocommerce_order_sends_one_thank_you_even_when_updated(stack):
    created = post_woocommerce(stack.api_url, "demo", stack.woocommerce_secret, BODY)
    assert created.status_code == 202, created.text
    wait_for_run(stack.state_machine_arn, run_name("demo", "727", "targeted-post-purchase"))
    assert len(stack.outbox("john.doe@example.com")) == 1
    updated = post_woocommerce(stack.api_url, "demo", stack.woocommerce_secret, BODY, topic="order.updated")
    assert updated.status_code == 202
    wait_until_quiet(stack.event_queue_url, stack.state_machine_arn)
    assert len(stack.outbox("john.doe@example.com")) == 1, "order.updated for the same order sends nothing new"


def test_the_activation_ping_answers_200(stack):
    answer = requests.post(f"{stack.api_url}/webhooks/woocommerce/demo", data=b"webhook_id=1",
                           headers={"content-type": "application/x-www-form-urlencoded"}, timeout=10)
    assert answer.status_code == 200
