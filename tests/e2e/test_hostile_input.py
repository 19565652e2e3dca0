"""What an attacker or a careless integrator can send with a valid signature, end to end: it
is refused with a 400 naming why, or it runs. Nothing acknowledged is left to fail in the
dispatcher (and to be dead-lettered for its content), however large or odd.

A purchase's first name reaches the subject of the thank-you email: no encoded-word in it
can add a header or replace the body."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
import requests

from storeflows.intake.common import MAX_BODY_BYTES
from storeflows.intake.signatures import sign_standard_webhook
from storeflows.workflows.runs import run_name
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import wait_for, wait_for_run, wait_until_quiet

pytestmark = pytest.mark.e2e

WORKFLOW = "targeted-post-purchase"


def post_raw(stack, body: bytes) -> requests.Response:
    webhook_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard_webhook(stack.webhook_secret, webhook_id, timestamp, body),
    }
    return requests.post(f"{stack.api_url}/events/demo", data=body, headers=headers, timeout=30)


def dead_letters() -> int:
    sqs = boto3.client("sqs")
    (url,) = [url for url in sqs.list_queues()["QueueUrls"] if url.endswith("EventDeadLetterQueue")]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def largest_order(email: str, order_id: str) -> dict:
    """A purchase with as many line items as fit in the largest body the intake accepts."""
    item = {"sku": "SKU-00000", "name": "Sample product 00000", "quantity": 1, "price": "1.00"}
    body = purchase(order_id, email, items=[])
    count = (MAX_BODY_BYTES - len(json.dumps(body))) // (len(json.dumps(item)) + 2)
    body["order"]["items"] = [{**item, "sku": f"SKU-{n:05}", "name": f"Sample product {n:05}"} for n in range(count)]
    body["order"]["total"] = f"{count}.00"
    while len(json.dumps(body).encode()) > MAX_BODY_BYTES:
        body["order"]["items"].pop()
    return body


def test_the_largest_order_the_intake_accepts_runs_and_its_email_lists_every_item(stack, email):
    body = largest_order(email, f"{email}-big")
    assert len(json.dumps(body).encode()) > MAX_BODY_BYTES - 200, "within one line item of the limit"
    response = post_event(stack.api_url, "demo", stack.webhook_secret, body)
    assert response.status_code == 202, response.text

    execution = wait_for_run(stack.state_machine_arn, run_name("demo", f"{email}-big", WORKFLOW), timeout=60)
    assert execution["status"] == "SUCCEEDED"
    assert len(execution["input"]) < 4096, "the run carries the order's id, not its lines"
    (mail,) = stack.outbox(email)
    assert mail["html"].count("<li>") == len(body["order"]["items"])
    assert (
        "Sample product 00000" in mail["html"]
        and f"Sample product {len(body['order']['items']) - 1:05}" in mail["html"]
    )


EDGE_VALUES = {
    "a total of 1e400": b'{"type": "purchase", "order": {"id": "E-1", "total": 1e400, "currency": "EUR"}, '
    b'"customer": {"email": "edge@example.com"}}',
    "a total with 41 digits": b'{"type": "purchase", "order": {"id": "E-2", "total": '
    b'"1.0000000000000000000000000000000000000001", "currency": "EUR"}, "customer": {"email": "edge@example.com"}}',
    "a quantity of 10**40": b'{"type": "purchase", "order": {"id": "E-3", "total": "1", "currency": "EUR", "items": '
    b'[{"sku": "A", "quantity": 1' + b"0" * 40 + b'}]}, "customer": {"email": "edge@example.com"}}',
    "an order id of 1,500 characters": b'{"type": "purchase", "order": {"id": "' + b"x" * 1500 + b'", "total": "1", '
    b'"currency": "EUR"}, "customer": {"email": "edge@example.com"}}',
    "10,000 nested arrays": b"[" * 10_000 + b"]" * 10_000,
    "a lone surrogate": b'{"type": "purchase", "order": {"id": "E-4", "total": "1", "currency": "EUR"}, '
    b'"customer": {"email": "edge@example.com", "first_name": "\\ud800"}}',
    "NaN": b'{"type": "purchase", "order": {"id": "E-5", "total": NaN, "currency": "EUR"}, '
    b'"customer": {"email": "edge@example.com"}}',
    "a member named twice": b'{"type": "purchase", "order": {"id": "E-6", "total": "1", "total": "2", '
    b'"currency": "EUR"}, "customer": {"email": "edge@example.com"}}',
    "a non-ASCII local part": '{"type": "purchase", "order": {"id": "E-7", "total": "1", "currency": "EUR"}, '
    '"customer": {"email": "еdge@example.com"}}'.encode(),
}


def test_every_edge_value_is_refused_with_400_or_runs_and_none_is_dead_lettered(stack):
    before = dead_letters()
    answers = {name: post_raw(stack, body) for name, body in EDGE_VALUES.items()}
    accepted = {name: answer for name, answer in answers.items() if answer.status_code == 202}
    refused = {name: answer.json() for name, answer in answers.items() if answer.status_code == 400}
    assert set(accepted) | set(refused) == set(EDGE_VALUES), {n: a.status_code for n, a in answers.items()}
    assert all(body["error"] == "invalid_payload" and body["detail"] for body in refused.values()), refused
    assert not accepted, f"these should have been refused: {sorted(accepted)}"

    ordinary = post_event(stack.api_url, "demo", stack.webhook_secret, purchase("E-ok", "edge@example.com"))
    assert ordinary.status_code == 202
    assert wait_for_run(stack.state_machine_arn, run_name("demo", "E-ok", WORKFLOW))["status"] == "SUCCEEDED"
    wait_until_quiet(stack.event_queue_url, stack.state_machine_arn)
    assert dead_letters() == before


@pytest.mark.parametrize(
    "first_name",
    [
        "=?utf-8?q?x=0D=0ABcc:_attacker@evil.test?=",
        "=?utf-8?q?x=0D=0AReply-To:_attacker@evil.test=0D=0A=0D=0APay_at_http://evil.test?=",
    ],
)
def test_an_encoded_word_in_a_first_name_adds_no_header_and_keeps_the_stores_body(stack, email, first_name):
    order_id = f"{email}-{uuid.uuid4().hex[:6]}"
    response = post_event(stack.api_url, "demo", stack.webhook_secret, purchase(order_id, email, first_name=first_name))
    assert response.status_code == 202, response.text
    assert wait_for_run(stack.state_machine_arn, run_name("demo", order_id, WORKFLOW))["status"] == "SUCCEEDED"
    (mail,) = wait_for(lambda: stack.outbox(email), what="the thank-you email")
    assert "bcc" not in {name.lower() for name in mail["headers"]}
    assert "attacker" not in str(mail["reply_to"]) and "attacker" not in mail["from"]
    assert "Thank you for your first order" in mail["html"] and "Pay at" not in mail["html"]
