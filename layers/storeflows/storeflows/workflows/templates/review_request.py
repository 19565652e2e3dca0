"""Review request (catalogue 2.15): `after` (14 days) once the store reports the order
delivered (a `delivered` event, looked for every `check_every`), or `after` the purchase when
none is reported within `delivery_timeout`; one message whose order items each carry
`review_url`, the product's review page from the settings' pattern; an incentive is the
message's own coupon. A cancelled order sends nothing (`order_cancelled`)."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from storeflows.events import EventBody, StoreEvent
from storeflows.events.common import Order
from storeflows.events.subjects import (
    REVIEW_URL_PLACEHOLDERS,
    SAMPLE_ORDER,
    OrderSubject,
    RunSubject,
    SubjectView,
    review_link,
)
from storeflows.fields import Duration, MessageId
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.templates.delivery import DeliveryWait, delivery_inputs
from storeflows.workflows.triggers import PurchaseTrigger

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_EXAMPLE_PATTERN = "https://shop.example/products/{product_id}/reviews?order={order_id}"


class ReviewRequestSettings(TemplateSettings):
    description: ClassVar[str] = "Asks for a review of each product some time after the order was delivered."

    template: Literal["review_request"] = "review_request"
    trigger: PurchaseTrigger = Field(
        default=PurchaseTrigger(),
        description="Which purchases get a review request: with `skus` or `categories`, only orders containing one.",
    )
    message: MessageId = Field(
        description="The review request; its order items carry `review_url`. A coupon on it is the incentive."
    )
    review_url: str = Field(
        max_length=500,
        description="The review page of a product: an http(s) URL with `{product_id}` or `{sku}`, and optionally "
        f"`{{order_id}}`, e.g. `{_EXAMPLE_PATTERN}`.",
    )
    after: Duration = Field(default=14 * 86400, description="How long after the delivery (or the purchase) it goes.")
    delivery_timeout: Duration = Field(
        default=14 * 86400,
        description="How long after the purchase to wait for a `delivered` event; without one, the request goes "
        "`after` the purchase.",
    )
    check_every: Duration = Field(default=12 * 3600, ge=60, description="How often to look for the `delivered` event.")

    @classmethod
    def sample_subjects(cls) -> dict[str, SubjectView]:
        order = SAMPLE_ORDER.model_dump()
        view = SubjectView.of_order(Order.model_validate(order))
        for item in view.context["order"]["items"]:
            item["review_url"] = review_link(_EXAMPLE_PATTERN, {**item, "product_id": "SAMPLE-P1"}, order["id"])
        return {"order with review links": view}

    def run_subjects(self, event: StoreEvent, email: str, subject: RunSubject) -> list[RunSubject]:
        if not isinstance(subject, OrderSubject):
            return []
        return [subject.model_copy(update={"review_url": self.review_url})]

    def run_inputs(
        self, store_id: str, email: str, workflow_id: str, subject_key: str, event: EventBody
    ) -> dict[str, Any]:
        delivery = DeliveryWait(mode="event", check_every=self.check_every, timeout=self.delivery_timeout)
        return {
            **delivery_inputs(delivery, store_id, email, subject_key),
            # Without a delivery: `after` counted from the purchase, of which the timeout has passed.
            "review_wait_without_delivery": max(0, self.after - delivery.checks * self.check_every),
        }

    @field_validator("review_url")
    @classmethod
    def _a_pattern_every_product_can_fill(cls, pattern: str) -> str:
        # Refused when the workflow is saved: a pattern that is wrong is wrong for every order.
        found = review_url_problems(pattern)
        if found:
            raise ValueError("; ".join(found))
        return pattern


def review_url_problems(pattern: str) -> list[str]:
    """What is wrong with a review URL pattern, in words a marketer understands."""
    found = []
    scheme, sep, rest = pattern.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
        found.append(f"{pattern!r} is not an absolute http or https URL")
    if any(ch.isspace() or ch in '"<>\\' for ch in pattern):
        found.append("it must not contain spaces, quotes or angle brackets")
    names = _PLACEHOLDER.findall(pattern)
    unknown = sorted({name for name in names if name not in REVIEW_URL_PLACEHOLDERS})
    if unknown:
        found.append(
            f"unknown placeholder {', '.join('{' + name + '}' for name in unknown)} "
            f"(order items carry {', '.join('{' + name + '}' for name in REVIEW_URL_PLACEHOLDERS)})"
        )
    if "{product_id}" not in pattern and "{sku}" not in pattern:
        found.append("it needs {product_id} or {sku}, so each product gets its own link")
    rest_of_it = _PLACEHOLDER.sub("", pattern)
    if "{" in rest_of_it or "}" in rest_of_it:
        found.append("a { or } that is not a placeholder")
    return found
