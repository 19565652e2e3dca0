"""Shopify webhooks: orders/create, orders/paid and orders/cancelled, and the mandatory
compliance topics customers/redact and customers/data_request, each verified with the app's
HMAC.

An order is a purchase once its payment is taken or secured, never once cancelled (the
rule is PURCHASE_FINANCIAL_STATUSES and is_purchase; the README's "Shopify" section says it
in words). Test orders count unless the store says otherwise (Store.shopify)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from storeflows.errors import InvalidPayload, UnknownStore
from storeflows.events import EventBody
from storeflows.events.cancellation import CancelledEvent
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
    payload = parse_json(raw_body) if adapter else None
    # Only order payloads carry `test`; a compliance webhook is never a test order.
    test_order = isinstance(payload, dict) and payload.get("test") is True
    body = adapter(payload) if adapter and (store.shopify.count_test_orders or not test_order) else None
    if body is None:
        logger.info(
            "ignoring Shopify webhook",
            extra={
                "store_id": store_id,
                "event_id": event_id,
                "topic": topic,
                "test_order": test_order,
                "financial_status": str(payload.get("financial_status"))[:32] if isinstance(payload, dict) else None,
            },
        )
        return ignored(event_id)
    return accept(store, event_id, "shopify", body)


# The payment states of an order that make it a purchase: paid; authorized (validated, to be
# captured later: manual capture); partially_paid (part of it captured); partially_refunded
# (paid, then partly given back). Not pending: a manual payment method (bank transfer, cash on
# delivery) or a provider that needs time; the orders/paid webhook that follows once the
# payment arrives is the purchase. Never voided (an authorization cancelled), refunded, or any
# state this list does not know (Shopify's GraphQL API adds expired).
PURCHASE_FINANCIAL_STATUSES = frozenset({"paid", "authorized", "partially_paid", "partially_refunded"})


def is_purchase(order: dict[str, Any]) -> bool:
    """Whether a Shopify order counts as a purchase: not cancelled (whatever its payment:
    Shopify's own sample is cancelled and voided), and paid or about to be."""
    return not order.get("cancelled_at") and order.get("financial_status") in PURCHASE_FINANCIAL_STATUSES


def _purchase(payload: Any) -> PurchaseEvent | None:
    """orders/create, orders/paid: the purchase, or None while the order is not one."""
    return purchase_from_shopify(payload) if is_purchase(require_object(payload)) else None


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


def _email(body: dict[str, Any], customer: dict[str, Any]) -> Any:
    return body.get("email") or body.get("contact_email") or customer.get("email")


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
                email=_email(body, customer),
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


def cancellation_from_shopify(order: Any) -> CancelledEvent:
    """orders/cancelled: the order as it is now (cancelled_at, cancel_reason set)."""
    body = require_object(order)
    return validate(
        CancelledEvent,
        present(
            type="cancelled",
            occurred_at=body.get("cancelled_at"),
            order=present(id=body.get("id")),
            customer=present(email=_email(body, nested(body, "customer"))),
            reason=body.get("cancel_reason"),
        ),
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
    "orders/create": _purchase,
    "orders/paid": _purchase,
    "orders/cancelled": cancellation_from_shopify,
    "customers/redact": erasure_from_shopify,
    "customers/data_request": data_request_from_shopify,
}
