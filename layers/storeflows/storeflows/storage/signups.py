"""Sign-ups waiting for their confirmation (double opt-in, storeflows.signups).

Two items: the request, under the opaque id its link carries (SIGNUPREQUEST#, expiring with
the link), and on the contact's partition the address's latest confirmation email (SIGNUP),
which spaces confirmations out and lets an erasure find the request."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storeflows.storage import dynamodb as db
from storeflows.storage import keys


@dataclass(frozen=True)
class SignupRequest:
    """One sign-up to confirm: who, with which words, from where, until when."""

    store_id: str
    request_id: str
    email: str
    source: str
    consent_text: str | None
    language: str | None
    first_name: str | None
    requested_at: str
    expires_at: int  # unix seconds: the link's end, and the item's TTL
    confirmed_at: str | None = None


class Claim(str, enum.Enum):
    """What claim_confirmation found."""

    SEND = "send"  # this request's email may go out now
    TOO_SOON = "too_soon"  # another request's email went to the address less than the interval ago
    SENT = "sent"  # this very event's email went out already (a redelivery)


def claim_confirmation(
    store_id: str, email: str, *, event_id: str, request_id: str, now: datetime, min_interval_seconds: int
) -> Claim:
    """Claims the address's next confirmation email, atomically: at most one per
    `min_interval_seconds` (of two requests in the same second, one gets the email). The
    same event delivered again gets its claim back, and learns whether its email went."""
    at = int(now.timestamp())
    response = db.if_condition_holds(
        db.table().update_item,
        Key=keys.signup_key(store_id, email),
        UpdateExpression="SET sent_at = :at, request_id = :request, event_id = :event REMOVE email_sent",
        ConditionExpression="attribute_not_exists(sent_at) OR sent_at <= :cutoff OR event_id = :event",
        ExpressionAttributeValues={
            ":at": at,
            ":cutoff": at - min_interval_seconds,
            ":request": request_id,
            ":event": event_id,
        },
        ReturnValues="ALL_OLD",
    )
    if response is None:
        return Claim.TOO_SOON
    previous = response.get("Attributes", {})
    if previous.get("event_id") == event_id and previous.get("email_sent"):
        mark_sent(store_id, email, event_id)
        return Claim.SENT
    return Claim.SEND


def mark_sent(store_id: str, email: str, event_id: str) -> None:
    """The claim's email went out: a redelivery of the event sends it no more."""
    db.if_condition_holds(
        db.table().update_item,
        Key=keys.signup_key(store_id, email),
        UpdateExpression="SET email_sent = :yes",
        ConditionExpression="event_id = :event",
        ExpressionAttributeValues={":yes": True, ":event": event_id},
    )


def put_request(request: SignupRequest) -> None:
    """Keeps the request (its id comes from the event: a redelivery writes the same item)."""
    db.table().put_item(
        Item=db.drop_none(
            {
                **keys.signup_request_key(request.store_id, request.request_id),
                "store_id": request.store_id,
                "email": request.email,
                "source": request.source,
                "consent_text": request.consent_text,
                "language": request.language,
                "first_name": request.first_name,
                "requested_at": request.requested_at,
                keys.EXPIRES_AT: request.expires_at,
            }
        )
    )


def get_request(store_id: str, request_id: str) -> SignupRequest | None:
    item = db.table().get_item(Key=keys.signup_request_key(store_id, request_id), ConsistentRead=True).get("Item")
    return _request(request_id, item) if item else None


def confirm_request(store_id: str, request_id: str, at: str) -> SignupRequest | None:
    """Marks the request confirmed, once: later confirmations keep the first one's time, so
    the `subscribed` event each puts on the queue is the same event. None when there is no
    such request (never made, expired and deleted, or its contact erased)."""
    response = db.if_condition_holds(
        db.table().update_item,
        Key=keys.signup_request_key(store_id, request_id),
        UpdateExpression="SET confirmed_at = if_not_exists(confirmed_at, :at)",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":at": at},
        ReturnValues="ALL_NEW",
    )
    return _request(request_id, response["Attributes"]) if response else None


def delete_request_of(store_id: str, email: str) -> int:
    """Deletes the waiting request of the address (an erasure: it holds the address outside
    the contact's partition); how many items went."""
    item = db.table().get_item(Key=keys.signup_key(store_id, email), ConsistentRead=True).get("Item")
    if not item or "request_id" not in item:
        return 0
    deleted = db.table().delete_item(
        Key=keys.signup_request_key(store_id, str(item["request_id"])), ReturnValues="ALL_OLD"
    )
    return 1 if deleted.get("Attributes") else 0


def _request(request_id: str, item: dict[str, Any]) -> SignupRequest:
    return SignupRequest(
        store_id=str(item["store_id"]),
        request_id=request_id,
        email=str(item["email"]),
        source=str(item["source"]),
        consent_text=item.get("consent_text"),
        language=item.get("language"),
        first_name=item.get("first_name"),
        requested_at=str(item["requested_at"]),
        expires_at=int(item[keys.EXPIRES_AT]),
        confirmed_at=item.get("confirmed_at"),
    )
