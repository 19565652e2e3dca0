"""Replenishment reminders (catalogue 2.18): per SKU of the order, when it should run out (the
catalogue's usage cycle × the quantity, else what the store's repeat buyers of it show), a
reminder with a reorder link, `remind_before` earlier; an optional second one. Nothing once
the SKU is bought again (storeflows.replenishment).

One run per (order, SKU), not one per order: each SKU runs out on its own day and ends on
its own reorder, each run is one straight line of Waits and sends, and a send step's record
(SEND#<workflow>#<subject>#<step>) is the step's of one SKU, so a retry never confuses two."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from storeflows.events import StoreEvent
from storeflows.events.purchase import PurchaseEvent
from storeflows.events.subjects import SAMPLE_ORDER, SAMPLE_REORDER, OrderSubject, RunSubject, SubjectView
from storeflows.fields import Duration, MessageId
from storeflows.replenishment import reminders_for
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.triggers import PurchaseTrigger


class ReplenishmentSettings(TemplateSettings):
    description: ClassVar[str] = (
        "A reorder reminder per SKU when it should run out (usage cycle × quantity, or learned); ends on a reorder."
    )

    template: Literal["replenishment"] = "replenishment"
    trigger: PurchaseTrigger = Field(
        default=PurchaseTrigger(),
        description="Which purchases start runs: with `skus` or `categories`, only those lines of the order.",
    )
    reminder_message: MessageId = Field(description="Sent when the SKU should run out (less `remind_before`).")
    remind_before: Duration = Field(default=0, description="How long before the SKU should run out it goes.")
    second_reminder_message: MessageId | None = Field(
        default=None, description="Optional: sent `second_reminder_after` the first, unless reordered meanwhile."
    )
    second_reminder_after: Duration = Field(default=7 * 86400, description="How long after the first it goes.")
    learn_min_repeats: int = Field(
        default=10,
        ge=0,
        description=(
            "A SKU without a usage cycle in the catalogue: its median repeat interval once this many "
            "repeat purchases are known (0: only the catalogue's cycles)."
        ),
    )

    @model_validator(mode="after")
    def _second_reminder_after_something(self) -> ReplenishmentSettings:
        if self.second_reminder_message is not None and self.second_reminder_after <= 0:
            raise ValueError("second_reminder_after must be more than 0s")
        return self

    @classmethod
    def sample_subjects(cls) -> dict[str, SubjectView]:
        order = SubjectView.of_order(SAMPLE_ORDER)
        return {"reorder": SubjectView({**order.context, "reorder": SAMPLE_REORDER})}

    def run_subjects(self, event: StoreEvent, email: str, subject: RunSubject) -> list[RunSubject]:
        purchase = event.event
        if not isinstance(subject, OrderSubject) or not isinstance(purchase, PurchaseEvent):
            return []
        wanted = [item for item in purchase.order.items if self.trigger.takes_line(item)]
        return list(
            reminders_for(
                event.store_id,
                purchase.order,
                occurred_at=purchase.occurred_at or event.received_at,
                remind_before=self.remind_before,
                min_repeats=self.learn_min_repeats,
                wanted=wanted,
            )
        )
