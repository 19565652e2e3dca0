"""The product catalogue (storeflows.catalogue) in the store's CATALOGUE partition: one item per
product (the product with its variants, and a `version` every write moves on by one), and
the items that find a product by one of its variants, SKUs or Shopify inventory items.

Every write of a product is conditional on the version it read, so two deliveries of the
same update racing each other cannot both report its change: the second one's write fails,
it reads again, finds the state already there and reports nothing. The item keeps the changes
of its latest write with the event that made them (`changed_by`): a redelivery of that very
event (its runs failed to start, say) reports them again — runs are named by change, so the
ones that did start are not started twice — while any other delivery of the same state
reports nothing. A Shopify inventory item
keeps its level per location (`level#<location>`, with the time the store gave it, so an
older level delivered late changes nothing), also before its product is known: the product's
first write applies them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from storeflows.catalogue import CatalogueProduct, CatalogueVariant, VariantChange, changes_between
from storeflows.errors import StoreflowsError
from storeflows.storage import dynamodb as db
from storeflows.storage import keys

_LEVEL_PREFIX = "level#"
# Concurrent writes of one product each retry once per write that beat them: a handful is plenty.
_ATTEMPTS = 8
MAX_PAGE = 200


class CatalogueBusy(StoreflowsError):
    """The product was written concurrently more often than the retries allow; the event is
    retried from its queue."""


def get_product(store_id: str, product_id: str) -> CatalogueProduct | None:
    item = _read(keys.catalogue_entry_key(store_id, product_id))
    return _product(item) if item else None


def get_variant(store_id: str, variant_id: str) -> tuple[CatalogueProduct, CatalogueVariant] | None:
    link = _read(keys.catalogue_variant_key(store_id, variant_id))
    return _found(store_id, link["product_id"], variant_id) if link else None


def find_by_sku(store_id: str, sku: str) -> tuple[CatalogueProduct, CatalogueVariant] | None:
    link = _read(keys.catalogue_sku_key(store_id, sku))
    return _found(store_id, link["product_id"], link["variant_id"]) if link else None


def find_many(store_id: str, ids_or_skus: Iterable[str]) -> dict[str, tuple[CatalogueProduct, CatalogueVariant]]:
    """For each product id or SKU the catalogue knows, its product and variant (a product id
    gives its first variant); two batch reads whatever their number."""
    wanted = list(dict.fromkeys(ids_or_skus))
    entries = [keys.catalogue_entry_key(store_id, name) for name in wanted]
    skus = [keys.catalogue_sku_key(store_id, name) for name in wanted]
    links = db.read_together(skus)
    by_sku = {
        name: links[(key["pk"], key["sk"])]
        for name, key in zip(wanted, skus, strict=True)
        if (key["pk"], key["sk"]) in links
    }
    product_keys = entries + [keys.catalogue_entry_key(store_id, link["product_id"]) for link in by_sku.values()]
    items = db.read_together(product_keys)
    found: dict[str, tuple[CatalogueProduct, CatalogueVariant]] = {}
    for name in wanted:
        if name in by_sku:
            key = keys.catalogue_entry_key(store_id, by_sku[name]["product_id"])
            item = items.get((key["pk"], key["sk"]))
            product = _product(item) if item else None
            variant = product.variant(by_sku[name]["variant_id"]) if product else None
            if product and variant and variant.sku == name:
                found[name] = (product, variant)
                continue
        key = keys.catalogue_entry_key(store_id, name)
        if (key["pk"], key["sk"]) in items:
            product = _product(items[(key["pk"], key["sk"])])
            found[name] = (product, product.variants[0])
    return found


def list_products(
    store_id: str, *, cursor: str | None = None, limit: int = 50
) -> tuple[list[CatalogueProduct], str | None]:
    """The store's products by id, `limit` at most, after the product id `cursor`; and the
    cursor of the next page (None: this is the last)."""
    arguments: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(keys.catalogue_pk(store_id))
        & Key("sk").begins_with(keys.CATALOGUE_PRODUCT_PREFIX),
        "Limit": max(1, min(limit, MAX_PAGE)),
    }
    if cursor:
        arguments["ExclusiveStartKey"] = keys.catalogue_entry_key(store_id, cursor)
    response = db.table().query(**arguments)
    products = [_product(item) for item in response["Items"]]
    more = "LastEvaluatedKey" in response and products
    return products, products[-1].product_id if more else None


def put_product(
    store_id: str, product: CatalogueProduct, *, at: datetime, by: str | None = None
) -> list[VariantChange]:
    """Upserts the product as the source gives it (an older version than the one kept, by
    `updated_at`, is ignored); a variant the source gives no stock for keeps the known
    one, and a Shopify variant's known levels per location give its stock. The changes of
    its variants' states, each reported once, or again to a redelivery of `by`, the event
    that made them."""
    for _ in range(_ATTEMPTS):
        item = _read(keys.catalogue_entry_key(store_id, product.product_id))
        current = _product(item) if item else None
        version = int(item["version"]) if item else 0
        if current and current.updated_at and product.updated_at and product.updated_at < current.updated_at:
            return _made_by(item, by)
        settled = product.model_copy(
            update={"variants": _settled_variants(store_id, product, current), "updated_at": product.updated_at}
        )
        if current is not None and _same(current, settled) and not _newer(settled, current):
            return _made_by(item, by)
        changes = changes_between(store_id, current, settled, version=version + 1, at=at)
        if not _write(store_id, settled, version, changes=changes, by=by):
            continue
        # Shopify sends products/update after every sale: most writes move no variant, SKU or
        # inventory item, and need no links written.
        if current is None or _index_keys(store_id, current) != _index_keys(store_id, settled):
            _index(store_id, settled, current)
            if any(variant.inventory_item_id for variant in settled.variants):
                # A level that arrived between this product's read and its inventory items'
                # link to it found no product to apply to: it is applied now.
                changes += _apply_levels(store_id, settled.product_id, at=at)
        return changes
    raise CatalogueBusy(f"product {product.product_id} kept changing while written")


def delete_product(store_id: str, product_id: str, *, at: datetime) -> bool:
    """Forgets the product and what finds it; False when it was not known."""
    deleted = db.if_condition_holds(
        db.table().delete_item,
        Key=keys.catalogue_entry_key(store_id, product_id),
        ConditionExpression="attribute_exists(pk)",
        ReturnValues="ALL_OLD",
    )
    if deleted is None:
        return False
    _unlink(store_id, product_id, _index_keys(store_id, _product(deleted["Attributes"])))
    return True


def set_inventory_level(
    store_id: str,
    inventory_item_id: str,
    location_id: str,
    available: int | None,
    *,
    at: datetime,
    by: str | None = None,
) -> list[VariantChange]:
    """A Shopify inventory item's level at one location as of `at` (None: no longer stocked
    there); the changes it makes to its variant, once known. A level older than the one kept
    for that location changes nothing."""
    level = f"{_LEVEL_PREFIX}{location_id}"
    when = db.utc_iso(at)
    names = {"#level": level, "#at": "at"}
    condition = "attribute_not_exists(#level) OR #level.#at <= :at"
    if available is None:
        arguments: dict[str, Any] = {"UpdateExpression": "REMOVE #level", "ExpressionAttributeValues": {":at": when}}
    else:
        arguments = {
            "UpdateExpression": "SET #level = :level",
            "ExpressionAttributeValues": {":level": {"available": available, "at": when}, ":at": when},
        }
    written = db.if_condition_holds(
        db.table().update_item,
        Key=keys.inventory_item_key(store_id, inventory_item_id),
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ReturnValues="ALL_NEW",
        **arguments,
    )
    if written is None or "product_id" not in written["Attributes"]:
        return []
    return _apply_levels(store_id, written["Attributes"]["product_id"], at=at, by=by)


def _apply_levels(store_id: str, product_id: str, *, at: datetime, by: str | None = None) -> list[VariantChange]:
    """The product's variants with their inventory items' levels as they are now."""
    for _ in range(_ATTEMPTS):
        item = _read(keys.catalogue_entry_key(store_id, product_id))
        if item is None:
            return []
        current = _product(item)
        settled = current.model_copy(update={"variants": _settled_variants(store_id, current, current)})
        if _same(current, settled):
            return _made_by(item, by)
        changes = changes_between(store_id, current, settled, version=int(item["version"]) + 1, at=at)
        if _write(store_id, settled, int(item["version"]), changes=changes, by=by):
            return changes
    raise CatalogueBusy(f"product {product_id} kept changing while its stock was written")


# --- the product item ------------------------------------------------------------------------------


def _read(key: dict[str, str]) -> dict[str, Any] | None:
    return db.table().get_item(Key=key, ConsistentRead=True).get("Item")


def _product(item: dict[str, Any]) -> CatalogueProduct:
    return CatalogueProduct.model_validate(item["product"])


def _found(store_id: str, product_id: str, variant_id: str) -> tuple[CatalogueProduct, CatalogueVariant] | None:
    product = get_product(store_id, product_id)
    variant = product.variant(variant_id) if product else None
    return (product, variant) if product and variant else None


def _same(one: CatalogueProduct, other: CatalogueProduct) -> bool:
    return one.model_dump(exclude={"updated_at"}) == other.model_dump(exclude={"updated_at"})


def _newer(one: CatalogueProduct, other: CatalogueProduct) -> bool:
    return one.updated_at is not None and (other.updated_at is None or one.updated_at > other.updated_at)


def _made_by(item: dict[str, Any] | None, by: str | None) -> list[VariantChange]:
    """The changes of the item's latest write, if `by` made them (a redelivery): else none."""
    if item is None or by is None or item.get("changed_by") != by:
        return []
    return [VariantChange.model_validate(change) for change in item.get("changes", [])]


def _write(
    store_id: str, product: CatalogueProduct, version: int, *, changes: list[VariantChange], by: str | None
) -> bool:
    """Writes the product as version + 1 if it is still at `version` (0: not there yet), with
    the changes this write makes and the event that made them (a redelivery reports them)."""
    return (
        db.if_condition_holds(
            db.table().put_item,
            Item={
                **keys.catalogue_entry_key(store_id, product.product_id),
                "product": product.model_dump(mode="json", exclude_none=True),
                "version": version + 1,
                "written_at": db.now_iso(),
                "changes": [change.model_dump(mode="json") for change in changes],
                **({"changed_by": by} if by else {}),
            },
            ConditionExpression="attribute_not_exists(pk) OR version = :version",
            ExpressionAttributeValues={":version": version},
        )
        is not None
    )


def _settled_variants(
    store_id: str, product: CatalogueProduct, current: CatalogueProduct | None
) -> list[CatalogueVariant]:
    """Each variant with its stock: untracked when its source says so; else the sum of its
    inventory item's levels when any is known; else the stock the source gives; else
    (the source gives none) the stock known before. A source that names no inventory item
    (the event API, a CSV file, for a Shopify store's product) keeps the one known."""
    variants = []
    for variant in product.variants:
        known = current.variant(variant.variant_id) if current else None
        if variant.inventory_item_id is None and known is not None and known.inventory_item_id:
            variant = variant.model_copy(update={"inventory_item_id": known.inventory_item_id})
        variants.append((variant, known))
    levels = _levels(store_id, [variant.inventory_item_id for variant, _ in variants if variant.inventory_item_id])
    settled = []
    for variant, known in variants:
        item_levels = levels.get(variant.inventory_item_id or "", {})
        if variant.stock_carried and variant.inventory_quantity is None:
            settled.append(variant.settled(None, {}))
        elif item_levels:
            settled.append(variant.settled(sum(item_levels.values()), item_levels))
        elif variant.stock_carried:
            settled.append(variant.settled(variant.inventory_quantity, {}))
        elif known is not None:
            settled.append(variant.settled(known.inventory_quantity, dict(known.inventory_levels)))
        else:
            settled.append(variant.settled(None, {}))
    return settled


def _levels(store_id: str, inventory_item_ids: list[str]) -> dict[str, dict[str, int]]:
    """Each inventory item's known levels, by location."""
    if not inventory_item_ids:
        return {}
    wanted = {item_id: keys.inventory_item_key(store_id, item_id) for item_id in inventory_item_ids}
    found = db.read_together(list(wanted.values()))
    levels = {}
    for item_id, key in wanted.items():
        item = found.get((key["pk"], key["sk"]), {})
        levels[item_id] = {
            name.removeprefix(_LEVEL_PREFIX): int(value["available"])
            for name, value in item.items()
            if name.startswith(_LEVEL_PREFIX)
        }
    return levels


# --- the items that find a product -------------------------------------------------------------------


def _index_keys(store_id: str, product: CatalogueProduct) -> list[dict[str, str]]:
    found = []
    for variant in product.variants:
        found.append(keys.catalogue_variant_key(store_id, variant.variant_id))
        if variant.sku:
            found.append(keys.catalogue_sku_key(store_id, variant.sku))
        if variant.inventory_item_id:
            found.append(keys.inventory_item_key(store_id, variant.inventory_item_id))
    return found


def _index(store_id: str, product: CatalogueProduct, before: CatalogueProduct | None) -> None:
    """Points each variant, SKU and inventory item at the product (an inventory item keeps its
    levels), and drops what no longer names it."""
    with db.table().batch_writer() as batch:
        for variant in product.variants:
            link = {"product_id": product.product_id, "variant_id": variant.variant_id}
            batch.put_item(Item={**keys.catalogue_variant_key(store_id, variant.variant_id), **link})
            if variant.sku:
                batch.put_item(Item={**keys.catalogue_sku_key(store_id, variant.sku), **link})
    for variant in product.variants:
        if variant.inventory_item_id:
            db.table().update_item(
                Key=keys.inventory_item_key(store_id, variant.inventory_item_id),
                UpdateExpression="SET product_id = :product, variant_id = :variant",
                ExpressionAttributeValues={":product": product.product_id, ":variant": variant.variant_id},
            )
    kept = {(key["pk"], key["sk"]) for key in _index_keys(store_id, product)}
    stale = [key for key in (_index_keys(store_id, before) if before else []) if (key["pk"], key["sk"]) not in kept]
    _unlink(store_id, product.product_id, stale)


def _unlink(store_id: str, product_id: str, links: list[dict[str, str]]) -> None:
    """Deletes these links while they name the product (a SKU moved to another product
    meanwhile stays that one's)."""
    for key in links:
        db.if_condition_holds(
            db.table().delete_item,
            Key=key,
            ConditionExpression="product_id = :product",
            ExpressionAttributeValues={":product": product_id},
        )
