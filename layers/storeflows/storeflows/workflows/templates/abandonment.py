"""Checkout and cart abandonment (issue 13): reminders about a checkout or cart left
without buying, counted from its last activity, ending as soon as it is bought.

One run per checkout or cart. Before each reminder the run asks the check step
(storeflows.abandonment.check) and waits until the due time it returns, again while the
checkout or cart keeps changing; it ends when the checkout completes, the customer buys, the
cart is emptied, or another checkout or cart of the contact had reminders within the
cooldown. Both templates share the contact's cooldown, so a customer who left a cart and
then a checkout hears about one of them."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from storeflows.events import EventBody
from storeflows.fields import Duration, MessageId
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.triggers import CartTrigger, CheckoutTrigger


class _AbandonmentSettings(TemplateSettings):
    first_reminder_message: MessageId = Field(description="Sent `first_reminder_after` the last activity.")
    first_reminder_after: Duration = Field(
        default=4 * 3600, description="How long after the last activity the first reminder goes."
    )
    second_reminder_message: MessageId | None = Field(
        default=None, description="Sent `second_reminder_after` the last activity (none: one reminder only)."
    )
    second_reminder_after: Duration = Field(
        default=24 * 3600, description="How long after the last activity the second reminder goes."
    )
    cooldown: Duration = Field(
        default=24 * 3600,
        description="One reminder series per contact in this time, across their carts and checkouts; 0s: no limit.",
    )

    def run_inputs(
        self, store_id: str, email: str, workflow_id: str, subject_key: str, event: EventBody
    ) -> dict[str, Any]:
        # The last activity the run has waited for: none yet (the first check says how long).
        return {"check": {"activity_at": ""}}

    def problems(self) -> list[str]:
        if self.second_reminder_message is not None and self.second_reminder_after <= self.first_reminder_after:
            return [
                "second_reminder_after: must be later than first_reminder_after (both count from the last activity)"
            ]
        return []


class CheckoutAbandonmentSettings(_AbandonmentSettings):
    description: ClassVar[str] = "Reminders about a checkout left unfinished, until the customer buys."

    template: Literal["checkout_abandonment"] = "checkout_abandonment"
    trigger: CheckoutTrigger = Field(
        default=CheckoutTrigger(), description="A checkout started or updated (`checkout_started`)."
    )


class CartAbandonmentSettings(_AbandonmentSettings):
    description: ClassVar[str] = "Reminders about a cart left without buying, until the customer buys."

    template: Literal["cart_abandonment"] = "cart_abandonment"
    trigger: CartTrigger = Field(default=CartTrigger(), description="A cart changed (`cart_updated`).")
