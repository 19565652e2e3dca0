"""IngestFunction (functions/ingest/app.py) through API Gateway HTTP API events, against moto.

A store's request is accepted (202) only once its canonical event is on the event queue; a
refused one answers {"error", "detail"} with the documented status and queues nothing."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from storeflows.events import StoreEvent
from storeflows.intake.common import MAX_BODY_BYTES
from storeflows.intake.signatures import sign_hmac_sha256_base64, sign_standard_webhook
from storeflows_local.signing import purchase

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# Shopify's sample as published: cancelled, voided and a test order.
SHOPIFY_SAMPLE = (FIXTURES / "shopify_orders_create.json").read_bytes()
SAMPLE_HEADERS: dict[str, str] = json.loads((FIXTURES / "shopify_orders_create.headers.json").read_text("utf-8"))[
    "computed_headers"
]
SHOPIFY_SECRET = json.loads((FIXTURES / "shopify_orders_create.headers.json").read_text("utf-8"))["computed_secret"]


def paid(sample: bytes) -> bytes:
    """The sample as an order that was paid and not cancelled: a purchase."""
    return (
        sample.replace(b'"financial_status": "voided"', b'"financial_status": "paid"', 1)
        .replace(b'"cancelled_at": "2021-12-31T19:00:00-05:00"', b'"cancelled_at": null', 1)
        .replace(b'"cancel_reason": "customer"', b'"cancel_reason": null', 1)
    )


SHOPIFY_BODY = paid(SHOPIFY_SAMPLE)
SHOPIFY_HEADERS = {**SAMPLE_HEADERS, "X-Shopify-Hmac-Sha256": sign_hmac_sha256_base64(SHOPIFY_SECRET, SHOPIFY_BODY)}
SHOPIFY_EVENT_ID = "shopify:" + SHOPIFY_HEADERS["X-Shopify-Event-Id"]
SHOPIFY_ORDER_ID = "820982911946154508"  # above 2**53: a float parser would corrupt it


@pytest.fixture
def ingest(load_handler, demo_store, lambda_context):
    app = load_handler("ingest")

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        return app.lambda_handler(event, lambda_context)

    return invoke


@pytest.fixture
def shopify_request(make_http_event):
    def build(
        *,
        store_id: str = "demo",
        body: bytes = SHOPIFY_BODY,
        headers: dict[str, str] | None = None,
        secret: str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        headers = dict(SHOPIFY_HEADERS if headers is None else headers)
        if secret is not None:
            headers["X-Shopify-Hmac-Sha256"] = sign_hmac_sha256_base64(secret, body)
        return make_http_event(
            "POST",
            "/webhooks/shopify/{store_id}",
            f"/webhooks/shopify/{store_id}",
            headers=headers,
            body=body,
            path_parameters={"store_id": store_id},
            **options,
        )

    return build


@pytest.fixture
def api_request(make_http_event, demo_store):
    """POST /events/{store_id}, signed per Standard Webhooks with the store's secret."""

    def build(
        payload: dict[str, Any] | bytes,
        *,
        store_id: str = "demo",
        webhook_id: str | None = None,
        timestamp: int | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
        timestamp = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": content_type,
            "Webhook-Id": webhook_id,
            "Webhook-Timestamp": str(timestamp),
            "Webhook-Signature": sign_standard_webhook(demo_store.webhook_secret, webhook_id, timestamp, body),
        }
        return make_http_event(
            "POST",
            "/events/{store_id}",
            f"/events/{store_id}",
            headers=headers,
            body=body,
            path_parameters={"store_id": store_id},
        )

    return build


def assert_refused(response: dict[str, Any], status_code: int, error: str) -> str:
    """The refusal shape every API function shares; returns the detail."""
    assert response["statusCode"] == status_code, response
    assert response["headers"]["Content-Type"] == "application/json"
    body = json.loads(response["body"])
    assert set(body) == {"error", "detail"}
    assert body["error"] == error
    assert isinstance(body["detail"], str) and body["detail"]
    return body["detail"]


def accepted(response: dict[str, Any]) -> dict[str, Any]:
    assert response["statusCode"] == 202, response
    return json.loads(response["body"])


# --- Shopify ---------------------------------------------------------------------------------


def test_shopifys_sample_as_published_cancelled_and_voided_is_acknowledged_and_ignored(ingest, shopify_request, aws):
    response = ingest(shopify_request(body=SHOPIFY_SAMPLE, headers=SAMPLE_HEADERS))

    assert accepted(response) == {"status": "ignored", "event_id": SHOPIFY_EVENT_ID}
    assert aws.queued_bodies() == []


def test_the_paid_shopify_sample_is_queued_as_one_canonical_event(ingest, shopify_request, aws):
    response = ingest(shopify_request())

    assert accepted(response) == {"status": "accepted", "event_id": SHOPIFY_EVENT_ID}
    queued = aws.queued_bodies()
    assert len(queued) == 1
    event = StoreEvent.model_validate(queued[0])
    assert (event.store_id, event.event_id, event.source) == ("demo", SHOPIFY_EVENT_ID, "shopify")
    # Exact id text and money on the wire, not a float's approximation.
    assert queued[0]["event"]["order"]["id"] == SHOPIFY_ORDER_ID
    assert queued[0]["event"]["order"]["total"] == "404.95"
    assert queued[0]["event"]["customer"]["email"] == "jon@example.com"
    assert [item.sku for item in event.event.order.items][:2] == ["SKU2006-001", "LENS-PROTECT-2YR"]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"lower_case_headers": False}, id="header-case-as-shopify-sends-it"),
        pytest.param(
            {"headers": {n.upper(): v for n, v in SHOPIFY_HEADERS.items()}, "lower_case_headers": False},
            id="upper-case-headers",
        ),
        pytest.param({"base64_body": True}, id="base64-encoded-body"),
    ],
)
def test_shopify_header_case_and_body_encoding_do_not_matter(ingest, shopify_request, aws, options):
    response = ingest(shopify_request(**options))

    assert accepted(response)["status"] == "accepted"
    queued = aws.queued_bodies()
    assert [body["event"]["order"]["id"] for body in queued] == [SHOPIFY_ORDER_ID]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda h, b: ({**h, "X-Shopify-Hmac-Sha256": sign_hmac_sha256_base64("not-the-secret", b)}, b),
            id="signed-with-another-secret",
        ),
        pytest.param(lambda h, b: (h, b.replace(b"jon@example.com", b"eve@example.com", 1)), id="body-changed"),
        pytest.param(lambda h, b: ({n: v for n, v in h.items() if n != "X-Shopify-Hmac-Sha256"}, b), id="no-signature"),
    ],
)
def test_shopify_request_without_a_valid_signature_is_refused_and_nothing_queued(ingest, shopify_request, aws, tamper):
    headers, body = tamper(SHOPIFY_HEADERS, SHOPIFY_BODY)

    response = ingest(shopify_request(headers=headers, body=body))

    assert_refused(response, 401, "invalid_signature")
    assert aws.queued_bodies() == []


def test_unknown_store_is_404_and_nothing_queued(ingest, shopify_request, aws):
    response = ingest(shopify_request(store_id="no-such-store"))

    assert "no-such-store" in assert_refused(response, 404, "unknown_store")
    assert aws.queued_bodies() == []


def test_signed_malformed_json_is_400_with_a_reason(ingest, shopify_request, demo_store, aws):
    response = ingest(shopify_request(body=b'{"id": 820982911946154508, "email": ', secret=demo_store.shopify_secret))

    assert "not valid JSON" in assert_refused(response, 400, "invalid_payload")
    assert aws.queued_bodies() == []


def test_body_over_the_limit_is_413_and_nothing_queued(ingest, shopify_request, demo_store, aws):
    body = SHOPIFY_BODY.rstrip()[:-1] + b', "note": "' + b"x" * MAX_BODY_BYTES + b'"}'
    json.loads(body)  # a valid order, only too big

    response = ingest(shopify_request(body=body, secret=demo_store.shopify_secret))

    assert str(MAX_BODY_BYTES) in assert_refused(response, 413, "payload_too_large")
    assert aws.queued_bodies() == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_body_not_declared_as_json_is_415(ingest, shopify_request, aws, content_type):
    headers = {n: v for n, v in SHOPIFY_HEADERS.items() if n != "Content-Type"}
    if content_type:
        headers["Content-Type"] = content_type

    response = ingest(shopify_request(headers=headers))

    assert_refused(response, 415, "unsupported_media_type")
    assert aws.queued_bodies() == []


def test_content_type_with_charset_is_json(ingest, shopify_request, aws):
    headers = {**SHOPIFY_HEADERS, "Content-Type": "application/json; charset=utf-8"}

    assert accepted(ingest(shopify_request(headers=headers)))["status"] == "accepted"
    assert len(aws.queued_bodies()) == 1


@pytest.mark.parametrize(
    "topic, fixture",
    [
        ("orders/updated", "shopify_orders_create.json"),
        ("checkouts/delete", "shopify_checkouts_create.json"),
    ],
)
def test_other_shopify_topics_are_acknowledged_but_ignored(ingest, shopify_request, demo_store, aws, topic, fixture):
    body = (FIXTURES / fixture).read_bytes()
    headers = {**SHOPIFY_HEADERS, "X-Shopify-Topic": topic}

    response = ingest(shopify_request(headers=headers, body=body, secret=demo_store.shopify_secret))

    assert accepted(response) == {"status": "ignored", "event_id": SHOPIFY_EVENT_ID}
    assert aws.queued_bodies() == []


@pytest.mark.parametrize("topic", ["checkouts/create", "checkouts/update"])
def test_a_shopify_checkout_is_queued_as_checkout_started_with_its_recovery_link(
    ingest, shopify_request, demo_store, aws, topic
):
    body = (FIXTURES / "shopify_checkouts_create.json").read_bytes()
    headers = {**SHOPIFY_HEADERS, "X-Shopify-Topic": topic}

    response = ingest(shopify_request(headers=headers, body=body, secret=demo_store.shopify_secret))

    assert accepted(response)["status"] == "accepted"
    (queued,) = aws.queued_bodies()
    event = queued["event"]
    assert (event["type"], event["customer"]["email"]) == ("checkout_started", "example@email.com")
    assert event["customer"]["accepts_marketing"] is False
    checkout = event["checkout"]
    assert (checkout["token"], checkout["total"], checkout["currency"]) == ("123123123", "398.00", "USD")
    assert checkout["recovery_url"].startswith("https://checkout.local/690933842/checkouts/123123123/recover")
    assert [(i["name"], i["quantity"], i["price"]) for i in checkout["items"]] == [("IPod Nano - 8GB", 1, "199.00")] * 2
    assert checkout.get("completed_at") is None


def test_a_shopify_cart_is_queued_as_cart_updated_naming_only_its_token(ingest, shopify_request, demo_store, aws):
    body = (FIXTURES / "shopify_carts_update.json").read_bytes()
    headers = {**SHOPIFY_HEADERS, "X-Shopify-Topic": "carts/update"}

    response = ingest(shopify_request(headers=headers, body=body, secret=demo_store.shopify_secret))

    assert accepted(response)["status"] == "accepted"
    (queued,) = aws.queued_bodies()
    event = queued["event"]
    assert (event["type"], event.get("customer"), event.get("visitor_id")) == ("cart_updated", None, None)
    cart = event["cart"]
    assert (cart["token"], cart["total"], cart["currency"]) == ("eeafa272cebfd4b22385bc4b645e762c", "59.97", "USD")
    assert [(i["sku"], i["quantity"]) for i in cart["items"]] == [("example-shirt-s", 3)]


@pytest.mark.parametrize(
    "topic, fixture, change, field",
    [
        ("checkouts/create", "shopify_checkouts_create.json", {"email": None, "customer": None}, "customer"),
        (
            "checkouts/update",
            "shopify_checkouts_create.json",
            {"abandoned_checkout_url": "javascript:x"},
            "recovery_url",
        ),
        ("carts/update", "shopify_carts_update.json", {"token": None, "id": None}, "cart.token"),
        ("carts/create", "shopify_carts_update.json", {"line_items": "three"}, "cart.items"),
    ],
)
def test_a_bad_shopify_checkout_or_cart_is_400_naming_the_field_and_nothing_queued(
    ingest, shopify_request, demo_store, aws, topic, fixture, change, field
):
    body = json.dumps({**json.loads((FIXTURES / fixture).read_text()), **change}).encode()
    headers = {**SHOPIFY_HEADERS, "X-Shopify-Topic": topic}

    response = ingest(shopify_request(headers=headers, body=body, secret=demo_store.shopify_secret))

    assert response["statusCode"] == 400
    assert field in response["body"]
    assert aws.queued_bodies() == []


def test_a_shopify_order_carries_its_checkout_and_cart_tokens(ingest, shopify_request, demo_store, aws):
    body = json.dumps({**json.loads(SHOPIFY_BODY), "checkout_token": "ck-1", "cart_token": "ct-1"}).encode()

    ingest(shopify_request(body=body, secret=demo_store.shopify_secret))

    (queued,) = aws.queued_bodies()
    assert (queued["event"]["order"]["checkout_token"], queued["event"]["order"]["cart_token"]) == ("ck-1", "ct-1")


def test_orders_paid_is_a_purchase_topic_too(ingest, shopify_request, aws):
    headers = {**SHOPIFY_HEADERS, "X-Shopify-Topic": "orders/paid", "X-Shopify-Event-Id": "paid-event-1"}

    assert accepted(ingest(shopify_request(headers=headers))) == {
        "status": "accepted",
        "event_id": "shopify:paid-event-1",
    }
    assert [body["event"]["order"]["id"] for body in aws.queued_bodies()] == [SHOPIFY_ORDER_ID]


def signed_order(shopify_request, order: dict[str, Any], topic: str = "orders/create") -> dict[str, Any]:
    """A Shopify order webhook of this order, signed with the demo store's secret."""
    headers = {**SHOPIFY_HEADERS, "X-Shopify-Topic": topic}
    return shopify_request(body=json.dumps(order).encode(), headers=headers, secret=SHOPIFY_SECRET)


@pytest.mark.parametrize("topic", ["orders/create", "orders/paid"])
@pytest.mark.parametrize(
    ("financial_status", "status"),
    [
        ("paid", "accepted"),
        ("authorized", "accepted"),  # validated, captured later (manual capture)
        ("partially_paid", "accepted"),
        ("partially_refunded", "accepted"),
        ("pending", "ignored"),  # bank transfer, cash on delivery: its orders/paid is the purchase
        ("voided", "ignored"),
        ("refunded", "ignored"),
        ("expired", "ignored"),  # a state the rule does not know
        (None, "ignored"),
    ],
)
def test_a_shopify_order_is_a_purchase_once_its_payment_is_taken_or_secured(
    ingest, shopify_request, aws, topic, financial_status, status
):
    order = json.loads(SHOPIFY_BODY)
    order["financial_status"] = financial_status

    assert accepted(ingest(signed_order(shopify_request, order, topic)))["status"] == status
    assert len(aws.queued_bodies()) == (1 if status == "accepted" else 0)


@pytest.mark.parametrize("topic", ["orders/create", "orders/paid"])
def test_a_cancelled_shopify_order_is_never_a_purchase_even_when_paid(ingest, shopify_request, aws, topic):
    order = json.loads(SHOPIFY_BODY)
    order.update(cancelled_at="2026-11-20T10:00:00+01:00", cancel_reason="inventory")

    assert accepted(ingest(signed_order(shopify_request, order, topic)))["status"] == "ignored"
    assert aws.queued_bodies() == []


def test_shopify_test_orders_count_unless_the_store_ignores_them(ingest, shopify_request, aws):
    from storeflows.admin.stores import set_shopify_orders

    assert json.loads(SHOPIFY_BODY)["test"] is True
    assert accepted(ingest(shopify_request()))["status"] == "accepted"
    set_shopify_orders("demo", count_test_orders=False)
    assert accepted(ingest(shopify_request()))["status"] == "ignored"
    live = {**json.loads(SHOPIFY_BODY), "test": False}
    assert accepted(ingest(signed_order(shopify_request, live)))["status"] == "accepted"
    assert [body["event"]["order"]["id"] for body in aws.queued_bodies()] == [SHOPIFY_ORDER_ID, SHOPIFY_ORDER_ID]


def test_shopify_orders_cancelled_is_queued_as_the_cancellation_of_the_order(ingest, shopify_request, aws):
    """The published sample is a cancelled order: what orders/cancelled delivers."""
    headers = {**SAMPLE_HEADERS, "X-Shopify-Topic": "orders/cancelled"}

    assert accepted(ingest(shopify_request(body=SHOPIFY_SAMPLE, headers=headers)))["status"] == "accepted"

    (queued,) = aws.queued_bodies()
    assert queued["event"] == {
        "type": "cancelled",
        "occurred_at": "2021-12-31T19:00:00-05:00",  # cancelled_at
        "order": {"id": SHOPIFY_ORDER_ID},
        "customer": {"email": "jon@example.com"},
        "reason": "customer",
    }


def test_a_store_ignoring_test_orders_ignores_their_cancellations_too(ingest, shopify_request, aws):
    from storeflows.admin.stores import set_shopify_orders

    set_shopify_orders("demo", count_test_orders=False)
    headers = {**SAMPLE_HEADERS, "X-Shopify-Topic": "orders/cancelled"}

    assert accepted(ingest(shopify_request(body=SHOPIFY_SAMPLE, headers=headers)))["status"] == "ignored"
    assert aws.queued_bodies() == []


def test_redelivered_shopify_request_is_accepted_again_with_the_same_event_id(ingest, shopify_request, aws):
    first = accepted(ingest(shopify_request()))
    second = accepted(ingest(shopify_request()))

    assert first == second == {"status": "accepted", "event_id": SHOPIFY_EVENT_ID}
    # Deduplication is the dispatcher's job, keyed on this event id.
    assert [body["event_id"] for body in aws.queued_bodies()] == [SHOPIFY_EVENT_ID, SHOPIFY_EVENT_ID]


# --- Shopify compliance topics (customers/redact, customers/data_request) ----------------------

REDACT_BODY = (FIXTURES / "shopify_customers_redact.json").read_bytes()
DATA_REQUEST_BODY = (FIXTURES / "shopify_customers_data_request.json").read_bytes()


@pytest.fixture
def compliance_request(shopify_request, demo_store):
    def build(topic: str, body: bytes, *, secret: str | None = None) -> dict[str, Any]:
        headers = {**SHOPIFY_HEADERS, "X-Shopify-Topic": topic, "X-Shopify-Event-Id": "compliance-1"}
        return shopify_request(headers=headers, body=body, secret=secret or demo_store.shopify_secret)

    return build


def test_customers_redact_is_queued_as_an_erasure_of_the_customer(ingest, compliance_request, aws):
    response = ingest(compliance_request("customers/redact", REDACT_BODY))

    assert accepted(response) == {"status": "accepted", "event_id": "shopify:compliance-1"}
    (queued,) = aws.queued_bodies()
    event = StoreEvent.model_validate(queued)
    assert (event.store_id, event.source) == ("demo", "shopify")
    assert event.event.type == "erasure"
    assert event.event.customer.email == "john@example.com"


def test_customers_data_request_is_queued_with_shopifys_ids(ingest, compliance_request, aws):
    response = ingest(compliance_request("customers/data_request", DATA_REQUEST_BODY))

    assert accepted(response)["status"] == "accepted"
    (queued,) = aws.queued_bodies()
    request = StoreEvent.model_validate(queued).event
    assert (request.request_id, request.customer.email, request.platform_customer_id) == (
        "9999",
        "john@example.com",
        "191167",
    )
    assert request.orders_requested == ["299938", "280263", "220458"]


@pytest.mark.parametrize(
    "topic, body", [("customers/redact", REDACT_BODY), ("customers/data_request", DATA_REQUEST_BODY)]
)
def test_a_compliance_webhook_signed_with_another_secret_is_401(ingest, compliance_request, aws, topic, body):
    response = ingest(compliance_request(topic, body, secret="not-the-app-secret"))

    assert_refused(response, 401, "invalid_signature")
    assert aws.queued_bodies() == []


@pytest.mark.parametrize(
    "customer", [{"id": 191167, "phone": "555-625-1199"}, {"id": 191167, "email": "not an address"}]
)
def test_a_redact_naming_no_email_address_is_acknowledged_and_ignored(ingest, compliance_request, aws, customer):
    body = json.dumps({**json.loads(REDACT_BODY), "customer": customer}).encode()

    assert accepted(ingest(compliance_request("customers/redact", body)))["status"] == "ignored"
    assert aws.queued_bodies() == []


def test_a_data_request_without_its_id_is_400(ingest, compliance_request, aws):
    body = json.dumps({**json.loads(DATA_REQUEST_BODY), "data_request": {}}).encode()

    assert "data_request.id" in assert_refused(
        ingest(compliance_request("customers/data_request", body)), 400, "invalid_payload"
    )
    assert aws.queued_bodies() == []


# --- Storeflows event API (Standard Webhooks) ----------------------------------------------------


def test_api_event_with_a_valid_signature_is_queued_under_its_webhook_id(ingest, api_request, aws):
    response = ingest(api_request(purchase("A-1001", "Ana@Example.com"), webhook_id="msg_2b3c"))

    assert accepted(response) == {"status": "accepted", "event_id": "api:msg_2b3c"}
    (queued,) = aws.queued_bodies()
    assert queued["event_id"] == "api:msg_2b3c"
    assert queued["source"] == "api"
    assert queued["event"]["order"]["id"] == "A-1001"
    assert queued["event"]["order"]["total"] == "129.90"
    assert queued["event"]["customer"]["email"] == "ana@example.com"


@pytest.mark.parametrize("age_seconds, expected", [(6 * 60, "too old"), (-6 * 60, "too new")])
def test_api_event_outside_the_five_minute_window_is_401(ingest, api_request, aws, age_seconds, expected):
    stale = int(time.time()) - age_seconds

    response = ingest(api_request(purchase("A-1001", "ana@example.com"), timestamp=stale))

    assert expected in assert_refused(response, 401, "invalid_signature")
    assert aws.queued_bodies() == []


def test_api_event_a_few_seconds_old_is_accepted(ingest, api_request, aws):
    response = ingest(api_request(purchase("A-1001", "ana@example.com"), timestamp=int(time.time()) - 60))

    assert accepted(response)["status"] == "accepted"
    assert len(aws.queued_bodies()) == 1


def test_api_event_signed_with_another_secret_is_401(ingest, make_http_event, aws):
    body = json.dumps(purchase("A-1001", "ana@example.com")).encode()
    timestamp = int(time.time())
    other_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    event = make_http_event(
        "POST",
        "/events/{store_id}",
        "/events/demo",
        body=body,
        path_parameters={"store_id": "demo"},
        headers={
            "content-type": "application/json",
            "webhook-id": "msg_1",
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_standard_webhook(other_secret, "msg_1", timestamp, body),
        },
    )

    assert_refused(ingest(event), 401, "invalid_signature")
    assert aws.queued_bodies() == []


def test_api_event_without_customer_email_is_400_naming_the_field(ingest, api_request, aws):
    payload = purchase("A-1001", "ana@example.com")
    del payload["customer"]["email"]

    detail = assert_refused(ingest(api_request(payload)), 400, "invalid_payload")

    assert "customer.email" in detail
    assert aws.queued_bodies() == []


def test_api_event_for_unknown_store_is_404(ingest, api_request, aws):
    response = ingest(api_request(purchase("A-1001", "ana@example.com"), store_id="elsewhere"))

    assert_refused(response, 404, "unknown_store")
    assert aws.queued_bodies() == []


def test_redelivered_api_event_is_accepted_again(ingest, api_request, aws):
    event = api_request(purchase("A-1001", "ana@example.com"), webhook_id="msg_retry")

    first, second = ingest(event), ingest(event)

    assert accepted(first) == accepted(second) == {"status": "accepted", "event_id": "api:msg_retry"}
    assert [body["event_id"] for body in aws.queued_bodies()] == ["api:msg_retry", "api:msg_retry"]


def test_an_impossible_store_id_is_404_not_a_server_error(ingest, shopify_request, aws):
    """A 3 KB store id would exceed DynamoDB's key size limit; it must be a clean 404."""
    response = ingest(shopify_request(store_id="x" * 3000))

    assert_refused(response, 404, "unknown_store")
    assert aws.queued_bodies() == []


def emf_records(captured: str) -> list[dict[str, Any]]:
    """The CloudWatch embedded-metric records a function printed."""
    return [json.loads(line) for line in captured.splitlines() if line.startswith('{"_aws"')]


def test_a_refused_webhook_is_counted_by_reason(ingest, shopify_request, aws, capsys):
    capsys.readouterr()
    ingest(shopify_request(store_id="no-such-store"))
    ingest(shopify_request(headers={**SHOPIFY_HEADERS, "X-Shopify-Hmac-Sha256": "bad"}))

    refused = [
        (record["reason"], record["WebhooksRejected"])
        for record in emf_records(capsys.readouterr().out)
        if "WebhooksRejected" in record
    ]
    assert refused == [("unknown_store", [1.0]), ("invalid_signature", [1.0])]


# --- what the intake must refuse, though signed: it could be acknowledged but never kept --------


def _raw_purchase(order_id: str = "A-1", total: str = '"10.00"', items: str = "[]", name: str = '"Ana"') -> bytes:
    return (
        f'{{"type": "purchase", "order": {{"id": "{order_id}", "total": {total}, "currency": "EUR", "items": {items}}},'
        f' "customer": {{"email": "ana@example.com", "first_name": {name}}}}}'
    ).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
        (b"{" + b'"a":{' * 5_000 + b"}" * 5_001, "nested too deeply"),
        (_raw_purchase(name='"\\ud800"'), "lone surrogate"),
        (_raw_purchase(name='"x\\udfffy"'), "lone surrogate"),
        (_raw_purchase(total="NaN"), "NaN is not a JSON number"),
        (_raw_purchase(total="Infinity"), "Infinity is not a JSON number"),
        (_raw_purchase(total="-Infinity"), "-Infinity is not a JSON number"),
        (b'{"type": "purchase", "type": "consent"}', "the member 'type' appears twice"),
        (_raw_purchase(total="1" + "0" * 5000), "not valid JSON"),
    ],
)
def test_valid_signature_garbage_is_400_invalid_payload_not_a_server_error(ingest, api_request, aws, body, reason):
    assert reason in assert_refused(ingest(api_request(body)), 400, "invalid_payload")
    assert aws.queued_bodies() == []


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (_raw_purchase(total="1e400"), "order.total", "less than or equal to"),
        (
            _raw_purchase(total='"1.0000000000000000000000000000000000000001"'),
            "order.total",
            "at most 6 decimal places",
        ),
        (
            _raw_purchase(items='[{"sku": "A", "quantity": 10000000000000000000000000000000000000000}]'),
            "order.items.0.quantity",
            "less than or equal to 1000000",
        ),
        (_raw_purchase(order_id="x" * 1500), "order.id", "at most 200 characters"),
        (_raw_purchase(order_id="A\\u0000-1"), "order.id", "control characters"),
        (_raw_purchase(items='[{"name": "' + "n" * 600 + '"}]'), "order.items.0.name", "at most 500 characters"),
        (_raw_purchase(name='"' + "a" * 300 + '"'), "customer.first_name", "at most 200 characters"),
    ],
)
def test_values_the_table_could_not_hold_are_400_naming_the_field(ingest, api_request, aws, body, field, reason):
    detail = assert_refused(ingest(api_request(body)), 400, "invalid_payload")
    assert detail.startswith(f"{field}: ") and reason in detail, detail
    assert aws.queued_bodies() == []


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("аna@example.com", "non-ASCII characters before the @"),
        ("=?utf-8?q?x=0D=0ABcc:_a?=@example.com", "the part before the @"),
        ("=?utf-8?q?x=0D=0ABcc:_a@evil.test?=@example.com", "not a valid email address"),
        ("ana..b@example.com", "the part before the @"),
    ],
)
def test_an_address_ses_could_not_send_to_is_400(ingest, api_request, aws, email, reason):
    body = json.loads(_raw_purchase())
    body["customer"]["email"] = email
    assert reason in assert_refused(ingest(api_request(body)), 400, "invalid_payload")
    assert aws.queued_bodies() == []


def test_an_internationalised_domain_is_kept_as_punycode_a_look_alike_apart(ingest, api_request, aws):
    for email in ("ana@bücher.de", "ana@exаmple.com"):  # the second "а" is Cyrillic
        body = json.loads(_raw_purchase())
        body["customer"]["email"] = email
        assert accepted(ingest(api_request(body)))["status"] == "accepted"
    queued = [body["event"]["customer"]["email"] for body in aws.queued_bodies()]
    assert sorted(queued) == ["ana@xn--bcher-kva.de", "ana@xn--exmple-4nf.com"]


# --- secret rotation: old and new both verify until the old one is retired ----------------------


def test_a_rotated_shopify_secret_is_accepted_with_the_new_one_until_it_is_retired(
    ingest, shopify_request, demo_store, aws
):
    from storeflows.admin.stores import retire_secret, rotate_secret

    old = demo_store.shopify_secret
    new = rotate_secret("demo", "shopify").secret
    assert accepted(ingest(shopify_request(secret=old)))
    assert accepted(ingest(shopify_request(secret=new)))
    retire_secret("demo", "shopify")
    assert_refused(ingest(shopify_request(secret=old)), 401, "invalid_signature")
    assert accepted(ingest(shopify_request(secret=new)))


def test_a_rotated_event_api_secret_is_accepted_with_the_new_one_until_it_is_retired(
    ingest, make_http_event, demo_store, aws
):
    from storeflows.admin.stores import retire_secret, rotate_secret

    def signed_with(secret: str) -> dict[str, Any]:
        body = json.dumps(purchase(f"R-{uuid.uuid4().hex[:6]}", "ana@example.com")).encode()
        webhook_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Webhook-Id": webhook_id,
            "Webhook-Timestamp": str(timestamp),
            "Webhook-Signature": sign_standard_webhook(secret, webhook_id, timestamp, body),
        }
        return make_http_event(
            "POST",
            "/events/{store_id}",
            "/events/demo",
            headers=headers,
            body=body,
            path_parameters={"store_id": "demo"},
        )

    old = demo_store.webhook_secret
    new = rotate_secret("demo", "api").secret
    assert new != old and new.startswith("whsec_")
    assert accepted(ingest(signed_with(old))) and accepted(ingest(signed_with(new)))
    retire_secret("demo", "api")
    assert_refused(ingest(signed_with(old)), 401, "invalid_signature")
    assert accepted(ingest(signed_with(new)))


# --- storefront events through the event API ----------------------------------------------------

CHECKOUT = {
    "type": "checkout_started",
    "customer": {"email": "Ana@Example.com"},
    "checkout": {
        "token": "c-7a1f",
        "items": [{"product_id": "p-1", "name": "Linen dress", "price": "89.00", "quantity": 1}],
        "total": "89.00",
        "currency": "EUR",
        "recovery_url": "https://shop.example.com/checkouts/c-7a1f/recover",
    },
}


def test_a_checkout_sent_to_the_api_is_queued_naming_its_contact(ingest, api_request, aws):
    response = ingest(api_request(CHECKOUT, webhook_id="msg_checkout"))

    assert accepted(response) == {"status": "accepted", "event_id": "api:msg_checkout"}
    (queued,) = aws.queued_bodies()
    assert queued["event"]["type"] == "checkout_started"
    assert queued["event"]["customer"]["email"] == "ana@example.com"
    assert queued["event"]["checkout"]["recovery_url"] == "https://shop.example.com/checkouts/c-7a1f/recover"


@pytest.mark.parametrize(
    "body, reason",
    [
        ({**CHECKOUT, "customer": None}, "give customer.email or visitor_id"),
        ({"type": "product_viewed", "visitor_id": "v 1", "product": {"product_id": "p-1"}}, "visitor_id"),
        (
            {**CHECKOUT, "checkout": {**CHECKOUT["checkout"], "recovery_url": "javascript:alert(1)"}},
            "checkout.recovery_url",
        ),
        ({"type": "search", "visitor_id": "v_12345678", "query": ""}, "query"),
        ({"type": "identify", "customer": {"email": "ana@example.com"}}, "visitor_id"),
    ],
)
def test_a_storefront_event_that_names_nobody_or_carries_a_bad_value_is_400(ingest, api_request, aws, body, reason):
    assert reason in assert_refused(ingest(api_request(body)), 400, "invalid_payload")
    assert aws.queued_bodies() == []


# --- Shopify customers/create and customers/update: the facts.birth_date metafield --------------

CUSTOMER_BODY = (FIXTURES / "shopify_customers_update.json").read_bytes()


@pytest.mark.parametrize("topic", ["customers/create", "customers/update"])
def test_a_customers_birth_date_metafield_is_queued_as_their_birthday(ingest, compliance_request, aws, topic):
    response = ingest(compliance_request(topic, CUSTOMER_BODY))

    assert accepted(response)["status"] == "accepted"
    (queued,) = aws.queued_bodies()
    event = StoreEvent.model_validate(queued).event
    assert event.type == "customer_facts"
    # The birthday and the address only: nothing else of the customer (name, phone, note).
    assert event.customer.model_dump(exclude_none=True) == {"email": "bob@biller.com", "birthday": "1990-05-17"}


@pytest.mark.parametrize(
    "change",
    [
        lambda body: body.pop("metafields"),  # subscribed without the facts namespace
        lambda body: body["metafields"][0].update(key="favourite_colour"),
        lambda body: body["metafields"][0].update(value="1990-02-30"),  # no day of the year
        lambda body: body.update(email=None),
    ],
)
def test_a_customer_without_a_usable_birth_date_is_ignored(ingest, compliance_request, aws, change):
    body = json.loads(CUSTOMER_BODY)
    change(body)
    response = ingest(compliance_request("customers/update", json.dumps(body).encode()))

    assert accepted(response)["status"] == "ignored"
    assert aws.queued_bodies() == []


def test_the_birthday_of_a_shopify_customer_goes_on_their_profile_and_in_its_days_index(aws):
    from storeflows import dispatch
    from storeflows.intake.shopify import customer_facts_from_shopify
    from storeflows.storage import contacts, dates

    body = json.loads(CUSTOMER_BODY)
    body["default_address"] = {"country_code": "PL"}
    facts = customer_facts_from_shopify(body)
    assert facts is not None
    dispatch.dispatch_event(
        StoreEvent(
            store_id="demo", event_id="shopify:customer-1", source="shopify", received_at=datetime.now(UTC), event=facts
        )
    )
    contact = contacts.get_contact("demo", "bob@biller.com")
    assert contact is not None
    assert (contact.birthday, contact.first_name, contact.consent) == ("1990-05-17", None, None)
    (entry,) = dates.due_page("demo", dates.BIRTHDAY, "05-17")[0]
    assert (entry["email"], entry["country"], entry["year"]) == ("bob@biller.com", "PL", "1990")
