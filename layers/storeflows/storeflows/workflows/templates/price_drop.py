"""Price drop (seed 003; catalogue anchors 2.9): when a variant's price falls, the contacts who
viewed, carted or started a checkout with it within the window (30 days) and did not buy it
since, each only if the price now is at least `min_drop_percent` (or `min_drop_amount`) below
the price that contact saw. The price is re-read before every send: the discount must really
apply, so a price back up before the send sends nothing. The email shows the price they saw
(`variant.price_seen`) and the new one (`variant.price`)."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field

from storeflows.catalogue import VariantChange, VariantState
from storeflows.fields import Duration, MessageId
from storeflows.workflows.templates.catalogue_alerts import Audience, AudienceKind, CatalogueAlertSettings, sold_out


class PriceDropSettings(CatalogueAlertSettings):
    description: ClassVar[str] = (
        "Tells who viewed or carted a product lately and did not buy it that its price fell below what they saw."
    )

    compares_price_seen: ClassVar[bool] = True

    template: Literal["price_drop"] = "price_drop"
    alert_message: MessageId = Field(
        description="The price drop email (marketing); `variant.price_seen` is what they saw, `variant.price` now."
    )
    min_drop_percent: Decimal = Field(
        default=Decimal(10),
        gt=0,
        lt=100,
        description="How far below the price the contact saw the price must be, in percent.",
    )
    min_drop_amount: Decimal | None = Field(
        default=None,
        gt=0,
        description="How far below, in the product's currency: when given, instead of min_drop_percent.",
    )
    audience: list[AudienceKind] = Field(
        default=["viewed", "carted", "checkout"],
        min_length=1,
        description="Who is told: contacts who viewed, carted, started a checkout with or wishlisted it.",
    )
    cooldown: Duration = Field(
        default=7 * 86400, description="At most one price drop email per contact and product in this time."
    )

    def is_transition(self, change: VariantChange) -> bool:
        before, after = change.before, change.after
        return (
            before is not None
            and before.currency == after.currency
            and after.price < before.price
            and not sold_out(after)
        )

    def stop_reason(self, change: VariantChange, now: VariantState) -> str | None:
        if sold_out(now):
            return "sold_out"
        if now.price > change.after.price:
            # Up again: whatever is left of the fall may not be what the email would say.
            return "price_back_up"
        return None

    def audiences(self, change: VariantChange) -> list[Audience]:
        return [Audience(tuple(self.audience), self.alert_message)]

    def tells(self, change: VariantChange, now: VariantState, price_seen: Decimal | None) -> bool:
        # A contact whose interest names no price saw the price before this fall.
        seen = price_seen if price_seen is not None else change.before.price if change.before else None
        if seen is None or now.price >= seen:
            return False
        if self.min_drop_amount is not None:
            return seen - now.price >= self.min_drop_amount
        return (seen - now.price) * 100 >= self.min_drop_percent * seen
