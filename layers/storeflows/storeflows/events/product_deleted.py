"""A product taken out of the store's catalogue (the event API's `product_deleted`, Shopify's
products/delete, WooCommerce's product.deleted)."""

from __future__ import annotations

from typing import ClassVar, Literal

from storeflows.events.common import ExactId, OccurredAt, ValueObject


class ProductDeletedEvent(ValueObject):
    type: Literal["product_deleted"]
    occurred_at: OccurredAt = None
    product_id: ExactId

    accepted_by_api: ClassVar[bool] = True

    def run_subject(self, event_id: str) -> None:
        return None
