"""The silence index: each contact in the partition of the (UTC) day their silence is counted
from, SILENT#<store>#<yyyy-mm-dd>, one item per contact. That day is their last engagement's
(an open not by a mail privacy proxy, a click, a purchase), or, for a contact who never
engaged, their first delivered email's. The sunset template's tick reads only the partition
of the day that is `inactive_for` ago (storeflows.silence), never the contacts' table.

The profile keeps the day (silent_since), the last engagement (engaged_at) and the emails
delivered (emails_received); an engagement's update returns the old day, so the contact's
item moves with one delete and one put, only when the day changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from storeflows.storage import dynamodb as db
from storeflows.storage import keys

PAGE_SIZE = 100


def note_delivery(store_id: str, email: str, delivered_at: datetime) -> None:
    """Counts one delivered email on the profile (an existing one); the contact's first puts
    them in the index from that day, until they engage."""
    day = db.utc_iso(delivered_at)[:10]
    updated = db.if_condition_holds(
        db.table().update_item,
        Key=keys.contact_key(store_id, email),
        UpdateExpression="ADD emails_received :one SET silent_since = if_not_exists(silent_since, :day)",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":one": 1, ":day": day},
        ReturnValues="UPDATED_OLD",
    )
    if updated is not None and "silent_since" not in (updated.get("Attributes") or {}):
        db.table().put_item(Item={**keys.silence_key(store_id, day, email), "email": email})


def note_engagement(store_id: str, email: str, at: datetime) -> bool:
    """Keeps the contact's latest engagement and moves them to its day's partition; True when
    it was later than the one on record (an older one, arriving late, changes nothing)."""
    day = db.utc_iso(at)[:10]
    updated = db.if_condition_holds(
        db.table().update_item,
        Key=keys.contact_key(store_id, email),
        UpdateExpression="SET engaged_at = :at, silent_since = :day",
        ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(engaged_at) OR engaged_at < :at)",
        ExpressionAttributeValues={":at": db.utc_iso(at), ":day": day},
        ReturnValues="UPDATED_OLD",
    )
    if updated is None:
        return False
    old = (updated.get("Attributes") or {}).get("silent_since")
    if old != day:
        with db.table().batch_writer() as batch:
            if old:
                batch.delete_item(Key=keys.silence_key(store_id, old, email))
            batch.put_item(Item={**keys.silence_key(store_id, day, email), "email": email})
    return True


def silent_page(
    store_id: str, day: str, *, after: dict[str, Any] | None = None
) -> tuple[list[str], dict[str, Any] | None]:
    """One page (PAGE_SIZE) of the addresses silent since `day` (yyyy-mm-dd), and where the
    next page starts (None: it was the last)."""
    arguments: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(keys.silence_pk(store_id, day)),
        "Limit": PAGE_SIZE,
    }
    if after:
        arguments["ExclusiveStartKey"] = after
    response = db.table().query(**arguments)
    return [item["email"] for item in response.get("Items", [])], response.get("LastEvaluatedKey")


def drop(store_id: str, day: str, email: str) -> None:
    """Removes an entry the profile no longer names (the contact moved on, or is gone)."""
    db.table().delete_item(Key=keys.silence_key(store_id, day, email))


def forget(store_id: str, profile: dict[str, Any]) -> None:
    """Removes the contact from the partition its profile names (an erasure)."""
    if profile.get("silent_since"):
        drop(store_id, profile["silent_since"], profile["email"])
