"""The store cancelled an order: it never counts as a purchase again, and the runs about it
stop (storeflows.cancellation)."""

from __future__ import annotations

from typing import ClassVar, Literal

from storeflows.events.common import Customer, OccurredAt, OptionalText, OrderReference, ValueObject


class CancelledEvent(ValueObject):
    type: Literal["cancelled"]
    occurred_at: OccurredAt = None
    order: OrderReference
    customer: Customer
    # Why, in the store's words (Shopify: customer, fraud, inventory, declined, staff, other).
    reason: OptionalText = None

    accepted_by_api: ClassVar[bool] = True

    def run_subject(self, event_id: str) -> None:
        return None
