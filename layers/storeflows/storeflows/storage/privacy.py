"""What data protection keeps: the suppression record an erasure leaves under a hash of
the address (SUPPRESSION#<store>), and the data requests waiting for an answer."""

from __future__ import annotations

from boto3.dynamodb.conditions import Key

from storeflows.records import DataRequestRecord, Suppression
from storeflows.storage import dynamodb as db
from storeflows.storage import keys


def get_suppression(store_id: str, email: str) -> Suppression | None:
    item = db.table().get_item(Key=keys.suppression_key(store_id, email), ConsistentRead=True).get("Item")
    return Suppression.model_validate(db.without_keys(item)) if item else None


def put_suppression(store_id: str, email: str, suppression: Suppression) -> None:
    db.table().put_item(Item={**keys.suppression_key(store_id, email), **db.drop_none(suppression.model_dump())})


def block_erased_address(store_id: str, email: str, **blocks: str) -> bool:
    """Adds what stops marketing (records.MARKETING_BLOCKS: an unsubscribe, a suppression) to an
    erased address's suppression record, keeping what it had; False when the address was
    never erased."""
    names = sorted(blocks)
    return (
        db.if_condition_holds(
            db.table().update_item,
            Key=keys.suppression_key(store_id, email),
            UpdateExpression="SET " + ", ".join(f"#{name} = if_not_exists(#{name}, :{name})" for name in names),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={f"#{name}": name for name in names},
            ExpressionAttributeValues={f":{name}": blocks[name] for name in names},
        )
        is not None
    )


def put_data_request(store_id: str, request: DataRequestRecord) -> bool:
    """Keeps a data request to answer; False when it is already kept (a redelivery)."""
    return (
        db.if_condition_holds(
            db.table().put_item,
            Item={**keys.data_request_key(store_id, request.request_id), **db.drop_none(request.model_dump())},
            ConditionExpression="attribute_not_exists(pk)",
        )
        is not None
    )


def list_data_requests(store_id: str) -> list[DataRequestRecord]:
    condition = Key("pk").eq(keys.store_pk(store_id)) & Key("sk").begins_with(keys.DATA_REQUEST_PREFIX)
    return [
        DataRequestRecord.model_validate(db.without_keys(item)) for page in db.query_pages(condition) for item in page
    ]


def get_data_request(store_id: str, request_id: str) -> DataRequestRecord | None:
    item = db.table().get_item(Key=keys.data_request_key(store_id, request_id), ConsistentRead=True).get("Item")
    return DataRequestRecord.model_validate(db.without_keys(item)) if item else None


def mark_data_request_answered(store_id: str, request_id: str) -> None:
    db.table().update_item(
        Key=keys.data_request_key(store_id, request_id),
        UpdateExpression="SET answered_at = :now",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":now": db.utc_iso(db.now())},
    )


def delete_data_request(store_id: str, request_id: str) -> None:
    db.table().delete_item(Key=keys.data_request_key(store_id, request_id))
