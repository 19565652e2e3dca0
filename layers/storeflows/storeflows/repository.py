"""All DynamoDB reads and writes: expressions and conditional writes live here only.

Keys come from keys.py. Items are plain attributes so that operators can read them in the
console; conversion to and from the domain models happens here."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from storeflows import keys
from storeflows.aws import client, dynamodb_table
from storeflows.config import require
from storeflows.errors import UnknownMessage
from storeflows.models import PurchaseEvent
from storeflows.records import Contact, Message, Store, is_store_id
from storeflows.workflows import Workflow


_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def _table():
    return dynamodb_table(require("table_name"))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _without_keys(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name not in ("pk", "sk")}


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    # DynamoDB rejects empty strings in keys and has no use for explicit nulls here.
    return {name: value for name, value in values.items() if value is not None}


# --- stores -----------------------------------------------------------------------------

def get_store(store_id: str) -> Store | None:
    if not is_store_id(store_id):
        return None
    item = _table().get_item(Key=keys.store_key(store_id)).get("Item")
    return Store.model_validate(_without_keys(item)) if item else None


def put_store(store: Store) -> None:
    _table().put_item(Item={**keys.store_key(store.store_id), **_drop_none(store.model_dump())})


# --- workflows and messages ---------------------------------------------------------------

def put_workflow(workflow: Workflow) -> None:
    item = workflow.model_dump(mode="json")
    _table().put_item(Item={**keys.workflow_key(workflow.store_id, workflow.workflow_id), **item})


def list_workflows(store_id: str) -> list[Workflow]:
    response = _table().query(
        KeyConditionExpression=Key("pk").eq(keys.store_pk(store_id)) & Key("sk").begins_with(keys.WORKFLOW_PREFIX),
        ConsistentRead=True,
    )
    return [Workflow.model_validate(_without_keys(item)) for item in response["Items"]]


def put_message(message: Message) -> None:
    item = message.model_dump(mode="json")
    _table().put_item(Item={**keys.message_key(message.store_id, message.message_id), **item})


def get_message(store_id: str, message_id: str) -> Message:
    item = _table().get_item(Key=keys.message_key(store_id, message_id)).get("Item")
    if item is None:
        raise UnknownMessage(f"store {store_id} has no message {message_id}")
    return Message.model_validate(_without_keys(item))


# --- contacts ---------------------------------------------------------------------------

def record_purchase(store_id: str, event_id: str, purchase: PurchaseEvent) -> bool:
    """Adds the order to the contact's history and updates the profile, once per order.

    One transaction: the ORDER# item is written only if absent, and the profile update
    (counters, totals, latest name/language/country) happens with it or not at
    all. Returns False when the order was already recorded (orders/create followed by
    orders/paid, or a redelivery), in which case nothing changes."""
    customer, order = purchase.customer, purchase.order
    occurred = purchase.occurred_at or _now()
    occurred_at = _utc_iso(occurred)
    now = _utc_iso(_now())
    table_name = require("table_name")

    profile_values: dict[str, Any] = _drop_none(
        {
            "store_id": store_id,
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "language": customer.language,
            "country": customer.country,
            "last_order_at": occurred_at,
            "updated_at": now,
        }
    )
    set_clauses = [f"#{name} = :{name}" for name in profile_values]
    set_clauses += [
        "#score = if_not_exists(#score, :zero)",
        "#first_order_at = if_not_exists(#first_order_at, :last_order_at)",
        "#created_at = if_not_exists(#created_at, :updated_at)",
    ]
    names = {f"#{name}": name for name in [*profile_values, "score", "first_order_at", "created_at", "orders_count", "total_spent"]}
    values = {f":{name}": value for name, value in profile_values.items()}
    values.update({":zero": 0, ":one": 1, ":total": order.total})

    order_item = {
        **keys.order_key(store_id, customer.email, order.id),
        "order_id": order.id,
        "event_id": event_id,
        "total": order.total,
        "currency": order.currency,
        "occurred_at": occurred_at,
        "items": [_drop_none(item.model_dump()) for item in order.items],
    }
    try:
        client("dynamodb").transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table_name,
                        "Item": _serialize(order_item),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": table_name,
                        "Key": _serialize(keys.contact_key(store_id, customer.email)),
                        "UpdateExpression": "SET " + ", ".join(set_clauses)
                        + " ADD #orders_count :one, #total_spent :total",
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": _serialize(values),
                    }
                },
            ]
        )
    except ClientError as err:
        if _order_already_recorded(err):
            return False
        raise
    _count_sales(store_id, purchase)
    if customer.accepts_marketing is not None:
        record_consent(store_id, customer.email, marketing=customer.accepts_marketing, source=f"order:{order.id}",
                       at=occurred)
    return True


def record_consent(store_id: str, email: str, *, marketing: bool, source: str, at: datetime) -> bool:
    """Sets the contact's marketing consent unless a newer record is already there, so the
    newest statement wins whatever order orders and consent events arrive in. Returns
    False when this record was older and changed nothing."""
    at_iso = _utc_iso(at)
    try:
        _table().update_item(
            Key=keys.contact_key(store_id, email),
            UpdateExpression="SET consent = :consent, store_id = :store, email = :email, "
            "created_at = if_not_exists(created_at, :now), updated_at = :now",
            ConditionExpression="attribute_not_exists(consent) OR consent.updated_at < :at",
            ExpressionAttributeValues={
                ":consent": {"marketing": marketing, "source": source, "updated_at": at_iso},
                ":store": store_id,
                ":email": email,
                ":now": _utc_iso(_now()),
                ":at": at_iso,
            },
        )
    except ClientError as err:
        if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _utc_iso(moment: datetime) -> str:
    """One fixed format (UTC, microseconds) so stored timestamps compare as strings."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _order_already_recorded(err: ClientError) -> bool:
    if err.response["Error"]["Code"] != "TransactionCanceledException":
        return False
    reasons = err.response.get("CancellationReasons") or []
    return bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"


def _serialize(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _SERIALIZER.serialize(value) for name, value in values.items()}


def get_contact(store_id: str, email: str) -> Contact | None:
    item = _table().get_item(Key=keys.contact_key(store_id, email), ConsistentRead=True).get("Item")
    return Contact.model_validate(_without_keys(item)) if item else None


def get_send_context(store_id: str, message_id: str, email: str) -> tuple[Store | None, Message | None, Contact | None]:
    """What a send needs, read together: the store (name, unsubscribe key), the message and
    the contact, all strongly consistent (a consent or a message edited since the run
    started counts). One BatchGetItem instead of three reads; anything it leaves
    unprocessed (throttling) is read on its own."""
    if not is_store_id(store_id):
        return None, None, None
    wanted = [keys.store_key(store_id), keys.message_key(store_id, message_id), keys.contact_key(store_id, email)]
    table_name = require("table_name")
    response = client("dynamodb").batch_get_item(
        RequestItems={table_name: {"Keys": [_serialize(key) for key in wanted], "ConsistentRead": True}}
    )
    found = {}
    for item in response["Responses"].get(table_name, []):
        plain = _deserialize(item)
        found[(plain["pk"], plain["sk"])] = plain
    for key in response.get("UnprocessedKeys", {}).get(table_name, {}).get("Keys", []):
        plain_key = _deserialize(key)
        item = _table().get_item(Key=plain_key, ConsistentRead=True).get("Item")
        if item:
            found[(plain_key["pk"], plain_key["sk"])] = item
    store, message, contact = (found.get((key["pk"], key["sk"])) for key in wanted)
    return (
        Store.model_validate(_without_keys(store)) if store else None,
        Message.model_validate(_without_keys(message)) if message else None,
        Contact.model_validate(_without_keys(contact)) if contact else None,
    )


def _deserialize(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _DESERIALIZER.deserialize(value) for name, value in values.items()}


# Sales counters feed the BESTSELLERS block. They are written after the order transaction,
# not in it: a crash in between loses one order's units from a ranking, never an order.
SALES_TTL_DAYS = 400


def _count_sales(store_id: str, purchase: PurchaseEvent) -> None:
    occurred = purchase.occurred_at or _now()
    day = occurred.astimezone(timezone.utc).date().isoformat()
    expires = int(occurred.timestamp()) + SALES_TTL_DAYS * 86400
    for item in purchase.order.items:
        if not item.sku:
            continue
        _table().update_item(
            Key=keys.sales_key(store_id, day, item.sku),
            UpdateExpression="ADD units :quantity SET sku = :sku, #name = :name, #ttl = :expires",
            ExpressionAttributeNames={"#name": "name", "#ttl": keys.EXPIRES_AT},
            ExpressionAttributeValues={":quantity": item.quantity, ":sku": item.sku,
                                       ":name": item.name or item.sku, ":expires": expires},
        )


def best_sellers(store_id: str, *, days: int, count: int, excluding: set[str] = frozenset(),
                 today: datetime | None = None) -> list[dict[str, Any]]:
    """The store's most sold products over the last `days` days (by units), best first."""
    end = (today or _now()).astimezone(timezone.utc).date()
    units: dict[str, int] = {}
    names: dict[str, str] = {}
    for offset in range(days):
        day = (end - timedelta(days=offset)).isoformat()
        for page in _query_pages(Key("pk").eq(keys.sales_pk(store_id, day))):
            for item in page:
                if item["sku"] in excluding:
                    continue
                units[item["sku"]] = units.get(item["sku"], 0) + int(item["units"])
                names.setdefault(item["sku"], item.get("name", item["sku"]))
    ranked = sorted(units, key=lambda sku: (-units[sku], sku))[:count]
    return [{"sku": sku, "name": names[sku], "units": units[sku]} for sku in ranked]


def _pages(operation: str, **arguments: Any):
    """Every page of a query or scan (DynamoDB returns at most 1 MB per call)."""
    while True:
        response = getattr(_table(), operation)(**arguments)
        yield response["Items"]
        if "LastEvaluatedKey" not in response:
            return
        arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _query_pages(condition):
    return _pages("query", KeyConditionExpression=condition)


def claim_send_slot(store_id: str, email: str, workflow_id: str, send_key: str, min_interval_seconds: int) -> bool:
    """"Not more often than once per <interval>" for one workflow and contact, atomically:
    of two purchases in the same second only one gets the slot. A retry of the same send
    (same send_key) keeps its slot."""
    now = int(_now().timestamp())
    try:
        _table().update_item(
            Key=keys.frequency_cap_key(store_id, email, workflow_id),
            UpdateExpression="SET last_sent_at = :now, last_send = :send",
            ConditionExpression="attribute_not_exists(last_sent_at) OR last_sent_at <= :cutoff OR last_send = :send",
            ExpressionAttributeValues={":now": now, ":cutoff": now - min_interval_seconds, ":send": send_key},
        )
    except ClientError as err:
        if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def mark_order_delivered(store_id: str, email: str, order_id: str, at: datetime) -> bool:
    """Stamps the delivery on a recorded order (first report wins); a care series waiting for
    it moves on at its next check. False when the order is unknown."""
    try:
        _table().update_item(
            Key=keys.order_key(store_id, email, order_id),
            UpdateExpression="SET delivered_at = if_not_exists(delivered_at, :at)",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":at": _utc_iso(at)},
        )
    except ClientError as err:
        if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def active_runs(store_id: str, email: str) -> list[dict[str, str]]:
    """The workflow runs the contact is inside right now (workflow and order ids)."""
    response = _table().query(
        KeyConditionExpression=Key("pk").eq(keys.contact_pk(store_id, email)) & Key("sk").begins_with(keys.ACTIVE_PREFIX),
        ConsistentRead=True,
    )
    return [{"workflow_id": item["workflow_id"], "order_id": item["order_id"]} for item in response["Items"]]


def mark_unsubscribed(store_id: str, email: str, message_id: str) -> bool:
    """Records an unsubscribe on an existing contact; False when there is no such contact
    (a link for a contact that was since erased changes nothing)."""
    try:
        _table().update_item(
            Key=keys.contact_key(store_id, email),
            UpdateExpression="SET unsubscribed_at = if_not_exists(unsubscribed_at, :now), unsubscribed_via = :message",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":now": _now().isoformat(), ":message": message_id},
        )
    except ClientError as err:
        if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def record_send_decision(
    *,
    store_id: str,
    email: str,
    workflow_id: str,
    order_id: str,
    step: str,
    message_id: str,
    status: str,
    reason: str | None = None,
    ses_message_id: str | None = None,
    language: str | None = None,
    coupon_code: str | None = None,
) -> None:
    """The per-contact record of every send decision: what went out (with the coupon code it
    carried, if any), or why it did not."""
    _table().put_item(
        Item={
            **keys.send_log_key(store_id, email, workflow_id, order_id, step),
            **_drop_none(
                {
                    "workflow_id": workflow_id,
                    "order_id": order_id,
                    "step": step,
                    "message_id": message_id,
                    "status": status,
                    "reason": reason,
                    "ses_message_id": ses_message_id,
                    "language": language,
                    "coupon_code": coupon_code,
                    "decided_at": _now().isoformat(),
                }
            ),
        }
    )


def contact_history(store_id: str, email: str) -> list[dict[str, Any]]:
    """Every item of a contact's partition (profile, orders, sends), for operators and tests."""
    pages = _pages("query", KeyConditionExpression=Key("pk").eq(keys.contact_pk(store_id, email)), ConsistentRead=True)
    return [item for page in pages for item in page]


# --- operator queries (the admin CLI) ---------------------------------------------------------

def get_workflow(store_id: str, workflow_id: str) -> Workflow | None:
    item = _table().get_item(Key=keys.workflow_key(store_id, workflow_id), ConsistentRead=True).get("Item")
    return Workflow.model_validate(_without_keys(item)) if item else None


def set_workflow_status(store_id: str, workflow_id: str, status: str, *, version: int) -> bool:
    """Publishes, pauses or un-publishes exactly the version that was checked: False when the
    workflow is gone or another apply wrote a newer version meanwhile."""
    try:
        _table().update_item(
            Key=keys.workflow_key(store_id, workflow_id),
            UpdateExpression="SET #status = :status",
            ConditionExpression="attribute_exists(pk) AND #version = :version",
            ExpressionAttributeNames={"#status": "status", "#version": "version"},
            ExpressionAttributeValues={":status": status, ":version": version},
        )
    except ClientError as err:
        if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def list_messages(store_id: str) -> list[Message]:
    condition = Key("pk").eq(keys.store_pk(store_id)) & Key("sk").begins_with(keys.MESSAGE_PREFIX)
    return [Message.model_validate(_without_keys(item)) for page in _query_pages(condition) for item in page]


def _scan_pages(condition):
    return _pages("scan", FilterExpression=condition)


def list_stores() -> list[Store]:
    """Every store. A Scan of the whole table (filtered): for operators, never on a hot path."""
    condition = Attr("sk").eq(keys.STORE_SK) & Attr("pk").begins_with(keys.store_pk(""))
    return [Store.model_validate(_without_keys(item)) for page in _scan_pages(condition) for item in page]


def scan_contacts(store_id: str):
    """Every contact profile of a store, page by page. A Scan of the whole table (filtered on
    CONTACT#<store># and PROFILE): it reads, and is billed for, every item of every store;
    for exports, never on a hot path."""
    condition = Attr("pk").begins_with(keys.contact_pk(store_id, "")) & Attr("sk").eq(keys.PROFILE_SK)
    for page in _scan_pages(condition):
        yield from (Contact.model_validate(_without_keys(item)) for item in page)
