"""Post-purchase care series (seed 004): for buyers of a given product, thanks, a delivery
check, care tips and a cross-sell, while the contact is marked inside the series."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from storeflows.events import EventBody
from storeflows.fields import Duration, MessageId
from storeflows.storage import keys
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.templates.delivery import DeliveryWait, delivery_inputs, require_product_condition
from storeflows.workflows.triggers import PurchaseTrigger


class CareSeriesSettings(TemplateSettings):
    description: ClassVar[str] = "A care series for buyers of a given product."

    template: Literal["care_series"] = "care_series"
    # The condition of the seed: the order contains this product (SKU) or category.
    trigger: PurchaseTrigger = Field(
        description="The product condition: orders containing one of `skus` or `categories` (one is required)."
    )
    thank_you_message: MessageId = Field(description="Sent right after the purchase.")
    delivery_check_message: MessageId = Field(
        description="Sent once the parcel should have arrived (or was reported delivered): did everything go well?"
    )
    care_tips_message: MessageId = Field(description="Sent `tips_after` the delivery check.")
    cross_sell_message: MessageId = Field(description="Sent `cross_sell_after` the care tips.")
    delivery: DeliveryWait = Field(default=DeliveryWait(), description="How long to wait for the parcel.")
    tips_after: Duration = Field(default=3 * 86400, description="How long after the delivery check the tips go.")
    cross_sell_after: Duration = Field(default=5 * 86400, description="How long after the tips the cross-sell goes.")

    @model_validator(mode="after")
    def _has_product_condition(self) -> CareSeriesSettings:
        require_product_condition(self.trigger, "a care series")
        return self

    def run_inputs(
        self, store_id: str, email: str, workflow_id: str, subject_key: str, event: EventBody
    ) -> dict[str, Any]:
        return {
            **delivery_inputs(self.delivery, store_id, email, subject_key),
            "active_key": keys.as_attribute_values(keys.active_run_key(store_id, email, workflow_id, subject_key)),
        }
