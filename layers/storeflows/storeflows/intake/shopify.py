"""Shopify webhooks: orders/create, orders/paid and orders/cancelled, checkouts/create and
checkouts/update, carts/create and carts/update, the catalogue's products/create,
products/update, products/delete and inventory_levels/update, and the mandatory
compliance topics customers/redact and customers/data_request, each verified with the app's
HMAC.

An order is a purchase once its payment is taken or secured, never once cancelled (the
rule is PURCHASE_FINANCIAL_STATUSES and is_purchase; the README's "Shopify" section says it
in words). Test orders count unless the store says otherwise (Store.shopify)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from storeflows.errors import InvalidPayload, UnknownStore
from storeflows.events import EventBody
from storeflows.events.cancellation import CancelledEvent
from storeflows.events.cart import CartUpdatedEvent
from storeflows.events.checkout import CheckoutStartedEvent
from storeflows.events.common import Customer
from storeflows.events.customer_facts import CustomerFactsEvent
from storeflows.events.inventory_level import InventoryLevelEvent
from storeflows.events.privacy import DataRequest, ErasureRequest
from storeflows.events.product import ProductEvent
from storeflows.events.product_deleted import ProductDeletedEvent
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
from storeflows.records import Store


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
    if topic in CATALOGUE_TOPICS:
        shop_url = shop_origin(store, headers.get("x-shopify-shop-domain"))
        adapter = functools.partial(CATALOGUE_TOPICS[topic], shop_url=shop_url)
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
                checkout_token=body.get("checkout_token"),
                cart_token=body.get("cart_token"),
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


def _basket_item(item: dict[str, Any]) -> dict[str, Any]:
    """A checkout's or cart's line item (Shopify sends no image or product URL with them)."""
    return present(
        product_id=item.get("product_id"),
        variant_id=item.get("variant_id"),
        sku=item.get("sku") or None,
        name=item.get("title") or item.get("presentment_title") or item.get("name"),
        quantity=item.get("quantity"),
        price=item.get("price"),
    )


def checkout_from_shopify(payload: Any) -> CheckoutStartedEvent:
    """checkouts/create, checkouts/update: the checkout as it is now. Its `token` is what the
    order made from it names as `checkout_token`; `completed_at` is set once it is one."""
    body = require_object(payload)
    customer = nested(body, "customer")
    billing = nested(body, "billing_address")
    return validate(
        CheckoutStartedEvent,
        {
            "type": "checkout_started",
            "occurred_at": body.get("updated_at") or body.get("created_at"),
            "checkout": present(
                token=body.get("token"),
                items=line_items(body.get("line_items"), _basket_item),
                total=body.get("total_price"),
                currency=body.get("currency") or body.get("presentment_currency"),
                recovery_url=body.get("abandoned_checkout_url"),
                completed_at=body.get("completed_at"),
            ),
            "customer": present(
                email=_email(body, customer),
                first_name=customer.get("first_name") or billing.get("first_name"),
                last_name=customer.get("last_name") or billing.get("last_name"),
                language=body.get("customer_locale"),
                accepts_marketing=_accepts_marketing(body, customer),
            ),
        },
    )


def _cart_currency(items: Any) -> Any:
    """A cart names its currency only in its items' price sets (shop money)."""
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            currency = nested(nested(item, "price_set"), "shop_money").get("currency_code")
            if currency:
                return currency
    return None


def _cart_total(items: Any) -> Any:
    """The sum of the items' line prices (a cart webhook carries no total); None when one is
    missing or not a decimal string (the items' own prices are validated with them)."""
    if not isinstance(items, list) or not items:
        return None
    try:
        return str(sum(Decimal(str(item["line_price"])) for item in items))
    except (TypeError, KeyError, InvalidOperation):
        return None


def cart_from_shopify(payload: Any) -> CartUpdatedEvent:
    """carts/create, carts/update: the cart as it is now. It names no customer: the dispatcher
    joins its token to the visitor the browser reported it for (storeflows.abandonment)."""
    body = require_object(payload)
    items = body.get("line_items")
    return validate(
        CartUpdatedEvent,
        {
            "type": "cart_updated",
            "occurred_at": body.get("updated_at") or body.get("created_at"),
            "cart": present(
                token=body.get("token") or body.get("id"),
                items=line_items(items, _basket_item),
                total=_cart_total(items),
                currency=_cart_currency(items),
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


# Shopify's standard customer metafield of the birth date (type date, "1990-05-17").
BIRTH_DATE_METAFIELD = ("facts", "birth_date")


def customer_facts_from_shopify(payload: Any) -> CustomerFactsEvent | None:
    """customers/create and customers/update, subscribed with the metafield namespace `facts`:
    {id, email, default_address: {country_code}, metafields: [{namespace, key, value, type}],
    ...}. The birthday, with the country its time zone comes from; a customer without an
    email or a usable birth date is ignored (nothing else of the customer is read)."""
    body = require_object(payload)
    metafields = body["metafields"] if isinstance(body.get("metafields"), list) else []
    birth_date = next(
        (
            field.get("value")
            for field in metafields
            if isinstance(field, dict) and (field.get("namespace"), field.get("key")) == BIRTH_DATE_METAFIELD
        ),
        None,
    )
    address: dict[str, Any] = body["default_address"] if isinstance(body.get("default_address"), dict) else {}
    try:
        customer = Customer.model_validate(
            present(email=body.get("email"), birthday=birth_date, country=address.get("country_code"))
        )
    except ValidationError:
        # No address Storeflows can key a contact by, or a birth date that is no day.
        return None
    if customer.birthday is None:
        return None
    return CustomerFactsEvent(type="customer_facts", customer=customer)


# Topic -> its canonical event (None: acknowledged and ignored). Other topics are ignored.
TOPICS: dict[str, Callable[[Any], EventBody | None]] = {
    "orders/create": _purchase,
    "orders/paid": _purchase,
    "orders/cancelled": cancellation_from_shopify,
    "checkouts/create": checkout_from_shopify,
    "checkouts/update": checkout_from_shopify,
    "carts/create": cart_from_shopify,
    "carts/update": cart_from_shopify,
    "customers/create": customer_facts_from_shopify,
    "customers/update": customer_facts_from_shopify,
    "customers/redact": erasure_from_shopify,
    "customers/data_request": data_request_from_shopify,
}


# --- the catalogue: products/* and inventory_levels/update ---------------------------------------


def shop_origin(store: Store, shop_domain: str | None) -> str | None:
    """Where the store's product pages are: the first origin its browser settings allow (its
    own domain, `stores browser`), else the shop's myshopify.com domain from the webhook's
    X-Shopify-Shop-Domain header (Shopify redirects it to the primary domain)."""
    if store.browser and store.browser.allowed_origins:
        return store.browser.allowed_origins[0].rstrip("/")
    domain = (shop_domain or "").strip().lower()
    if domain and all(ch.isalnum() or ch in ".-" for ch in domain):
        return f"https://{domain}"
    return None


def _image_src(image: Any) -> Any:
    return image.get("src") if isinstance(image, dict) else None


def _variant(variant: dict[str, Any], images: dict[Any, Any]) -> dict[str, Any]:
    """A product payload's variant. Its stock: untracked when `inventory_management` says so
    (API versions before 2024-07 send it; later ones leave it out, and a variant with a
    quantity is taken as tracked). `inventory_quantity` is deprecated: the catalogue uses it
    only until a level per location is known (storeflows.storage.products)."""
    untracked = "inventory_management" in variant and not variant.get("inventory_management")
    compare_at = variant.get("compare_at_price")
    return present(
        variant_id=variant.get("id"),
        sku=variant.get("sku") or None,
        title=variant.get("title"),
        price=variant.get("price"),
        # Shopify sends "0.00" or null for "no compare-at price".
        compare_at_price=compare_at if compare_at not in (None, "", "0.00", "0") else None,
        inventory_item_id=variant.get("inventory_item_id"),
        sells_when_out_of_stock=variant.get("inventory_policy") == "continue",
        image_url=images.get(variant.get("image_id")),
    ) | ({"inventory_quantity": None if untracked else variant.get("inventory_quantity")})


def product_from_shopify(payload: Any, *, shop_url: str | None) -> ProductEvent:
    """products/create, products/update: the product as it is now (a draft or archived one is
    not on sale: its variants are unavailable)."""
    body = require_object(payload)
    listed = body.get("images")
    image_list: list[Any] = listed if isinstance(listed, list) else []
    images = {image.get("id"): image.get("src") for image in image_list if isinstance(image, dict)}
    first_image = _image_src(body.get("image")) or next(iter(images.values()), None)
    handle = body.get("handle")
    on_sale = body.get("status", "active") == "active"
    variants = line_items(body.get("variants"), lambda variant: _variant(variant, images))
    if not on_sale and isinstance(variants, list):
        variants = [
            {**variant, "available": False, "inventory_quantity": None} if isinstance(variant, dict) else variant
            for variant in variants
        ]
    return validate(
        ProductEvent,
        {
            "type": "product",
            "occurred_at": body.get("updated_at"),
            "product": present(
                product_id=body.get("id"),
                name=body.get("title"),
                url=f"{shop_url}/products/{handle}" if shop_url and isinstance(handle, str) and handle else None,
                image_url=first_image,
                # Product webhooks name no currency: the shop's is on its orders.
                category=body.get("product_type") or None,
                variants=variants,
                updated_at=body.get("updated_at"),
            ),
        },
    )


def product_deletion_from_shopify(payload: Any, *, shop_url: str | None) -> ProductDeletedEvent:
    """products/delete: {"id": ...} only."""
    return validate(ProductDeletedEvent, present(type="product_deleted", product_id=require_object(payload).get("id")))


def inventory_level_from_shopify(payload: Any, *, shop_url: str | None) -> InventoryLevelEvent:
    """inventory_levels/update: {inventory_item_id, location_id, available, updated_at}."""
    body = require_object(payload)
    return validate(
        InventoryLevelEvent,
        {
            "type": "inventory_level",
            "occurred_at": body.get("updated_at"),
            "inventory_item_id": body.get("inventory_item_id"),
            "location_id": body.get("location_id"),
            "available": body.get("available"),
        },
    )


# Catalogue topic -> its canonical event; each is given where the store's product pages are.
CATALOGUE_TOPICS: dict[str, Callable[..., EventBody]] = {
    "products/create": product_from_shopify,
    "products/update": product_from_shopify,
    "products/delete": product_deletion_from_shopify,
    "inventory_levels/update": inventory_level_from_shopify,
}
