"""Targeted post-purchase follow-up (seeds 000 and 001): first purchase, second purchase and
every later one each get their own message; tags record which it was; repeat purchases score."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from storeflows.fields import MessageId, TagName
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.triggers import PurchaseTrigger


class TargetedPostPurchaseSettings(TemplateSettings):
    description: ClassVar[str] = "Two tags, three messages, an optional score."

    template: Literal["targeted_post_purchase"] = "targeted_post_purchase"
    trigger: PurchaseTrigger = PurchaseTrigger()
    first_purchase_tag: TagName = "first_purchase_customer"
    repeat_customer_tag: TagName = "repeat_customer"
    first_purchase_message: MessageId
    second_purchase_message: MessageId
    repeat_purchase_message: MessageId
    # Points added on every purchase of a repeat customer; 0 removes the scoring element.
    score_points: int = Field(default=10, ge=0, le=1_000_000)
