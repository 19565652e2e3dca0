"""Workflow templates and their settings.

A workflow is a template + a store + settings, saved as a draft and published by the
marketer. Settings are a discriminated union on `template` (as Dittofeed's
JourneyDefinition), so each template validates exactly the settings it uses. The
dispatcher snapshots the published settings into the execution input: a run keeps the
settings it started with even if the marketer edits the workflow meanwhile."""

from __future__ import annotations

import enum
import hashlib
import re
from decimal import Decimal
from typing import Annotated, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

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


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(value: object) -> object:
    """"10d", "12h", "30m", "45s" or a number of seconds; the rest is pydantic's to refuse."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration like 10d, 12h, 30m or 45s")
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


# Stored and handed to Wait states as whole seconds; written by marketers as "10d".
Duration = Annotated[int, BeforeValidator(_seconds), Field(ge=0, le=365 * 86400)]

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


class ConsentConfirmationSettings(BaseModel):
    """Template 1 (seed 000): EU customers are split by marketing consent, so one without
    consent gets a purely transactional confirmation; customers outside the EU get theirs."""

    model_config = ConfigDict(extra="forbid")

    template: Literal["consent_confirmation"] = "consent_confirmation"
    trigger: PurchaseTrigger = PurchaseTrigger()
    # Treat Iceland, Liechtenstein and Norway (the EEA beyond the EU) like the EU.
    include_eea: bool = False
    eu_consented_message: MessageId
    eu_without_consent_message: MessageId
    outside_eu_message: MessageId


class PurchaseFollowUpSettings(BaseModel):
    """Template 2 (seed 000): thanks now, a follow-up after a wait, tags from what was bought."""

    model_config = ConfigDict(extra="forbid")

    template: Literal["purchase_follow_up"] = "purchase_follow_up"
    trigger: PurchaseTrigger = PurchaseTrigger()
    thank_you_message: MessageId
    follow_up_message: MessageId
    follow_up_after: Duration = 10 * 86400
    # "bought:<category>" for every category in the order; empty prefix turns it off.
    category_tag_prefix: str = Field(default="bought:", max_length=32)
    # Extra tags for given SKUs, e.g. {"VENISE-DRESS": "dress_owner"}.
    sku_tags: dict[str, TagName] = {}

    def purchase_tags(self, purchase: PurchaseEvent) -> list[str]:
        tags = set()
        for item in purchase.order.items:
            if self.category_tag_prefix and item.category:
                tags.add(_tag(f"{self.category_tag_prefix}{item.category}"))
            if item.sku in self.sku_tags:
                tags.add(self.sku_tags[item.sku])
        return sorted(tags)


def _tag(text: str) -> str:
    """A category name made into a tag: spaces and odd characters become "-", lower-case."""
    return re.sub(r"[^a-z0-9_:.\-]+", "-", text.strip().lower())[:64]


class ValueTier(BaseModel):
    """Orders whose total is at least `min_total` and below `max_total` (open-ended when
    absent) get `message`."""

    model_config = ConfigDict(extra="forbid")

    min_total: Decimal = Field(ge=0)
    max_total: Decimal | None = None
    message: MessageId

    def contains(self, total: Decimal) -> bool:
        return total >= self.min_total and (self.max_total is None or total < self.max_total)

    def describe(self) -> str:
        return f"{self.min_total}–{self.max_total if self.max_total is not None else '∞'}"


class OrderValueSettings(BaseModel):
    """Template 4 (seed 002): one email per purchase, chosen by order value, after a delay,
    at most once per period per customer."""

    model_config = ConfigDict(extra="forbid")

    template: Literal["order_value"] = "order_value"
    trigger: PurchaseTrigger = PurchaseTrigger()
    tiers: list[ValueTier] = Field(min_length=1)
    delay_after_purchase: Duration = 0
    # Minimum time between this workflow's messages to one customer; 0 means no limit.
    not_more_often_than: Duration = 0

    def tier_for(self, total: Decimal) -> ValueTier | None:
        return next((tier for tier in self.tiers if tier.contains(total)), None)

    def problems(self) -> list[str]:
        """Threshold mistakes, in words a marketer understands; checked before publishing."""
        found = []
        tiers = sorted(self.tiers, key=lambda tier: tier.min_total)
        if tiers[0].min_total != 0:
            found.append(f"tiers: orders below {tiers[0].min_total} get no message (the first tier should start at 0)")
        for tier in tiers:
            if tier.max_total is not None and tier.max_total <= tier.min_total:
                found.append(f"tiers: {tier.describe()} is empty (the upper bound must be above the lower)")
        for lower, upper in zip(tiers, tiers[1:]):
            if lower.max_total is None or lower.max_total > upper.min_total:
                found.append(f"tiers: {lower.describe()} overlaps {upper.describe()}")
            elif lower.max_total < upper.min_total:
                found.append(f"tiers: orders from {lower.max_total} to {upper.min_total} get no message (gap)")
        if tiers[-1].max_total is not None:
            found.append(f"tiers: orders of {tiers[-1].max_total} and more get no message (make the last tier open-ended)")
        return found


class DeliveryWait(BaseModel):
    """How long to wait for the parcel: a fixed time, or until the store reports the order
    delivered (a `delivered` event), checked every `check_every`, giving up after `timeout`."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["fixed", "event"] = "fixed"
    wait: Duration = 5 * 86400
    check_every: Duration = Field(default=12 * 3600, ge=60)
    timeout: Duration = 14 * 86400

    @property
    def checks(self) -> int:
        return max(1, -(-self.timeout // self.check_every))


class CareSeriesSettings(BaseModel):
    """Template 5 (seed 004): a care series for buyers of a given product."""

    model_config = ConfigDict(extra="forbid")

    template: Literal["care_series"] = "care_series"
    # The condition of the seed: the order contains this product (SKU) or category.
    trigger: PurchaseTrigger
    thank_you_message: MessageId
    delivery_check_message: MessageId
    care_tips_message: MessageId
    cross_sell_message: MessageId
    delivery: DeliveryWait = DeliveryWait()
    tips_after: Duration = 3 * 86400
    cross_sell_after: Duration = 5 * 86400

    @model_validator(mode="after")
    def _has_product_condition(self) -> "CareSeriesSettings":
        if not self.trigger.skus and not self.trigger.categories:
            raise ValueError("a care series needs a product condition: trigger.skus or trigger.categories")
        return self


WorkflowSettings = Annotated[
    Union[
        TargetedPostPurchaseSettings,
        ConsentConfirmationSettings,
        PurchaseFollowUpSettings,
        OrderValueSettings,
        CareSeriesSettings,
    ],
    Field(discriminator="template"),
]


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
        if self.status is not WorkflowStatus.PUBLISHED or not self.settings.trigger.matches(purchase):
            return False
        if isinstance(self.settings, OrderValueSettings):
            # An order in a gap between tiers has no message (publishing warns about gaps).
            return self.settings.tier_for(purchase.order.total) is not None
        return True


# Which setting names the deployed state machine of each template, see config.Settings.
STATE_MACHINE_SETTING = {
    "targeted_post_purchase": "targeted_post_purchase_state_machine_arn",
    "consent_confirmation": "consent_confirmation_state_machine_arn",
    "purchase_follow_up": "purchase_follow_up_state_machine_arn",
    "order_value": "order_value_state_machine_arn",
    "care_series": "care_series_state_machine_arn",
}


_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def run_name(store_id: str, order_id: str, workflow_id: str) -> str:
    """The name of the one run of a workflow for an order (the dispatcher starts it, an erasure
    stops it). Deterministic, at most 80 legal characters: a readable prefix and a hash of the
    triple."""
    digest = hashlib.sha256(f"{store_id}\x1f{order_id}\x1f{workflow_id}".encode()).hexdigest()[:40]
    prefix = _NAME_UNSAFE.sub("_", f"{store_id}-{workflow_id}")[:38]
    return f"{prefix}-{digest}"
