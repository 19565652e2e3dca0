"""A product put on, or taken off, the wishlist: the wishlist reminder's events."""

from __future__ import annotations

from typing import ClassVar, Literal

from storeflows.events.common import Product, StorefrontEvent


class WishlistAddedEvent(StorefrontEvent):
    type: Literal["wishlist_added"]
    product: Product

    accepted_by_api: ClassVar[bool] = True
    accepted_by_browser: ClassVar[bool] = True


class WishlistRemovedEvent(StorefrontEvent):
    type: Literal["wishlist_removed"]
    product: Product

    accepted_by_api: ClassVar[bool] = True
    accepted_by_browser: ClassVar[bool] = True
