"""POST /webhooks/woocommerce/{store_id}: WooCommerce's signed order deliveries and its ping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storeflows.signatures import sign_hmac_sha256_base64

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BODY = (FIXTURES / "woocommerce_order_created.json").read_bytes()
HEADERS = json.loads((FIXTURES / "woocommerce_order_created.headers.json").read_text())["computed_headers"]
PATH = "/webhooks/woocommerce/{store_id}"


@pytest.fixture
def post(load_handler, demo_store, lambda_context, make_http_event):
    handler = load_handler("ingest")

    def send(body: bytes = BODY, headers: dict | None = None, store_id: str = "demo") -> dict:
        event = make_http_event("POST", PATH, f"/webhooks/woocommerce/{store_id}", headers=HEADERS if headers is None else headers,
                                body=body, path_parameters={"store_id": store_id})
        return handler.lambda_handler(event, lambda_context)

    return send


def test_the_sample_order_is_verified_and_queued(post, aws, read_json):
    answer = post()
    assert answer["statusCode"] == 202
    assert read_json(answer)["event_id"] == "woocommerce:0b7c2f1e9a4d6b3c5e8f7a2d1c0b9e8f"
    [queued] = aws.queued_bodies()
    assert queued["source"] == "woocommerce"
    assert queued["purchase"]["order"]["id"] == "727"
    assert queued["purchase"]["customer"]["email"] == "john.doe@example.com"


def test_a_wrong_signature_is_401_and_nothing_queued(post, aws, read_json):
    answer = post(headers={**HEADERS, "X-WC-Webhook-Signature": sign_hmac_sha256_base64("wrong", BODY)})
    assert answer["statusCode"] == 401 and read_json(answer)["error"] == "invalid_signature"
    assert aws.queued_bodies() == []


def test_the_activation_ping_gets_200_and_changes_nothing(post, aws):
    ping = (FIXTURES / "woocommerce_ping.body.txt").read_bytes()
    answer = post(body=ping, headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "WooCommerce/8.6.1"})
    assert answer["statusCode"] == 200
    assert aws.queued_bodies() == []


@pytest.mark.parametrize("status", ["pending", "on-hold", "cancelled", "failed"])
def test_an_unpaid_order_is_acknowledged_but_not_a_purchase(post, aws, read_json, demo_store, status):
    order = json.loads(BODY)
    order["status"] = status
    body = json.dumps(order).encode()
    answer = post(body=body, headers={**HEADERS, "X-WC-Webhook-Signature": sign_hmac_sha256_base64(
        "fixture-woocommerce-webhook-secret", body)})
    assert answer["statusCode"] == 202 and read_json(answer)["status"] == "ignored"
    assert aws.queued_bodies() == []


def test_a_delivery_without_its_id_is_400(post, aws, read_json):
    headers = {name: value for name, value in HEADERS.items() if name != "X-WC-Webhook-Delivery-ID"}
    answer = post(headers=headers)
    assert answer["statusCode"] == 400 and "X-WC-Webhook-Delivery-ID" in read_json(answer)["detail"]
    assert aws.queued_bodies() == []
