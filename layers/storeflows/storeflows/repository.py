"""All DynamoDB reads and writes: expressions and conditional writes live here only.

Keys come from keys.py. Items are plain attributes so that operators can read them in the
console; conversion to and from the domain models happens here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from storeflows import keys
from storeflows.aws import client, dynamodb_table
from storeflows.config import require
from storeflows.errors import StoreflowsError, UnknownMessage, UnknownSender
from storeflows.models import PurchaseEvent
from storeflows.records import (
    Attribution, Contact, DataRequestRecord, Message, Sender, SenderProfile, Store, Suppression, Touch, is_store_id,
)
from storeflows.workflows import Workflow


_SERIALIZER = TypeSerializer()


def _table():
    return dynamodb_table(require("table_name"))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def now_iso() -> str:
    """Now, in the one format stored timestamps use (they compare as strings)."""
    return _utc_iso(_now())


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


def create_store(store: Store) -> bool:
    """Writes a new store; False, writing nothing, when the id is taken (so two creates at
    once never overwrite each other's secrets)."""
    return _if_condition_holds(_table().put_item, Item={**keys.store_key(store.store_id), **_drop_none(store.model_dump())},
                               ConditionExpression="attribute_not_exists(pk)") is not None


def set_store_secret(store_id: str, field: str, secret: str) -> Store | None:
    """Sets one secret of an existing store and leaves the rest as it is (two rotations of
    different platforms at once both stay). None when there is no such store."""
    response = _if_condition_holds(
        _table().update_item,
        Key=keys.store_key(store_id),
        UpdateExpression="SET #field = :secret",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={"#field": field},
        ExpressionAttributeValues={":secret": secret},
        ReturnValues="ALL_NEW",
    )
    return None if response is None else Store.model_validate(_without_keys(response["Attributes"]))


def set_store_attribution(store_id: str, attribution: Attribution) -> None:
    _table().update_item(
        Key=keys.store_key(store_id),
        UpdateExpression="SET attribution = :attribution",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":attribution": attribution.model_dump()},
    )


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


def put_sender(profile: SenderProfile) -> None:
    item = _drop_none(profile.model_dump(mode="json"))
    _table().put_item(Item={**keys.sender_key(profile.store_id, profile.sender_id), **item})


def get_sender(store_id: str, sender_id: str) -> SenderProfile | None:
    item = _table().get_item(Key=keys.sender_key(store_id, sender_id), ConsistentRead=True).get("Item")
    return SenderProfile.model_validate(_without_keys(item)) if item else None


def delete_sender(store_id: str, sender_id: str) -> bool:
    """False when the store has no such profile."""
    return _if_condition_holds(_table().delete_item, Key=keys.sender_key(store_id, sender_id),
                               ConditionExpression="attribute_exists(pk)") is not None


def list_senders(store_id: str) -> list[SenderProfile]:
    condition = Key("pk").eq(keys.store_pk(store_id)) & Key("sk").begins_with(keys.SENDER_PREFIX)
    return [SenderProfile.model_validate(_without_keys(item)) for page in _query_pages(condition) for item in page]


def message_sender(message: Message) -> Sender:
    """Who the message is from: its inline sender, or its sender profile as it is now."""
    if isinstance(message.sender, Sender):
        return message.sender
    profile = get_sender(message.store_id, message.sender)
    if profile is None:
        raise UnknownSender(f"message {message.message_id} names sender profile {message.sender}, "
                            f"which store {message.store_id} does not have")
    return Sender.model_validate(profile.model_dump(include=set(Sender.model_fields)))


# --- contacts ---------------------------------------------------------------------------

class ContactErasedMeanwhile(StoreflowsError):
    """The contact's profile was erased between two writes of one event; the event is retried."""


def record_purchase(store_id: str, event_id: str, purchase: PurchaseEvent) -> bool:
    """Adds the order to the contact's history and updates the profile, once per order.

    One transaction: the ORDER# item is written only if absent, and the profile update
    (counters, totals, latest name/language/country; created on a first purchase) happens
    with it or not at all. Returns False when the order was already recorded (orders/create
    followed by orders/paid, or a redelivery), in which case nothing changes. The same
    transaction checks that the address was never erased; one that was starts its profile
    from the erasure's suppression record first (_start_profile), then the order is recorded
    without that check. The consent the order carries is kept on the ORDER# item: that is its
    place in the contact's consent history."""
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
    names = {f"#{name}": name for name in [*profile_values, "score", "first_order_at", "created_at", "orders_count",
                                           "total_spent"]}
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
        **_drop_none({"marketing_consent": customer.accepts_marketing}),
    }
    transaction = [
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
                "UpdateExpression": "SET " + ", ".join(set_clauses) + " ADD #orders_count :one, #total_spent :total",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": _serialize(values),
            }
        },
    ]
    never_erased = {
        "ConditionCheck": {
            "TableName": table_name,
            "Key": _serialize(keys.suppression_key(store_id, customer.email)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    failed = _failed_items([*transaction, never_erased])
    if failed == {2}:
        _start_profile(store_id, customer.email)
        failed = _failed_items(transaction)
    if 0 in failed:
        return False
    _count_sales(store_id, purchase)
    if customer.accepts_marketing is not None:
        record_consent(store_id, customer.email, marketing=customer.accepts_marketing, source=f"order:{order.id}",
                       at=occurred, history=False)
    return True


def record_consent(store_id: str, email: str, *, marketing: bool, source: str, at: datetime,
                   lifts_unsubscribe: bool = False, history: bool = True) -> bool:
    """Sets the contact's marketing consent unless a newer record is already there, so the
    newest statement wins whatever order orders and consent events arrive in. Returns
    False when this record was older and changed nothing. Every statement, applied or not,
    is kept in the contact's consent history as a CONSENT# item (what was stated, when,
    where), unless `history` is False: an order's checkbox is kept on its ORDER# item.

    `lifts_unsubscribe`: an explicit "yes" (a consent event, not the checkbox state an order
    carries) made after the contact unsubscribed re-subscribes them."""
    statement = {"marketing": marketing, "source": source, "updated_at": _utc_iso(at)}
    applied = _apply_consent(store_id, email, statement)
    if applied is None:
        _start_profile(store_id, email)
        applied = _apply_consent(store_id, email, statement)
    if applied is None:
        raise ContactErasedMeanwhile(f"a contact of store {store_id} was erased while its consent was recorded")
    if history:
        _keep_consent_statement(store_id, email, statement, applied=applied)
    if applied and marketing and lifts_unsubscribe:
        _lift_unsubscribe(store_id, email, statement["updated_at"])
    return applied


def _apply_consent(store_id: str, email: str, statement: dict[str, Any]) -> bool | None:
    """True: applied; False: a newer statement is on record; None: the contact has no profile."""
    try:
        _table().update_item(
            Key=keys.contact_key(store_id, email),
            UpdateExpression="SET consent = :consent, updated_at = :now",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(consent) OR consent.updated_at < :at)",
            ExpressionAttributeValues={":consent": statement, ":now": _utc_iso(_now()), ":at": statement["updated_at"]},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as err:
        if _condition_failed(err):
            return False if "Item" in err.response else None
        raise
    return True


def _lift_unsubscribe(store_id: str, email: str, at_iso: str) -> None:
    # Changes nothing when the contact is not unsubscribed, or unsubscribed later than this.
    _if_condition_holds(
        _table().update_item,
        Key=keys.contact_key(store_id, email),
        UpdateExpression="REMOVE unsubscribed_at, unsubscribed_via",
        ConditionExpression="unsubscribed_at < :at",
        ExpressionAttributeValues={":at": at_iso},
    )


def _keep_consent_statement(store_id: str, email: str, statement: dict[str, Any], *, applied: bool) -> None:
    """The first delivery of a statement is what the history keeps (a redelivery changes nothing)."""
    _if_condition_holds(
        _table().put_item,
        Item={
            **keys.consent_statement_key(store_id, email, statement["updated_at"], statement["source"]),
            "marketing": statement["marketing"],
            "source": statement["source"],
            "stated_at": statement["updated_at"],
            "received_at": _utc_iso(_now()),
            "applied": applied,
        },
        ConditionExpression="attribute_not_exists(pk)",
    )


def _start_profile(store_id: str, email: str) -> None:
    """Creates the profile of a contact's first event. An address erased before starts from
    what its erasure kept (records.Suppression.profile_fields): its old unsubscribe or
    suppression, and no marketing consent as of the erasure. Only events of contacts without
    a profile come here, so known contacts never pay for the lookup."""
    now = _utc_iso(_now())
    suppression = get_suppression(store_id, email)
    # Changes nothing when another event of the same contact started it first.
    _if_condition_holds(
        _table().put_item,
        Item={**keys.contact_key(store_id, email), "store_id": store_id, "email": email, "created_at": now,
              "updated_at": now, **(suppression.profile_fields() if suppression else {})},
        ConditionExpression="attribute_not_exists(pk)",
    )


def _utc_iso(moment: datetime) -> str:
    """One fixed format (UTC, microseconds) so stored timestamps compare as strings."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _failed_items(transaction: list[dict[str, Any]]) -> set[int]:
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


def _condition_failed(err: ClientError) -> bool:
    return err.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _if_condition_holds(write, **arguments: Any) -> dict[str, Any] | None:
    """A conditional write (the table's put_item, update_item or delete_item): its response,
    or None when its ConditionExpression did not hold and nothing was written."""
    try:
        return write(**arguments)
    except ClientError as err:
        if _condition_failed(err):
            return None
        raise


def _serialize(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _SERIALIZER.serialize(value) for name, value in values.items()}


def get_contact(store_id: str, email: str) -> Contact | None:
    item = _table().get_item(Key=keys.contact_key(store_id, email), ConsistentRead=True).get("Item")
    return Contact.model_validate(_without_keys(item)) if item else None


def get_send_context(store_id: str, message_id: str, email: str, decision_key: dict[str, str]) -> SendContext:
    """What a send needs, read together: the store (name, unsubscribe key), the message, the
    contact and the send's decision record, if an earlier attempt left one, all strongly
    consistent (a consent or a message edited since the run started counts). One
    BatchGetItem instead of four reads."""
    if not is_store_id(store_id):
        return SendContext(None, None, None, None)
    wanted = [keys.store_key(store_id), keys.message_key(store_id, message_id), keys.contact_key(store_id, email),
              decision_key]
    found = _read_together(wanted)
    store, message, contact, decision = (found.get((key["pk"], key["sk"])) for key in wanted)
    return SendContext(
        Store.model_validate(_without_keys(store)) if store else None,
        Message.model_validate(_without_keys(message)) if message else None,
        Contact.model_validate(_without_keys(contact)) if contact else None,
        _without_keys(decision) if decision else None,
    )


def _read_together(wanted: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The items at these keys that exist, by (pk, sk), strongly consistent: BatchGetItem, 100
    keys a call, again for whatever it leaves unprocessed (throttling)."""
    table = require("table_name")
    distinct = list({(key["pk"], key["sk"]): key for key in wanted}.values())
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for start in range(0, len(distinct), 100):
        request: dict[str, Any] = {table: {"Keys": distinct[start:start + 100], "ConsistentRead": True}}
        while request:
            response = _table().meta.client.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(table, []):
                found[(item["pk"], item["sk"])] = item
            request = response.get("UnprocessedKeys") or {}
    return found


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


@dataclass(frozen=True)
class SendContext:
    """What one send step reads before it decides; None where the item does not exist."""

    store: Store | None
    message: Message | None
    contact: Contact | None
    # The step's decision record, when an earlier attempt of it left one.
    decision: dict[str, Any] | None


@dataclass(frozen=True)
class SendSlot:
    """A claimed "not more often than" slot of one workflow and contact, with what it held
    before (None: it was free), so release_send_slot can put that back."""

    store_id: str
    email: str
    workflow_id: str
    send_key: str
    previous_sent_at: int | None
    previous_send: str | None


def claim_send_slot(store_id: str, email: str, workflow_id: str, send_key: str,
                    min_interval_seconds: int) -> SendSlot | None:
    """"Not more often than once per <interval>" for one workflow and contact, atomically:
    of two purchases in the same second only one gets the slot. A retry of the same send
    (same send_key) keeps its slot. None when the slot is taken."""
    now = int(_now().timestamp())
    response = _if_condition_holds(
        _table().update_item,
        Key=keys.frequency_cap_key(store_id, email, workflow_id),
        UpdateExpression="SET last_sent_at = :now, last_send = :send",
        ConditionExpression="attribute_not_exists(last_sent_at) OR last_sent_at <= :cutoff OR last_send = :send",
        ExpressionAttributeValues={":now": now, ":cutoff": now - min_interval_seconds, ":send": send_key},
        ReturnValues="UPDATED_OLD",
    )
    if response is None:
        return None
    previous = response.get("Attributes", {})
    return SendSlot(store_id, email, workflow_id, send_key,
                    int(previous["last_sent_at"]) if "last_sent_at" in previous else None, previous.get("last_send"))


def release_send_slot(slot: SendSlot) -> None:
    """Gives back a slot that its send claimed and then did not use (it sent nothing),
    putting back what the slot held before, so the skip holds back none of the workflow's
    later messages. Changes nothing once the slot is another send's."""
    key = keys.frequency_cap_key(slot.store_id, slot.email, slot.workflow_id)
    if slot.previous_sent_at is None:
        _if_condition_holds(_table().delete_item, Key=key, ConditionExpression="last_send = :send",
                            ExpressionAttributeValues={":send": slot.send_key})
    else:
        _if_condition_holds(
            _table().update_item,
            Key=key,
            UpdateExpression="SET last_sent_at = :previous_at, last_send = :previous_send",
            ConditionExpression="last_send = :send",
            ExpressionAttributeValues={":previous_at": slot.previous_sent_at, ":previous_send": slot.previous_send,
                                       ":send": slot.send_key},
        )


def mark_order_delivered(store_id: str, email: str, order_id: str, at: datetime) -> bool:
    """Stamps the delivery on a recorded order (first report wins); a care series waiting for
    it moves on at its next check. False when the order is unknown."""
    return _if_condition_holds(
        _table().update_item,
        Key=keys.order_key(store_id, email, order_id),
        UpdateExpression="SET delivered_at = if_not_exists(delivered_at, :at)",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":at": _utc_iso(at)},
    ) is not None


def active_runs(store_id: str, email: str) -> list[dict[str, str]]:
    """The workflow runs the contact is inside right now (workflow and order ids)."""
    response = _table().query(
        KeyConditionExpression=Key("pk").eq(keys.contact_pk(store_id, email)) & Key("sk").begins_with(keys.ACTIVE_PREFIX),
        ConsistentRead=True,
    )
    return [{"workflow_id": item["workflow_id"], "order_id": item["order_id"]} for item in response["Items"]]


def unsubscribe_contact(store_id: str, email: str, *, via_message: str, at: datetime,
                        counted_for: tuple[str, str] | None = None) -> bool:
    """Unsubscribes an existing contact from marketing. True only the first time (a repeated
    one-click POST changes nothing); False too when there is no such contact (a link for a
    contact that was since erased: it is kept on the erasure's suppression record, so a later
    profile for the address starts unsubscribed). `counted_for` (workflow, sent on) is the
    report row of the email they unsubscribed from: its unsubscribed counter goes up in the
    same transaction, so an unsubscribe is counted exactly once."""
    items = [{
        "Update": {
            "TableName": require("table_name"),
            "Key": _serialize(keys.contact_key(store_id, email)),
            "UpdateExpression": "SET unsubscribed_at = :at, unsubscribed_via = :message",
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(unsubscribed_at)",
            "ExpressionAttributeValues": _serialize({":at": _utc_iso(at), ":message": via_message}),
        }
    }]
    if counted_for is not None:
        workflow_id, sent_on = counted_for
        items.append(_count_in_report(store_id, sent_on, workflow_id, via_message, {"unsubscribed": 1}))
    if _failed_items(items):
        block_erased_address(store_id, email, unsubscribed_at=_utc_iso(at))
        return False
    return True


def latest_email_sent(store_id: str, email: str, message_id: str) -> dict[str, Any] | None:
    """The contact's most recent send decision that sent `message_id` (its workflow and
    report day), or None."""
    condition = Key("pk").eq(keys.contact_pk(store_id, email)) & Key("sk").begins_with(keys.SEND_PREFIX)
    sent = [
        item
        for page in _pages("query", KeyConditionExpression=condition, ConsistentRead=True,
                           FilterExpression=Attr("message_id").eq(message_id) & Attr("status").eq("sent"))
        for item in page
    ]
    return max(sent, key=lambda item: item.get("decided_at", ""), default=None)


def suppress_contact(store_id: str, email: str, reason: str, at: datetime) -> bool:
    """Stops every email to the contact (a hard bounce or a complaint). True the first time;
    for an erased address the suppression record keeps it instead."""
    if _if_condition_holds(
        _table().update_item,
        Key=keys.contact_key(store_id, email),
        UpdateExpression="SET suppressed_reason = :reason, suppressed_at = :at",
        ConditionExpression="attribute_exists(pk) AND attribute_not_exists(suppressed_reason)",
        ExpressionAttributeValues={":reason": reason, ":at": _utc_iso(at)},
    ) is not None:
        return True
    block_erased_address(store_id, email, suppressed_reason=reason)
    return False


def record_touch(store_id: str, email: str, kind: str, touch: Touch) -> bool:
    """Keeps the contact's latest open or click (`kind`: "open" or "click"), whatever order
    SES delivers them in. False when a later one is on record or there is no such contact."""
    attribute = {"open": "last_open", "click": "last_click"}[kind]
    return _if_condition_holds(
        _table().update_item,
        Key=keys.contact_key(store_id, email),
        UpdateExpression="SET #touch = :touch",
        ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(#touch) OR #touch.#at < :at)",
        ExpressionAttributeNames={"#touch": attribute, "#at": "at"},
        ExpressionAttributeValues={":touch": {**touch.model_dump(mode="json"), "at": _utc_iso(touch.at)},
                                   ":at": _utc_iso(touch.at)},
    ) is not None


# A send decision record's status while its email is being sent: the claim that makes a
# second attempt of the same step send nothing.
SENDING = "sending"
_WHILE_SENDING = {"ConditionExpression": "#status = :sending", "ExpressionAttributeNames": {"#status": "status"},
                  "ExpressionAttributeValues": {":sending": SENDING}}


def claim_send(decision_key: dict[str, str], *, message_id: str, attempt_ends_at: datetime) -> bool:
    """Claims one send just before SES is called: its decision record, written with status
    "sending" only where no decision exists yet. False when one does (another attempt of the
    same step got there first). `attempt_ends_at` is when this attempt is certain to have
    ended (its Lambda timeout): a claim older than that belongs to an attempt that died."""
    return _if_condition_holds(
        _table().put_item,
        Item={**decision_key, "message_id": message_id, "status": SENDING,
              "attempt_ends_at": _utc_iso(attempt_ends_at), "decided_at": _utc_iso(_now())},
        ConditionExpression="attribute_not_exists(pk)",
    ) is not None


def release_send_claim(decision_key: dict[str, str]) -> None:
    """Gives the claim back when the attempt failed before SES took the email, so a retry
    may send it."""
    _if_condition_holds(_table().delete_item, Key=decision_key, **_WHILE_SENDING)


def record_send_decision(
    decision_key: dict[str, str],
    *,
    workflow_id: str,
    order_id: str,
    step: str,
    message_id: str,
    status: str,
    reason: str | None = None,
    ses_message_id: str | None = None,
    language: str | None = None,
    coupon_code: str | None = None,
    sent_on: str | None = None,
    completes_claim: bool = False,
) -> bool:
    """The per-contact record of every send decision: what went out (with the coupon code it
    carried, if any), or why it did not. The first decision of a step stands: a skip is
    written only where there is no decision yet, and a send completes its own claim. False
    when the record was not written for that reason."""
    condition = _WHILE_SENDING if completes_claim else {"ConditionExpression": "attribute_not_exists(pk)"}
    return _if_condition_holds(
        _table().put_item,
        Item={
            **decision_key,
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
                    "sent_on": sent_on,
                    "decided_at": _utc_iso(_now()),
                }
            ),
        },
        **condition,
    ) is not None


def contact_history(store_id: str, email: str) -> list[dict[str, Any]]:
    """Every item of a contact's partition (profile, orders, sends, consent history, and any
    kind added later), in sort-key order: what an export shows and an erasure deletes."""
    pages = _pages("query", KeyConditionExpression=Key("pk").eq(keys.contact_pk(store_id, email)), ConsistentRead=True)
    return [item for page in pages for item in page]


# --- data protection (storeflows.privacy) -----------------------------------------------------

def delete_contact(store_id: str, email: str) -> list[str]:
    """Deletes every item of the contact's partition, the profile last (an erasure cut short
    leaves the contact findable, and erasing again finishes it). Returns their sort keys."""
    sort_keys = [item["sk"] for item in contact_history(store_id, email)]
    partition = keys.contact_pk(store_id, email)
    with _table().batch_writer() as batch:
        for sort_key in sort_keys:
            if sort_key != keys.PROFILE_SK:
                batch.delete_item(Key={"pk": partition, "sk": sort_key})
    _table().delete_item(Key=keys.contact_key(store_id, email))
    return sort_keys


def get_suppression(store_id: str, email: str) -> Suppression | None:
    item = _table().get_item(Key=keys.suppression_key(store_id, email), ConsistentRead=True).get("Item")
    return Suppression.model_validate(_without_keys(item)) if item else None


def put_suppression(store_id: str, email: str, suppression: Suppression) -> None:
    _table().put_item(Item={**keys.suppression_key(store_id, email), **_drop_none(suppression.model_dump())})


def block_erased_address(store_id: str, email: str, **blocks: str) -> bool:
    """Adds what stops marketing (records.MARKETING_BLOCKS: an unsubscribe, a suppression) to an
    erased address's suppression record, keeping what it had; False when the address was
    never erased."""
    names = sorted(blocks)
    return _if_condition_holds(
        _table().update_item,
        Key=keys.suppression_key(store_id, email),
        UpdateExpression="SET " + ", ".join(f"#{name} = if_not_exists(#{name}, :{name})" for name in names),
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={f"#{name}": name for name in names},
        ExpressionAttributeValues={f":{name}": blocks[name] for name in names},
    ) is not None


def put_data_request(store_id: str, request: DataRequestRecord) -> bool:
    """Keeps a data request to answer; False when it is already kept (a redelivery)."""
    return _if_condition_holds(
        _table().put_item,
        Item={**keys.data_request_key(store_id, request.request_id), **_drop_none(request.model_dump())},
        ConditionExpression="attribute_not_exists(pk)",
    ) is not None


def list_data_requests(store_id: str) -> list[DataRequestRecord]:
    condition = Key("pk").eq(keys.store_pk(store_id)) & Key("sk").begins_with(keys.DATA_REQUEST_PREFIX)
    return [DataRequestRecord.model_validate(_without_keys(item)) for page in _query_pages(condition) for item in page]


def get_data_request(store_id: str, request_id: str) -> DataRequestRecord | None:
    item = _table().get_item(Key=keys.data_request_key(store_id, request_id), ConsistentRead=True).get("Item")
    return DataRequestRecord.model_validate(_without_keys(item)) if item else None


def mark_data_request_answered(store_id: str, request_id: str) -> None:
    _table().update_item(
        Key=keys.data_request_key(store_id, request_id),
        UpdateExpression="SET answered_at = :now",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":now": _utc_iso(_now())},
    )


def delete_data_request(store_id: str, request_id: str) -> None:
    _table().delete_item(Key=keys.data_request_key(store_id, request_id))


# --- operator queries (the admin CLI) ---------------------------------------------------------

def get_workflow(store_id: str, workflow_id: str) -> Workflow | None:
    item = _table().get_item(Key=keys.workflow_key(store_id, workflow_id), ConsistentRead=True).get("Item")
    return Workflow.model_validate(_without_keys(item)) if item else None


def set_workflow_status(store_id: str, workflow_id: str, status: str, *, version: int) -> bool:
    """Publishes, pauses or un-publishes exactly the version that was checked: False when the
    workflow is gone or another apply wrote a newer version meanwhile."""
    return _if_condition_holds(
        _table().update_item,
        Key=keys.workflow_key(store_id, workflow_id),
        UpdateExpression="SET #status = :status",
        ConditionExpression="attribute_exists(pk) AND #version = :version",
        ExpressionAttributeNames={"#status": "status", "#version": "version"},
        ExpressionAttributeValues={":status": status, ":version": version},
    ) is not None


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


# --- engagement and reports (storeflows.engagement, storeflows.reports) -----------------------

# How long an email's engagement flags are kept: SES reports opens and clicks for as long as
# the email is read, but a year covers nearly all of them. The report counters stay.
EMAIL_TRACKING_TTL_DAYS = 400


def count_email_event(*, store_id: str, workflow_id: str, message_id: str, sent_on: str, ses_message_id: str,
                      flag: str, at: datetime, counter: str) -> bool:
    """Counts one kind of SES event at most once per email: sets the email's `flag` (say
    opened_at) and adds one to its report row's `counter` (opened) in one transaction.
    False when this email's event was counted already (a redelivery, a second open)."""
    expires = int(_now().timestamp()) + EMAIL_TRACKING_TTL_DAYS * 86400
    tracking = {
        "Update": {
            "TableName": require("table_name"),
            "Key": _serialize(keys.email_tracking_key(ses_message_id)),
            "UpdateExpression": "SET #flag = :at, ses_message_id = :ses_id, store_id = :store, workflow_id = :workflow, "
            "message_id = :message, sent_on = :sent_on, #ttl = :expires",
            "ConditionExpression": "attribute_not_exists(#flag)",
            "ExpressionAttributeNames": {"#flag": flag, "#ttl": keys.EXPIRES_AT},
            "ExpressionAttributeValues": _serialize({":at": _utc_iso(at), ":ses_id": ses_message_id, ":store": store_id,
                                                     ":workflow": workflow_id, ":message": message_id,
                                                     ":sent_on": sent_on, ":expires": expires}),
        }
    }
    return not _failed_items([tracking, _count_in_report(store_id, sent_on, workflow_id, message_id, {counter: 1})])


def attribute_order(store_id: str, email: str, order_id: str, *, total: Decimal, currency: str, touch: Touch) -> bool:
    """Credits a recorded order to the email the contact last touched: stamps the order and
    adds it (one order, its total in revenue_<currency>) to that email's report row, in one
    transaction. False when the order was attributed already."""
    order = {
        "Update": {
            "TableName": require("table_name"),
            "Key": _serialize(keys.order_key(store_id, email, order_id)),
            "UpdateExpression": "SET attributed_to = :touch",
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(attributed_to)",
            "ExpressionAttributeValues": _serialize({":touch": {**touch.model_dump(mode="json"),
                                                                "at": _utc_iso(touch.at)}}),
        }
    }
    counters = {"ordered": 1, f"{REVENUE_PREFIX}{currency}": total}
    return not _failed_items([order, _count_in_report(store_id, touch.sent_on, touch.workflow_id, touch.message_id,
                                                       counters)])


def email_engagement(ses_message_ids: list[str]) -> dict[str, dict[str, Any]]:
    """What is known of these emails since they were sent (delivered_at, opened_at,
    clicked_at, ...), by SES message id."""
    found = _read_together([keys.email_tracking_key(ses_id) for ses_id in ses_message_ids])
    return {item["ses_message_id"]: _without_keys(item) for item in found.values()}


REVENUE_PREFIX = "revenue_"  # one counter per currency: revenue_EUR, revenue_PLN


def _count_in_report(store_id: str, sent_on: str, workflow_id: str, message_id: str,
                     counters: dict[str, int | Decimal]) -> dict[str, Any]:
    """The transaction item that adds `counters` to one report row (created on first use)."""
    names = {f"#c{index}": name for index, name in enumerate(counters)}
    values: dict[str, Any] = {f":c{index}": value for index, value in enumerate(counters.values())}
    values.update({":store": store_id, ":workflow": workflow_id, ":message": message_id, ":day": sent_on})
    return {
        "Update": {
            "TableName": require("table_name"),
            "Key": _serialize(keys.report_key(store_id, sent_on, workflow_id, message_id)),
            "UpdateExpression": "ADD " + ", ".join(f"{name} {name.replace('#', ':')}" for name in names)
            + " SET store_id = :store, workflow_id = :workflow, message_id = :message, sent_on = :day",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _serialize(values),
        }
    }


def report_rows(store_id: str, first_day: str, last_day: str) -> list[dict[str, Any]]:
    """Every report row (one per day, workflow and message) of the emails sent from first_day
    to last_day (yyyy-mm-dd, both included): one Query, a page per 1 MB."""
    low, high = keys.report_range(first_day, last_day)
    condition = Key("pk").eq(keys.report_pk(store_id)) & Key("sk").between(low, high)
    return [_without_keys(item) for page in _query_pages(condition) for item in page]
