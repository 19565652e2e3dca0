"""Stores: their secrets, unsubscribe key, attribution windows and how their Shopify orders
count (STORE#<store>/STORE)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr

from storeflows.records import Attribution, BrowserSettings, ShopifyOrders, Store, is_store_id
from storeflows.storage import dynamodb as db
from storeflows.storage import keys


def get_store(store_id: str) -> Store | None:
    if not is_store_id(store_id):
        return None
    item = db.table().get_item(Key=keys.store_key(store_id)).get("Item")
    return Store.model_validate(db.without_keys(item)) if item else None


def put_store(store: Store) -> None:
    db.table().put_item(Item={**keys.store_key(store.store_id), **db.drop_none(store.model_dump())})


def create_store(store: Store) -> bool:
    """Writes a new store; False, writing nothing, when the id is taken (so two creates at
    once never overwrite each other's secrets)."""
    return (
        db.if_condition_holds(
            db.table().put_item,
            Item={**keys.store_key(store.store_id), **db.drop_none(store.model_dump())},
            ConditionExpression="attribute_not_exists(pk)",
        )
        is not None
    )


def add_store_secret(store_id: str, field: str, secret: str) -> Store | None:
    """Gives an existing store a platform's first secret and leaves the rest as it is (two at
    once for different platforms both stay). None when there is no such store or the
    platform has a secret already."""
    return _updated(
        store_id,
        UpdateExpression="SET #field = :secret",
        ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#field)",
        ExpressionAttributeNames={"#field": field},
        ExpressionAttributeValues={":secret": secret},
    )


def rotate_store_secret(store_id: str, field: str, secret: str, *, current: str) -> Store | None:
    """Replaces a platform's secret, keeping the one it replaces (`current`, as read) as still
    accepted (previous_<field>) until it is retired. None when the secret is no longer
    `current` (another rotation meanwhile) or the store is gone."""
    return _updated(
        store_id,
        UpdateExpression="SET #field = :secret, #previous = :current",
        ConditionExpression="#field = :current",
        ExpressionAttributeNames={"#field": field, "#previous": f"previous_{field}"},
        ExpressionAttributeValues={":secret": secret, ":current": current},
    )


def retire_store_secret(store_id: str, field: str) -> Store | None:
    """Stops accepting the secret a platform had before its last rotation. None when there is
    none (never rotated, or retired already) or no such store."""
    return _updated(
        store_id,
        UpdateExpression="REMOVE #previous",
        ConditionExpression="attribute_exists(#previous)",
        ExpressionAttributeNames={"#previous": f"previous_{field}"},
    )


def _updated(store_id: str, **update: Any) -> Store | None:
    response = db.if_condition_holds(
        db.table().update_item, Key=keys.store_key(store_id), ReturnValues="ALL_NEW", **update
    )
    return None if response is None else Store.model_validate(db.without_keys(response["Attributes"]))


def set_store_attribution(store_id: str, attribution: Attribution) -> None:
    db.table().update_item(
        Key=keys.store_key(store_id),
        UpdateExpression="SET attribution = :attribution",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":attribution": attribution.model_dump()},
    )


def set_store_timezone(store_id: str, timezone: str) -> None:
    db.table().update_item(
        Key=keys.store_key(store_id),
        UpdateExpression="SET #timezone = :timezone",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={"#timezone": "timezone"},
        ExpressionAttributeValues={":timezone": timezone},
    )


def set_store_shopify_orders(store_id: str, shopify: ShopifyOrders) -> None:
    db.table().update_item(
        Key=keys.store_key(store_id),
        UpdateExpression="SET shopify = :shopify",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":shopify": shopify.model_dump()},
    )


def set_store_browser(store_id: str, browser: BrowserSettings) -> None:
    db.table().update_item(
        Key=keys.store_key(store_id),
        UpdateExpression="SET browser = :browser",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":browser": browser.model_dump()},
    )


def list_stores() -> list[Store]:
    """Every store. A Scan of the whole table (filtered): for operators, never on a hot path."""
    condition = Attr("sk").eq(keys.STORE_SK) & Attr("pk").begins_with(keys.store_pk(""))
    return [Store.model_validate(db.without_keys(item)) for page in db.scan_pages(condition) for item in page]
