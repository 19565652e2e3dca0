"""Search abandonment (catalogue 2.6): the contact searched, followed no result (clicked
none, viewed none of them), put nothing in the cart, bought nothing; one email an hour
after the session with the query and the products it found."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from storeflows.fields import Duration
from storeflows.workflows.templates.session_abandonment import DAY, SessionAbandonmentSettings


class SearchAbandonmentSettings(SessionAbandonmentSettings):
    description: ClassVar[str] = (
        "After a site session with a search whose results were not followed: one email with the query's products."
    )
    session_kind: ClassVar[Literal["browse", "search", "site"]] = "search"

    template: Literal["search_abandonment"] = "search_abandonment"
    # No vendor has a native flow to copy (catalogue 2.6): a week, since a query is one
    # specific intent and a contact searches for other things again.
    not_more_often_than: Duration = Field(
        default=7 * DAY, description="At most one of this workflow's emails per contact in this time."
    )
