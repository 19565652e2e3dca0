"""A Shopify inventory item's stock at one location (inventory_levels/update): the catalogue
sums its locations into its variant's stock (storeflows.storage.products)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from storeflows.events.common import MAX_QUANTITY, ExactId, OccurredAt, ValueObject


class InventoryLevelEvent(ValueObject):
    type: Literal["inventory_level"]
    occurred_at: OccurredAt = None
    inventory_item_id: ExactId
    location_id: ExactId
    # None: the item is no longer stocked at the location (its tracking was turned off).
    available: int | None = Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY)

    # Shopify's own event: the event API's `product` gives a variant's whole stock instead.
    accepted_by_api: ClassVar[bool] = False

    def run_subject(self, event_id: str) -> None:
        return None
