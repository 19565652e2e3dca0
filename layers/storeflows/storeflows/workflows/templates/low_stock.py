"""Low stock (seed 003; catalogue anchors 2.10): when a variant's stock falls to `max_stock`
(5) or fewer from above, the contacts who carted it, started a checkout with it or viewed it
within the window (30 days) and did not buy it since, at most once per contact and product
per `cooldown`. The stock is re-read before every send: restocked above `max_stock`, or sold
out, nothing more goes."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from storeflows.catalogue import VariantChange, VariantState
from storeflows.fields import Duration, MessageId
from storeflows.workflows.templates.catalogue_alerts import Audience, AudienceKind, CatalogueAlertSettings, sold_out


def _low(state: VariantState, max_stock: int) -> bool:
    quantity = state.inventory_quantity
    return quantity is not None and not sold_out(state) and quantity <= max_stock


class LowStockSettings(CatalogueAlertSettings):
    description: ClassVar[str] = (
        "Tells who carted or viewed a product lately and did not buy it that only a few are left."
    )

    template: Literal["low_stock"] = "low_stock"
    alert_message: MessageId = Field(description="The low stock email (marketing); it shows `variant`.")
    max_stock: int = Field(
        default=5, ge=1, le=1_000_000, description="At most this many left: the stock crossing down to it alerts."
    )
    audience: list[AudienceKind] = Field(
        default=["carted", "checkout", "viewed"],
        min_length=1,
        description="Who is told: contacts who carted, started a checkout with, viewed or wishlisted it.",
    )
    cooldown: Duration = Field(
        default=30 * 86400, description="At most one low stock email per contact and product in this time."
    )

    def is_transition(self, change: VariantChange) -> bool:
        before = change.before
        # From above the threshold (an untracked stock was never counted down to it).
        return (
            before is not None
            and before.inventory_quantity is not None
            and before.inventory_quantity > self.max_stock
            and _low(change.after, self.max_stock)
        )

    def stop_reason(self, change: VariantChange, now: VariantState) -> str | None:
        if sold_out(now):
            return "sold_out"
        return None if _low(now, self.max_stock) else "restocked"

    def audiences(self, change: VariantChange) -> list[Audience]:
        return [Audience(tuple(self.audience), self.alert_message)]
