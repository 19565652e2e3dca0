"""Events kept until the dispatcher knows whose they are: an anonymous visitor's (until the
visitor is identified, storage.visitors) and a Shopify cart's that names only its token
(until the browser reports the token's visitor, storage.abandonment).

    <partition of the visitor or the cart token>   EVENT#<at>#<event id>   the queue message

Kept 30 days (the table's TTL), then forgotten; handed over oldest first."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from storeflows.storage import dynamodb as db
from storeflows.storage import keys

KEPT = timedelta(days=30)
_PREFIX = "EVENT#"


def keep(pk: str, event_id: str, at: datetime, event_json: str) -> None:
    db.table().put_item(
        Item={
            "pk": pk,
            "sk": f"{_PREFIX}{db.utc_iso(at)}#{event_id}",
            "event": event_json,
            keys.EXPIRES_AT: int((at + KEPT).timestamp()),
        }
    )


def kept(pk: str) -> list[dict[str, Any]]:
    """The partition's kept events, oldest first (each {"sk", "event"}: the event's JSON)."""
    now = int(db.now().timestamp())
    pages = db.query_pages(Key("pk").eq(pk) & Key("sk").begins_with(_PREFIX))
    # TTL deletes late: an expired item may still be there.
    return [item for page in pages for item in page if int(item.get(keys.EXPIRES_AT, now + 1)) > now]


def forget(pk: str, sort_key: str) -> None:
    """Drops a kept event once it was handed over."""
    db.table().delete_item(Key={"pk": pk, "sk": sort_key})
