"""Data protection requests (Shopify's compliance webhooks): storeflows.privacy acts on them.
Neither comes through the event API, and neither ever starts a run."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from storeflows.events.common import MAX_LINE_ITEMS, Customer, ExactId, OptionalId, ValueObject


class ErasureRequest(ValueObject):
    """Erase everything held about a contact (Shopify's customers/redact)."""

    type: Literal["erasure"]
    customer: Customer

    accepted_by_api: ClassVar[bool] = False

    def run_subject(self, event_id: str) -> None:
        return None


class DataRequest(ValueObject):
    """A contact asks the store for the data held about them (Shopify's customers/data_request);
    `request_id` is the platform's. Kept for the operator to answer."""

    type: Literal["data_request"]
    request_id: ExactId
    customer: Customer
    platform_customer_id: OptionalId = None
    orders_requested: list[ExactId] = Field(default=[], max_length=MAX_LINE_ITEMS)

    accepted_by_api: ClassVar[bool] = False

    def run_subject(self, event_id: str) -> None:
        return None
