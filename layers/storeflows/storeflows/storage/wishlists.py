"""The contact's wishlist (WISHLIST on the contact's partition): one item holding each
product as an `item:<identity>` attribute, the set of identities (to bound its size), an
activity counter `adds` the wishlist reminder debounces on, and `subject`: the reminder run
that holds the wishlist now (written by that run's first step, so an erasure finds it)."""

from __future__ import annotations

from datetime import datetime

from storeflows.events.common import Product
from storeflows.storage import dynamodb as db
from storeflows.storage import keys

MAX_ITEMS = 100  # far above a real wishlist; keeps the item far under DynamoDB's 400 KB
ITEM_PREFIX = "item:"


def add_item(store_id: str, email: str, product: Product, *, at: datetime) -> bool:
    """Puts the product on the wishlist (again: its newest details and time) and counts the
    activity. False when the wishlist already holds MAX_ITEMS other products."""
    identity = product.identity
    assert identity is not None  # the caller checked
    entry = db.drop_none({**product.model_dump(exclude_none=True), "added_at": db.utc_iso(at)})
    response = db.if_condition_holds(
        db.table().update_item,
        Key=keys.wishlist_key(store_id, email),
        UpdateExpression="SET #item = :entry ADD products :identity, adds :one",
        ConditionExpression="attribute_not_exists(products) OR size(products) < :max OR contains(products, :id)",
        ExpressionAttributeNames={"#item": f"{ITEM_PREFIX}{identity}"},
        ExpressionAttributeValues={
            ":entry": entry,
            ":identity": {identity},
            ":one": 1,
            ":max": MAX_ITEMS,
            ":id": identity,
        },
    )
    return response is not None


def remove_item(store_id: str, email: str, product: Product) -> bool:
    """Takes the product off the wishlist; False when it was not on it."""
    identity = product.identity
    assert identity is not None
    response = db.if_condition_holds(
        db.table().update_item,
        Key=keys.wishlist_key(store_id, email),
        UpdateExpression="REMOVE #item DELETE products :identity",
        ConditionExpression="attribute_exists(#item)",
        ExpressionAttributeNames={"#item": f"{ITEM_PREFIX}{identity}"},
        ExpressionAttributeValues={":identity": {identity}},
    )
    return response is not None
