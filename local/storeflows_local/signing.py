"""Requests signed the way a store signs them, for the demo, the tests and curl users."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import requests

from storeflows.intake.signatures import sign_hmac_sha256_base64, sign_standard_webhook


def post_event(
    api_url: str,
    store_id: str,
    secret: str,
    payload: dict[str, Any],
    *,
    webhook_id: str | None = None,
    timestamp: int | None = None,
) -> requests.Response:
    """POST /events/{store_id}, signed per Standard Webhooks."""
    headers, body = signed_event(secret, payload, webhook_id=webhook_id, timestamp=timestamp)
    return requests.post(f"{api_url}/events/{store_id}", data=body, headers=headers, timeout=30)


def signed_event(
    secret: str, payload: dict[str, Any], *, webhook_id: str | None = None, timestamp: int | None = None
) -> tuple[dict[str, str], bytes]:
    """The headers and body of an event API request, signed per Standard Webhooks."""
    body = json.dumps(payload).encode()
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard_webhook(secret, webhook_id, timestamp, body),
    }
    return headers, body


def post_shopify(
    api_url: str, store_id: str, secret: str, body: bytes, *, topic: str = "orders/create", event_id: str | None = None
) -> requests.Response:
    """POST /webhooks/shopify/{store_id}, signed as Shopify signs order webhooks."""
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign_hmac_sha256_base64(secret, body),
        "X-Shopify-Shop-Domain": f"{store_id}.myshopify.com",
        "X-Shopify-API-Version": "2025-07",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
    }
    return requests.post(f"{api_url}/webhooks/shopify/{store_id}", data=body, headers=headers, timeout=30)


def post_woocommerce(
    api_url: str,
    store_id: str,
    secret: str,
    body: bytes,
    *,
    topic: str = "order.created",
    delivery_id: str | None = None,
) -> requests.Response:
    """POST /webhooks/woocommerce/{store_id}, signed as WooCommerce signs deliveries."""
    resource, event = topic.split(".", 1)
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "http://shop.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign_hmac_sha256_base64(secret, body),
        "X-WC-Webhook-ID": "1",
        "X-WC-Webhook-Delivery-ID": delivery_id or uuid.uuid4().hex,
    }
    return requests.post(f"{api_url}/webhooks/woocommerce/{store_id}", data=body, headers=headers, timeout=30)


def purchase(
    order_id: str,
    email: str,
    *,
    first_name: str = "Ana",
    total: str = "129.90",
    currency: str = "EUR",
    language: str = "pl-PL",
    country: str = "PL",
    accepts_marketing: bool = True,
    items: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A generic purchase event body as a store would send it."""
    return {
        "type": "purchase",
        "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "order": {
            "id": order_id,
            "total": total,
            "currency": currency,
            "items": items
            or [{"sku": "VENISE-DRESS", "name": "Venise dress", "category": "dresses", "quantity": 1, "price": total}],
        },
        "customer": {
            "email": email,
            "first_name": first_name,
            "last_name": "Nowak",
            "language": language,
            "country": country,
            "accepts_marketing": accepts_marketing,
        },
    }
