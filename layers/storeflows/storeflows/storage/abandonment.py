"""Checkouts and carts on their contact, the abandonment cooldown, and cart tokens waiting for
their visitor (storeflows.abandonment decides; this module only reads and writes).

    CONTACT#<store>#<email>     CHECKOUT#<token> | CART#<token>   items, total, currency, recovery_url,
                                                                  started_at, activity_at, completed_at,
                                                                  order_id, subject; expires after 30 days
    CONTACT#<store>#<email>     COOLDOWN#abandonment              subject, until (epoch seconds)
    CARTTOKEN#<store>#<token>   LINK                              the visitor the browser reported the cart for
    CARTTOKEN#<store>#<token>   EVENT#<at>#<event id>             a cart event naming only its token (Shopify)

A checkout or cart item carries its run's subject key (`subject`), so an erasure of the
contact finds and stops its runs; the CARTTOKEN# items hold a visitor id and token-only cart
events (no address), and expire after 30 days."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from storeflows.storage import dynamodb as db
from storeflows.storage import kept_events, keys

# A checkout or cart is kept this long after its last activity: no reminder waits longer.
BASKET_KEPT = timedelta(days=30)
# A cart token's visitor and the cart events waiting for it are kept this long.
CART_TOKEN_KEPT = timedelta(days=30)


def record_basket(
    key: dict[str, str], *, subject: str, at: datetime, content: dict[str, Any], completed_at: datetime | None
) -> dict[str, Any] | None:
    """Writes what a checkout or cart holds now (`content`: items, total, currency,
    recovery_url) with its last activity `at`; returns the item as it is after, or None when
    the item already holds a later activity (deliveries out of order change nothing)."""
    at_iso = db.utc_iso(at)
    values: dict[str, Any] = {
        **db.drop_none(content),
        "activity_at": at_iso,
        "subject": subject,
        keys.EXPIRES_AT: int((at + BASKET_KEPT).timestamp()),
    }
    if completed_at is not None:
        values["completed_at"] = db.utc_iso(completed_at)
    names = {f"#{name}": name for name in [*values, "started_at"]}
    response = db.if_condition_holds(
        db.table().update_item,
        Key=key,
        UpdateExpression="SET "
        + ", ".join(
            [f"#{name} = :{name}" for name in values] + ["#started_at = if_not_exists(#started_at, :activity_at)"]
        ),
        ConditionExpression="attribute_not_exists(#activity_at) OR #activity_at <= :activity_at",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":{name}": value for name, value in values.items()},
        ReturnValues="ALL_NEW",
    )
    return None if response is None else response["Attributes"]


def mark_ordered(key: dict[str, str], *, subject: str, order_id: str, at: datetime) -> None:
    """The checkout or cart became this order. Written even before the checkout itself is
    recorded (an order delivered first), so its later events start no run."""
    db.table().update_item(
        Key=key,
        UpdateExpression="SET #order_id = :order_id, #subject = :subject, #expires = if_not_exists(#expires, :expires)",
        ExpressionAttributeNames={"#order_id": "order_id", "#subject": "subject", "#expires": keys.EXPIRES_AT},
        ExpressionAttributeValues={
            ":order_id": order_id,
            ":subject": subject,
            ":expires": int((at + BASKET_KEPT).timestamp()),
        },
    )


def basket_and_profile(
    basket_key: dict[str, str], store_id: str, email: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The checkout or cart and the contact's profile, in one strongly consistent read."""
    profile_key = keys.contact_key(store_id, email)
    found = db.read_together([basket_key, profile_key])
    return found.get((basket_key["pk"], basket_key["sk"])), found.get((profile_key["pk"], profile_key["sk"]))


def claim_cooldown(store_id: str, email: str, subject: str, *, seconds: int, now: datetime) -> bool:
    """Takes the contact's abandonment cooldown for this subject until now + seconds: only when
    nobody holds it, it has run out, or this subject holds it already (a run's second reminder
    renews it). One conditional write, so two runs due at once cannot both take it."""
    until = int(now.timestamp()) + seconds
    written = db.if_condition_holds(
        db.table().put_item,
        Item={
            **keys.abandonment_cooldown_key(store_id, email),
            "subject": subject,
            "until": until,
            keys.EXPIRES_AT: until,
        },
        ConditionExpression="attribute_not_exists(pk) OR #until <= :now OR #subject = :subject",
        ExpressionAttributeNames={"#until": "until", "#subject": "subject"},
        ExpressionAttributeValues={":now": int(now.timestamp()), ":subject": subject},
    )
    return written is not None


def link_cart_token(store_id: str, token: str, visitor_id: str, *, at: datetime) -> None:
    db.table().put_item(
        Item={
            "pk": keys.cart_token_pk(store_id, token),
            "sk": "LINK",
            "visitor_id": visitor_id,
            keys.EXPIRES_AT: int((at + CART_TOKEN_KEPT).timestamp()),
        }
    )


def cart_token_visitor(store_id: str, token: str) -> str | None:
    item = db.table().get_item(Key={"pk": keys.cart_token_pk(store_id, token), "sk": "LINK"}).get("Item")
    return str(item["visitor_id"]) if item else None


def keep_cart_event(store_id: str, token: str, event_id: str, at: datetime, event_json: str) -> None:
    """Keeps a cart event naming only its token until the browser reports whose it is."""
    kept_events.keep(keys.cart_token_pk(store_id, token), event_id, at, event_json)


def kept_cart_events(store_id: str, token: str) -> list[dict[str, Any]]:
    """The token's kept events, oldest first (each {"sk", "event"}); expired ones left out."""
    return kept_events.kept(keys.cart_token_pk(store_id, token))


def forget_cart_event(store_id: str, token: str, sort_key: str) -> None:
    kept_events.forget(keys.cart_token_pk(store_id, token), sort_key)
