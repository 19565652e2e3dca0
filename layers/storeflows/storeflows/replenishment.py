"""Replenishment reminders: when what a contact bought should run out, a reminder with a
reorder link, per SKU of the order.

When a SKU runs out: its catalogue product's `usage_cycle_days` × the quantity bought, after
the purchase. A product without one: the store's own repeat buyers of that SKU say how long a
unit lasts (the median of the days per unit between a contact's consecutive purchases of it,
storage.purchase_stats), once at least `min_repeats` of them are known; × the quantity. Neither:
no reminder for that SKU.

Before each reminder (the send step): nothing about a cancelled order; nothing once the
contact bought the SKU again since the order (`reordered`); nothing while the catalogue says
the variant (or every variant of the product) is unavailable (`product_unavailable`).

The reorder link: for a Shopify store and a variant the catalogue knows, Shopify's cart
permalink `https://<shop>/cart/<variant_id>:<quantity>` (the shop's host from the product's
URL), which puts the same quantity in a new cart; else the product's URL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from storeflows import order_products
from storeflows.events.common import LineItem, Order
from storeflows.events.subjects import OrderSubject, ReorderSubject, SubjectView
from storeflows.records import Store
from storeflows.storage import orders, purchase_stats

# Reminders one order starts at most (its most-bought SKUs): the dispatcher reads the catalogue
# and the repeat intervals for each, and starts a run per SKU, within its own timeout.
MAX_REMINDERS_PER_ORDER = 50


def note_order(store_id: str, email: str, order: Order, occurred_at: datetime) -> int:
    """Times the contact's repeat purchases of the order's SKUs; the writes it made."""
    return purchase_stats.time_repeat_purchases(store_id, email, order, occurred_at)


def reminders_for(
    store_id: str,
    order: Order,
    *,
    occurred_at: datetime,
    remind_before: int,
    min_repeats: int,
    wanted: list[LineItem] | None = None,
) -> list[ReorderSubject]:
    """One reminder per SKU of the order (of `wanted`, its lines the trigger takes) whose
    running out the catalogue or the store's repeat purchases tell; a SKU on several lines
    counts their quantities together; at most MAX_REMINDERS_PER_ORDER, the most bought first."""
    quantities: dict[str, int] = {}
    first_line: dict[str, LineItem] = {}
    for item in order.items if wanted is None else wanted:
        if item.sku:
            quantities[item.sku] = quantities.get(item.sku, 0) + item.quantity
            first_line.setdefault(item.sku, item)
    reminders = []
    most_bought = sorted(first_line, key=lambda sku: (-quantities[sku], sku))[:MAX_REMINDERS_PER_ORDER]
    lines = order_products.lines_of(store_id, [first_line[sku] for sku in most_bought])
    for sku, line in zip(most_bought, lines, strict=True):
        days_per_unit: float | None = line.product.usage_cycle_days if line.product else None
        if days_per_unit is None and min_repeats > 0:
            days_per_unit = purchase_stats.repeat_interval_days(store_id, sku, at_least=min_repeats)
        if days_per_unit is None:
            continue
        due_at = (occurred_at + timedelta(days=days_per_unit * quantities[sku])).replace(microsecond=0)
        reminders.append(
            ReorderSubject(
                order_id=order.id,
                sku=sku,
                quantity=quantities[sku],
                product_id=line.product.product_id if line.product else line.item.product_id,
                variant_id=line.variant.variant_id if line.variant else None,
                due_at=due_at,
                remind_at=due_at - timedelta(seconds=remind_before),
            )
        )
    return reminders


def view_at_send(store: Store, email: str, subject: ReorderSubject, record: dict[str, Any] | None) -> SubjectView:
    """What a reminder shows (`order`, `reorder`), or why it is not sent, as things are now."""
    ordered = OrderSubject(order_id=subject.order_id).view(record)
    if ordered.cancelled or record is None:
        return ordered
    since = orders.purchases_since(store.store_id, email, str(record["occurred_at"]))
    if any(
        later.get("order_id") != subject.order_id
        and any(item.get("sku") == subject.sku for item in later.get("items", []))
        for later in since
    ):
        return SubjectView(ordered.context, skip_reason="reordered")
    line = next((item for item in ordered.context["order"]["items"] if item.get("sku") == subject.sku), None)
    catalogued = order_products.lines_of(store.store_id, [LineItem(sku=subject.sku, product_id=subject.product_id)])[0]
    product, variant = catalogued.product, catalogued.variant
    available = variant.available if variant else (order_products.is_available(product) if product else True)
    if not available:
        return SubjectView(ordered.context, skip_reason="product_unavailable")
    product_url = product.url if product else None
    reorder = {
        "sku": subject.sku,
        "name": (product.name if product else None) or (line or {}).get("name") or subject.sku,
        "quantity": subject.quantity,
        "url": reorder_link(store, product_url, variant.variant_id if variant else None, subject.quantity),
        "product_url": product_url,
        "image_url": ((variant.image_url if variant else None) or (product.image_url if product else None)),
        "price": variant.price if variant else (line or {}).get("price"),
        "currency": (product.currency if product else None) or ordered.context["order"]["currency"],
        "due_on": subject.due_at.date().isoformat(),
    }
    return SubjectView({**ordered.context, "reorder": reorder}, ordered.purchased_skus)


def reorder_link(store: Store, product_url: str | None, variant_id: str | None, quantity: int) -> str | None:
    """Shopify's cart permalink for a Shopify store and a known variant, else the product URL."""
    if store.shopify_secret and variant_id and product_url:
        parts = urlsplit(product_url)
        return f"{parts.scheme}://{parts.netloc}/cart/{variant_id}:{quantity}"
    return product_url
