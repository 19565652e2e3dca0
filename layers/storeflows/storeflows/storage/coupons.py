"""Coupon pools: the pool's counters, its codes by index, and the claim of each send.

    STORE#<store>               COUPONPOOL#<pool>   size, claimed, low_stock_threshold, created_at
    COUPONPOOL#<store>#<pool>   CODE#<index>        code (index 0 .. size-1, in import order)
    COUPONCLAIM#<store>#<pool>  CLAIM#<hash>        the code one send got, so a retry gets it again

Claims use the low-level client, which is thread-safe: concurrent sends claim at once. The
policy around them (what an import refuses, what a claim logs and counts) is
storeflows.messaging.coupons'."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from storeflows.aws import client
from storeflows.storage import dynamodb as db
from storeflows.storage import keys

IMPORT_LEASE = timedelta(hours=1)
"""An import holds the pool for at most this long; a crashed import's hold lapses after it."""


@dataclass(frozen=True)
class PoolStock:
    size: int
    claimed: int
    remaining: int
    low_stock_threshold: int


# --- imports --------------------------------------------------------------------------------


def start_import(store_id: str, pool_id: str, token: str) -> dict[str, Any] | None:
    """Creates the pool if needed and takes its import hold (two imports into one pool at the
    same time would write codes at the same indexes): the pool's attributes, or None while
    another import holds it."""
    now = db.now()
    try:
        response = db.table().update_item(
            Key=keys.coupon_pool_key(store_id, pool_id),
            UpdateExpression="SET importing = :token, import_started_at = :now, store_id = :store, pool_id = :pool, "
            "created_at = if_not_exists(created_at, :now), #size = if_not_exists(#size, :zero), "
            "claimed = if_not_exists(claimed, :zero)",
            ConditionExpression="attribute_not_exists(importing) OR import_started_at < :stale",
            ExpressionAttributeNames={"#size": "size"},
            ExpressionAttributeValues={
                ":token": token,
                ":now": db.utc_iso(now),
                ":stale": db.utc_iso(now - IMPORT_LEASE),
                ":store": store_id,
                ":pool": pool_id,
                ":zero": 0,
            },
            ReturnValues="ALL_NEW",
        )
    except ClientError as err:
        if db.condition_failed(err):
            return None
        raise
    return response["Attributes"]


def codes_in_pool(store_id: str, pool_id: str, size: int) -> set[str]:
    if size == 0:
        return set()
    condition = Key("pk").eq(keys.coupon_codes_pk(store_id, pool_id)) & Key("sk").between(
        keys.coupon_code_sk(0), keys.coupon_code_sk(size - 1)
    )
    return {
        item["code"]
        for page in db.query_pages(condition, ProjectionExpression="code", ConsistentRead=True)
        for item in page
    }


def put_codes(store_id: str, pool_id: str, start: int, codes: Iterable[str]) -> None:
    """Writes the codes at indexes start, start + 1, ... (not claimable until finish_import)."""
    with db.table().batch_writer() as batch:
        for index, code in enumerate(codes, start=start):
            batch.put_item(Item={**keys.coupon_code_key(store_id, pool_id, index), "code": code})


def finish_import(store_id: str, pool_id: str, token: str, size: int, low_stock_threshold: int | None) -> bool:
    """Makes the new codes claimable (raises size) and lets go of the hold, in one update.
    False when the hold had lapsed (IMPORT_LEASE) and nothing changed."""
    updates = "SET #size = :size, updated_at = :now"
    values: dict[str, Any] = {":size": size, ":now": db.now_iso(), ":token": token}
    if low_stock_threshold is not None:
        updates += ", low_stock_threshold = :threshold"
        values[":threshold"] = low_stock_threshold
    return (
        db.if_condition_holds(
            db.table().update_item,
            Key=keys.coupon_pool_key(store_id, pool_id),
            UpdateExpression=updates + " REMOVE importing, import_started_at",
            ConditionExpression="importing = :token",
            ExpressionAttributeNames={"#size": "size"},
            ExpressionAttributeValues=values,
        )
        is not None
    )


def release_import(store_id: str, pool_id: str, token: str) -> None:
    """After a failed import: codes written past `size` stay unclaimable and are overwritten
    by the next import. Changes nothing once the hold has lapsed."""
    db.if_condition_holds(
        db.table().update_item,
        Key=keys.coupon_pool_key(store_id, pool_id),
        UpdateExpression="REMOVE importing, import_started_at",
        ConditionExpression="importing = :token",
        ExpressionAttributeValues={":token": token},
    )


# --- claims ---------------------------------------------------------------------------------


def earlier_claim(store_id: str, pool_id: str, claim_key: str) -> str | None:
    """The code this send claimed before (a retry), or None."""
    item = (
        client("dynamodb")
        .get_item(
            TableName=db.table_name(),
            ConsistentRead=True,
            Key=db.serialize(keys.coupon_claim_key(store_id, pool_id, claim_key)),
        )
        .get("Item")
    )
    return db.deserialize(item)["code"] if item else None


def take_next_index(store_id: str, pool_id: str) -> dict[str, Any] | None:
    """Counts one more code of the pool as claimed, atomically and only while codes are left:
    the pool's attributes after it (the claimed index is `claimed` - 1), or None when the pool
    is exhausted or does not exist."""
    try:
        pool = client("dynamodb").update_item(
            TableName=db.table_name(),
            Key=db.serialize(keys.coupon_pool_key(store_id, pool_id)),
            UpdateExpression="ADD claimed :one",
            # "size" is a DynamoDB reserved function name.
            ConditionExpression="claimed < #size",
            ExpressionAttributeNames={"#size": "size"},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as err:
        if db.condition_failed(err):
            return None
        raise
    return db.deserialize(pool)


def code_at(store_id: str, pool_id: str, index: int) -> str | None:
    item = (
        client("dynamodb")
        .get_item(
            TableName=db.table_name(),
            ConsistentRead=True,
            Key=db.serialize(keys.coupon_code_key(store_id, pool_id, index)),
        )
        .get("Item")
    )
    return db.deserialize(item)["code"] if item else None


def record_claim(store_id: str, pool_id: str, claim_key: str, code: str, index: int) -> tuple[str, bool]:
    """Keeps which code this send got: (the code that stands, whether it is this one). When the
    same send claimed concurrently (a retry overlapping its first attempt), the first record
    wins and this index stays unused."""
    dynamodb = client("dynamodb")
    key = db.serialize(keys.coupon_claim_key(store_id, pool_id, claim_key))
    try:
        dynamodb.put_item(
            TableName=db.table_name(),
            Item={**key, **db.serialize({"code": code, "index": index, "claimed_at": db.now_iso()})},
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as err:
        if not db.condition_failed(err):
            raise
        winner = dynamodb.get_item(TableName=db.table_name(), Key=key, ConsistentRead=True)["Item"]
        return db.deserialize(winner)["code"], False
    return code, True


def pool_stock(store_id: str, pool_id: str) -> PoolStock | None:
    """How many codes the pool has, has handed out and has left; None when there is no such pool."""
    item = (
        client("dynamodb")
        .get_item(
            TableName=db.table_name(), Key=db.serialize(keys.coupon_pool_key(store_id, pool_id)), ConsistentRead=True
        )
        .get("Item")
    )
    if item is None:
        return None
    return _stock(db.deserialize(item))


def _stock(pool: dict[str, Any]) -> PoolStock:
    size, claimed = int(pool.get("size", 0)), int(pool.get("claimed", 0))
    return PoolStock(
        size=size,
        claimed=claimed,
        remaining=max(0, size - claimed),
        low_stock_threshold=int(pool.get("low_stock_threshold", 0)),
    )


def list_pools(store_id: str) -> dict[str, PoolStock]:
    """Every pool of the store and its stock, by pool id: one Query."""
    condition = Key("pk").eq(keys.store_pk(store_id)) & Key("sk").begins_with(keys.COUPON_POOL_PREFIX)
    return {
        item["sk"].removeprefix(keys.COUPON_POOL_PREFIX): _stock(item)
        for page in db.query_pages(condition, ConsistentRead=True)
        for item in page
    }
