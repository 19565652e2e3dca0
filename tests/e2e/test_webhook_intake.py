"""What a store sees at the door: signatures, duplicates, bad requests — over real HTTP."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from storeflows.intake.signatures import sign_standard_webhook
from storeflows.workflows.runs import run_name
from storeflows_local.signing import post_event, post_shopify, purchase
from storeflows_local.waiting import wait_for_run, wait_until_quiet

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
WORKFLOW = "targeted-post-purchase"

pytestmark = pytest.mark.e2e


def paid(sample: bytes, email: str) -> bytes:
    """Shopify's sample as an order that was paid and not cancelled, bought by `email`."""
    return (
        sample.replace(b'"financial_status": "voided"', b'"financial_status": "paid"', 1)
        .replace(b'"cancelled_at": "2021-12-31T19:00:00-05:00"', b'"cancelled_at": null', 1)
        .replace(b'"cancel_reason": "customer"', b'"cancel_reason": null', 1)
        .replace(b"jon@example.com", email.encode())
    )


def test_shopifys_sample_as_published_is_acknowledged_and_thanks_nobody(stack):
    """The sample is cancelled, voided and a test order: Shopify sends it from "Send test notification"."""
    body = (FIXTURES / "shopify_orders_create.json").read_bytes()
    answer = post_shopify(stack.api_url, "demo", stack.shopify_secret, body, event_id="e2e-shopify-sample")
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "ignored"
    wait_until_quiet(stack.event_queue_url, stack.state_machine_arn)
    assert stack.outbox("jon@example.com") == []
    assert stack.contact("jon@example.com") is None, "no purchase, no consent recorded"


def test_the_paid_shopify_sample_thanks_the_customer_once(stack, email):
    body = paid((FIXTURES / "shopify_orders_create.json").read_bytes(), email)
    first = post_shopify(stack.api_url, "demo", stack.shopify_secret, body, event_id=f"create-{email}")
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "accepted"
    wait_for_run(stack.state_machine_arn, run_name("demo", "820982911946154508", WORKFLOW))
    mail = stack.outbox(email)
    assert len(mail) == 1
    assert "820982911946154508" in mail[0]["html"], "Shopify's 64-bit order id arrives exact"

    again = post_shopify(stack.api_url, "demo", stack.shopify_secret, body, event_id=f"create-{email}")
    paid_topic = post_shopify(
        stack.api_url, "demo", stack.shopify_secret, body, topic="orders/paid", event_id=f"paid-{email}"
    )
    assert (again.status_code, paid_topic.status_code) == (202, 202)
    wait_until_quiet(stack.event_queue_url, stack.state_machine_arn)
    assert len(stack.outbox(email)) == 1, "redelivery and orders/paid send nothing new"
    assert stack.contact(email)["orders_count"] == 1


def test_wrong_shopify_signature_is_refused_and_changes_nothing(stack, email):
    body = json.dumps({"id": 1, "email": email, "total_price": "1.00", "currency": "EUR"}).encode()
    answer = post_shopify(stack.api_url, "demo", "not-the-secret", body)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_signature"
    wait_until_quiet(stack.event_queue_url, stack.state_machine_arn)
    assert stack.contact(email) is None
    assert stack.outbox(email) == []


def test_duplicate_deliveries_send_once_even_when_concurrent(stack, email):
    body = json.dumps(purchase(f"{email}-1", email)).encode()
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": f"msg_{email}",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard_webhook(stack.webhook_secret, f"msg_{email}", timestamp, body),
    }
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(
                lambda _: requests.post(f"{stack.api_url}/events/demo", data=body, headers=headers, timeout=30),
                range(8),
            )
        )
    assert [a.status_code for a in answers] == [202] * 8
    wait_for_run(stack.state_machine_arn, run_name("demo", f"{email}-1", WORKFLOW))
    wait_until_quiet(stack.event_queue_url, stack.state_machine_arn)
    assert len(stack.outbox(email)) == 1
    contact = stack.contact(email)
    assert contact["orders_count"] == 1 and contact["tags"] == ["first_purchase_customer"]


def test_concurrent_purchases_of_different_customers_each_arrive_as_sent(stack, email):
    """Each webhook is answered from its own body, however many arrive at once."""
    buyers = [f"{n}-{email}" for n in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(
                lambda buyer: post_event(stack.api_url, "demo", stack.webhook_secret, purchase(f"{buyer}-1", buyer)),
                buyers,
            )
        )
    assert [a.status_code for a in answers] == [202] * 8
    assert len({a.json()["event_id"] for a in answers}) == 8
    for buyer in buyers:
        wait_for_run(stack.state_machine_arn, run_name("demo", f"{buyer}-1", WORKFLOW))
    wait_until_quiet(stack.event_queue_url, stack.state_machine_arn)
    for buyer in buyers:
        assert stack.contact(buyer)["orders_count"] == 1, buyer
        assert len(stack.outbox(buyer)) == 1, buyer


@pytest.mark.parametrize(
    ("case", "status", "error"),
    [
        ("stale timestamp", 401, "invalid_signature"),
        ("future timestamp", 401, "invalid_signature"),
        ("wrong secret", 401, "invalid_signature"),
        ("malformed json", 400, "invalid_payload"),
        ("missing email", 400, "invalid_payload"),
        ("unknown store", 404, "unknown_store"),
        ("wrong content type", 415, "unsupported_media_type"),
        ("oversize body", 413, "payload_too_large"),
    ],
)
def test_bad_requests_get_a_clear_4xx_and_change_nothing(stack, email, case, status, error):
    payload = purchase(f"{email}-1", email)
    body = json.dumps(payload).encode()
    store, secret, timestamp, content_type = "demo", stack.webhook_secret, int(time.time()), "application/json"
    if case == "stale timestamp":
        timestamp -= 301
    elif case == "future timestamp":
        timestamp += (
            330  # not 301: the request must still be 5 minutes early when it is checked, also on a busy machine
        )
    elif case == "wrong secret":
        secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
    elif case == "malformed json":
        body = b'{"type": "purchase", "order": '
    elif case == "missing email":
        del payload["customer"]["email"]
        body = json.dumps(payload).encode()
    elif case == "unknown store":
        store = "no-such-store"
    elif case == "wrong content type":
        content_type = "text/plain"
    elif case == "oversize body":
        payload["padding"] = "x" * (300 * 1024)
        body = json.dumps(payload).encode()
    headers = {
        "content-type": content_type,
        "webhook-id": f"msg_{case.replace(' ', '_')}_{email}",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard_webhook(secret, f"msg_{case.replace(' ', '_')}_{email}", timestamp, body),
    }
    answer = requests.post(f"{stack.api_url}/events/{store}", data=body, headers=headers, timeout=30)
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert answer.json()["detail"]
    if case == "missing email":
        assert "customer.email" in answer.json()["detail"]
    wait_until_quiet(stack.event_queue_url, stack.state_machine_arn)
    assert stack.contact(email) is None
    assert stack.outbox(email) == []


def test_unknown_route_is_404(stack):
    assert requests.post(f"{stack.api_url}/webhooks/nowhere/demo", data=b"{}", timeout=10).status_code == 404
