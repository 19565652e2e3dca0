"""Someone looked at a product page: browse abandonment counts these."""

from __future__ import annotations

from typing import ClassVar, Literal

from storeflows.events.common import Product, StorefrontEvent


class ProductViewedEvent(StorefrontEvent):
    type: Literal["product_viewed"]
    product: Product

    accepted_by_api: ClassVar[bool] = True
    accepted_by_browser: ClassVar[bool] = True
