"""Who is interested in which product: the audience of the restock, price and stock flows.

    CONTACT#<store>#<email>   INTEREST#<kind>#<product>#<variant>   when (at), the price seen then,
                                                                    proof, expires_at
    index "interest":         INTEREST#<store>#<product>            <kind>#<at>#<email>

One item per (product or variant, contact, kind), in the contact's partition: a repeat view,
cart or checkout moves its time (never back: a late event changes nothing) and keeps the
price seen then; a back-in-stock request keeps its first time, so those who asked first are
told first. An erasure and a data export find the items with the rest of the contact
(storeflows.privacy). The flows read the other way round, from a product to its contacts:
the table's one global secondary index holds each item under its product, sorted by kind,
then time, then address, so "who asked for this variant, oldest first" and "who viewed this
product in the last 7 days" are one Query each, paged (a restock may have 20,000).

Expiry: the table's TTL deletes an item after the longest window a flow reads (KEPT: 30 days
after the latest view, cart, checkout or wishlisting; REQUEST_KEPT: 90 days after a request,
which fulfil_request ends sooner). TTL is only cleanup: DynamoDB deletes expired items within
about two days, and until then Query and GetItem still return them, so every read here
filters on the item's own time (`since`) and on `expires_at`."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, get_args

from boto3.dynamodb.conditions import Attr, Key

from storeflows.storage import dynamodb as db
from storeflows.storage import keys

InterestKind = Literal["viewed", "carted", "checkout", "wishlisted", "requested"]
KINDS: tuple[InterestKind, ...] = get_args(InterestKind)
# What price_seen reads: the interactions that show the shopper a price (a wishlist may be old).
PRICE_KINDS: tuple[InterestKind, ...] = ("viewed", "carted", "checkout")
KEPT = timedelta(days=30)
REQUEST_KEPT = timedelta(days=90)
# A repeat view (cart, checkout) at the same price within this long leaves the item as it
# is: the flows' windows are days, and a rewrite would move the item in the index too (two
# more write units) on every page of a shopper going back and forth.
REFRESH_AFTER = timedelta(hours=1)
Proof = Literal["store", "email_link", "claimed"]


@dataclass(frozen=True)
class Interest:
    email: str
    kind: InterestKind
    product_id: str
    variant_id: str | None
    # The latest view, cart, checkout or wishlisting; a request's first time.
    at: datetime
    price: Decimal | None
    currency: str | None
    # How sure Storeflows is the address asked (requests): the store's word, a Storeflows
    # email's link, or only what a visitor typed (storeflows.interest caps those).
    proof: Proof = "store"


def _expires(at: datetime, kind: InterestKind) -> int:
    return int((at + (REQUEST_KEPT if kind == "requested" else KEPT)).timestamp())


def _values(
    store_id: str,
    email: str,
    kind: InterestKind,
    product_id: str,
    variant_id: str | None,
    at: datetime,
    price: Decimal | None,
    currency: str | None,
    proof: Proof | None,
) -> dict[str, Any]:
    when = db.utc_iso(at)
    return db.drop_none(
        {
            **keys.interest_index_key(store_id, email, kind, product_id, when),
            "email": email,
            "kind": kind,
            "product_id": product_id,
            "variant_id": variant_id,
            "at": when,
            "price": price,
            "currency": currency,
            "proof": proof,
            keys.EXPIRES_AT: _expires(at, kind),
        }
    )


def record_interest(
    store_id: str,
    email: str,
    *,
    product_id: str,
    variant_id: str | None,
    kind: InterestKind,
    at: datetime,
    price: Decimal | None,
    currency: str | None,
) -> bool:
    """The contact viewed, carted, started a checkout with or wishlisted the product at `at`,
    seeing `price`: one conditional PutItem. False when the item already says a later time (a
    late event), or the same price less than REFRESH_AFTER before, and is not expired."""
    if kind == "requested":
        raise ValueError("a back-in-stock request is recorded by record_request")
    item = {
        **keys.interest_key(store_id, email, kind, product_id, variant_id),
        # Only requests say who asked.
        **_values(store_id, email, kind, product_id, variant_id, at, price, currency, None),
    }
    condition = "attribute_not_exists(#at) OR #at < :stale OR expires_at < :now"
    values: dict[str, Any] = {
        ":stale": db.utc_iso(at - REFRESH_AFTER),
        ":now": int(db.now().timestamp()),
    }
    if price is not None:
        # A new price is news at once (the price-drop flow compares with the latest seen).
        condition += " OR (#at < :at AND (attribute_not_exists(price) OR price <> :price))"
        values.update({":at": item["at"], ":price": price})
    return (
        db.if_condition_holds(
            db.table().put_item,
            Item=item,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#at": "at"},
            ExpressionAttributeValues=values,
        )
        is not None
    )


def record_request(
    store_id: str,
    email: str,
    *,
    product_id: str,
    variant_id: str | None,
    at: datetime,
    price: Decimal | None = None,
    currency: str | None = None,
    proof: Proof = "store",
) -> bool:
    """The contact asked to be told when the variant is back in stock. True when this is a new
    request: none was open (never asked, or the last one was fulfilled before `at`, or has
    expired); an open request keeps its first time and place in the queue."""
    item = {
        **keys.interest_key(store_id, email, "requested", product_id, variant_id),
        **_values(store_id, email, "requested", product_id, variant_id, at, price, currency, proof),
    }
    return (
        db.if_condition_holds(
            db.table().put_item,
            Item=item,
            ConditionExpression="attribute_not_exists(pk) OR fulfilled_at < :at OR expires_at < :now",
            ExpressionAttributeValues={":at": item["at"], ":now": int(db.now().timestamp())},
        )
        is not None
    )


def fulfil_request(store_id: str, email: str, *, product_id: str, variant_id: str | None, at: datetime) -> bool:
    """The contact was told the variant is back: the request leaves the index (nobody is told
    twice) and stays, marked, until its expiry, so a redelivered old request does not come back.
    False when there was no open request."""
    return (
        db.if_condition_holds(
            db.table().update_item,
            Key=keys.interest_key(store_id, email, "requested", product_id, variant_id),
            UpdateExpression="SET fulfilled_at = :at REMOVE interest_pk, interest_sk",
            ConditionExpression="attribute_exists(interest_pk)",
            ExpressionAttributeValues={":at": db.utc_iso(at)},
        )
        is not None
    )


def open_requests(store_id: str, email: str, *, proof: Proof | None = None) -> list[Interest]:
    """The contact's open back-in-stock requests (of one proof, if given): one Query of the
    contact's partition."""
    condition = Key("pk").eq(keys.contact_pk(store_id, email)) & Key("sk").begins_with(
        f"{keys.INTEREST_PREFIX}requested#"
    )
    now = int(db.now().timestamp())
    return [
        _interest(item)
        for page in db.query_pages(condition, ConsistentRead=True)
        for item in page
        if "interest_pk" in item and item[keys.EXPIRES_AT] > now and (proof is None or item.get("proof") == proof)
    ]


def interested_in(
    store_id: str,
    *,
    product_id: str,
    variant_id: str | None = None,
    kinds: tuple[InterestKind, ...] | list[InterestKind],
    since: datetime,
    cursor: str | None = None,
    limit: int = 100,
) -> tuple[list[Interest], str | None]:
    """The contacts interested in the product (or only in its variant) in these ways since
    `since`: kind by kind in the order given, each oldest first (requests: the first to ask
    first). At most `limit` a call; the cursor returned (None at the end) gives the next page.
    A contact interested in several ways appears once per kind: the caller chooses."""
    if not kinds or any(kind not in KINDS for kind in kinds):
        raise ValueError(f"kinds must be some of {', '.join(KINDS)}")
    position, start_key = _decode(cursor) if cursor else (0, None)
    found: list[Interest] = []
    since_iso = db.utc_iso(since)
    filters = Attr(keys.EXPIRES_AT).gt(int(db.now().timestamp()))
    if variant_id is not None:
        # Variants share the product's partition: another variant's items are read and left.
        filters = filters & Attr("variant_id").eq(variant_id)
    partition = keys.interest_index_key(store_id, "", "", product_id, "")["interest_pk"]
    while position < len(kinds) and len(found) < limit:
        low, high = keys.interest_index_range(kinds[position], since_iso)
        arguments: dict[str, Any] = {
            "IndexName": keys.INTEREST_INDEX,
            "KeyConditionExpression": Key("interest_pk").eq(partition) & Key("interest_sk").between(low, high),
            "FilterExpression": filters,
            # Never read past what this page returns: the cursor resumes right after it.
            "Limit": limit - len(found),
        }
        if start_key is not None:
            arguments["ExclusiveStartKey"] = start_key
        response = db.table().query(**arguments)
        found.extend(_interest(item) for item in response["Items"])
        start_key = response.get("LastEvaluatedKey")
        if start_key is None:
            position += 1
    more = position < len(kinds)
    return found, _encode(position, start_key) if more else None


def price_seen(store_id: str, email: str, *, product_id: str, variant_id: str | None) -> Interest | None:
    """The contact's latest view, cart or checkout of the variant that showed a price (one
    BatchGetItem), or None."""
    wanted = [keys.interest_key(store_id, email, kind, product_id, variant_id) for kind in PRICE_KINDS]
    now = int(db.now().timestamp())
    seen = [
        _interest(item)
        for item in db.read_together(wanted).values()
        if item.get("price") is not None and item[keys.EXPIRES_AT] > now
    ]
    return max(seen, key=lambda interest: interest.at, default=None)


def _interest(item: dict[str, Any]) -> Interest:
    return Interest(
        email=item["email"],
        kind=item["kind"],
        product_id=item["product_id"],
        variant_id=item.get("variant_id"),
        at=datetime.fromisoformat(item["at"]),
        price=item.get("price"),
        currency=item.get("currency"),
        proof=item.get("proof", "store"),
    )


def _encode(position: int, start_key: dict[str, Any] | None) -> str:
    return base64.urlsafe_b64encode(json.dumps([position, start_key]).encode()).decode()


def _decode(cursor: str) -> tuple[int, dict[str, Any] | None]:
    try:
        position, start_key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as error:
        raise ValueError("not a cursor interested_in returned") from error
    return int(position), start_key
