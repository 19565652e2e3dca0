"""POST /webhooks/woocommerce/{store_id} (IngestFunction, against moto): WooCommerce's
signed order deliveries and the unsigned ping it sends when a webhook is activated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from storeflows.intake.signatures import sign_hmac_sha256_base64

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BODY = (FIXTURES / "woocommerce_order_created.json").read_bytes()
_HEADERS_FILE = json.loads((FIXTURES / "woocommerce_order_created.headers.json").read_text("utf-8"))
HEADERS: dict[str, str] = _HEADERS_FILE["computed_headers"]
SECRET = _HEADERS_FILE["computed_secret"]
PING = (FIXTURES / "woocommerce_ping.body.txt").read_bytes()
# What WordPress' HTTP API sends with the ping: a user agent, no X-WC-Webhook-* headers.
PING_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded",
    "User-Agent": "WooCommerce/8.6.1 Hookshot (WordPress/6.4.3)",
}
ROUTE = "/webhooks/woocommerce/{store_id}"


@pytest.fixture
def post(load_handler, demo_store, lambda_context, make_http_event):
    handler = load_handler("ingest")

    def send(body: bytes = BODY, headers: dict[str, str] | None = None, store_id: str = "demo", **options: Any) -> dict:
        event = make_http_event(
            "POST",
            ROUTE,
            f"/webhooks/woocommerce/{store_id}",
            headers=HEADERS if headers is None else headers,
            body=body,
            path_parameters={"store_id": store_id},
            **options,
        )
        return handler.lambda_handler(event, lambda_context)

    return send


def signed(order: dict[str, Any], **headers: str) -> tuple[bytes, dict[str, str]]:
    """An order body as WooCommerce sends it (compact JSON), with its headers re-signed."""
    body = json.dumps(order, separators=(",", ":")).encode()
    return body, {**HEADERS, **headers, "X-WC-Webhook-Signature": sign_hmac_sha256_base64(SECRET, body)}


def sample_order(**changes: Any) -> dict[str, Any]:
    return {**json.loads(BODY), **changes}


def test_the_sample_order_is_verified_and_queued(post, aws, read_json):
    answer = post()
    assert answer["statusCode"] == 202
    assert read_json(answer) == {"status": "accepted", "event_id": "woocommerce:0b7c2f1e9a4d6b3c5e8f7a2d1c0b9e8f"}
    [queued] = aws.queued_bodies()
    assert queued["source"] == "woocommerce"
    assert queued["event_id"] == "woocommerce:0b7c2f1e9a4d6b3c5e8f7a2d1c0b9e8f"
    assert queued["event"]["order"]["id"] == "727"
    assert queued["event"]["order"]["total"] == "29.35"
    assert queued["event"]["customer"]["email"] == "john.doe@example.com"


def test_an_order_update_that_completes_the_order_is_a_purchase(post, aws, read_json):
    body, headers = signed(
        sample_order(status="completed"),
        **{
            "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-Event": "updated",
            "X-WC-Webhook-Delivery-ID": "second-delivery",
        },
    )
    answer = post(body=body, headers=headers)
    assert answer["statusCode"] == 202 and read_json(answer)["status"] == "accepted"
    [queued] = aws.queued_bodies()
    assert queued["event_id"] == "woocommerce:second-delivery"
    assert queued["event"]["order"]["id"] == "727"


def test_a_wrong_signature_is_401_and_nothing_queued(post, aws, read_json):
    answer = post(headers={**HEADERS, "X-WC-Webhook-Signature": sign_hmac_sha256_base64("wrong", BODY)})
    assert answer["statusCode"] == 401 and read_json(answer)["error"] == "invalid_signature"
    assert aws.queued_bodies() == []


def test_a_missing_signature_is_401_and_nothing_queued(post, aws, read_json):
    headers = {name: value for name, value in HEADERS.items() if name != "X-WC-Webhook-Signature"}
    answer = post(headers=headers)
    assert answer["statusCode"] == 401 and read_json(answer)["error"] == "invalid_signature"
    assert aws.queued_bodies() == []


def test_the_activation_ping_gets_200_and_changes_nothing(post, aws, read_json):
    answer = post(body=PING, headers=PING_HEADERS)
    assert answer["statusCode"] == 200
    assert read_json(answer)["status"] == "ignored"
    assert aws.queued_bodies() == []


def test_the_ping_is_recognised_base64_encoded_and_without_a_content_type(post, aws):
    # API Gateway HTTP APIs hand form bodies to Lambda base64-encoded.
    assert post(body=PING, headers=PING_HEADERS, base64_body=True)["statusCode"] == 200
    assert post(body=PING, headers={"User-Agent": PING_HEADERS["User-Agent"]})["statusCode"] == 200
    assert aws.queued_bodies() == []


def test_a_ping_to_an_unknown_store_is_404_so_the_admin_sees_the_wrong_url(post, aws, read_json):
    answer = post(body=PING, headers=PING_HEADERS, store_id="no-such-store")
    assert answer["statusCode"] == 404 and read_json(answer)["error"] == "unknown_store"


def test_a_signed_form_body_is_not_a_ping(post, aws, read_json):
    headers = {**PING_HEADERS, "X-WC-Webhook-Signature": sign_hmac_sha256_base64(SECRET, PING)}
    answer = post(body=PING, headers=headers)
    assert answer["statusCode"] == 415 and read_json(answer)["error"] == "unsupported_media_type"


def test_a_store_without_woocommerce_is_404_for_orders_and_pings(post, aws, read_json):
    from storeflows.records import Store
    from storeflows.storage import stores

    stores.put_store(Store(store_id="shopify-only", shopify_secret="s", unsubscribe_key="k"))
    for body, headers in ((BODY, HEADERS), (PING, PING_HEADERS)):
        answer = post(body=body, headers=headers, store_id="shopify-only")
        assert answer["statusCode"] == 404 and read_json(answer)["error"] == "unknown_store"
    assert aws.queued_bodies() == []


@pytest.mark.parametrize("status", ["pending", "on-hold", "cancelled", "failed", "refunded", None])
def test_an_unpaid_order_is_acknowledged_but_not_a_purchase(post, aws, read_json, status):
    body, headers = signed(sample_order(status=status))
    answer = post(body=body, headers=headers)
    assert answer["statusCode"] == 202 and read_json(answer)["status"] == "ignored"
    assert aws.queued_bodies() == []


@pytest.mark.parametrize("topic", ["order.deleted", "order.restored", "product.restored", "action.woocommerce_x", ""])
def test_other_topics_are_acknowledged_and_dropped(post, aws, read_json, topic):
    body, headers = signed(sample_order(), **{"X-WC-Webhook-Topic": topic})
    answer = post(body=body, headers=headers)
    assert answer["statusCode"] == 202 and read_json(answer)["status"] == "ignored"
    assert aws.queued_bodies() == []


def test_a_product_topic_with_a_body_that_is_no_product_is_400_naming_the_fields(post, aws, read_json):
    body, headers = signed(sample_order(), **{"X-WC-Webhook-Topic": "product.updated"})
    answer = post(body=body, headers=headers)
    assert answer["statusCode"] == 400
    assert "product.name: Field required" in read_json(answer)["detail"]
    assert aws.queued_bodies() == []


def test_a_delivery_without_its_id_is_400(post, aws, read_json):
    headers = {name: value for name, value in HEADERS.items() if name != "X-WC-Webhook-Delivery-ID"}
    answer = post(headers=headers)
    assert answer["statusCode"] == 400
    assert read_json(answer)["error"] == "invalid_payload"
    assert "X-WC-Webhook-Delivery-ID" in read_json(answer)["detail"]
    assert aws.queued_bodies() == []


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        (BODY, "text/plain", 415, "unsupported_media_type"),
        (
            b'{"id": 727, "status": "processing"' + b" " * (300 * 1024) + b"}",
            "application/json",
            413,
            "payload_too_large",
        ),
        (b'{"id": 727, "status": ', "application/json", 400, "invalid_payload"),
        (b"[727]", "application/json", 400, "invalid_payload"),
    ],
)
def test_bad_deliveries_get_a_clear_4xx_and_queue_nothing(post, aws, read_json, body, content_type, status, error):
    headers = {**HEADERS, "Content-Type": content_type, "X-WC-Webhook-Signature": sign_hmac_sha256_base64(SECRET, body)}
    answer = post(body=body, headers=headers)
    assert answer["statusCode"] == status and read_json(answer)["error"] == error
    assert aws.queued_bodies() == []


def test_an_order_without_a_billing_email_is_400(post, aws, read_json):
    order = sample_order()
    order["billing"] = {**order["billing"], "email": ""}
    body, headers = signed(order)
    answer = post(body=body, headers=headers)
    assert answer["statusCode"] == 400 and "customer.email" in read_json(answer)["detail"]
    assert aws.queued_bodies() == []


@pytest.mark.parametrize(
    ("stored", "signed_with"),
    [
        ("a&amp;b&lt;c&gt;&quot;d&#039;e", "a&b<c>\"d'e"),  # copied as WordPress shows it; signed decoded
        ("a&amp;b", "a&b"),
        ("a&b", "a&b"),  # typed as it is
        ("a&amp;b", "a&amp;b"),  # a secret that really holds "&amp;" still verifies as given
    ],
)
def test_a_secret_with_html_entities_verifies_as_woocommerce_signs_it(post, aws, stored, signed_with):
    from storeflows.storage import stores

    stores.put_store(stores.get_store("demo").model_copy(update={"woocommerce_secret": stored}))
    headers = {**HEADERS, "X-WC-Webhook-Signature": sign_hmac_sha256_base64(signed_with, BODY)}
    assert post(headers=headers)["statusCode"] == 202
    refused = {**HEADERS, "X-WC-Webhook-Signature": sign_hmac_sha256_base64("a-b", BODY)}
    assert post(headers=refused)["statusCode"] == 401


def test_a_rotated_secret_is_accepted_with_the_new_one_until_it_is_retired(post, aws):
    from storeflows.admin.stores import retire_secret, rotate_secret

    new = rotate_secret("demo", "woocommerce", secret="n&amp;ew").secret

    def signed(secret: str) -> dict[str, str]:
        return {**HEADERS, "X-WC-Webhook-Signature": sign_hmac_sha256_base64(secret, BODY)}

    assert post(headers=signed(SECRET))["statusCode"] == 202, "the old secret, until it is retired"
    assert post(headers=signed("n&ew"))["statusCode"] == 202, "the new one, as WordPress decodes it"
    retire_secret("demo", "woocommerce")
    assert post(headers=signed(SECRET))["statusCode"] == 401
    assert post(headers=signed(new))["statusCode"] == 202
