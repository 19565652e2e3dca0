"""Dynamic coupon pools: unique codes imported from a CSV file, each handed out at most once.

A message carries either a static coupon (one code for everyone, nothing stored here) or a
dynamic one naming a pool (records.DynamicCoupon). A pool is three kinds of items (keys.py):

    STORE#<store>               COUPONPOOL#<pool>   size, claimed, low_stock_threshold, created_at
    COUPONPOOL#<store>#<pool>   CODE#<index>        code (index 0 .. size-1, in import order)
    COUPONCLAIM#<store>#<pool>  CLAIM#<hash>        the code one send got, so a retry gets it again

Handing out is one conditional counter update (`ADD claimed :1` only while `claimed < size`),
which DynamoDB applies atomically per item: concurrent claims get distinct indexes, and
never more than `size` of them. An import writes its codes first and raises `size` last, so
a claim never reaches an index without a code. A code can be lost (counted as claimed, sent
to no one) when a send crashes between the counter update and the claim record, never sent
twice.

Metrics (namespace Storeflows, dimension service): CouponPoolLow for every claim that leaves
the pool at or below its low-stock threshold (and for every claim that finds it empty), and
CouponPoolExhausted for every claim that finds it empty. Logs carry store and pool ids only,
never codes or emails."""

from __future__ import annotations

import csv
import io
import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from storeflows import keys
from storeflows.aws import client, dynamodb_table
from storeflows.config import require
from storeflows.errors import StoreflowsError
from storeflows.observability import MetricUnit, logger, metrics
from storeflows.records import COUPON_POOL_ID_PATTERN, MAX_COUPON_CODE_LENGTH, is_store_id

IMPORT_LEASE = timedelta(hours=1)
"""An import holds the pool for at most this long; a crashed import's hold lapses after it."""

MAX_POOL_SIZE = 10**keys.COUPON_INDEX_DIGITS

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


class CouponImportError(StoreflowsError):
    """The CSV file or the pool cannot take this import (the detail says why)."""


class UnknownCouponPool(StoreflowsError):
    """A message hands out codes from a pool that was never imported. A configuration error:
    the send fails (and the run with it) rather than silently sending without a coupon."""


class CouponPoolCorrupted(StoreflowsError):
    """A claimed index has no code: the pool's items were edited by hand."""


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped_duplicates: int  # repeated in the file, or already in the pool
    size: int  # codes in the pool after the import (claimed ones included)


@dataclass(frozen=True)
class PoolStock:
    size: int
    claimed: int
    remaining: int
    low_stock_threshold: int


# --- import -----------------------------------------------------------------------------------

def import_codes(
    store_id: str,
    pool_id: str,
    source: str | Iterable[Mapping[str, str | None]],
    column: str,
    low_stock_threshold: int | None = None,
) -> ImportResult:
    """Appends the codes of one CSV column to the pool (creating it on first import).

    `source` is the CSV text (with a header row) or rows already read (csv.DictReader).
    Codes are stripped; blanks are ignored; a code repeated in the file or already in the
    pool is skipped, so importing the same file twice adds nothing. `low_stock_threshold`
    (codes left at which CouponPoolLow starts) defaults to a tenth of the pool on its first
    import and is kept by later imports unless given."""
    _check_ids(store_id, pool_id)
    if low_stock_threshold is not None and low_stock_threshold < 0:
        raise CouponImportError("low_stock_threshold must be 0 or more")
    codes, repeated = _read_codes(source, column)

    token = uuid.uuid4().hex
    pool = _start_import(store_id, pool_id, token)
    try:
        start = int(pool["size"])
        existing = _codes_in_pool(store_id, pool_id, start)
        new = [code for code in codes if code not in existing]
        size = start + len(new)
        if size > MAX_POOL_SIZE:
            raise CouponImportError(f"a pool holds at most {MAX_POOL_SIZE} codes; this import would make {size}")
        with _table().batch_writer() as batch:
            for index, code in enumerate(new, start=start):
                batch.put_item(Item={**keys.coupon_code_key(store_id, pool_id, index), "code": code})
        if low_stock_threshold is None and "low_stock_threshold" not in pool and size:
            low_stock_threshold = max(1, math.ceil(size / 10))
        _finish_import(store_id, pool_id, token, size, low_stock_threshold)
    except BaseException:
        _release_import(store_id, pool_id, token)
        raise
    logger.info("coupon codes imported", extra={"store_id": store_id, "coupon_pool": pool_id, "added": len(new),
                                                "pool_size": size})
    return ImportResult(added=len(new), skipped_duplicates=repeated + len(codes) - len(new), size=size)


def _check_ids(store_id: str, pool_id: str) -> None:
    if not is_store_id(store_id):
        raise CouponImportError(f"{store_id!r} is not a store id")
    if not COUPON_POOL_ID_PATTERN.fullmatch(pool_id):
        raise CouponImportError(
            f"{pool_id!r} is not a pool id (letters, digits, '-' and '_', up to 64, starting with a letter or digit)"
        )


def _read_codes(source: str | Iterable[Mapping[str, str | None]], column: str) -> tuple[list[str], int]:
    """The column's distinct non-blank codes in file order, and how many repeats were dropped."""
    if isinstance(source, str):
        reader = csv.DictReader(io.StringIO(source.removeprefix("\ufeff"), newline=""))
        if not reader.fieldnames:
            raise CouponImportError("the CSV file is empty: it needs a header row naming its columns")
        available = list(reader.fieldnames)
        rows: Iterable[Mapping[str, str | None]] = reader
    else:
        rows = list(source)
        available = list(rows[0]) if rows else []
    field = _find_column(column, available)
    codes: list[str] = []
    seen: set[str] = set()
    repeated = 0
    for line, row in enumerate(rows, start=2):
        code = (row.get(field) or "").strip()
        if not code:
            continue
        if len(code) > MAX_COUPON_CODE_LENGTH:
            raise CouponImportError(f"row {line}: the code is longer than {MAX_COUPON_CODE_LENGTH} characters "
                                    f"(is {column!r} the right column?)")
        if code in seen:
            repeated += 1
            continue
        seen.add(code)
        codes.append(code)
    return codes, repeated


def _find_column(column: str, available: list[str]) -> str:
    if column in available:
        return column
    for name in available:  # spreadsheets like to pad headers
        if name is not None and name.strip() == column.strip():
            return name
    listed = ", ".join(repr(name) for name in available if name is not None) or "none"
    raise CouponImportError(f"the CSV file has no column {column!r}; its columns: {listed}")


def _start_import(store_id: str, pool_id: str, token: str) -> dict[str, Any]:
    """Creates the pool if needed and takes its import hold: two imports into one pool at the
    same time would write codes at the same indexes."""
    now = _now()
    try:
        response = _table().update_item(
            Key=keys.coupon_pool_key(store_id, pool_id),
            UpdateExpression="SET importing = :token, import_started_at = :now, store_id = :store, pool_id = :pool, "
            "created_at = if_not_exists(created_at, :now), #size = if_not_exists(#size, :zero), "
            "claimed = if_not_exists(claimed, :zero)",
            ConditionExpression="attribute_not_exists(importing) OR import_started_at < :stale",
            ExpressionAttributeNames={"#size": "size"},
            ExpressionAttributeValues={":token": token, ":now": _iso(now), ":stale": _iso(now - IMPORT_LEASE),
                                       ":store": store_id, ":pool": pool_id, ":zero": 0},
            ReturnValues="ALL_NEW",
        )
    except ClientError as err:
        if _condition_failed(err):
            raise CouponImportError(f"another import into pool {pool_id} is running; try again once it has finished") from None
        raise
    return response["Attributes"]


def _codes_in_pool(store_id: str, pool_id: str, size: int) -> set[str]:
    if size == 0:
        return set()
    condition = Key("pk").eq(keys.coupon_codes_pk(store_id, pool_id)) & Key("sk").between(
        keys.coupon_code_sk(0), keys.coupon_code_sk(size - 1)
    )
    arguments: dict[str, Any] = {"KeyConditionExpression": condition, "ProjectionExpression": "code",
                                 "ConsistentRead": True}
    codes: set[str] = set()
    while True:
        response = _table().query(**arguments)
        codes.update(item["code"] for item in response["Items"])
        if "LastEvaluatedKey" not in response:
            return codes
        arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _finish_import(store_id: str, pool_id: str, token: str, size: int, low_stock_threshold: int | None) -> None:
    """Makes the new codes claimable (raises size) and lets go of the hold, in one update."""
    updates = "SET #size = :size, updated_at = :now"
    values: dict[str, Any] = {":size": size, ":now": _iso(_now()), ":token": token}
    if low_stock_threshold is not None:
        updates += ", low_stock_threshold = :threshold"
        values[":threshold"] = low_stock_threshold
    try:
        _table().update_item(
            Key=keys.coupon_pool_key(store_id, pool_id),
            UpdateExpression=updates + " REMOVE importing, import_started_at",
            ConditionExpression="importing = :token",
            ExpressionAttributeNames={"#size": "size"},
            ExpressionAttributeValues=values,
        )
    except ClientError as err:
        if _condition_failed(err):
            raise CouponImportError(f"the import into pool {pool_id} took longer than {IMPORT_LEASE} and lost its hold; "
                                    "import the file again (codes already in the pool are skipped)") from None
        raise


def _release_import(store_id: str, pool_id: str, token: str) -> None:
    """After a failed import: codes written past `size` stay unclaimable and are overwritten
    by the next import."""
    try:
        _table().update_item(
            Key=keys.coupon_pool_key(store_id, pool_id),
            UpdateExpression="REMOVE importing, import_started_at",
            ConditionExpression="importing = :token",
            ExpressionAttributeValues={":token": token},
        )
    except ClientError as err:
        if not _condition_failed(err):  # else the hold had lapsed already
            logger.exception("could not release the import hold", extra={"store_id": store_id, "coupon_pool": pool_id})


# --- claims -------------------------------------------------------------------------------------

def claim_code(store_id: str, pool_id: str, claim_key: str) -> str | None:
    """Hands out the pool's next code for one send, or None when the pool is exhausted.

    `claim_key` names the send ("<workflow>#<order>#<step>#<email>"): claiming again with the
    same key returns the same code, so a retried send never uses up a second one. Safe to
    call concurrently (it uses the low-level client, which is thread-safe).
    Raises UnknownCouponPool when the pool was never imported."""
    dynamodb = client("dynamodb")
    table = require("table_name")
    claim_item_key = _wire(keys.coupon_claim_key(store_id, pool_id, claim_key))
    earlier = dynamodb.get_item(TableName=table, Key=claim_item_key, ConsistentRead=True).get("Item")
    if earlier:
        return _plain(earlier)["code"]

    try:
        pool = dynamodb.update_item(
            TableName=table,
            Key=_wire(keys.coupon_pool_key(store_id, pool_id)),
            UpdateExpression="ADD claimed :one",
            ConditionExpression="claimed < #size",
            ExpressionAttributeNames={"#size": "size"},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as err:
        if not _condition_failed(err):
            raise
        if pool_stock(store_id, pool_id) is None:
            raise UnknownCouponPool(f"store {store_id} has no coupon pool {pool_id}") from None
        logger.warning("coupon pool exhausted", extra={"store_id": store_id, "coupon_pool": pool_id})
        metrics.add_metric(name="CouponPoolExhausted", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="CouponPoolLow", unit=MetricUnit.Count, value=1)
        return None

    pool = _plain(pool)
    index = int(pool["claimed"]) - 1
    code_item = dynamodb.get_item(
        TableName=table, Key=_wire(keys.coupon_code_key(store_id, pool_id, index)), ConsistentRead=True
    ).get("Item")
    if code_item is None:
        raise CouponPoolCorrupted(f"coupon pool {pool_id} of store {store_id} has no code at index {index}")
    code = _plain(code_item)["code"]
    try:
        dynamodb.put_item(
            TableName=table,
            Item=_wire({**keys.coupon_claim_key(store_id, pool_id, claim_key), "code": code, "index": index,
                        "claimed_at": _iso(_now())}),
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as err:
        if not _condition_failed(err):
            raise
        # The same send claimed concurrently (a retry overlapping its first attempt): the
        # first record wins and this index stays unused.
        winner = dynamodb.get_item(TableName=table, Key=claim_item_key, ConsistentRead=True)["Item"]
        logger.warning("concurrent claim for one send; one code left unused",
                       extra={"store_id": store_id, "coupon_pool": pool_id, "index": index})
        code = _plain(winner)["code"]

    metrics.add_metric(name="CouponCodesClaimed", unit=MetricUnit.Count, value=1)
    remaining = int(pool["size"]) - int(pool["claimed"])
    if remaining <= int(pool.get("low_stock_threshold", 0)):
        logger.warning("coupon pool low", extra={"store_id": store_id, "coupon_pool": pool_id, "remaining": remaining})
        metrics.add_metric(name="CouponPoolLow", unit=MetricUnit.Count, value=1)
    return code


def pool_stock(store_id: str, pool_id: str) -> PoolStock | None:
    """How many codes the pool has, has handed out and has left; None when there is no such pool."""
    item = client("dynamodb").get_item(
        TableName=require("table_name"), Key=_wire(keys.coupon_pool_key(store_id, pool_id)), ConsistentRead=True
    ).get("Item")
    if item is None:
        return None
    pool = _plain(item)
    size, claimed = int(pool.get("size", 0)), int(pool.get("claimed", 0))
    return PoolStock(size=size, claimed=claimed, remaining=max(0, size - claimed),
                     low_stock_threshold=int(pool.get("low_stock_threshold", 0)))


# --- helpers ----------------------------------------------------------------------------------

def _table():
    return dynamodb_table(require("table_name"))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _wire(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _SERIALIZER.serialize(value) for name, value in values.items()}


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}


def _condition_failed(err: ClientError) -> bool:
    return err.response["Error"]["Code"] == "ConditionalCheckFailedException"
