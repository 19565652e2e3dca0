"""Stores, messages and contacts as the domain sees them (not as DynamoDB stores them:
storeflows.storage converts)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from storeflows.fields import Duration, MessageId
from storeflows.timezones import is_zone

STORE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9\-]{0,63}$")


def is_store_id(value: str) -> bool:
    """Checked before any lookup: an id from a URL or an unverified token must not reach
    DynamoDB unless it could be a store (keys have a size limit; errors there are 500s)."""
    return bool(STORE_ID_PATTERN.fullmatch(value))


class Touch(BaseModel):
    """An open or a click of one Storeflows email: what a later purchase is attributed to."""

    at: datetime
    workflow_id: str
    message_id: str
    sent_on: str  # the report day of the email (yyyy-mm-dd)
    ses_message_id: str


class Attribution(BaseModel):
    """Which purchases a message earned: those made within a window after the contact last
    clicked (or opened) a Storeflows email. The last touch wins; each order counts once."""

    model_config = ConfigDict(extra="forbid")

    click_window: Duration = 5 * 86400
    open_window: Duration = 5 * 86400
    # Mail privacy proxies (Apple Mail) open every email they receive, so a store may count
    # clicks only.
    count_opens: bool = True

    def touch_for(self, contact: Contact, purchased_at: datetime) -> Touch | None:
        candidates = [(contact.last_click, self.click_window)]
        if self.count_opens:
            candidates.append((contact.last_open, self.open_window))
        eligible = [
            touch
            for touch, window in candidates
            if touch is not None and touch.at <= purchased_at <= touch.at + timedelta(seconds=window)
        ]
        return max(eligible, key=lambda touch: touch.at, default=None)


class ShopifyOrders(BaseModel):
    """How the store's Shopify order webhooks count (storeflows.intake.shopify)."""

    model_config = ConfigDict(extra="forbid")

    # Orders Shopify marks `test: true` (placed through a test payment gateway, and Shopify's
    # own sample webhook) count like any other, so a new store can try its flows with them;
    # a live store whose staff place test orders turns them off.
    count_test_orders: bool = True


class BrowserSettings(BaseModel):
    """What the store's pages may send to POST /collect (the browser snippet, the Shopify
    pixel): the public key they name (not a secret: any visitor can read it), the origins of
    the pages allowed to send, and whether the visitor's consent must be given first."""

    model_config = ConfigDict(extra="forbid")

    public_key: str
    # "https://shop.example.com" (scheme, host and port, no path); links in Storeflows emails
    # to these origins carry the contact token (messaging.contact_links).
    allowed_origins: list[str] = []
    # On unless the store turns it off: the store record does not know where it sells, and
    # ePrivacy art. 5(3) asks for consent before a browser id is stored for anyone in the EU.
    consent_required: bool = True


class Store(BaseModel):
    store_id: str = Field(pattern=STORE_ID_PATTERN.pattern)
    name: str = ""
    shopify_secret: str | None = None
    webhook_secret: str | None = None  # Standard Webhooks secret, "whsec_..."
    woocommerce_secret: str | None = None
    # A platform's secret before its last rotation, still accepted until the operator retires
    # it (`storeflows stores retire-secret`), so a store switches over without a refused webhook.
    previous_shopify_secret: str | None = None
    previous_webhook_secret: str | None = None
    previous_woocommerce_secret: str | None = None
    unsubscribe_key: str
    attribution: Attribution = Attribution()
    shopify: ShopifyOrders = ShopifyOrders()
    browser: BrowserSettings | None = None
    # The store's own zone: its contacts' without a country (storeflows.timezones), and the
    # day of its date and silence flows.
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if not is_zone(value):
            raise ValueError(f"{value!r} is not a time zone like Europe/Warsaw or UTC")
        return value

    def previous_secret(self, field: str) -> tuple[str, ...]:
        """The secret `field` (shopify_secret, ...) had before its last rotation, if still accepted."""
        previous = getattr(self, f"previous_{field}")
        return (previous,) if previous else ()


class Purpose(str, enum.Enum):
    """Why a message is sent. Marketing needs consent and respects unsubscribes;
    transactional (an order confirmation) only respects hard suppression."""

    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"


class Sender(BaseModel):
    """Who a message is from: the From name and address, and where replies go."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The From name, e.g. Demo Store.")
    address: str = Field(description="The From address; it must belong to the stack's SES identity.")
    reply_to: str | None = Field(default=None, description="Where replies go (none: to the From address).")


SENDER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
SenderId = Annotated[str, Field(pattern=SENDER_ID_PATTERN.pattern)]


class SenderProfile(Sender):
    """A sender defined once per store and named by its messages (`sender: shop-team`). It is
    read at every send, so editing it changes every later send."""

    store_id: str
    sender_id: SenderId


def within_identity(address: str, identity: str) -> bool:
    """Whether SES may send From `address` under the verified `identity`: an address identity
    covers itself, a domain identity every address of the domain and of its subdomains."""
    address, identity = address.strip().lower(), identity.strip().lower()
    if "@" in identity:
        return address == identity
    domain = address.rpartition("@")[2]
    return domain == identity or domain.endswith(f".{identity}")


COUPON_POOL_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
MAX_COUPON_CODE_LENGTH = 256


class StaticCoupon(BaseModel):
    """One code for everyone who gets the message: {"type": "static", "code": "SPRING10"}."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: Literal["static"] = "static"
    code: str = Field(min_length=1, max_length=MAX_COUPON_CODE_LENGTH, description="The code every email carries.")


class WhenExhausted(str, enum.Enum):
    """What a send does when its dynamic coupon pool has no code left."""

    SEND_WITHOUT_COUPON = "send_without_coupon"  # the template's {% if coupon %} block stays empty
    SKIP_MESSAGE = "skip_message"  # nothing is sent; the skip is recorded as coupon_pool_exhausted


class DynamicCoupon(BaseModel):
    """A unique code per recipient from an imported pool (storeflows.messaging.coupons):
    {"type": "dynamic", "pool": "spring-2026", "when_exhausted": "skip_message"}."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["dynamic"] = "dynamic"
    pool: str = Field(
        pattern=COUPON_POOL_ID_PATTERN.pattern,
        description="The pool the codes come from, one per email (`storeflows coupons import`).",
    )
    when_exhausted: WhenExhausted = Field(
        default=WhenExhausted.SEND_WITHOUT_COUPON, description="What a send does once the pool has no code left."
    )


Coupon = Annotated[StaticCoupon | DynamicCoupon, Field(discriminator="type")]


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
    # Inline, or the id of one of the store's sender profiles (read at every send).
    sender: Sender | SenderId
    default_language: str = "en"
    variants: dict[str, MessageContent]
    coupon: Coupon | None = None

    @model_validator(mode="after")
    def _fallback_exists(self) -> Message:
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
    birthday: str | None = None  # YYYY-MM-DD or --MM-DD (events.common.Birthday)
    last_order_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    # Why, when it was not the contact's own doing: "sunset" (the sunset template's end).
    unsubscribed_reason: str | None = None
    suppressed_reason: str | None = None  # "bounce" or "complaint": no email of any kind
    last_open: Touch | None = None
    last_click: Touch | None = None
    # The silence index's (storage.silence): emails delivered, the last engagement (an open
    # not by a mail privacy proxy, a click, a purchase) and the day the silence is counted from.
    emails_received: int = 0
    engaged_at: datetime | None = None
    silent_since: str | None = None

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


# What stops marketing to a contact (see Contact.may_receive): the profile fields an erasure
# keeps, so that a later profile for the same address starts with them.
MARKETING_BLOCKS = ("unsubscribed_at", "suppressed_reason")
ERASURE_CONSENT_SOURCE = "erasure"


class Suppression(BaseModel):
    """What erasing a contact keeps, under a hash of the address (keys.suppression_key): when
    and by what it was erased, and what stopped marketing to it before. Never the address."""

    erased_at: str
    erased_via: str
    unsubscribed_at: str | None = None
    suppressed_reason: str | None = None

    @classmethod
    def after_erasure(cls, profile: dict, previous: Suppression | None, *, at: str, via: str) -> Suppression:
        """The record of an erasure now, keeping what blocked marketing in the erased profile or
        in an earlier erasure of the same address."""
        return cls(
            erased_at=at,
            erased_via=via,
            **{
                field: profile.get(field) or (getattr(previous, field) if previous else None)
                for field in MARKETING_BLOCKS
            },
        )

    def profile_fields(self) -> dict:
        """What a new profile for the erased address starts with: the old unsubscribe or
        suppression, and no marketing consent as of the erasure, so that only a consent
        statement made after the erasure can allow marketing again (the newest statement wins)."""
        fields = {field: getattr(self, field) for field in MARKETING_BLOCKS if getattr(self, field)}
        fields["consent"] = {"marketing": False, "source": ERASURE_CONSENT_SOURCE, "updated_at": self.erased_at}
        return fields


class DataRequestRecord(BaseModel):
    """A contact's request for the data held about them (Shopify customers/data_request), kept
    until the operator answers it with `storeflows contacts data-requests`."""

    request_id: str
    email: str
    source: str
    received_at: str
    platform_customer_id: str | None = None
    orders_requested: list[str] = []
    answered_at: str | None = None


# Why a send step sent nothing: the fixed list its decision records, the EmailsSkipped metric's
# `reason` dimension and the report's skipped counters draw from (each metric dimension value
# is a billed custom metric, so no free text). Documented in the README (Operations).
SKIP_REASONS = (
    "no_marketing_consent",
    "unsubscribed",
    "suppressed",
    "frequency_cap",
    "coupon_pool_exhausted",
    "unknown_contact",
    "send_outcome_unknown",
    "address_not_sendable",
    "order_cancelled",
    "cooldown",
    "bought_since",
    "carted_since",
    "nothing_to_remind",
    "nothing_to_recommend",
    "reordered",
    "product_unavailable",
    "engaged_since",
)
