"""A completed purchase: the order and who bought it. Every purchase flow starts on one."""

from __future__ import annotations

from typing import ClassVar, Literal

from storeflows.events.common import Customer, OccurredAt, Order, ValueObject
from storeflows.events.subjects import OrderSubject


class PurchaseEvent(ValueObject):
    type: Literal["purchase"]
    occurred_at: OccurredAt = None
    order: Order
    customer: Customer

    accepted_by_api: ClassVar[bool] = True

    def run_subject(self, event_id: str) -> OrderSubject:
        """One run per order and workflow: orders/create and orders/paid of one order, or a
        redelivery, find the run already started."""
        return OrderSubject(order_id=self.order.id)
