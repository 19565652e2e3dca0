"""Stores, messages and contacts as the domain sees them (not as DynamoDB stores them:
repository.py converts)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from storeflows.workflows import MessageId


STORE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9\-]{0,63}$")


def is_store_id(value: str) -> bool:
    """Checked before any lookup: an id from a URL or an unverified token must not reach
    DynamoDB unless it could be a store (keys have a size limit; errors there are 500s)."""
    return bool(STORE_ID_PATTERN.fullmatch(value))


class Store(BaseModel):
    store_id: str = Field(pattern=STORE_ID_PATTERN.pattern)
    name: str = ""
    shopify_secret: str | None = None
    webhook_secret: str | None = None  # Standard Webhooks secret, "whsec_..."
    woocommerce_secret: str | None = None
    unsubscribe_key: str


class Purpose(str, enum.Enum):
    """Why a message is sent. Marketing needs consent and respects unsubscribes;
    transactional (an order confirmation) only respects hard suppression."""

    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"


class Sender(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    address: str
    reply_to: str | None = None


COUPON_POOL_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
MAX_COUPON_CODE_LENGTH = 256


class StaticCoupon(BaseModel):
    """One code for everyone who gets the message: {"type": "static", "code": "SPRING10"}."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: Literal["static"] = "static"
    code: str = Field(min_length=1, max_length=MAX_COUPON_CODE_LENGTH)


class WhenExhausted(str, enum.Enum):
    """What a send does when its dynamic coupon pool has no code left."""

    SEND_WITHOUT_COUPON = "send_without_coupon"  # the template's {% if coupon %} block stays empty
    SKIP_MESSAGE = "skip_message"  # nothing is sent; the skip is recorded as coupon_pool_exhausted


class DynamicCoupon(BaseModel):
    """A unique code per recipient from an imported pool (storeflows.coupons):
    {"type": "dynamic", "pool": "spring-2026", "when_exhausted": "skip_message"}."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["dynamic"] = "dynamic"
    pool: str = Field(pattern=COUPON_POOL_ID_PATTERN.pattern)
    when_exhausted: WhenExhausted = WhenExhausted.SEND_WITHOUT_COUPON


Coupon = Annotated[Union[StaticCoupon, DynamicCoupon], Field(discriminator="type")]


@dataclass(frozen=True)
class MessageContent:
    """One language variant of a message, as the marketer wrote it (Jinja2 source, rendered
    by rendering.py: only the functions that send import Jinja2)."""

    subject: str
    html: str
    text: str


class Message(BaseModel):
    """A message with one content variant per language and a fallback language, and
    optionally a coupon its templates can show ({{ coupon.code }})."""

    store_id: str
    message_id: MessageId
    purpose: Purpose
    sender: Sender
    default_language: str = "en"
    variants: dict[str, MessageContent]
    coupon: Coupon | None = None

    @model_validator(mode="after")
    def _fallback_exists(self) -> "Message":
        if self.default_language not in self.variants:
            raise ValueError(f"the fallback language {self.default_language!r} has no variant")
        return self

    def content_for(self, language: str | None) -> tuple[str, MessageContent]:
        """The variant for the contact's primary language ("pl-PL" -> "pl"), else the fallback."""
        primary = (language or "").split("-")[0].lower()
        if primary in self.variants:
            return primary, self.variants[primary]
        return self.default_language, self.variants[self.default_language]


class Consent(BaseModel):
    marketing: bool
    source: str
    updated_at: datetime


class Contact(BaseModel):
    store_id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    language: str | None = None
    country: str | None = None
    consent: Consent | None = None
    tags: set[str] = set()
    score: int = 0
    orders_count: int = 0
    total_spent: Decimal = Decimal("0")
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    suppressed_reason: str | None = None

    def may_receive(self, purpose: Purpose) -> tuple[bool, str | None]:
        """Whether a message of this purpose may go out now, and if not, why."""
        if self.suppressed_reason:
            return False, "suppressed"
        if purpose is Purpose.MARKETING:
            if self.unsubscribed_at is not None:
                return False, "unsubscribed"
            if self.consent is None or not self.consent.marketing:
                return False, "no_marketing_consent"
        return True, None
