"""Post-purchase by order value (seed 002): one email per purchase, chosen by the order's
total among the marketer's tiers, after a delay, at most once per period per customer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from storeflows.events import EventBody
from storeflows.events.purchase import PurchaseEvent
from storeflows.fields import Duration, MessageId
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.triggers import PurchaseTrigger


class ValueTier(BaseModel):
    """Orders whose total is at least `min_total` and below `max_total` (open-ended when
    absent) get `message`."""

    model_config = ConfigDict(extra="forbid")

    min_total: Decimal = Field(ge=0, description="The lowest order total of the tier (included).")
    max_total: Decimal | None = Field(
        default=None, description="The order total where the tier ends (not included; none: open-ended)."
    )
    message: MessageId = Field(description="Sent for the orders of this tier.")

    def contains(self, total: Decimal) -> bool:
        return total >= self.min_total and (self.max_total is None or total < self.max_total)

    def describe(self) -> str:
        return f"{self.min_total}–{self.max_total if self.max_total is not None else '∞'}"


class OrderValueSettings(TemplateSettings):
    description: ClassVar[str] = (
        "One email per purchase, chosen by order value, after a delay, at most once per period per customer."
    )
    frequency_cap_setting: ClassVar[str | None] = "not_more_often_than"

    template: Literal["order_value"] = "order_value"
    trigger: PurchaseTrigger = Field(
        default=PurchaseTrigger(),
        description="Which purchases start a run: with `skus` or `categories`, only orders containing one of them.",
    )
    tiers: list[ValueTier] = Field(
        min_length=1,
        description="One message per order-value tier: from 0, no gaps or overlaps, the last one open-ended.",
    )
    delay_after_purchase: Duration = Field(default=0, description="How long after the purchase the message goes.")
    not_more_often_than: Duration = Field(
        default=0,
        description="At most one of this workflow's messages per customer in this time; 0s means no limit.",
    )

    def tier_for(self, total: Decimal) -> ValueTier | None:
        return next((tier for tier in self.tiers if tier.contains(total)), None)

    def runs_for(self, event: EventBody) -> bool:
        # An order in a gap between tiers has no message (publishing warns about gaps).
        return (
            super().runs_for(event)
            and isinstance(event, PurchaseEvent)
            and self.tier_for(event.order.total) is not None
        )

    def run_inputs(
        self, store_id: str, email: str, workflow_id: str, subject_key: str, event: EventBody
    ) -> dict[str, Any]:
        tier = self.tier_for(event.order.total) if isinstance(event, PurchaseEvent) else None
        return {"tier_message": tier.message if tier else None}

    def problems(self) -> list[str]:
        found = []
        tiers = sorted(self.tiers, key=lambda tier: tier.min_total)
        if tiers[0].min_total != 0:
            found.append(f"tiers: orders below {tiers[0].min_total} get no message (the first tier should start at 0)")
        for tier in tiers:
            if tier.max_total is not None and tier.max_total <= tier.min_total:
                found.append(f"tiers: {tier.describe()} is empty (the upper bound must be above the lower)")
        for lower, upper in zip(tiers, tiers[1:], strict=False):
            if lower.max_total is None or lower.max_total > upper.min_total:
                found.append(f"tiers: {lower.describe()} overlaps {upper.describe()}")
            elif lower.max_total < upper.min_total:
                found.append(f"tiers: orders from {lower.max_total} to {upper.min_total} get no message (gap)")
        if tiers[-1].max_total is not None:
            found.append(
                f"tiers: orders of {tiers[-1].max_total} and more get no message (make the last tier open-ended)"
            )
        return found
