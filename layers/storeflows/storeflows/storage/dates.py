"""The contacts due on a day of the year, per store and occasion (a birthday, the first
order's anniversary): one partition
per (store, occasion, month-day), DATES#<store>#<occasion>#<mm-dd>, one item per contact
holding what the schedule needs to place them in time (their country). The schedule reads
only the partitions of the days due (storeflows.schedules), never the contacts' table.

The item moves when the date changes: the profile keeps the date, and its update returns
the old one, so the old day's item is deleted with the new one written."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from storeflows.storage import dynamodb as db
from storeflows.storage import keys

BIRTHDAY = "birthday"
ANNIVERSARY = "anniversary"  # of the first order
PAGE_SIZE = 100


def month_day(value: str) -> str:
    """ "1990-05-17" or "--05-17" -> "05-17"."""
    return value[-5:]


def note_birthday(store_id: str, email: str, birthday: str, *, country: str | None) -> bool:
    """Keeps the birthday on the contact's profile (an existing one) and the contact in its
    day's partition; True when it changed."""
    updated = db.if_condition_holds(
        db.table().update_item,
        Key=keys.contact_key(store_id, email),
        UpdateExpression="SET birthday = :birthday",
        ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(birthday) OR birthday <> :birthday)",
        ExpressionAttributeValues={":birthday": birthday},
        ReturnValues="UPDATED_OLD",
    )
    if updated is None:
        return False
    old = (updated.get("Attributes") or {}).get("birthday")
    with db.table().batch_writer() as batch:
        if old and month_day(old) != month_day(birthday):
            batch.delete_item(Key=keys.dates_key(store_id, BIRTHDAY, month_day(old), email))
        batch.put_item(
            Item={
                **keys.dates_key(store_id, BIRTHDAY, month_day(birthday), email),
                "email": email,
                **db.drop_none({"country": country, "year": birthday[:4] if birthday[:4].isdigit() else None}),
            }
        )
    return True


def note_first_order(store_id: str, email: str, first_order_at: datetime, *, country: str | None) -> None:
    """Puts the contact in the partition of their first order's day (UTC), with its year."""
    db.table().put_item(
        Item={
            **keys.dates_key(store_id, ANNIVERSARY, f"{first_order_at:%m-%d}", email),
            "email": email,
            "year": f"{first_order_at:%Y}",
            **db.drop_none({"country": country}),
        }
    )


def forget(store_id: str, profile: dict[str, Any]) -> None:
    """Removes the contact from the day partitions its profile names (an erasure)."""
    email = profile["email"]
    if profile.get("birthday"):
        db.table().delete_item(Key=keys.dates_key(store_id, BIRTHDAY, month_day(profile["birthday"]), email))
    if profile.get("first_order_at"):
        first = datetime.fromisoformat(str(profile["first_order_at"]))
        db.table().delete_item(Key=keys.dates_key(store_id, ANNIVERSARY, f"{first:%m-%d}", email))


def due_page(
    store_id: str, occasion: str, day: str, *, after: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page (PAGE_SIZE) of the contacts of `day` ("mm-dd"), and where the next page
    starts (None: it was the last)."""
    arguments: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(keys.dates_pk(store_id, occasion, day)),
        "Limit": PAGE_SIZE,
    }
    if after:
        arguments["ExclusiveStartKey"] = after
    response = db.table().query(**arguments)
    return [db.without_keys(item) for item in response.get("Items", [])], response.get("LastEvaluatedKey")
