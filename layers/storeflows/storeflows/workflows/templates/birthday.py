"""Birthday (seed 003, catalogue 2.11): every year on the contact's birthday (or `days_before`
it), at `send_at` in the contact's time zone (their country's, else the store's:
storeflows.timezones), one message, optionally with a coupon (a coupon on the message).

The hourly schedule starts the runs (storeflows.schedules): each tick reads the contacts
whose birthday is on the days its hour can be `send_at` somewhere, and starts a run for
those whose `send_at` falls in that hour, waiting out the minutes to it. A Feb 29 birthday is
celebrated on Feb 28 in other years. One run per contact and year (subjects.DateSubject)."""

from __future__ import annotations

from datetime import time
from typing import ClassVar, Literal

from pydantic import Field

from storeflows.events.subjects import SubjectView
from storeflows.fields import MessageId
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.triggers import ScheduleTrigger


class BirthdaySettings(TemplateSettings):
    description: ClassVar[str] = "A birthday email every year, at a set hour in the contact's time zone."
    # The index of contacts by day of the year the schedule reads (storage.dates).
    occasion: ClassVar[str] = "birthday"

    template: Literal["birthday"] = "birthday"
    trigger: ScheduleTrigger = Field(
        default=ScheduleTrigger(), description="The hourly schedule (`type: schedule`), the only trigger it takes."
    )
    message: MessageId = Field(
        description="The birthday message (marketing); put a coupon on it for a birthday gift. It sees `birthday.date`."
    )
    send_at: time = Field(default=time(9, 0), description="The local time of day it goes, in the contact's zone.")
    days_before: int = Field(
        default=0, ge=0, le=30, description="How many days before the birthday it goes (0: on the day)."
    )

    @classmethod
    def sample_subjects(cls) -> dict[str, SubjectView]:
        return {"date": SubjectView({"birthday": {"date": "2026-05-17"}})}
