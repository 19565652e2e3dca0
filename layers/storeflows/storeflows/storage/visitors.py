"""Anonymous visitors of a store's site and who they turned out to be.

    VISITOR#<store>#<visitor>   VISITOR                   the contact the visitor is (email, how known)
    VISITOR#<store>#<visitor>   EVENT#<at>#<event id>     an event from before the visitor was known
    CONTACT#<store>#<email>     VISITOR#<visitor>         the link back, so an erasure finds the visitor

A visitor's events before identification are kept 30 days (the table's TTL), then forgotten;
identifying the visitor hands them to the contact. Both items of a visitor that hold an
address are found from the contact's partition, so an erasure deletes them with it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from boto3.dynamodb.conditions import Key

from storeflows.storage import dynamodb as db
from storeflows.storage import kept_events, keys

# A known visitor stays known this long after it was last identified (a year-old browser
# cookie naming someone who has not logged in since is not worth holding an address for).
IDENTITY_KEPT = timedelta(days=365)
# How a visitor became known, strongest first: the store said so (its signed API, a
# checkout's email), the visitor followed a Storeflows email's signed link, or the page only
# claimed an address (a form, the snippet's identify call).
Proof = Literal["store", "email_link", "claimed"]
_STRENGTH: dict[str, int] = {"store": 3, "email_link": 2, "claimed": 1}


def visitor_pk(store_id: str, visitor_id: str) -> str:
    return f"VISITOR#{store_id}#{visitor_id}"


def known_email(store_id: str, visitor_id: str) -> str | None:
    """The contact a visitor has been identified as, if any."""
    item = db.table().get_item(Key={"pk": visitor_pk(store_id, visitor_id), "sk": "VISITOR"}).get("Item")
    return str(item["email"]) if item else None


def known_identity(store_id: str, visitor_id: str) -> tuple[str, Proof] | None:
    """The contact a visitor has been identified as, and how that was proven."""
    item = db.table().get_item(Key={"pk": visitor_pk(store_id, visitor_id), "sk": "VISITOR"}).get("Item")
    return (str(item["email"]), item.get("proof", "claimed")) if item else None


def keep_pending_event(store_id: str, visitor_id: str, event_id: str, at: datetime, event_json: str) -> None:
    """Keeps an anonymous visitor's event until the visitor is identified (or 30 days)."""
    kept_events.keep(visitor_pk(store_id, visitor_id), event_id, at, event_json)


def identify(store_id: str, visitor_id: str, email: str, *, proof: Proof, at: datetime) -> bool:
    """Names the visitor's contact. A weaker proof never replaces a stronger one naming someone
    else (a page claiming an address cannot take over a visitor the store identified, so a
    visitor never becomes someone else's contact by a form). Returns whether the visitor is
    now this contact."""
    at_iso = db.utc_iso(at)
    written = db.if_condition_holds(
        db.table().put_item,
        Item={
            "pk": visitor_pk(store_id, visitor_id),
            "sk": "VISITOR",
            "email": email,
            "proof": proof,
            "strength": _STRENGTH[proof],
            "identified_at": at_iso,
            keys.EXPIRES_AT: int((at + IDENTITY_KEPT).timestamp()),
        },
        ConditionExpression="attribute_not_exists(pk) OR email = :email OR strength <= :strength",
        ExpressionAttributeValues={":email": email, ":strength": _STRENGTH[proof]},
    )
    if written is None:
        return False
    db.table().put_item(
        Item={
            "pk": keys.contact_pk(store_id, email),
            "sk": f"{keys.VISITOR_PREFIX}{visitor_id}",
            "visitor_id": visitor_id,
            "identified_at": at_iso,
            keys.EXPIRES_AT: int((at + IDENTITY_KEPT).timestamp()),
        }
    )
    return True


def pending_events(store_id: str, visitor_id: str) -> list[dict[str, Any]]:
    """The visitor's kept events, oldest first (each {"sk", "event"}: the event's JSON)."""
    return kept_events.kept(visitor_pk(store_id, visitor_id))


def forget_pending_event(store_id: str, visitor_id: str, sort_key: str) -> None:
    kept_events.forget(visitor_pk(store_id, visitor_id), sort_key)


def forget_visitor(store_id: str, visitor_id: str) -> int:
    """Deletes every item of the visitor (an erasure of the contact it is); returns how many."""
    pages = db.query_pages(Key("pk").eq(visitor_pk(store_id, visitor_id)))
    count = 0
    with db.table().batch_writer() as batch:
        for page in pages:
            for item in page:
                batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
                count += 1
    return count
