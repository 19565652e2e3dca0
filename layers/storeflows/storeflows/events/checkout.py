"""A checkout started (or updated) with what is in it: the checkout abandonment flow's event.
Shopify's checkouts/create and checkouts/update map to it; a checkout with `completed_at`
has become an order."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from storeflows.events.common import (
    MAX_CART_ITEMS,
    CartItem,
    Currency,
    Money,
    OccurredAt,
    OptionalId,
    StorefrontEvent,
    Token,
    Url,
    ValueObject,
)


class Checkout(ValueObject):
    token: Token
    items: list[CartItem] = Field(default=[], max_length=MAX_CART_ITEMS)
    total: Money | None = None
    currency: Currency | None = None
    # Where the customer picks the checkout up again (Shopify: abandoned_checkout_url).
    recovery_url: Url = None
    completed_at: OccurredAt = None
    # The order it became, when the source says so.
    order_id: OptionalId = None


class CheckoutStartedEvent(StorefrontEvent):
    type: Literal["checkout_started"]
    checkout: Checkout

    accepted_by_api: ClassVar[bool] = True
    accepted_by_browser: ClassVar[bool] = True
