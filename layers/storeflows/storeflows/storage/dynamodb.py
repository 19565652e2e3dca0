"""The helpers every storage module shares: the table, (de)serialisation, conditional
writes, transactions, paging, batch reads and the clock.

Items are plain attributes so that operators can read them in the console; stored
timestamps are UTC ISO strings in one fixed format, so they compare as strings."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from storeflows.aws import client, dynamodb_table
from storeflows.config import require

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def table_name() -> str:
    return require("table_name")


def table() -> Any:
    return dynamodb_table(table_name())


def now() -> datetime:
    """The one clock of the storage package (tests move it)."""
    return datetime.now(UTC)


def utc_iso(moment: datetime) -> str:
    """One fixed format (UTC, microseconds) so stored timestamps compare as strings."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def now_iso() -> str:
    """Now, in the one format stored timestamps use."""
    return utc_iso(now())


def without_keys(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name not in ("pk", "sk")}


def drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    # DynamoDB rejects empty strings in keys and has no use for explicit nulls here.
    return {name: value for name, value in values.items() if value is not None}


def serialize(values: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values in DynamoDB's wire format (for the low-level client and transactions)."""
    return {name: _SERIALIZER.serialize(value) for name, value in values.items()}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}


def condition_failed(err: ClientError) -> bool:
    return err.response["Error"]["Code"] == "ConditionalCheckFailedException"


def if_condition_holds(write: Callable[..., Any], **arguments: Any) -> dict[str, Any] | None:
    """A conditional write (the table's put_item, update_item or delete_item): its response,
    or None when its ConditionExpression did not hold and nothing was written."""
    try:
        return write(**arguments)
    except ClientError as err:
        if condition_failed(err):
            return None
        raise


def failed_items(transaction: list[dict[str, Any]]) -> set[int]:
    """Runs the transaction; the indexes of its items whose condition failed (empty: written)."""
    try:
        client("dynamodb").transact_write_items(TransactItems=transaction)
    except ClientError as err:
        if err.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = err.response.get("CancellationReasons") or []
        failed = {index for index, reason in enumerate(reasons) if reason.get("Code") == "ConditionalCheckFailed"}
        if not failed:
            raise
        return failed
    return set()


def pages(operation: str, **arguments: Any) -> Iterator[list[dict[str, Any]]]:
    """Every page of a query or scan (DynamoDB returns at most 1 MB per call)."""
    while True:
        response = getattr(table(), operation)(**arguments)
        yield response["Items"]
        if "LastEvaluatedKey" not in response:
            return
        arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def query_pages(condition: Any, **arguments: Any) -> Iterator[list[dict[str, Any]]]:
    return pages("query", KeyConditionExpression=condition, **arguments)


def scan_pages(condition: Any) -> Iterator[list[dict[str, Any]]]:
    return pages("scan", FilterExpression=condition)


def read_together(wanted: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The items at these keys that exist, by (pk, sk), strongly consistent: BatchGetItem, 100
    keys a call, again for whatever it leaves unprocessed (throttling)."""
    name = table_name()
    distinct = list({(key["pk"], key["sk"]): key for key in wanted}.values())
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for start in range(0, len(distinct), 100):
        request: dict[str, Any] = {name: {"Keys": distinct[start : start + 100], "ConsistentRead": True}}
        while request:
            response = table().meta.client.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(name, []):
                found[(item["pk"], item["sk"])] = item
            request = response.get("UnprocessedKeys") or {}
    return found
