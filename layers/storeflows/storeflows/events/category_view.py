"""Someone looked at a category (a Shopify collection) page."""

from __future__ import annotations

from typing import ClassVar, Literal

from storeflows.events.common import OptionalId, OptionalText, StorefrontEvent, Url, ValueObject


class Category(ValueObject):
    category_id: OptionalId = None
    name: OptionalText = None
    url: Url = None


class CategoryViewedEvent(StorefrontEvent):
    type: Literal["category_viewed"]
    category: Category

    accepted_by_api: ClassVar[bool] = True
    accepted_by_browser: ClassVar[bool] = True
