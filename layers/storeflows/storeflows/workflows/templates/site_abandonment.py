"""Site abandonment (catalogue 2.2): an identified contact visited, viewed no product, put
nothing in the cart; one email an hour after the session."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from storeflows.events.subjects import SessionSubject
from storeflows.fields import Duration
from storeflows.workflows.templates.session_abandonment import DAY, SessionAbandonmentSettings


class SiteAbandonmentSettings(SessionAbandonmentSettings):
    description: ClassVar[str] = "After a site session without a product view: one email inviting the contact back."
    session_kind: ClassVar[Literal["browse", "search", "site"]] = "site"

    template: Literal["site_abandonment"] = "site_abandonment"
    min_pages: int = Field(default=1, ge=1, le=1000, description="At least this many pages seen in the session.")
    not_more_often_than: Duration = Field(
        default=14 * DAY, description="At most one of this workflow's emails per contact in this time."
    )

    def qualifies(self, session: SessionSubject) -> bool:
        return session.pages >= self.min_pages
