"""A newsletter or account sign-up, with the consent statement the person agreed to and
where (its source): the welcome series' event. From the store's signed event API it is a
confirmed subscription; from the browser it is only a request, confirmed by the link of a
transactional email (double opt-in), so nobody can subscribe someone else's address."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from storeflows.events.common import MAX_TEXT_LENGTH, Customer, OccurredAt, ValueObject
from storeflows.events.subjects import EventSubject


class SubscribedEvent(ValueObject):
    type: Literal["subscribed"]
    occurred_at: OccurredAt = None
    customer: Customer
    # The words the person agreed to, as the form showed them (kept with the consent record).
    consent_text: Annotated[str | None, Field(max_length=MAX_TEXT_LENGTH)] = None
    source: Annotated[str, Field(min_length=1, max_length=64)] = "api"

    accepted_by_api: ClassVar[bool] = True
    # The browser's sign-up is a request to confirm, not this event (storeflows.storefront).
    accepted_by_browser: ClassVar[bool] = False

    def run_subject(self, event_id: str) -> EventSubject:
        return EventSubject(event_type=self.type, event_id=event_id)
