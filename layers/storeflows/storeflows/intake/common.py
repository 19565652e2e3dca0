"""The intake steps every source shares: the request checks, JSON parsing, enqueueing, and
the small helpers the adapters map payloads with.

Each adapter only picks and renames fields; all checking and normalising happens in the
event models, so every source gets the same rules and the same error text. Absent values
are left out rather than passed as None, so a missing required field reads "Field required"."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from storeflows.aws import client
from storeflows.config import require
from storeflows.errors import InvalidPayload, PayloadTooLarge, UnknownStore, UnsupportedMediaType
from storeflows.events import EventBody, StoreEvent
from storeflows.events.common import describe_validation_error
from storeflows.observability import MetricUnit, logger, metrics
from storeflows.records import Store
from storeflows.storage import stores

# Shopify order payloads with many line items reach tens of KiB; 256 KiB leaves room.
MAX_BODY_BYTES = 256 * 1024
# SQS's message limit: a canonical event over it could never be queued, so it is refused
# (its fields are a subset of the body's, so only a body near the limit can come close).
MAX_QUEUED_EVENT_BYTES = 256 * 1024

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Receipt:
    event_id: str
    status: Literal["accepted", "ignored"]
    # WooCommerce's activation ping: acknowledged with 200 (it disables the webhook otherwise).
    ping: bool = False


def checked_store(store_id: str, content_type: str | None, raw_body: bytes) -> Store:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType(f"Content-Type must be application/json, got {media_type or 'nothing'}")
    if len(raw_body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {len(raw_body)} bytes; the limit is {MAX_BODY_BYTES}")
    return known_store(store_id)


def known_store(store_id: str) -> Store:
    store = stores.get_store(store_id)
    if store is None:
        raise UnknownStore(f"no store {store_id}")
    return store


def parse_json(raw_body: bytes) -> Any:
    """The body as JSON (RFC 8259), or InvalidPayload saying why not. Beyond what Python's
    parser refuses, this refuses what it accepts but JSON is not, or what could not be kept:
    NaN and Infinity, an object naming a member twice (the last one would silently win),
    strings holding a lone UTF-16 surrogate (they cannot be written as UTF-8 to the queue),
    and nesting or numbers so large the parser itself gives up."""
    try:
        # Decimal keeps money exact; Python ints keep Shopify's 64-bit ids exact.
        parsed = json.loads(
            raw_body.decode("utf-8"),
            parse_float=Decimal,
            parse_constant=_not_json,
            object_pairs_hook=_object_without_repeats,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidPayload(f"body is not valid JSON: {err}") from err
    except RecursionError:
        raise InvalidPayload("body is not valid JSON: nested too deeply") from None
    except ValueError as err:  # an integer of more digits than Python converts
        raise InvalidPayload(f"body is not valid JSON: {err}") from None
    _refuse_lone_surrogates(parsed)
    return parsed


def _not_json(constant: str) -> Any:
    raise InvalidPayload(f"body is not valid JSON: {constant} is not a JSON number")


def _object_without_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name in found:
            raise InvalidPayload(f"body is not valid JSON: the member {name[:64]!r} appears twice in one object")
        found[name] = value
    return found


def _refuse_lone_surrogates(parsed: Any) -> None:
    """Every string of the document (names and values), without recursion: a lone surrogate
    ("\\ud800") is valid JSON escape syntax but no character, and cannot be encoded."""
    pending = [parsed]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidPayload(
                    "body is not valid JSON: a string holds a lone surrogate (\\ud800-\\udfff)"
                ) from None


def accept(store: Store, event_id: str, source: Literal["shopify", "woocommerce", "api"], body: EventBody) -> Receipt:
    """Puts the canonical event on the event queue; the receipt the webhook is answered with."""
    event = StoreEvent(
        store_id=store.store_id,
        event_id=event_id,
        source=source,
        received_at=_now(),
        event=body,
        attribution=store.attribution,
    )
    # Fields left unset are left out: every one of them defaults to None on the way back.
    message = event.model_dump_json(exclude_none=True)
    if len(message.encode("utf-8")) > MAX_QUEUED_EVENT_BYTES:
        raise PayloadTooLarge(
            f"the event is over {MAX_QUEUED_EVENT_BYTES} bytes once normalised; send fewer line items"
        )
    client("sqs").send_message(QueueUrl=require("event_queue_url"), MessageBody=message)
    logger.info("event accepted", extra={"store_id": event.store_id, "event_id": event.event_id})
    metrics.add_metric(name="WebhooksAccepted", unit=MetricUnit.Count, value=1)
    return Receipt(event_id=event.event_id, status="accepted")


def ignored(event_id: str, *, ping: bool = False) -> Receipt:
    """Acknowledged and dropped: a topic or an order status that is not a purchase, a ping."""
    metrics.add_metric(name="WebhooksIgnored", unit=MetricUnit.Count, value=1)
    return Receipt(event_id=event_id, status="ignored", ping=ping)


def lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _now() -> datetime:
    return datetime.now(UTC)


# --- mapping payloads --------------------------------------------------------------------------


def validate(model: type[Model], payload: Any) -> Model:
    try:
        return model.model_validate(payload)
    except ValidationError as err:
        raise InvalidPayload(describe_validation_error(err)) from None


def require_object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidPayload("body must be a JSON object")
    return payload


def nested(container: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested object, or {} when it is absent or null (guest checkouts, no address)."""
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def present(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def line_items(items: Any, map_item: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """Map each line item; anything malformed is passed through for the model to report."""
    if items is None:
        return []
    if not isinstance(items, list):
        return items
    return [map_item(item) if isinstance(item, dict) else item for item in items]
