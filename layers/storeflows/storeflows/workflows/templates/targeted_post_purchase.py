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
    trigger: PurchaseTrigger = Field(
        default=PurchaseTrigger(),
        description="Which purchases start a run: with `skus` or `categories`, only orders containing one of them.",
    )
    first_purchase_tag: TagName = Field(
        default="first_purchase_customer", description="Given on a first purchase; removed on the second."
    )
    repeat_customer_tag: TagName = Field(default="repeat_customer", description="Given on the second purchase.")
    first_purchase_message: MessageId = Field(description="Sent on a contact's first purchase.")
    second_purchase_message: MessageId = Field(description="Sent on their second purchase.")
    repeat_purchase_message: MessageId = Field(description="Sent on every later purchase.")
    score_points: int = Field(
        default=10,
        ge=0,
        le=1_000_000,
        description="Points added to the contact's score on every purchase of a repeat customer; 0 turns scoring off.",
    )
