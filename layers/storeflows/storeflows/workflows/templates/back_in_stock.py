"""Back in stock (seed 003; catalogue anchors 2.8, 6.5): when a variant comes back to at least
`min_stock` (2: a single return does not count), those who asked to be told (the
`back_in_stock_requested` event, oldest request first), then, optionally, those who viewed or
carted it within the window, in waves sized to the stock (`wave_size` contacts per unit in
stock, or per wave), `wave_interval` apart, so the first to ask are not disappointed en masse.
The stock is re-read before each wave and each send: once it falls below `min_stock`, nothing
more goes. A request is fulfilled once its contact is told (or bought the product)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from storeflows.catalogue import VariantChange, VariantState
from storeflows.fields import Duration, MessageId
from storeflows.storage.interest import InterestKind
from storeflows.workflows.templates.catalogue_alerts import Audience, CatalogueAlertSettings, in_stock, sold_out


class BackInStockSettings(CatalogueAlertSettings):
    description: ClassVar[str] = (
        "Tells those who asked (then, optionally, who viewed or carted it) that a variant is back in stock, in waves."
    )

    template: Literal["back_in_stock"] = "back_in_stock"
    requested_message: MessageId = Field(
        description=(
            "To those who asked to be told (it may be transactional: they asked for this one email); "
            "it shows `variant`."
        )
    )
    interested_message: MessageId | None = Field(
        default=None,
        description="To those who viewed or carted it (marketing); needed with include_viewers or include_carts.",
    )
    min_stock: int = Field(
        default=2, ge=1, le=1_000_000, description="How many must be in stock again: below it, nothing is sent."
    )
    include_viewers: bool = Field(
        default=False, description="After those who asked, those who viewed the variant within the window too."
    )
    include_carts: bool = Field(
        default=False, description="After those who asked, those who carted it (or started a checkout) too."
    )
    wave_size: int = Field(
        default=3,
        ge=1,
        le=100_000,
        description="How many contacts a wave tells: per unit in stock (wave_per_unit), or per wave.",
    )
    wave_per_unit: bool = Field(
        default=True, description="Whether wave_size is per unit in stock (at the wave's start) or a fixed number."
    )
    wave_interval: Duration = Field(default=3600, description="How long between two waves.")
    cooldown: Duration = Field(
        default=86400, description="At most one back-in-stock email per contact and product in this time."
    )

    def is_transition(self, change: VariantChange) -> bool:
        # A new variant was never out of stock: nobody waits for it.
        return (
            change.before is not None
            and not in_stock(change.before, self.min_stock)
            and in_stock(change.after, self.min_stock)
        )

    def stop_reason(self, change: VariantChange, now: VariantState) -> str | None:
        return None if in_stock(now, self.min_stock) else "below_min_stock"

    def audiences(self, change: VariantChange) -> list[Audience]:
        told = [Audience(("requested",), self.requested_message, fulfils_requests=True)]
        viewers: tuple[InterestKind, ...] = ("viewed",) if self.include_viewers else ()
        carts: tuple[InterestKind, ...] = ("carted", "checkout") if self.include_carts else ()
        kinds = viewers + carts
        # Viewers only of a variant that was sold out: one whose stock went from 1 to 2 was
        # never "back" for someone who saw it on sale (those who asked did not: it was out).
        if kinds and self.interested_message is not None and change.before is not None and sold_out(change.before):
            told.append(Audience(kinds, self.interested_message))
        return told

    def wave_size_for(self, now: VariantState) -> int | None:
        if self.wave_per_unit and now.inventory_quantity is not None:
            return self.wave_size * max(now.inventory_quantity, 1)
        return self.wave_size

    def problems(self) -> list[str]:
        if (self.include_viewers or self.include_carts) and self.interested_message is None:
            return ["interested_message: needed to tell viewers or carts (include_viewers, include_carts)"]
        return []
