"""Post-purchase care series (seed 004): for buyers of a given product, thanks, a delivery
check, care tips and a cross-sell, while the contact is marked inside the series."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from storeflows.events import EventBody
from storeflows.fields import Duration, MessageId
from storeflows.storage import keys
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.triggers import PurchaseTrigger


class DeliveryWait(BaseModel):
    """How long to wait for the parcel: a fixed time, or until the store reports the order
    delivered (a `delivered` event), checked every `check_every`, giving up after `timeout`."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["fixed", "event"] = Field(
        default="fixed",
        description="`fixed` waits `wait`; `event` waits for the store to report the order delivered.",
    )
    wait: Duration = Field(default=5 * 86400, description="With `mode: fixed`: how long to wait for the parcel.")
    check_every: Duration = Field(
        default=12 * 3600, ge=60, description="With `mode: event`: how often to look for a `delivered` event."
    )
    timeout: Duration = Field(
        default=14 * 86400, description="With `mode: event`: how long to wait for it before going on anyway."
    )

    @property
    def checks(self) -> int:
        return max(1, -(-self.timeout // self.check_every))


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
        if not self.trigger.skus and not self.trigger.categories:
            raise ValueError("a care series needs a product condition: trigger.skus or trigger.categories")
        return self

    def run_inputs(
        self, store_id: str, email: str, workflow_id: str, subject_key: str, event: EventBody
    ) -> dict[str, Any]:
        return {
            # The subject is an order: CheckOrderDelivered reads its delivered stamp.
            "order_key": keys.as_attribute_values(keys.order_key(store_id, email, subject_key)),
            "active_key": keys.as_attribute_values(keys.active_run_key(store_id, email, workflow_id, subject_key)),
            "delivery_checks": {"left": self.delivery.checks},
        }
