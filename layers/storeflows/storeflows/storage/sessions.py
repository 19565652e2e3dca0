"""A contact's site sessions (storeflows.sessions decides what goes in them).

    CONTACT#<store>#<email>   SESSION             the current session: started_at, last_activity,
                                                  pages, categories, searches, clicked queries,
                                                  last_carted_at (kept across sessions), decided
    CONTACT#<store>#<email>   VIEWED#<product>    a product the contact viewed, and when last
    PRODUCT#<store>#<id>      PRODUCT             a product as the storefront last showed it (what a
                                                  search's results are shown with)

Every write to SESSION adds one to its `version`; the writes that depend on what was read
(a new session replacing an ended one, a late event, the decision) are conditional on it, so
two events racing never both win. A page view is one UpdateItem (the common case: the
session goes on), conditional on the event being newer than the last activity and within
the session timeout; only when that fails is the session read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from storeflows.storage import dynamodb as db
from storeflows.storage import keys

# Sessions and viewed products are history after this (the table's TTL removes them).
KEPT = timedelta(days=30)
# What a stored search keeps of its results (a message shows a few).
MAX_SEARCH_RESULTS_KEPT = 12


@dataclass(frozen=True)
class Change:
    """What one event adds to its session."""

    event_id: str
    at: datetime
    page: bool = False
    # (key, {category_id, name, url})
    category: tuple[str, dict[str, Any]] | None = None
    # (key, {query, results, at}) and whether a result was followed
    search: tuple[str, dict[str, Any]] | None = None
    clicked: bool = False


def clock() -> datetime:
    return db.now()


def _expires(at: datetime) -> int:
    return int((at + KEPT).timestamp())


def _set_parts(change: Change) -> tuple[list[str], list[str], dict[str, str], dict[str, Any]]:
    sets = ["last_event = :event", "expires_at = :expires"]
    adds = ["version :one"]
    names: dict[str, str] = {}
    values: dict[str, Any] = {
        ":event": change.event_id,
        ":expires": _expires(change.at),
        ":one": 1,
    }
    if change.page:
        adds.append("pages :one")
    if change.category is not None:
        sets.append("categories.#category = :category")
        names["#category"] = change.category[0]
        values[":category"] = change.category[1]
    if change.search is not None:
        sets.append("searches.#query = :search")
        names["#query"] = change.search[0]
        values[":search"] = change.search[1]
        if change.clicked:
            adds.append("clicked_queries :clicked")
            values[":clicked"] = {change.search[0]}
    return sets, adds, names, values


def extend(store_id: str, email: str, change: Change, timeout: timedelta) -> bool:
    """The event goes on the current session: it is no older than the last activity, within
    the timeout of it, and not the last event again (a redelivery). False: read and decide."""
    sets, adds, names, values = _set_parts(change)
    sets.append("last_activity = :at")
    values.update({":at": db.utc_iso(change.at), ":gap_start": db.utc_iso(change.at - timeout)})
    update: dict[str, Any] = {
        "Key": keys.session_key(store_id, email),
        "UpdateExpression": f"SET {', '.join(sets)} ADD {', '.join(adds)}",
        "ConditionExpression": (
            "attribute_exists(session_id) AND last_activity <= :at AND last_activity >= :gap_start"
            " AND last_event <> :event"
        ),
        "ExpressionAttributeValues": values,
    }
    if names:
        update["ExpressionAttributeNames"] = names
    return db.if_condition_holds(db.table().update_item, **update) is not None


def extend_late(store_id: str, email: str, session: dict[str, Any], change: Change) -> bool:
    """A late event inside the current session (it happened before the last activity): it
    counts, moving the start back if it is earlier; the last activity stays."""
    sets, adds, names, values = _set_parts(change)
    if db.utc_iso(change.at) < session["started_at"]:
        sets.append("started_at = :at")
        values[":at"] = db.utc_iso(change.at)
    values[":version"] = session["version"]
    update: dict[str, Any] = {
        "Key": keys.session_key(store_id, email),
        "UpdateExpression": f"SET {', '.join(sets)} ADD {', '.join(adds)}",
        "ConditionExpression": "version = :version",
        "ExpressionAttributeValues": values,
    }
    if names:
        update["ExpressionAttributeNames"] = names
    return db.if_condition_holds(db.table().update_item, **update) is not None


def current(store_id: str, email: str) -> dict[str, Any] | None:
    item = db.table().get_item(Key=keys.session_key(store_id, email), ConsistentRead=True).get("Item")
    return db.without_keys(item) if item else None


def start(
    store_id: str,
    email: str,
    session_id: str,
    change: Change,
    *,
    watched: bool,
    previous: dict[str, Any] | None,
) -> bool:
    """A new session from this event, replacing `previous` (the item as read: an ended
    session, or only the last cart time) unless it changed meanwhile. The last cart time
    carries over: it says whether the contact carted after an earlier session."""
    at = db.utc_iso(change.at)
    item: dict[str, Any] = {
        **keys.session_key(store_id, email),
        "session_id": session_id,
        "started_at": at,
        "last_activity": at,
        "last_event": change.event_id,
        "started_by": change.event_id,
        "pages": 1 if change.page else 0,
        "categories": dict([change.category]) if change.category else {},
        "searches": dict([change.search]) if change.search else {},
        "watched": watched,
        "version": int((previous or {}).get("version", 0)) + 1,
        "expires_at": _expires(change.at),
    }
    if change.search is not None and change.clicked:
        item["clicked_queries"] = {change.search[0]}
    if previous and previous.get("last_carted_at"):
        item["last_carted_at"] = previous["last_carted_at"]
    if previous is None:
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
    else:
        condition = {
            "ConditionExpression": "version = :version",
            "ExpressionAttributeValues": {":version": previous["version"]},
        }
    return db.if_condition_holds(db.table().put_item, Item=item, **condition) is not None


def mark_decided(store_id: str, email: str, session: dict[str, Any], decision: str) -> bool:
    """The session's one decision, made once: only if nothing changed since it was read."""
    response = db.if_condition_holds(
        db.table().update_item,
        Key=keys.session_key(store_id, email),
        UpdateExpression="SET decided = :decision ADD version :one",
        ConditionExpression="version = :version AND attribute_not_exists(decided)",
        ExpressionAttributeValues={":decision": decision, ":version": session["version"], ":one": 1},
    )
    return response is not None


def note_cart(store_id: str, email: str, at: datetime) -> None:
    """The contact put something in the cart (or changed it) at `at`: the session is carted,
    and a session run waiting to send sees it. A late cart event never moves it back."""
    db.if_condition_holds(
        db.table().update_item,
        Key=keys.session_key(store_id, email),
        UpdateExpression="SET last_carted_at = :at ADD version :one",
        ConditionExpression="attribute_not_exists(last_carted_at) OR last_carted_at < :at",
        ExpressionAttributeValues={":at": db.utc_iso(at), ":one": 1},
    )


def view_product(store_id: str, email: str, identity: str, product: dict[str, Any], at: datetime) -> None:
    """The contact viewed the product at `at` (one item per product: a second view moves its
    time, never back)."""
    db.if_condition_holds(
        db.table().put_item,
        Item={
            **keys.viewed_product_key(store_id, email, identity),
            "product": product,
            "viewed_at": db.utc_iso(at),
            "expires_at": _expires(at),
        },
        ConditionExpression="attribute_not_exists(viewed_at) OR viewed_at < :at",
        ExpressionAttributeValues={":at": db.utc_iso(at)},
    )
    if product.get("product_id"):
        # What a later search's results are shown with.
        db.table().put_item(Item={**keys.catalogue_product_key(store_id, product["product_id"]), "product": product})


def viewed_between(store_id: str, email: str, start: str, end: str) -> list[dict[str, Any]]:
    """The products the contact viewed from `start` to `end` (ISO times), latest first."""
    condition = Key("pk").eq(keys.contact_pk(store_id, email)) & Key("sk").begins_with(keys.VIEWED_PREFIX)
    found = [
        item
        for page in db.query_pages(condition, ConsistentRead=True)
        for item in page
        if start <= item["viewed_at"] <= end
    ]
    return [item["product"] for item in sorted(found, key=lambda item: item["viewed_at"], reverse=True)]


def catalogue(store_id: str, product_ids: list[str]) -> list[dict[str, Any]]:
    """The products of these ids the storefront has shown, in the given order."""
    wanted = [keys.catalogue_product_key(store_id, product_id) for product_id in dict.fromkeys(product_ids)]
    if not wanted:
        return []
    found = db.read_together(wanted)
    return [found[(key["pk"], key["sk"])]["product"] for key in wanted if (key["pk"], key["sk"]) in found]
