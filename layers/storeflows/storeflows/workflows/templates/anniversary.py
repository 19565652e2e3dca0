"""Anniversary (seed 003, catalogue 2.11): every year on the day of the contact's first order
(UTC day), from its first anniversary on, at `send_at` in the contact's time zone, one message
that can show the years (`anniversary.years`), optionally with a coupon. The birthday's
machinery (storeflows.schedules): the dispatcher puts a contact in the index of first
orders' days when their first order is recorded."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from storeflows.events.subjects import SubjectView
from storeflows.fields import MessageId
from storeflows.workflows.templates.birthday import BirthdaySettings


class AnniversarySettings(BirthdaySettings):
    description: ClassVar[str] = "An email on each anniversary of the contact's first order, at a set hour."
    occasion: ClassVar[str] = "anniversary"

    template: Literal["anniversary"] = "anniversary"  # type: ignore[assignment]
    message: MessageId = Field(
        description="The anniversary message (marketing); it sees `anniversary.years` and `anniversary.date`."
    )

    @classmethod
    def sample_subjects(cls) -> dict[str, SubjectView]:
        return {"date": SubjectView({"anniversary": {"date": "2026-05-17", "years": 2}})}
