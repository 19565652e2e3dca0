"""Storeflows' own event API: POST /events/{store_id}, signed per Standard Webhooks, with the
event types of storeflows.events that say `accepted_by_api` (purchase, consent, delivered,
cancelled)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from storeflows.errors import InvalidPayload, UnknownStore
from storeflows.events import API_EVENT_TYPES, EventBody
from storeflows.events.purchase import PurchaseEvent
from storeflows.intake.common import Receipt, accept, checked_store, parse_json, require_object, validate
from storeflows.intake.signatures import verify_standard_webhook

_MAX_ECHOED_TYPE_LENGTH = 64


def accept_event(
    store_id: str, headers: Mapping[str, str], content_type: str | None, raw_body: bytes, *, now: float | None = None
) -> Receipt:
    store = checked_store(store_id, content_type, raw_body)
    if not store.webhook_secret:
        raise UnknownStore(f"store {store_id} has no event API secret")
    webhook_id = verify_standard_webhook(
        store.webhook_secret, headers, raw_body, now=now, also=store.previous_secret("webhook_secret")
    )
    return accept(store, f"api:{webhook_id}", "api", event_from_api(parse_json(raw_body)))


def event_from_api(payload: Any) -> EventBody:
    """Any event of the API, by its "type" (a body without one is read as a purchase)."""
    body = require_object(payload)
    event_type = body.get("type")
    if isinstance(event_type, str) and event_type not in API_EVENT_TYPES:
        shown = event_type[:_MAX_ECHOED_TYPE_LENGTH]
        raise InvalidPayload(f'unsupported event type "{shown}"; supported: {", ".join(API_EVENT_TYPES)}')
    # Validated by the model of its type (not the union), so errors name plain field paths.
    model = API_EVENT_TYPES.get(event_type, PurchaseEvent) if isinstance(event_type, str) else PurchaseEvent
    return validate(model, body)
