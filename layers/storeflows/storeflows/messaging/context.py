"""What a message template sees, one function for sends, previews and the checks made when
a message is saved: built the same way for all three, so a message that renders in one
renders in the others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storeflows.catalogue import CatalogueProduct, CatalogueVariant
from storeflows.events.subjects import SubjectView
from storeflows.records import Contact, Store
from storeflows.storage import orders, products

BestSellers = Callable[[int, int], list[dict[str, Any]]]
"""(count, days) -> the store's best-selling products, best first: {"sku", "name", "units"}."""
Catalogue = Callable[[list[str]], dict[str, dict[str, Any]]]
"""(product ids or SKUs) -> what a message shows of each the catalogue knows (product_view)."""

# What bestsellers() entries gain from the catalogue (None for a product it does not know).
CATALOGUE_FIELDS = ("url", "image_url", "price", "compare_at_price", "currency")


def product_view(product: CatalogueProduct, variant: CatalogueVariant) -> dict[str, Any]:
    """A catalogue product as a message shows it: the variant's price, stock and picture (else
    the product's)."""
    return {
        "product_id": product.product_id,
        "sku": variant.sku,
        "name": product.name,
        "url": product.url,
        "image_url": variant.image_url or product.image_url,
        "price": variant.price,
        "compare_at_price": variant.compare_at_price,
        "currency": product.currency,
        "available": variant.available,
    }


def message_context(
    store: Store,
    contact: Contact,
    subject: SubjectView,
    unsubscribe_link: str | None,
    coupon: dict[str, str] | None = None,
    *,
    best_sellers: BestSellers | None = None,
    catalogue: Catalogue | None = None,
) -> dict[str, Any]:
    """What a message template sees: the store, the contact and what the run is about (an
        order's `order`; nothing more for a run about an event). `best_sellers` stands in for
        the store's own (a check at save time reads no sales), `catalogue` for the store's
    catalogue (nor products). Documented in the README and
        docs/reference.md (its words: storeflows_cli/reference_words.py); tests/unit/test_reference.py
        fails when a name or field here has none there."""

    def store_best_sellers(count: int, days: int) -> list[dict[str, Any]]:
        return orders.best_sellers(store.store_id, days=days, count=count, excluding=subject.purchased_skus)

    def store_catalogue(names: list[str]) -> dict[str, dict[str, Any]]:
        return {name: product_view(*found) for name, found in products.find_many(store.store_id, names).items()}

    ranked = best_sellers or store_best_sellers
    look_up = catalogue or store_catalogue

    def ranked_with_catalogue(count: int, days: int) -> list[dict[str, Any]]:
        entries = ranked(count, days)
        known = look_up([entry["sku"] for entry in entries]) if entries else {}
        return [
            {
                **entry,
                # The catalogue's name is the store's current one; the sales' is the order's.
                "name": known.get(entry["sku"], {}).get("name") or entry["name"],
                **{name: known.get(entry["sku"], {}).get(name) for name in CATALOGUE_FIELDS},
            }
            for entry in entries
        ]

    def one_product(id_or_sku: Any) -> dict[str, Any] | None:
        name = str(id_or_sku)
        return look_up([name]).get(name)

    return {
        "store": {"id": store.store_id, "name": store.name or store.store_id},
        "contact": {
            "email": contact.email,
            "first_name": contact.first_name or "",
            "last_name": contact.last_name or "",
            "language": contact.language or "",
            "country": contact.country or "",
            "tags": sorted(contact.tags),
            "score": contact.score,
            "orders_count": contact.orders_count,
        },
        **subject.context,
        "unsubscribe_url": unsubscribe_link,
        # {"code": ...}, or None: no coupon on the message, or its pool ran out
        # ({% if coupon %}Your code: {{ coupon.code }}{% endif %}).
        "coupon": coupon,
        # The BESTSELLERS block: {% for product in bestsellers(3, days=30) %}; computed only
        # when a template asks, without what this customer just bought.
        # Each with its link, picture and prices from the catalogue when it knows the SKU.
        "bestsellers": lambda count=3, days=30: ranked_with_catalogue(min(int(count), 20), min(int(days), 366)),
        # {% set shirt = product("LS-M") %}{% if shirt %}...{% endif %}: a product by its id or
        # SKU, None when the catalogue does not know it.
        "product": one_product,
    }
