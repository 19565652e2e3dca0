"""WooCommerce webhooks: order.created and order.updated (the REST v3 order representation),
the catalogue's product.created, product.updated and product.deleted, and the unsigned ping
WooCommerce sends when a webhook is saved as active."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from storeflows.errors import InvalidPayload, UnknownStore
from storeflows.events import EventBody
from storeflows.events.product import ProductEvent
from storeflows.events.product_deleted import ProductDeletedEvent
from storeflows.events.purchase import PurchaseEvent
from storeflows.intake.common import (
    Receipt,
    accept,
    checked_store,
    ignored,
    known_store,
    line_items,
    lower,
    nested,
    parse_json,
    present,
    require_object,
    validate,
)
from storeflows.intake.signatures import verify_hmac_sha256_base64, wordpress_signing_secret
from storeflows.observability import logger
from storeflows.records import Store

ORDER_TOPICS = frozenset({"order.created", "order.updated"})
# A WooCommerce order is a completed purchase once paid: pending, on-hold, failed,
# cancelled and refunded orders are not.
PURCHASE_STATUSES = frozenset({"processing", "completed"})
_PING = re.compile(rb"webhook_id=[0-9]+")


def accept_order(store_id: str, headers: Mapping[str, str], content_type: str | None, raw_body: bytes) -> Receipt:
    """POST /webhooks/woocommerce/{store_id}.

    When a webhook is saved as active, WooCommerce posts an unsigned `webhook_id=N` form
    body (no X-WC-Webhook-* headers) and wants a 200 back: that ping is recognised before
    the JSON content-type check, answered once the store is known, and changes nothing.
    An order counts as a purchase only once paid (status processing or completed)."""
    headers = lower(headers)
    if _is_ping(headers, content_type, raw_body):
        _secret(known_store(store_id))  # a ping to a wrong URL gets its 404
        logger.info("WooCommerce webhook ping", extra={"store_id": store_id})
        return ignored("", ping=True)
    store = checked_store(store_id, content_type, raw_body)
    secret = _secret(store)
    # Each accepted secret (the one before a rotation, until it is retired) as given and as
    # WordPress decodes it.
    accepted = (secret, *store.previous_secret("woocommerce_secret"))
    forms = dict.fromkeys(form for candidate in accepted for form in (candidate, wordpress_signing_secret(candidate)))
    forms.pop(secret)
    verify_hmac_sha256_base64(secret, raw_body, headers.get("x-wc-webhook-signature"), also=tuple(forms))
    delivery_id = (headers.get("x-wc-webhook-delivery-id") or "").strip()
    if not delivery_id:
        raise InvalidPayload("missing X-WC-Webhook-Delivery-ID header")
    event_id = f"woocommerce:{delivery_id}"
    topic = headers.get("x-wc-webhook-topic", "")
    if topic in PRODUCT_TOPICS:
        return accept(store, event_id, "woocommerce", PRODUCT_TOPICS[topic](parse_json(raw_body)))
    if topic not in ORDER_TOPICS:
        logger.info("ignoring WooCommerce topic", extra={"store_id": store_id, "event_id": event_id, "topic": topic})
        return ignored(event_id)
    order = require_object(parse_json(raw_body))
    status = order.get("status")
    if not (isinstance(status, str) and status in PURCHASE_STATUSES):
        logger.info(
            "ignoring unpaid WooCommerce order",
            extra={"store_id": store_id, "event_id": event_id, "topic": topic, "order_status": str(status)[:32]},
        )
        return ignored(event_id)
    return accept(store, event_id, "woocommerce", purchase_from_woocommerce(order))


def _is_ping(headers: Mapping[str, str], content_type: str | None, raw_body: bytes) -> bool:
    """WooCommerce posts the ping through the WordPress HTTP API with a string body and no
    Content-Type of its own, so it arrives form-encoded; a missing Content-Type is taken too."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    return (
        media_type in ("application/x-www-form-urlencoded", "")
        and not headers.get("x-wc-webhook-signature")
        and _PING.fullmatch(raw_body.strip()) is not None
    )


def _secret(store: Store) -> str:
    if not store.woocommerce_secret:
        raise UnknownStore(f"store {store.store_id} has no WooCommerce integration")
    return store.woocommerce_secret


def _price(value: Any) -> Any:
    """WooCommerce sends line-item price as a JSON number; should one arrive as a float,
    its shortest repr ("21.99") is the amount that was meant, not its binary expansion."""
    return Decimal(repr(value)) if isinstance(value, float) else value


def _item(item: dict[str, Any]) -> dict[str, Any]:
    name = item.get("name")
    return present(
        sku=item.get("sku") or None,
        # The REST API returns product names HTML-escaped ("Idea &ndash; Color: Black").
        name=html.unescape(name) if isinstance(name, str) else name,
        product_id=item.get("product_id") or None,  # 0 when the product was deleted
        quantity=item.get("quantity"),
        price=_price(item.get("price")),
    )


def purchase_from_woocommerce(order: Any) -> PurchaseEvent:
    """A WooCommerce webhook body for an order topic."""
    body = require_object(order)
    billing = nested(body, "billing")
    shipping = nested(body, "shipping")
    return validate(
        PurchaseEvent,
        {
            "type": "purchase",
            # date_created is shop-local time without an offset; the GMT one is preferred.
            "occurred_at": body.get("date_created_gmt") or body.get("date_created"),
            "order": present(
                id=body.get("id"),
                total=body.get("total"),
                currency=body.get("currency"),
                items=line_items(body.get("line_items"), _item),
            ),
            "customer": present(
                email=billing.get("email") or None,
                first_name=billing.get("first_name"),
                last_name=billing.get("last_name"),
                country=billing.get("country") or shipping.get("country"),
            ),
        },
    )


# --- the catalogue: product.created, product.updated, product.deleted ------------------------------


def _money(value: Any) -> Any:
    """A product's price as WooCommerce sends it: a decimal string, "" when it has none."""
    value = _price(value)
    return None if value in ("", None) else value


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def product_from_woocommerce(payload: Any) -> ProductEvent:
    """The REST v3 product. A simple product is one variant whose id is the product's. A
    variable product names only its variations' ids: it is kept as one variant too, the
    product itself, at the price WooCommerce shows for it (its lowest variation's) and the
    stock it manages at product level; the variations' own prices, SKUs and stock are not
    taken. On sale, `regular_price` is the compare-at price. Not published (a draft, a
    private product): unavailable."""
    body = require_object(payload)
    regular = _money(body.get("regular_price"))
    sale = _money(body.get("sale_price"))
    price = sale or _money(body.get("price")) or regular
    managed = body.get("manage_stock") is True
    published = body.get("status", "publish") == "publish"
    images = _list(body.get("images"))
    categories = _list(body.get("categories"))
    name = body.get("name")
    variant = present(
        variant_id=body.get("id"),
        sku=body.get("sku") or None,
        price=price,
        compare_at_price=regular if sale is not None and regular is not None and regular != sale else None,
        available=published and body.get("stock_status") != "outofstock",
        sells_when_out_of_stock=body.get("backorders") in ("notify", "yes"),
    ) | {"inventory_quantity": body.get("stock_quantity") if managed and published else None}
    return validate(
        ProductEvent,
        {
            "type": "product",
            "occurred_at": body.get("date_modified_gmt"),
            "product": present(
                product_id=body.get("id"),
                name=html.unescape(name) if isinstance(name, str) else name,
                url=body.get("permalink"),
                image_url=next((image.get("src") for image in images if isinstance(image, dict)), None),
                category=next(
                    (
                        html.unescape(c["name"])
                        for c in categories
                        if isinstance(c, dict) and isinstance(c.get("name"), str)
                    ),
                    None,
                ),
                variants=[variant],
                updated_at=body.get("date_modified_gmt"),
            ),
        },
    )


def product_deletion_from_woocommerce(payload: Any) -> ProductDeletedEvent:
    """product.deleted: {"id": ...} (the product moved to the trash, or deleted for good)."""
    return validate(ProductDeletedEvent, present(type="product_deleted", product_id=require_object(payload).get("id")))


PRODUCT_TOPICS: dict[str, Callable[[Any], EventBody]] = {
    "product.created": product_from_woocommerce,
    "product.updated": product_from_woocommerce,
    "product.deleted": product_deletion_from_woocommerce,
}
