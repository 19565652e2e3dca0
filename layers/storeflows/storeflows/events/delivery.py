"""The store reports an order delivered; a care series waiting for it moves on."""

from __future__ import annotations

from typing import ClassVar, Literal

from storeflows.events.common import Customer, OccurredAt, OrderReference, ValueObject
from storeflows.events.subjects import EventSubject


class DeliveredEvent(ValueObject):
    type: Literal["delivered"]
    occurred_at: OccurredAt = None
    order: OrderReference
    customer: Customer

    accepted_by_api: ClassVar[bool] = True

    def run_subject(self, event_id: str) -> EventSubject:
        return EventSubject(event_type=self.type, event_id=event_id)
