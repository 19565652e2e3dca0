"""The store's product catalogue: products and their variants as the store sells them (price,
compare-at price, stock, availability, link and picture), whichever source told us
(Shopify, WooCommerce, the event API's `product`, `storeflows products import`), and the
changes of a variant's state the later flows start from (back in stock, price drop, low
stock). Storage: storeflows.storage.products.

Stock: `inventory_quantity` None means the store does not track the variant's stock. A
Shopify variant's stock is per location (`inventory_levels`, by location id); its quantity is
their sum. A tracked variant is available while it has stock, or when it sells out of stock
(`sells_when_out_of_stock`: Shopify's inventory_policy "continue", WooCommerce's backorders);
an untracked one is available as its source says."""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal

from storeflows.events.common import ValueObject
from storeflows.events.product import CatalogueProduct, CatalogueVariant

__all__ = [
    "CatalogueProduct",
    "CatalogueVariant",
    "VariantChange",
    "VariantState",
    "change_id",
    "changes_between",
]


class VariantState(ValueObject):
    """What the flows watch of a variant: a change of any of these is a transition."""

    price: Decimal
    compare_at_price: Decimal | None = None
    currency: str | None = None
    inventory_quantity: int | None = None
    available: bool

    @classmethod
    def of(cls, product: CatalogueProduct, variant: CatalogueVariant) -> VariantState:
        return cls(
            price=variant.price,
            compare_at_price=variant.compare_at_price,
            currency=product.currency,
            inventory_quantity=variant.inventory_quantity,
            available=variant.available,
        )


class VariantChange(ValueObject):
    """One variant's state changed (before None: the variant is new). `change_id` names this
    one transition: the same delivery twice reports no second change, and a later change
    of the same variant gets another id (it is made of the product's version)."""

    store_id: str
    product_id: str
    variant_id: str
    sku: str | None = None
    change_id: str
    before: VariantState | None = None
    after: VariantState
    at: datetime


def change_id(store_id: str, product_id: str, variant_id: str, version: int) -> str:
    """Deterministic: the product's version is written once (a conditional write), so one
    transition has one id however often its delivery is repeated."""
    digest = hashlib.sha256(f"{store_id}\n{product_id}\n{variant_id}\n{version}".encode()).hexdigest()
    return digest[:32]


def changes_between(
    store_id: str, before: CatalogueProduct | None, after: CatalogueProduct, *, version: int, at: datetime
) -> list[VariantChange]:
    """The variants of `after` whose state differs from `before`'s."""
    found = []
    for variant in after.variants:
        earlier = before.variant(variant.variant_id) if before else None
        was = VariantState.of(before, earlier) if before and earlier else None
        now = VariantState.of(after, variant)
        if was == now:
            continue
        found.append(
            VariantChange(
                store_id=store_id,
                product_id=after.product_id,
                variant_id=variant.variant_id,
                sku=variant.sku,
                change_id=change_id(store_id, after.product_id, variant.variant_id, version),
                before=was,
                after=now,
                at=at,
            )
        )
    return found
