"""POST /collect/{store_id}: what the store's own pages send — the browser snippet
(GET /sdk/storeflows.js) and the Shopify custom pixel.

The browser holds no secret, so nothing it sends is the store's word: the request names the
store's public key (`pk_…`, readable by anyone) and comes from a page whose Origin the store
allowed; it may carry only behavioural event types (storeflows.events.BROWSER_EVENT_TYPES:
never a purchase, a consent statement, a confirmed subscription or a privacy request); an
email it names is only a claim (identity_proof "claimed"), unless an `identify` hands in the
signed contact token of a Storeflows email's link (messaging.contact_links: "email_link",
naming the contact the token was made for, whatever else the page says).

    {"key": "pk_…", "visitor_id": "v_…", "consent": true,
     "events": [{"id": "<the page's id for the event>", "type": "product_viewed", ...}, ...]}

as JSON or text/plain (navigator.sendBeacon sends text/plain, which needs no CORS
preflight), at most 16 KiB and MAX_EVENTS_PER_REQUEST events. Each event's id is the page's
own, so the queued event id `browser:<visitor>:<id>` is the same when a beacon is sent again,
and the dispatcher counts it once. A refused request (any 4xx) writes and queues nothing. An
identify whose token is altered, expired or another store's is dropped alone, and the answer
says so; the rest of the batch is accepted."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field

from storeflows.aws import client
from storeflows.config import require
from storeflows.errors import (
    ConsentRequired,
    InvalidPayload,
    InvalidPublicKey,
    OriginNotAllowed,
    PayloadTooLarge,
    StoreflowsError,
    TooManyRequests,
    UnknownStore,
    UnsupportedMediaType,
)
from storeflows.events import BROWSER_EVENT_TYPES, StoreEvent
from storeflows.events.common import GivenVisitorId, ValueObject
from storeflows.intake.common import parse_json, require_object, validate
from storeflows.messaging import contact_links
from storeflows.observability import logger
from storeflows.records import Store
from storeflows.storage import browser, stores

MAX_BODY_BYTES = 16 * 1024
MAX_EVENTS_PER_REQUEST = 20
# What one visitor's browser may send in a minute: a person browsing fast sends a few dozen.
VISITOR_EVENTS_PER_MINUTE = 120
PREFLIGHT_MAX_AGE_SECONDS = 86400
_MEDIA_TYPES = ("application/json", "text/plain")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SQS_BATCH_SIZE = 10
_MAX_ECHOED = 64


class _Batch(ValueObject):
    key: str
    visitor_id: GivenVisitorId
    consent: bool | None = None
    events: list[Any] = Field(min_length=1, max_length=MAX_EVENTS_PER_REQUEST)


@dataclass(frozen=True)
class Collected:
    """What POST /collect answers: the ids of the events queued, the events dropped (by the
    page's id, with the reason) and the CORS headers of the answer."""

    event_ids: list[str]
    dropped: list[dict[str, str]]
    headers: dict[str, str]


def cors_headers(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def preflight(store_id: str, origin: str | None) -> dict[str, str]:
    """The answer headers of a CORS preflight (OPTIONS), for an allowed origin only."""
    _, allowed = _store_and_origin(store_id, origin)
    return {
        **cors_headers(allowed),
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "content-type",
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
    }


def collect(store_id: str, headers: Mapping[str, str], raw_body: bytes, *, now: datetime | None = None) -> Collected:
    """Checks the request and puts its events on the event queue (SendMessageBatch)."""
    store, origin = _store_and_origin(store_id, headers.get("origin"))
    answer_headers = cors_headers(origin)
    moment = now or datetime.now(UTC)
    try:
        visitor_id, events, dropped = _events(store, headers.get("content-type"), raw_body, moment)
        if events:
            _count_for_visitor(store, visitor_id, events, moment)
            _queue(events)
    except StoreflowsError as error:
        # The page may read why (its origin is allowed).
        error.answer_headers.update(answer_headers)
        raise
    logger.info(
        "browser events accepted", extra={"store_id": store.store_id, "accepted": len(events), "dropped": len(dropped)}
    )
    return Collected([event.event_id for event in events], dropped, answer_headers)


def _store_and_origin(store_id: str, origin: str | None) -> tuple[Store, str]:
    store = stores.get_store(store_id)
    if store is None:
        raise UnknownStore(f"no store {store_id}")
    if store.browser is None:
        raise UnknownStore(f"store {store_id} takes no browser events (storeflows stores browser {store_id})")
    if origin is None or origin not in store.browser.allowed_origins:
        shown = "no Origin header" if origin is None else f"origin {origin[:200]}"
        raise OriginNotAllowed(
            f"{shown} is not allowed for store {store_id} (storeflows stores browser {store_id} --allow-origin ...)"
        )
    return store, origin


def _events(
    store: Store, content_type: str | None, raw_body: bytes, now: datetime
) -> tuple[str, list[StoreEvent], list[dict[str, str]]]:
    """(the request's visitor, its events to queue, those dropped)."""
    assert store.browser is not None
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in _MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type must be application/json or text/plain, got {media_type or 'nothing'}"
        )
    if len(raw_body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {len(raw_body)} bytes; the limit is {MAX_BODY_BYTES}")
    batch = validate(_Batch, require_object(parse_json(raw_body)))
    if batch.key != store.browser.public_key:
        raise InvalidPublicKey(f"key is not store {store.store_id}'s public key")
    if store.browser.consent_required and batch.consent is not True:
        raise ConsentRequired(
            f'store {store.store_id} needs the visitor\'s consent first: send "consent": true once it is given'
        )
    events: dict[str, StoreEvent] = {}
    dropped: list[dict[str, str]] = []
    for index, raw in enumerate(batch.events):
        client_id, event = _event(store, batch.visitor_id, index, raw, now)
        if event is None:
            dropped.append({"id": client_id, "reason": "invalid_token"})
        else:
            # A page sending one event twice in a batch (a retried push) queues it once.
            events.setdefault(event.event_id, event)
    return batch.visitor_id, list(events.values()), dropped


def _event(store: Store, visitor_id: str, index: int, raw: Any, now: datetime) -> tuple[str, StoreEvent | None]:
    """(the page's id, the event to queue), or None for an identify whose token does not hold."""
    where = f"events[{index}]"
    if not isinstance(raw, dict):
        raise InvalidPayload(f"{where}: must be an object")
    client_id = raw.get("id")
    if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
        raise InvalidPayload(f"{where}.id: the page's id of the event, 1 to 64 letters, digits, _ or -")
    event_type = raw.get("type")
    if not isinstance(event_type, str) or event_type not in BROWSER_EVENT_TYPES:
        shown = f'"{event_type[:_MAX_ECHOED]}"' if isinstance(event_type, str) else "missing"
        raise InvalidPayload(
            f"{where}.type: {shown} is not accepted from the browser (purchases, consent, confirmed "
            f"subscriptions and privacy requests come from the store's signed API or webhooks); "
            f"accepted here: {', '.join(BROWSER_EVENT_TYPES)}"
        )
    body = {name: value for name, value in raw.items() if name not in ("id", "token")}
    # The request's visitor, whatever an event says: a page speaks for its own browser only.
    body["visitor_id"] = visitor_id
    body.setdefault("occurred_at", now.isoformat())
    proof: Literal["email_link", "claimed"] = "claimed"
    token = raw.get("token")
    if event_type == "identify" and token is not None:
        email = _email_of_token(store, token, now)
        if email is None:
            return client_id, None
        # The contact the token was made for, never an address the page adds.
        body["customer"] = {"email": email}
        proof = "email_link"
    customer = body.get("customer")
    if isinstance(customer, dict) and proof == "claimed":
        # The page may claim an address, nothing about it: a consent checkbox, a name or a
        # language the page says would otherwise change a contact nobody proved it is.
        body["customer"] = {"email": customer.get("email")}
    try:
        parsed = validate(BROWSER_EVENT_TYPES[event_type], body)
    except InvalidPayload as err:
        raise InvalidPayload(f"{where}: {err.detail}") from None
    for path, link in _links(parsed.model_dump(mode="json")):
        # Links end up in the store's emails (a product, the cart's recovery link): a page
        # may only name the store's own site, or an email could send its reader anywhere.
        if _origin_of(link) not in store.browser.allowed_origins:  # type: ignore[union-attr]
            raise InvalidPayload(f"{where}.{path}: {link[:200]} is not on the store's own site (its allowed origins)")
    return client_id, StoreEvent(
        store_id=store.store_id,
        event_id=f"browser:{visitor_id}:{client_id}",
        source="browser",
        received_at=now,
        event=parsed,
        attribution=store.attribution,
        identity_proof=proof,
    )


# Fields of a browser event that become links in emails (image_url is only shown).
_LINK_FIELDS = frozenset({"url", "recovery_url"})


def _links(value: Any, path: str = "") -> list[tuple[str, str]]:
    """(field path, URL) of every link field in an event's fields."""
    if isinstance(value, dict):
        found = []
        for name, inner in value.items():
            inner_path = f"{path}.{name}" if path else name
            if name in _LINK_FIELDS and isinstance(inner, str):
                found.append((inner_path, inner))
            else:
                found.extend(_links(inner, inner_path))
        return found
    if isinstance(value, list):
        return [link for index, inner in enumerate(value) for link in _links(inner, f"{path}[{index}]")]
    return []


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    port = parts.port
    return f"{parts.scheme}://{(parts.hostname or '').lower()}" + (
        f":{port}" if port not in (None, default_port) else ""
    )


def _email_of_token(store: Store, token: Any, now: datetime) -> str | None:
    if not isinstance(token, str):
        return None
    verified = contact_links.verify_token(store, token, now=now)
    if verified is None:
        logger.info("contact token refused", extra={"store_id": store.store_id})
        return None
    return browser.contact_of_link(store.store_id, verified.ref)


def _count_for_visitor(store: Store, visitor_id: str, events: list[StoreEvent], now: datetime) -> None:
    if not browser.count_visitor_events(
        store.store_id, visitor_id, len(events), limit=VISITOR_EVENTS_PER_MINUTE, at=now
    ):
        retry_after = max(1, math.ceil(60 - now.second - now.microsecond / 1e6))
        error = TooManyRequests(
            f"at most {VISITOR_EVENTS_PER_MINUTE} events per visitor per minute; retry in {retry_after} s",
            retry_after=retry_after,
        )
        error.answer_headers["Retry-After"] = str(retry_after)
        raise error


def _queue(events: list[StoreEvent]) -> None:
    """SendMessageBatch, ten at a time; an entry SQS fails is sent once more, then the request
    fails (5xx: the page's next beacon sends it again, under the same event id)."""
    sqs = client("sqs")
    queue_url = require("event_queue_url")
    for start in range(0, len(events), _SQS_BATCH_SIZE):
        entries = [
            {"Id": str(number), "MessageBody": event.model_dump_json(exclude_none=True)}
            for number, event in enumerate(events[start : start + _SQS_BATCH_SIZE])
        ]
        for _attempt in range(2):
            failed = {
                item["Id"] for item in sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
            }
            entries = [entry for entry in entries if entry["Id"] in failed]
            if not entries:
                break
        if entries:
            raise RuntimeError(f"SQS did not take {len(entries)} browser events")
