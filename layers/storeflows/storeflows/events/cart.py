"""The cart as it is now (an empty cart too): the cart abandonment flow's event. Shopify's
carts/create and carts/update map to it (they name no customer: the cart token joins the
visitor the pixel reported it for); on WooCommerce the browser snippet reports it."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from storeflows.events.common import MAX_CART_ITEMS, CartItem, Currency, Money, StorefrontEvent, Token, Url, ValueObject


class Cart(ValueObject):
    token: Token
    items: list[CartItem] = Field(default=[], max_length=MAX_CART_ITEMS)
    total: Money | None = None
    currency: Currency | None = None
    recovery_url: Url = None


class CartUpdatedEvent(StorefrontEvent):
    type: Literal["cart_updated"]
    cart: Cart

    accepted_by_api: ClassVar[bool] = True
    accepted_by_browser: ClassVar[bool] = True
