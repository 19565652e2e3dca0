"""Webhook intake: check, verify, normalise, enqueue. Nothing else.

A webhook is acknowledged only after its canonical event is on the event queue (SQS keeps
it until the dispatcher has processed it, with a dead-letter queue behind). Every check
runs before anything is written, so a rejected request changes nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, model_validator

from storeflows.storage import stores
from storeflows.adapters import (
    data_request_from_shopify,
    erasure_from_shopify,
    event_from_api,
    purchase_from_shopify,
    purchase_from_woocommerce,
)
from storeflows.aws import client
from storeflows.config import require
from storeflows.errors import InvalidPayload, PayloadTooLarge, UnknownStore, UnsupportedMediaType
from storeflows.models import ConsentEvent, DataRequest, DeliveredEvent, ErasureRequest, PurchaseEvent
from storeflows.observability import logger, metrics, MetricUnit
from storeflows.records import Attribution, Store
from storeflows.signatures import verify_hmac_sha256_base64, verify_standard_webhook

# Shopify order payloads with many line items reach tens of KiB; 256 KiB leaves room and
# keeps the canonical event far inside SQS's message limit.
MAX_BODY_BYTES = 256 * 1024

SHOPIFY_PURCHASE_TOPICS = frozenset({"orders/create", "orders/paid"})
# Shopify's mandatory compliance webhooks, each mapped onto its canonical event.
SHOPIFY_PRIVACY_TOPICS = {"customers/redact": erasure_from_shopify, "customers/data_request": data_request_from_shopify}
WOOCOMMERCE_ORDER_TOPICS = frozenset({"order.created", "order.updated"})
# A WooCommerce order is a completed purchase once paid: pending, on-hold, failed,
# cancelled and refunded orders are not.
WOOCOMMERCE_PURCHASE_STATUSES = frozenset({"processing", "completed"})
_WOOCOMMERCE_PING = re.compile(rb"webhook_id=[0-9]+")


class StoreEvent(BaseModel):
    """What travels on the event queue: one canonical event plus where it came from."""

    store_id: str
    event_id: str
    source: Literal["shopify", "woocommerce", "api"]
    received_at: datetime
    purchase: PurchaseEvent | None = None
    consent: ConsentEvent | None = None
    erasure: ErasureRequest | None = None
    data_request: DataRequest | None = None
    delivered: DeliveredEvent | None = None
    # The store's attribution windows when the purchase was accepted (the intake has just
    # read the store; the dispatcher need not read it again).
    attribution: Attribution = Attribution()

    @model_validator(mode="after")
    def _exactly_one_event(self) -> "StoreEvent":
        bodies = (self.purchase, self.consent, self.delivered, self.erasure, self.data_request)
        if sum(body is not None for body in bodies) != 1:
            raise ValueError("a store event carries exactly one of purchase, consent, delivered, erasure, data_request")
        return self


@dataclass(frozen=True)
class Receipt:
    event_id: str
    status: Literal["accepted", "ignored"]
    # WooCommerce's activation ping: acknowledged with 200 (it disables the webhook otherwise).
    ping: bool = False


def accept_shopify_webhook(store_id: str, headers: Mapping[str, str], content_type: str | None, raw_body: bytes) -> Receipt:
    """POST /webhooks/shopify/{store_id}: orders/create and orders/paid, and the compliance
    topics customers/redact and customers/data_request (verified the same way). A compliance
    webhook naming no email address is acknowledged and ignored: nothing is held about it."""
    headers = _lower(headers)
    store = _checked_store(store_id, content_type, raw_body)
    if not store.shopify_secret:
        raise UnknownStore(f"store {store_id} has no Shopify integration")
    verify_hmac_sha256_base64(store.shopify_secret, raw_body, headers.get("x-shopify-hmac-sha256"))
    delivery_id = headers.get("x-shopify-event-id") or headers.get("x-shopify-webhook-id")
    if not delivery_id:
        raise InvalidPayload("missing X-Shopify-Event-Id (or X-Shopify-Webhook-Id) header")
    event_id = f"shopify:{delivery_id}"
    topic = headers.get("x-shopify-topic", "")
    body = None
    if topic in SHOPIFY_PURCHASE_TOPICS:
        body = purchase_from_shopify(_parse_json(raw_body))
    elif topic in SHOPIFY_PRIVACY_TOPICS:
        body = SHOPIFY_PRIVACY_TOPICS[topic](_parse_json(raw_body))
    if body is None:
        logger.info("ignoring Shopify topic", extra={"store_id": store_id, "event_id": event_id, "topic": topic})
        return _ignored(event_id)
    return _enqueue(StoreEvent(store_id=store_id, event_id=event_id, source="shopify", received_at=_now(),
                               attribution=store.attribution, **{body.type: body}))


def accept_woocommerce_order(store_id: str, headers: Mapping[str, str], content_type: str | None, raw_body: bytes) -> Receipt:
    """POST /webhooks/woocommerce/{store_id}: order.created and order.updated.

    When a webhook is saved as active, WooCommerce posts an unsigned `webhook_id=N` form
    body (no X-WC-Webhook-* headers) and wants a 200 back: that ping is recognised before
    the JSON content-type check, answered once the store is known, and changes nothing.
    An order counts as a purchase only once paid (status processing or completed)."""
    headers = _lower(headers)
    if _is_woocommerce_ping(headers, content_type, raw_body):
        _woocommerce_secret(_known_store(store_id))  # a ping to a wrong URL gets its 404
        logger.info("WooCommerce webhook ping", extra={"store_id": store_id})
        return _ignored("", ping=True)
    store = _checked_store(store_id, content_type, raw_body)
    secret = _woocommerce_secret(store)
    verify_hmac_sha256_base64(secret, raw_body, headers.get("x-wc-webhook-signature"))
    delivery_id = (headers.get("x-wc-webhook-delivery-id") or "").strip()
    if not delivery_id:
        raise InvalidPayload("missing X-WC-Webhook-Delivery-ID header")
    event_id = f"woocommerce:{delivery_id}"
    topic = headers.get("x-wc-webhook-topic", "")
    if topic not in WOOCOMMERCE_ORDER_TOPICS:
        logger.info("ignoring WooCommerce topic", extra={"store_id": store_id, "event_id": event_id, "topic": topic})
        return _ignored(event_id)
    order = _parse_json(raw_body)
    if not isinstance(order, dict):
        raise InvalidPayload("body must be a JSON object")
    status = order.get("status")
    if not (isinstance(status, str) and status in WOOCOMMERCE_PURCHASE_STATUSES):
        logger.info("ignoring unpaid WooCommerce order",
                    extra={"store_id": store_id, "event_id": event_id, "topic": topic, "order_status": str(status)[:32]})
        return _ignored(event_id)
    purchase = purchase_from_woocommerce(order)
    return _enqueue(StoreEvent(store_id=store_id, event_id=event_id, source="woocommerce", received_at=_now(),
                               purchase=purchase, attribution=store.attribution))


def _is_woocommerce_ping(headers: Mapping[str, str], content_type: str | None, raw_body: bytes) -> bool:
    """WooCommerce posts the ping through the WordPress HTTP API with a string body and no
    Content-Type of its own, so it arrives form-encoded; a missing Content-Type is taken too."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    return (
        media_type in ("application/x-www-form-urlencoded", "")
        and not headers.get("x-wc-webhook-signature")
        and _WOOCOMMERCE_PING.fullmatch(raw_body.strip()) is not None
    )


def _woocommerce_secret(store: Store) -> str:
    if not store.woocommerce_secret:
        raise UnknownStore(f"store {store.store_id} has no WooCommerce integration")
    return store.woocommerce_secret


def accept_api_event(
    store_id: str, headers: Mapping[str, str], content_type: str | None, raw_body: bytes, *, now: float | None = None
) -> Receipt:
    """POST /events/{store_id}: Storeflows' own event API (purchase, consent, delivered),
    signed per Standard Webhooks."""
    store = _checked_store(store_id, content_type, raw_body)
    if not store.webhook_secret:
        raise UnknownStore(f"store {store_id} has no event API secret")
    webhook_id = verify_standard_webhook(store.webhook_secret, headers, raw_body, now=now)
    body = event_from_api(_parse_json(raw_body))
    event = StoreEvent(store_id=store_id, event_id=f"api:{webhook_id}", source="api", received_at=_now(),
                       attribution=store.attribution, **{body.type: body})
    return _enqueue(event)


def _checked_store(store_id: str, content_type: str | None, raw_body: bytes) -> Store:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType(f"Content-Type must be application/json, got {media_type or 'nothing'}")
    if len(raw_body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {len(raw_body)} bytes; the limit is {MAX_BODY_BYTES}")
    return _known_store(store_id)


def _known_store(store_id: str) -> Store:
    store = stores.get_store(store_id)
    if store is None:
        raise UnknownStore(f"no store {store_id}")
    return store


def _parse_json(raw_body: bytes) -> Any:
    try:
        # Decimal keeps money exact; Python ints keep Shopify's 64-bit ids exact.
        return json.loads(raw_body.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidPayload(f"body is not valid JSON: {err}") from err


def _enqueue(event: StoreEvent) -> Receipt:
    client("sqs").send_message(QueueUrl=require("event_queue_url"), MessageBody=event.model_dump_json())
    logger.info("event accepted", extra={"store_id": event.store_id, "event_id": event.event_id})
    metrics.add_metric(name="WebhooksAccepted", unit=MetricUnit.Count, value=1)
    return Receipt(event_id=event.event_id, status="accepted")


def _ignored(event_id: str, *, ping: bool = False) -> Receipt:
    """Acknowledged and dropped: a topic or an order status that is not a purchase, a ping."""
    metrics.add_metric(name="WebhooksIgnored", unit=MetricUnit.Count, value=1)
    return Receipt(event_id=event_id, status="ignored", ping=ping)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _now() -> datetime:
    return datetime.now(timezone.utc)
