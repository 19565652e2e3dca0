"""Product usage tips (catalogue 2.17), the care series' sibling: for buyers of given
products or categories, up to five tips (`steps` of `{message, wait}`), the first wait
counted from the delivery when `delivery` is set (a fixed time, or until the store reports
the order delivered, as the care series waits), else from the purchase.

A tip is not skipped when the contact buys the product again: the tips are about using it,
and that new order starts its own series (one run per order, as every purchase template)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from storeflows.events import EventBody
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.templates.delivery import DeliveryWait, delivery_inputs, require_product_condition
from storeflows.workflows.templates.series import SeriesStep, numbered_steps
from storeflows.workflows.triggers import PurchaseTrigger

MAX_STEPS = 5  # the state machine has five send steps


class UsageTipsSettings(TemplateSettings):
    description: ClassVar[str] = "A series of tips on using a product, for its buyers."

    template: Literal["usage_tips"] = "usage_tips"
    trigger: PurchaseTrigger = Field(
        description="The product condition: orders containing one of `skus` or `categories` (one is required)."
    )
    steps: list[SeriesStep] = Field(
        min_length=1,
        max_length=MAX_STEPS,
        description="The tips, in order, each with its `wait` after the previous one (the first after the "
        "delivery, or the purchase without `delivery`).",
    )
    delivery: DeliveryWait | None = Field(
        default=None, description="Wait for the parcel before the first tip's wait; unset: count from the purchase."
    )

    @model_validator(mode="after")
    def _has_product_condition(self) -> UsageTipsSettings:
        require_product_condition(self.trigger, "a usage tips series")
        return self

    def run_inputs(
        self, store_id: str, email: str, workflow_id: str, subject_key: str, event: EventBody
    ) -> dict[str, Any]:
        inputs: dict[str, Any] = {
            "tips_steps": numbered_steps(self.steps),
            "tips_delivery": self.delivery.mode if self.delivery is not None else "none",
        }
        if self.delivery is not None:
            inputs.update(delivery_inputs(self.delivery, store_id, email, subject_key))
        return inputs
