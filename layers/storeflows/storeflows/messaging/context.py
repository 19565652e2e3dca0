"""What a message template sees, one function for sends, previews and the checks made when
a message is saved: built the same way for all three, so a message that renders in one
renders in the others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storeflows.events.subjects import SubjectView
from storeflows.records import Contact, Store
from storeflows.storage import orders

BestSellers = Callable[[int, int], list[dict[str, Any]]]
"""(count, days) -> the store's best-selling products, best first: {"sku", "name", "units"}."""


def message_context(
    store: Store,
    contact: Contact,
    subject: SubjectView,
    unsubscribe_link: str | None,
    coupon: dict[str, str] | None = None,
    *,
    best_sellers: BestSellers | None = None,
) -> dict[str, Any]:
    """What a message template sees: the store, the contact and what the run is about (an
    order's `order`; nothing more for a run about an event). `best_sellers` stands in for
    the store's own (a check at save time reads no sales). Documented in the README and
    docs/reference.md (its words: storeflows_cli/reference_words.py); tests/unit/test_reference.py
    fails when a name or field here has none there."""

    def store_best_sellers(count: int, days: int) -> list[dict[str, Any]]:
        return orders.best_sellers(store.store_id, days=days, count=count, excluding=subject.purchased_skus)

    ranked = best_sellers or store_best_sellers
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
        "bestsellers": lambda count=3, days=30: ranked(min(int(count), 20), min(int(days), 366)),
    }
