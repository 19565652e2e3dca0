"""Any page of the store was seen: the session's heartbeat (site abandonment, time on site).
A page view is one write to the session; it never starts a run by itself."""

from __future__ import annotations

from typing import ClassVar, Literal

from storeflows.events.common import OptionalText, StorefrontEvent, Url, ValueObject


class Page(ValueObject):
    url: Url = None
    title: OptionalText = None


class PageViewedEvent(StorefrontEvent):
    type: Literal["page_viewed"]
    page: Page = Page()

    accepted_by_api: ClassVar[bool] = True
    accepted_by_browser: ClassVar[bool] = True
