"""DynamoDB on-demand capacity units of a call, from the request and the items' sizes.

The rules (DynamoDB Developer Guide, "Read/write capacity mode" and "Item sizes"):
- a write costs 1 write request unit (WRU) per 1 KB of the item, rounded up, each put or
  delete of a BatchWriteItem too; a write inside TransactWriteItems costs 2 per 1 KB; a
  conditional write that fails still costs;
- a read costs 1 read request unit (RRU) per 4 KB, strongly consistent, or 0.5 eventually
  consistent; a Query costs by the total size of what it returns; a read is billed on the
  whole item, whatever its ProjectionExpression.

- a write of an item the `interest` index holds costs the index too: a put of one that
  carries its keys is counted as 2 more WRU per 1 KB of what the index projects (an upper
  bound: the put may move the item in the index, a delete and a put there), an update that
  takes an item out of it (REMOVE interest_pk) 1 more.

moto does not account capacity (it answers a constant), so the item's size comes from the
table as the bench leaves it (`sizes`, by key): items here only grow, so that is their
largest size, and the WRU an upper bound. An item already deleted counts as the item the
request itself carried, or 1 KB."""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

RETURNS_ITEMS = frozenset({"Query", "Scan", "BatchGetItem"})
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096

Sizes = Mapping[tuple[str, str], int]


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one low-level attribute value ({"S": ...}, {"N": ...}, {"L": [...]}, ...)."""
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        digits = Decimal(content).normalize().as_tuple().digits
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(base64.b64decode(content))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: element}) for element in content)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(element) for name, element in content.items())
    raise ValueError(f"unknown attribute type {kind}")


# template.yaml's one global secondary index (storage.interest): its keys and what it projects.
INDEX_PARTITION = "interest_pk"
INDEX_ATTRIBUTES = frozenset(
    {"pk", "sk", "interest_pk", "interest_sk", "email", "kind", "product_id", "variant_id", "at", "price"}
    | {"currency", "proof", "expires_at"}
)


def _projected(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name in INDEX_ATTRIBUTES}


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def capacity(
    operation: str, request: dict[str, Any], sizes: Sizes, returned_item_sizes: list[int] | None = None
) -> tuple[float, float]:
    """(RRU, WRU) of one call."""
    if operation == "GetItem":
        return _read(_stored(request["Key"], sizes), request.get("ConsistentRead", False)), 0.0
    if operation in ("Query", "Scan"):
        return _read(sum(returned_item_sizes or []), request.get("ConsistentRead", False)), 0.0
    if operation == "BatchGetItem":
        consistent = any(table.get("ConsistentRead", False) for table in request["RequestItems"].values())
        return sum(_read(size, consistent) for size in returned_item_sizes or []), 0.0
    if operation == "PutItem":
        item = request["Item"]
        indexed = 2 * _write(item_size(_projected(item))) if INDEX_PARTITION in item else 0.0
        return 0.0, _write(max(item_size(item), _stored(_key_of(item), sizes))) + indexed
    if operation in ("UpdateItem", "DeleteItem"):
        leaves_index = f"REMOVE {INDEX_PARTITION}" in request.get("UpdateExpression", "")
        return 0.0, _write(_stored(request["Key"], sizes) or WRITE_UNIT_BYTES) + (1.0 if leaves_index else 0.0)
    if operation == "BatchWriteItem":
        return 0.0, sum(
            _write(_batch_item_size(request_, sizes))
            for requests in request["RequestItems"].values()
            for request_ in requests
        )
    if operation == "TransactWriteItems":
        return 0.0, sum(2 * _write(_transact_item_size(action, sizes)) for action in request["TransactItems"])
    raise ValueError(f"no capacity rule for DynamoDB {operation}")


def _transact_item_size(action: dict[str, Any], sizes: Sizes) -> int:
    ((kind, body),) = action.items()
    if kind == "Put":
        return max(item_size(body["Item"]), _stored(_key_of(body["Item"]), sizes))
    return _stored(body["Key"], sizes) or WRITE_UNIT_BYTES


def _batch_item_size(request: dict[str, Any], sizes: Sizes) -> int:
    """A BatchWriteItem request's item: each put or delete in it is billed as on its own."""
    if "PutRequest" in request:
        item = request["PutRequest"]["Item"]
        return max(item_size(item), _stored(_key_of(item), sizes))
    return _stored(request["DeleteRequest"]["Key"], sizes) or WRITE_UNIT_BYTES


def _key_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"pk": item["pk"], "sk": item["sk"]}


def _stored(key: dict[str, Any], sizes: Sizes) -> int:
    return sizes.get((key["pk"]["S"], key["sk"]["S"]), 0)


def _read(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def _write(size: int) -> float:
    return float(max(1, math.ceil(size / WRITE_UNIT_BYTES)))
