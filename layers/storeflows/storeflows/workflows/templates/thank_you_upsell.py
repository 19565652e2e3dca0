"""Thank-you & upsell (catalogue 2.14): right after a purchase (or a short `delay` later), one
email thanking the customer with complementary products: the catalogue's related products of
what was bought, else those most often bought with them in this store's orders; never what
was just bought, only what is available (storeflows.recommendations)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from storeflows.events import StoreEvent
from storeflows.events.subjects import (
    SAMPLE_ORDER,
    SAMPLE_RECOMMENDATIONS,
    OrderSubject,
    RunSubject,
    SubjectView,
    UpsellSubject,
)
from storeflows.fields import Duration, MessageId
from storeflows.recommendations import MAX_RECOMMENDATIONS
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.triggers import PurchaseTrigger


class ThankYouUpsellSettings(TemplateSettings):
    description: ClassVar[str] = (
        "Thanks right after a purchase, with complementary products (related, else bought together), "
        "never what was bought."
    )

    template: Literal["thank_you_upsell"] = "thank_you_upsell"
    trigger: PurchaseTrigger = Field(
        default=PurchaseTrigger(),
        description="Which purchases start a run: with `skus` or `categories`, only orders containing one of them.",
    )
    message: MessageId = Field(description="The thank-you; it sees `recommendations` (the RECOMMENDATIONS block).")
    delay: Duration = Field(default=0, le=7 * 86400, description="How long after the purchase it goes (at most 7d).")
    max_products: int = Field(
        default=4, ge=1, le=MAX_RECOMMENDATIONS, description="At most this many products recommended (1–12)."
    )
    when_nothing_to_recommend: Literal["send", "skip"] = Field(
        default="send",
        description=(
            "`send`: the thanks still goes, its recommendations block empty; `skip`: no email (`nothing_to_recommend`)."
        ),
    )

    @classmethod
    def sample_subjects(cls) -> dict[str, SubjectView]:
        order = SubjectView.of_order(SAMPLE_ORDER)
        return {"order": SubjectView({**order.context, "recommendations": SAMPLE_RECOMMENDATIONS})}

    def run_subjects(self, event: StoreEvent, email: str, subject: RunSubject) -> list[RunSubject]:
        if not isinstance(subject, OrderSubject):
            return []
        return [
            UpsellSubject(
                order_id=subject.order_id,
                max_products=self.max_products,
                skip_when_none=self.when_nothing_to_recommend == "skip",
            )
        ]
