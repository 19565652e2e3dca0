"""The catalogue as the post-purchase flows read it (thank_you_upsell, replenishment): the
products of an order's lines, and products by id. The one place these flows read the
catalogue (storeflows.storage.products), so they do not depend on how it is stored."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from storeflows.catalogue import CatalogueProduct, CatalogueVariant
from storeflows.events.common import LineItem
from storeflows.storage import products


@dataclass(frozen=True)
class CataloguedLine:
    """An order line and what the catalogue knows of it: the product (by the line's SKU, else
    its product id) and the variant (the SKU's; None when the line names no SKU the
    catalogue has)."""

    item: LineItem
    product: CatalogueProduct | None
    variant: CatalogueVariant | None


def lines_of(store_id: str, items: Iterable[LineItem]) -> list[CataloguedLine]:
    """Each line with its catalogue product: two batch reads whatever the order's size."""
    items = list(items)
    names = [name for item in items for name in (item.sku, item.product_id) if name]
    found = products.find_many(store_id, names) if names else {}
    lines = []
    for item in items:
        by_sku = found.get(item.sku) if item.sku else None
        if by_sku is not None and by_sku[1].sku == item.sku:
            lines.append(CataloguedLine(item, by_sku[0], by_sku[1]))
            continue
        by_id = found.get(item.product_id) if item.product_id else None
        if by_id is not None and by_id[0].product_id == item.product_id:
            lines.append(CataloguedLine(item, by_id[0], None))
        else:
            lines.append(CataloguedLine(item, None, None))
    return lines


def products_by_id(store_id: str, product_ids: Iterable[str]) -> dict[str, CatalogueProduct]:
    """The catalogue's products among these ids (two batch reads)."""
    wanted = list(dict.fromkeys(product_ids))
    found = products.find_many(store_id, wanted) if wanted else {}
    # find_many also reads each name as a SKU: only a product found by its own id counts here.
    return {name: product for name, (product, _) in found.items() if product.product_id == name}


def is_available(product: CatalogueProduct) -> bool:
    return any(variant.available for variant in product.variants)
