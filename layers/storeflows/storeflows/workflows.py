"""Workflow templates and their settings.

A workflow is a template + a store + settings, saved as a draft and published by the
marketer. Settings are a discriminated union on `template` (as Dittofeed's
JourneyDefinition), so each template validates exactly the settings it uses. The
dispatcher snapshots the published settings into the execution input: a run keeps the
settings it started with even if the marketer edits the workflow meanwhile."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from storeflows.models import PurchaseEvent


class WorkflowStatus(str, enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    PAUSED = "paused"


class PurchaseTrigger(BaseModel):
    """A completed purchase, optionally only when it contains a given product or category."""

    model_config = ConfigDict(extra="forbid")

    skus: list[str] = []
    categories: list[str] = []

    def matches(self, purchase: PurchaseEvent) -> bool:
        if not self.skus and not self.categories:
            return True
        return any(
            (item.sku is not None and item.sku in self.skus)
            or (item.category is not None and item.category in self.categories)
            for item in purchase.order.items
        )


TagName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_:.\-]+$")]
MessageId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


class TargetedPostPurchaseSettings(BaseModel):
    """Template 3 (seeds 000 and 001): two tags, three messages, an optional score."""

    model_config = ConfigDict(extra="forbid")

    template: Literal["targeted_post_purchase"] = "targeted_post_purchase"
    trigger: PurchaseTrigger = PurchaseTrigger()
    first_purchase_tag: TagName = "first_purchase_customer"
    repeat_customer_tag: TagName = "repeat_customer"
    first_purchase_message: MessageId
    second_purchase_message: MessageId
    repeat_purchase_message: MessageId
    # Points added on every purchase of a repeat customer; 0 removes the scoring element.
    score_points: int = Field(default=10, ge=0, le=1_000_000)


# One template so far; with the next one this becomes
# Annotated[Union[...], Field(discriminator="template")].
WorkflowSettings = TargetedPostPurchaseSettings


class Workflow(BaseModel):
    store_id: str
    workflow_id: MessageId
    status: WorkflowStatus = WorkflowStatus.DRAFT
    version: int = 1
    settings: WorkflowSettings

    @property
    def template(self) -> str:
        return self.settings.template

    def runs_for(self, purchase: PurchaseEvent) -> bool:
        return self.status is WorkflowStatus.PUBLISHED and self.settings.trigger.matches(purchase)


# Which setting names the deployed state machine of each template, see config.Settings.
STATE_MACHINE_SETTING = {
    "targeted_post_purchase": "targeted_post_purchase_state_machine_arn",
}
