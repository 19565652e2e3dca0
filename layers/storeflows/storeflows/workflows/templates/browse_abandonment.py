"""Browse abandonment (catalogue 2.3): the contact viewed products (or spent a while among
the categories), put nothing in the cart, bought nothing; one email an hour after the
session, showing what was viewed."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from storeflows.events.subjects import SessionSubject
from storeflows.fields import Duration
from storeflows.workflows.templates.session_abandonment import DAY, SessionAbandonmentSettings


class BrowseAbandonmentSettings(SessionAbandonmentSettings):
    description: ClassVar[str] = (
        "After a site session with product views and nothing carted: one email showing what was viewed."
    )
    session_kind: ClassVar[Literal["browse", "search", "site"]] = "browse"

    template: Literal["browse_abandonment"] = "browse_abandonment"
    min_product_views: int = Field(
        default=1, ge=1, le=100, description="At least this many different products viewed in the session..."
    )
    or_time_on_site: Duration = Field(
        default=0,
        description="...or at least this long on the site with a product or category viewed (0s: product views only).",
    )
    # Agencies re-admit a contact to browse abandonment after 14 to 21 days (catalogue 2.3).
    not_more_often_than: Duration = Field(
        default=14 * DAY, description="At most one of this workflow's emails per contact in this time."
    )

    def qualifies(self, session: SessionSubject) -> bool:
        if session.product_views >= self.min_product_views:
            return True
        seen_something = bool(session.product_views or session.categories)
        on_site = (session.ended_at - session.started_at).total_seconds()
        return bool(self.or_time_on_site) and seen_something and on_site >= self.or_time_on_site
