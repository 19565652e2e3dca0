"""VIP (catalogue 2.16): when a purchase takes the contact's lifetime spend to
`min_total_spent` or their order count to `min_orders` (whichever comes first; at least one
is set), tag them (`vip`) and send the VIP message (a coupon on it is theirs), once per
contact ever.

The crossing is decided by the dispatcher from the contact's totals just before this order
(kept on the order when it was recorded, storage.orders.record_purchase) and with it, so a
redelivered order decides the same; the totals are what the store reported (cancelled
orders leave them), summed as they come: thresholds are in the store's currency. A later
cancellation that takes the contact below a threshold does not take the tag away."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from storeflows.events import EventBody, StoreEvent
from storeflows.events.purchase import PurchaseEvent
from storeflows.events.subjects import OrderSubject, RunSubject, VipSubject
from storeflows.fields import MessageId, TagName
from storeflows.storage import keys, orders
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.triggers import PurchaseTrigger


class VipSettings(TemplateSettings):
    description: ClassVar[str] = "Tags and thanks a customer once their spend or order count crosses a threshold."

    template: Literal["vip"] = "vip"
    trigger: PurchaseTrigger = Field(
        default=PurchaseTrigger(),
        description="Which purchases count towards the thresholds' check: with `skus` or `categories`, only "
        "orders containing one of them (the totals are all the contact's orders).",
    )
    min_total_spent: Decimal | None = Field(
        default=None,
        gt=0,
        description="Lifetime spend (order totals, in the store's currency) that makes a VIP.",
    )
    min_orders: int | None = Field(default=None, ge=1, le=100_000, description="Order count that makes a VIP.")
    tag: TagName = Field(default="vip", description="The tag a VIP gets.")
    message: MessageId = Field(description="The VIP message (put a coupon on it for a VIP offer).")

    @model_validator(mode="after")
    def _has_a_threshold(self) -> VipSettings:
        if self.min_total_spent is None and self.min_orders is None:
            raise ValueError("a vip workflow needs min_total_spent or min_orders (or both)")
        return self

    def crosses(self, count_before: int, spent_before: Decimal, total: Decimal) -> bool:
        """Whether an order of `total` takes the contact from these totals over a threshold."""
        by_orders = self.min_orders is not None and count_before < self.min_orders <= count_before + 1
        by_spend = self.min_total_spent is not None and spent_before < self.min_total_spent <= spent_before + total
        return by_orders or by_spend

    def run_subjects(self, event: StoreEvent, email: str, subject: RunSubject) -> list[RunSubject]:
        if not isinstance(subject, OrderSubject) or not isinstance(event.event, PurchaseEvent):
            return []
        record = orders.order_record(event.store_id, email, subject.order_id)
        # An order recorded before its totals were kept on it cannot say what it crossed.
        if record is None or "orders_count_before" not in record:
            return []
        if not self.crosses(int(record["orders_count_before"]), Decimal(record["total_spent_before"]), record["total"]):
            return []
        return [VipSubject.of_contact(email, subject.order_id)]

    def run_inputs(
        self, store_id: str, email: str, workflow_id: str, subject_key: str, event: EventBody
    ) -> dict[str, Any]:
        return {"vip_key": keys.as_attribute_values(keys.vip_key(store_id, email, workflow_id)), "vip_tags": [self.tag]}
