"""Follow-up after purchase (seed 000): thanks now, a follow-up after a wait, tags from what
was bought."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field

from storeflows.events import EventBody
from storeflows.events.purchase import PurchaseEvent
from storeflows.fields import Duration, MessageId, TagName
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.triggers import PurchaseTrigger


class PurchaseFollowUpSettings(TemplateSettings):
    description: ClassVar[str] = "Thanks now, a follow-up after a wait, tags from what was bought."

    template: Literal["purchase_follow_up"] = "purchase_follow_up"
    trigger: PurchaseTrigger = Field(
        default=PurchaseTrigger(),
        description="Which purchases start a run: with `skus` or `categories`, only orders containing one of them.",
    )
    thank_you_message: MessageId = Field(description="Sent right after the purchase.")
    follow_up_message: MessageId = Field(description="Sent `follow_up_after` the thanks.")
    follow_up_after: Duration = Field(default=10 * 86400, description="How long after the thanks the follow-up goes.")
    category_tag_prefix: str = Field(
        default="bought:",
        max_length=32,
        description='Tags the contact `<prefix><category>` for every category in the order; "" turns it off.',
    )
    sku_tags: dict[str, TagName] = Field(
        default={}, description="Extra tags for given SKUs, e.g. `{VENISE-DRESS: dress_owner}`."
    )

    def purchase_tags(self, purchase: PurchaseEvent) -> list[str]:
        tags = set()
        for item in purchase.order.items:
            if self.category_tag_prefix and item.category:
                tags.add(_tag(f"{self.category_tag_prefix}{item.category}"))
            if item.sku in self.sku_tags:
                tags.add(self.sku_tags[item.sku])
        return sorted(tags)

    def run_inputs(
        self, store_id: str, email: str, workflow_id: str, subject_key: str, event: EventBody
    ) -> dict[str, Any]:
        # TagCustomerByPurchase adds them; a DynamoDB string set cannot be empty, so the state
        # machine skips the step when there are none.
        return {"purchase_tags": self.purchase_tags(event) if isinstance(event, PurchaseEvent) else []}


def _tag(text: str) -> str:
    """A category name made into a tag: spaces and odd characters become "-", lower-case."""
    return re.sub(r"[^a-z0-9_:.\-]+", "-", text.strip().lower())[:64]
