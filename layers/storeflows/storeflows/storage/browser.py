"""What the browser's POST /collect keeps: each visitor's per-minute event count (the cap on
one browser's flood), and the opaque contact references that email links carry.

    COLLECT#<store>#<visitor>   MINUTE#<yyyy-mm-ddThh:mm>   events counted that minute (expires)
    CONTACTLINK#<store>#<ref>   CONTACTLINK                 the email an email link's ref names
    CONTACT#<store>#<email>     CONTACTLINK#<ref>           the link back, so an erasure deletes it"""

from __future__ import annotations

from datetime import datetime, timedelta

from storeflows.storage import dynamodb as db
from storeflows.storage import keys

# A minute's counter is only read during its minute; TTL deletes it a little later.
_COUNTER_KEPT = timedelta(minutes=10)


def count_visitor_events(store_id: str, visitor_id: str, count: int, *, limit: int, at: datetime) -> bool:
    """Adds `count` events to the visitor's count for the minute of `at`, unless that would take
    it over `limit`: then it writes nothing and answers False. One conditional UpdateItem,
    atomic, so concurrent requests from one visitor never pass the cap together."""
    if count > limit:
        return False
    minute = at.strftime("%Y-%m-%dT%H:%M")
    written = db.if_condition_holds(
        db.table().update_item,
        Key=keys.collect_counter_key(store_id, visitor_id, minute),
        UpdateExpression="ADD events :count SET #expires = :expires",
        ConditionExpression="attribute_not_exists(events) OR events <= :room",
        ExpressionAttributeNames={"#expires": keys.EXPIRES_AT},
        ExpressionAttributeValues={
            ":count": count,
            ":room": limit - count,
            ":expires": int((at + _COUNTER_KEPT).timestamp()),
        },
    )
    return written is not None


def keep_contact_link(store_id: str, email: str, ref: str) -> None:
    """Makes `ref` name the contact (both items; writing them again changes nothing)."""
    with db.table().batch_writer() as batch:
        batch.put_item(Item={**keys.contact_link_key(store_id, ref), "email": email})
        batch.put_item(Item={**keys.contact_link_backref_key(store_id, email, ref), "ref": ref})


def contact_of_link(store_id: str, ref: str) -> str | None:
    """The email `ref` names, or None (never made, or the contact was erased)."""
    item = db.table().get_item(Key=keys.contact_link_key(store_id, ref)).get("Item")
    return str(item["email"]) if item else None


def forget_contact_link(store_id: str, ref: str) -> None:
    """Deletes the ref's lookup item (an erasure; the contact's own item goes with its partition)."""
    db.table().delete_item(Key=keys.contact_link_key(store_id, ref))
