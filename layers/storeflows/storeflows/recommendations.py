"""Complementary products for an order (the thank_you_upsell template's `recommendations`):
first the catalogue's `related` products of what was bought, in the catalogue's order, then
the products most often bought together with them in this store's orders, to fill the
remaining places; never a product of the order, only products the catalogue has with an
available variant, at most `count`.

The bought-together counts are kept as orders are recorded (note_order; storage.purchase_stats
says what they cost)."""

from __future__ import annotations

from typing import Any

from storeflows import order_products
from storeflows.catalogue import CatalogueProduct
from storeflows.events.common import Order
from storeflows.messaging.context import product_view
from storeflows.storage import purchase_stats

MAX_RECOMMENDATIONS = 12
# Candidates read from the catalogue per place: enough to pass over the unavailable ones
# without reading a product's whole bought-together list.
_CANDIDATES_PER_PLACE = 3


def note_order(store_id: str, order: Order) -> list[str]:
    """Counts the order's products as bought together; returns the products whose counts are
    full (storage.purchase_stats). Only the lines
    naming no product id are looked up in the catalogue (by SKU), and only when the order has
    two products or more to pair."""
    if len({item.product_id or item.sku for item in order.items} - {None}) < 2:
        return []
    named = [item for item in order.items if item.product_id]
    by_sku = [item for item in order.items if not item.product_id and item.sku]
    found = order_products.lines_of(store_id, by_sku) if by_sku else []
    return purchase_stats.count_bought_together(
        store_id, _bought([order_products.CataloguedLine(item, None, None) for item in named] + found)
    )


def complementary_products(store_id: str, order: Order, count: int) -> list[dict[str, Any]]:
    """What to recommend after this order, best first, each as messaging.context.product_view
    shows a product (its cheapest available variant; the order's currency when the catalogue
    names none)."""
    count = max(0, min(count, MAX_RECOMMENDATIONS))
    lines = order_products.lines_of(store_id, order.items)
    bought = _bought(lines)
    related = [
        product_id for line in lines if line.product for product_id in line.product.related if product_id not in bought
    ]
    together = purchase_stats.bought_with(store_id, bought)
    by_count = sorted((p for p in together if p not in bought), key=lambda p: (-together[p], p))
    candidates = list(dict.fromkeys([*related, *by_count]))[: count * _CANDIDATES_PER_PLACE]
    found = order_products.products_by_id(store_id, candidates)
    chosen = [found[p] for p in candidates if p in found and order_products.is_available(found[p])]
    return [_shown(product, order.currency) for product in chosen[:count]]


def _bought(lines: list[order_products.CataloguedLine]) -> set[str]:
    """The order's products: as the catalogue knows them, else as the order names them."""
    named = (line.product.product_id if line.product else line.item.product_id for line in lines)
    return {product_id for product_id in named if product_id}


def _shown(product: CatalogueProduct, order_currency: str) -> dict[str, Any]:
    """The product as every message shows a catalogue product, at its cheapest available variant."""
    cheapest = min((variant for variant in product.variants if variant.available), key=lambda variant: variant.price)
    shown = product_view(product, cheapest)
    return {**shown, "currency": shown["currency"] or order_currency}
