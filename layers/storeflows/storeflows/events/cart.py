"""The cart as it is now (an empty cart too): the cart abandonment flow's event. Shopify's
carts/create and carts/update map to it (they name no customer: the cart token joins the
visitor the pixel reported it for); on WooCommerce the browser snippet reports it."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

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

    @model_validator(mode="after")
    def _names_someone(self) -> CartUpdatedEvent:
        """Replaces StorefrontEvent's rule: a cart may name nobody but its token (Shopify's
        carts/update); it waits for the browser to report whose the token is
        (storeflows.abandonment)."""
        return self

    @property
    def names_nobody(self) -> bool:
        return self.customer is None and self.visitor_id is None
