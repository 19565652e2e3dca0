"""Canonical events: what every source (Shopify, WooCommerce, the event API) is mapped to, and
what travels on the event queue.

One module per event type; `EventBody` is their union on `type`, so a new event type is one
module, one line in EventBody and one entry in the dispatcher's table (storeflows.dispatch).
Each type says whether the event API accepts it (`accepted_by_api`) and what a run it starts
is about (`run_subject`: None for those that never start one)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, Field

from storeflows.events.cancellation import CancelledEvent
from storeflows.events.consent import ConsentEvent
from storeflows.events.delivery import DeliveredEvent
from storeflows.events.privacy import DataRequest, ErasureRequest
from storeflows.events.purchase import PurchaseEvent
from storeflows.records import Attribution

EventBody = Annotated[
    PurchaseEvent | ConsentEvent | DeliveredEvent | CancelledEvent | ErasureRequest | DataRequest,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[
    type[PurchaseEvent | ConsentEvent | DeliveredEvent | CancelledEvent | ErasureRequest | DataRequest], ...
] = get_args(get_args(EventBody)[0])


def type_name(event_type: type[BaseModel]) -> str:
    """The `type` an event class is tagged with: PurchaseEvent -> "purchase"."""
    return str(get_args(event_type.model_fields["type"].annotation)[0])


# The event API's types, by name: {"purchase": PurchaseEvent, ...}.
API_EVENT_TYPES = {type_name(cls): cls for cls in EVENT_TYPES if cls.accepted_by_api}


class StoreEvent(BaseModel):
    """What travels on the event queue: one canonical event plus where it came from."""

    store_id: str
    event_id: str
    source: Literal["shopify", "woocommerce", "api"]
    received_at: datetime
    event: EventBody
    # The store's attribution windows when the event was accepted (the intake has just read
    # the store; the dispatcher need not read it again).
    attribution: Attribution = Attribution()
