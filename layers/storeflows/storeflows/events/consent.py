"""An explicit consent statement (a newsletter form, a preference centre, an import)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from storeflows.events.common import Customer, OccurredAt, ValueObject
from storeflows.events.subjects import EventSubject


class ConsentEvent(ValueObject):
    """The newest statement per contact wins, whatever order they arrive in."""

    type: Literal["consent"]
    occurred_at: OccurredAt = None
    customer: Customer
    marketing: bool
    source: Annotated[str, Field(min_length=1, max_length=64)] = "api"

    accepted_by_api: ClassVar[bool] = True

    def run_subject(self, event_id: str) -> EventSubject:
        return EventSubject(event_type=self.type, event_id=event_id)
