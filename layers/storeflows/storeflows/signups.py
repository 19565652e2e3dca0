"""Double opt-in: a sign-up from the browser (`subscription_requested`) sends the address a
transactional confirmation email; following its link puts a `subscribed` event on the event
queue, which records the consent (with the words the person agreed to) and starts the
welcome series. Nobody can subscribe someone else's address.

- The link carries `base64url({"s": store, "r": request id, "x": expiry}).signature`, signed
  with the store's key (the unsubscribe links' key, under another label, so neither kind of
  token passes for the other). The request id is opaque (an HMAC of the event id), and the
  address stays in DynamoDB under it, until the link expires (7 days) — never in the URL.
- An address gets at most one confirmation per 10 minutes (atomic: a form submitted in a
  loop mails nobody twice); none when it is suppressed (bounced, complained) or was erased
  with one of those or an unsubscribe; none when it is already subscribed.
- Confirming twice is one subscription: the request keeps its first confirmation time, so
  each confirmation queues the very same `subscribed` event (same id), which the
  dispatcher records once and whose run Step Functions starts once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from storeflows.aws import client
from storeflows.config import require
from storeflows.errors import StoreflowsError
from storeflows.events import StoreEvent
from storeflows.events.common import Customer
from storeflows.events.subscription import SubscribedEvent
from storeflows.events.subscription_request import SubscriptionRequestedEvent
from storeflows.observability import logger
from storeflows.records import Contact, is_store_id
from storeflows.storage import contacts, privacy, signups, stores
from storeflows.storage.signups import Claim, SignupRequest

LINK_DAYS = 7
MIN_INTERVAL_SECONDS = 600  # one confirmation per address per 10 minutes
_LABEL = b"storeflows-signup-confirmation\x1f"
_MAX_TOKEN_LENGTH = 1024
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class ConfirmLinkRefused(StoreflowsError):
    """A confirmation link that cannot confirm anything; `status` is the HTTP answer."""

    status = 400
    code = "invalid_link"


class ConfirmLinkExpired(ConfirmLinkRefused):
    status = 410
    code = "link_expired"


class ConfirmLinkUnknown(ConfirmLinkRefused):
    status = 404
    code = "unknown_request"


# --- the request ---------------------------------------------------------------------------------


def request_subscription(event: StoreEvent, body: SubscriptionRequestedEvent) -> dict[str, Any]:
    """Sends the confirmation email, if the address may get one now; the outcome names why
    not otherwise (`confirmation`: sent, already_sent, too_soon, already_subscribed,
    suppressed, no_sender)."""
    email = body.customer.email
    outcome = _why_not(event.store_id, email)
    if outcome is None:
        outcome = _send(event, body)
    logger.info(
        "subscription requested",
        extra={"store_id": event.store_id, "event_id": event.event_id, "confirmation": outcome},
    )
    return {"event_id": event.event_id, "confirmation": outcome}


def _why_not(store_id: str, email: str) -> str | None:
    contact = contacts.get_contact(store_id, email)
    if contact is not None:
        if contact.suppressed_reason:
            return "suppressed"
        if contact.unsubscribed_at is None and contact.consent is not None and contact.consent.marketing:
            return "already_subscribed"
        return None
    # An erased address keeps what blocked email to it (records.Suppression): a bounced or
    # complaining address gets nothing, whatever form it is typed into.
    erased = privacy.get_suppression(store_id, email)
    if erased is not None and erased.suppressed_reason:
        return "suppressed"
    return None


def _send(event: StoreEvent, body: SubscriptionRequestedEvent) -> str:
    # Imported here: Jinja2 and MIME stay out of the dispatcher's cold start, which most
    # events never need them for.
    from storeflows.messaging import confirmation

    store = stores.get_store(event.store_id)
    message = confirmation.confirmation_message(event.store_id)
    if store is None or message is None:
        return "no_sender"
    email = body.customer.email
    request_id = _request_id(store.unsubscribe_key, event.event_id)
    claim = signups.claim_confirmation(
        event.store_id,
        email,
        event_id=event.event_id,
        request_id=request_id,
        now=datetime.now(UTC),
        min_interval_seconds=MIN_INTERVAL_SECONDS,
    )
    if claim is Claim.TOO_SOON:
        return "too_soon"
    if claim is Claim.SENT:
        return "already_sent"
    requested = event.received_at.astimezone(UTC)
    expires = int((requested + timedelta(days=LINK_DAYS)).timestamp())
    signups.put_request(
        SignupRequest(
            store_id=event.store_id,
            request_id=request_id,
            email=email,
            source=body.source,
            consent_text=body.consent_text,
            language=body.customer.language,
            first_name=body.customer.first_name,
            requested_at=requested.isoformat(),
            expires_at=expires,
        )
    )
    link = confirm_url(
        require("public_api_url"), make_token(store.unsubscribe_key, event.store_id, request_id, expires)
    )
    person = Contact(
        store_id=event.store_id, email=email, first_name=body.customer.first_name, language=body.customer.language
    )
    confirmation.send_confirmation(store, message, person, link, LINK_DAYS)
    signups.mark_sent(event.store_id, email, event.event_id)
    return "sent"


def _request_id(key: str, event_id: str) -> str:
    """Opaque, and the same for a redelivery of the event."""
    digest = hmac.new(key.encode("utf-8"), _LABEL + event_id.encode("utf-8"), hashlib.sha256).digest()
    return _b64(digest[:18])


# --- the link --------------------------------------------------------------------------------------


def make_token(key: str, store_id: str, request_id: str, expires_at: int) -> str:
    payload = json.dumps({"s": store_id, "r": request_id, "x": expires_at}, separators=(",", ":"))
    body = _b64(payload.encode("utf-8"))
    return f"{body}.{_signature(key, body)}"


def confirm_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/subscriptions/confirm?token={token}"


@dataclass(frozen=True)
class LinkTarget:
    store_id: str
    request_id: str
    expires_at: int
    store_name: str


def read_link(token: str, *, now: datetime | None = None) -> LinkTarget:
    """What a confirmation link names, verified; raises ConfirmLinkRefused (malformed,
    tampered, foreign), ConfirmLinkExpired. Reads the store only."""
    if len(token) > _MAX_TOKEN_LENGTH or not _TOKEN_SHAPE.fullmatch(token):
        raise ConfirmLinkRefused("this confirmation link is incomplete or malformed")
    body, signature = token.split(".")
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, RecursionError):
        raise ConfirmLinkRefused("this confirmation link is incomplete or malformed") from None
    if (
        not isinstance(data, dict)
        or data.keys() != {"s", "r", "x"}
        or not isinstance(data["s"], str)
        or not isinstance(data["r"], str)
        or not isinstance(data["x"], int)
    ):
        raise ConfirmLinkRefused("this confirmation link is incomplete or malformed")
    store = stores.get_store(data["s"]) if is_store_id(data["s"]) else None
    if store is None or not hmac.compare_digest(signature, _signature(store.unsubscribe_key, body)):
        raise ConfirmLinkRefused("this confirmation link was altered, or is not from this shop")
    if (now or datetime.now(UTC)).timestamp() > data["x"]:
        raise ConfirmLinkExpired(f"this confirmation link has expired (links work for {LINK_DAYS} days): sign up again")
    return LinkTarget(data["s"], data["r"], data["x"], store.name or store.store_id)


def pending_request(target: LinkTarget) -> SignupRequest:
    request = signups.get_request(target.store_id, target.request_id)
    if request is None:
        raise ConfirmLinkUnknown("this sign-up is no longer waiting for confirmation: sign up again")
    return request


def confirm(target: LinkTarget) -> tuple[SignupRequest, bool]:
    """Confirms the sign-up: the `subscribed` event goes on the event queue (the same event
    however often this is called). (the request, whether it was confirmed before)."""
    now = datetime.now(UTC).isoformat()
    request = signups.confirm_request(target.store_id, target.request_id, now)
    if request is None:
        raise ConfirmLinkUnknown("this sign-up is no longer waiting for confirmation: sign up again")
    again = request.confirmed_at != now
    confirmed_at = datetime.fromisoformat(request.confirmed_at or now)
    event = StoreEvent(
        store_id=request.store_id,
        event_id=f"signup:{request.request_id}",
        source="browser",
        received_at=confirmed_at,
        event=SubscribedEvent(
            type="subscribed",
            occurred_at=confirmed_at,
            customer=Customer(email=request.email, first_name=request.first_name, language=request.language),
            consent_text=request.consent_text,
            source=request.source,
        ),
    )
    # Queued again on a second confirmation: if the first one's message was lost between the
    # write above and this send, the second still subscribes; a duplicate changes nothing.
    client("sqs").send_message(
        QueueUrl=require("event_queue_url"), MessageBody=event.model_dump_json(exclude_none=True)
    )
    logger.info(
        "subscription confirmed", extra={"store_id": request.store_id, "event_id": event.event_id, "again": again}
    )
    return request, again


def _signature(key: str, body: str) -> str:
    return _b64(hmac.new(key.encode("utf-8"), _LABEL + body.encode("ascii"), hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
