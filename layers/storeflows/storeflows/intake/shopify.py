"""Shopify webhooks: orders/create and orders/paid, and the mandatory compliance topics
customers/redact and customers/data_request, each verified with the app's HMAC."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from storeflows.errors import InvalidPayload, UnknownStore
from storeflows.events import EventBody
from storeflows.events.common import Customer
from storeflows.events.privacy import DataRequest, ErasureRequest
from storeflows.events.purchase import PurchaseEvent
from storeflows.intake.common import (
    Receipt,
    accept,
    checked_store,
    ignored,
    line_items,
    lower,
    nested,
    parse_json,
    present,
    require_object,
    validate,
)
from storeflows.intake.signatures import verify_hmac_sha256_base64
from storeflows.observability import logger


def accept_webhook(store_id: str, headers: Mapping[str, str], content_type: str | None, raw_body: bytes) -> Receipt:
    """POST /webhooks/shopify/{store_id}. A compliance webhook naming no email address is
    acknowledged and ignored: nothing is held about it."""
    headers = lower(headers)
    store = checked_store(store_id, content_type, raw_body)
    if not store.shopify_secret:
        raise UnknownStore(f"store {store_id} has no Shopify integration")
    verify_hmac_sha256_base64(
        store.shopify_secret,
        raw_body,
        headers.get("x-shopify-hmac-sha256"),
        also=store.previous_secret("shopify_secret"),
    )
    delivery_id = headers.get("x-shopify-event-id") or headers.get("x-shopify-webhook-id")
    if not delivery_id:
        raise InvalidPayload("missing X-Shopify-Event-Id (or X-Shopify-Webhook-Id) header")
    event_id = f"shopify:{delivery_id}"
    topic = headers.get("x-shopify-topic", "")
    adapter = TOPICS.get(topic)
    body = adapter(parse_json(raw_body)) if adapter else None
    if body is None:
        logger.info("ignoring Shopify topic", extra={"store_id": store_id, "event_id": event_id, "topic": topic})
        return ignored(event_id)
    return accept(store, event_id, "shopify", body)


def _accepts_marketing(order: dict[str, Any], customer: dict[str, Any]) -> bool | None:
    """The customer's current email_marketing_consent (newer API versions) beats the
    order-level buyer_accepts_marketing checkbox; only "subscribed" counts as consent."""
    state = nested(customer, "email_marketing_consent").get("state")
    if isinstance(state, str):
        return state == "subscribed"
    accepts = order.get("buyer_accepts_marketing")
    return accepts if isinstance(accepts, bool) else None


def _item(item: dict[str, Any]) -> dict[str, Any]:
    return present(
        sku=item.get("sku") or None,
        name=item.get("title") or item.get("name"),
        category=item.get("product_type"),
        product_id=item.get("product_id"),
        quantity=item.get("quantity"),
        price=item.get("price"),
    )


def purchase_from_shopify(order: Any) -> PurchaseEvent:
    """A Shopify order webhook body (orders/create, orders/paid)."""
    body = require_object(order)
    customer = nested(body, "customer")
    billing = nested(body, "billing_address")
    shipping = nested(body, "shipping_address")
    default_address = nested(customer, "default_address")
    return validate(
        PurchaseEvent,
        {
            "type": "purchase",
            "occurred_at": body.get("processed_at") or body.get("created_at"),
            "order": present(
                id=body.get("id"),
                total=body.get("total_price"),
                currency=body.get("currency"),
                items=line_items(body.get("line_items"), _item),
            ),
            "customer": present(
                email=body.get("email") or body.get("contact_email") or customer.get("email"),
                first_name=customer.get("first_name") or billing.get("first_name"),
                last_name=customer.get("last_name") or billing.get("last_name"),
                language=body.get("customer_locale"),
                country=billing.get("country_code")
                or shipping.get("country_code")
                or default_address.get("country_code"),
                accepts_marketing=_accepts_marketing(body, customer),
            ),
        },
    )


def _privacy_customer(body: dict[str, Any]) -> Customer | None:
    """The customer a compliance webhook names, by email; None without a usable address
    (Storeflows keys everything by email, so it holds nothing about such a customer)."""
    try:
        return Customer.model_validate({"email": nested(body, "customer").get("email")})
    except ValidationError:
        return None


def erasure_from_shopify(payload: Any) -> ErasureRequest | None:
    """customers/redact: {shop_id, shop_domain, customer: {id, email, phone}, orders_to_redact}.
    The whole contact is erased, not only the orders named (they are all the contact's)."""
    customer = _privacy_customer(require_object(payload))
    return ErasureRequest(type="erasure", customer=customer) if customer else None


def data_request_from_shopify(payload: Any) -> DataRequest | None:
    """customers/data_request: {shop_id, shop_domain, orders_requested, customer: {id, email,
    phone}, data_request: {id}}."""
    body = require_object(payload)
    customer = _privacy_customer(body)
    if customer is None:
        return None
    request_id = nested(body, "data_request").get("id")
    if request_id is None:
        raise InvalidPayload("data_request.id: Field required")
    return validate(
        DataRequest,
        present(
            type="data_request",
            request_id=request_id,
            customer=customer,
            platform_customer_id=nested(body, "customer").get("id"),
            orders_requested=body.get("orders_requested"),
        ),
    )


# Topic -> its canonical event (None: acknowledged and ignored). Other topics are ignored.
TOPICS: dict[str, Callable[[Any], EventBody | None]] = {
    "orders/create": purchase_from_shopify,
    "orders/paid": purchase_from_shopify,
    "customers/redact": erasure_from_shopify,
    "customers/data_request": data_request_from_shopify,
}
