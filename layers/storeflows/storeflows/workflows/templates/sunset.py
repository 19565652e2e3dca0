"""Sunset (catalogue 2.12): a contact who received at least `min_emails` emails and has not
engaged for `inactive_for` (no open but by a mail privacy proxy, no click, no purchase) gets a
short re-engagement series; still silent `unsubscribe_after` its last message, they are
unsubscribed from marketing with reason `sunset` (on the profile, in the report).

The hourly schedule starts the runs (storeflows.silence): at the tick of `send_at` in the
store's zone it reads only the silence index's partition of the day `inactive_for` ago
(storage.silence). Each send, and the unsubscribe at the end, re-checks the contact: one who
engaged since the run started leaves the series (skipped: engaged_since) and stays
subscribed. One run per contact and silence (subjects.SilenceSubject)."""

from __future__ import annotations

from datetime import time
from typing import Any, ClassVar, Literal

from pydantic import Field

from storeflows.events import EventBody
from storeflows.events.subjects import SubjectView
from storeflows.fields import Duration
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.templates.series import SeriesStep, numbered_steps
from storeflows.workflows.triggers import ScheduleTrigger

MAX_STEPS = 3
DAY = 86400


class SunsetSettings(TemplateSettings):
    description: ClassVar[str] = (
        "Re-engage contacts silent for months, then unsubscribe those who stay silent (reason sunset)."
    )

    template: Literal["sunset"] = "sunset"
    trigger: ScheduleTrigger = Field(
        default=ScheduleTrigger(), description="The hourly schedule (`type: schedule`), the only trigger it takes."
    )
    min_emails: int = Field(
        default=5, ge=1, description="How many emails a contact must have received (delivered) to count as silent."
    )
    inactive_for: Duration = Field(
        default=90 * DAY,
        ge=DAY,
        description="How long without an engagement (an open not by a mail privacy proxy, a click, a purchase), "
        "in whole days, before the series starts (90d).",
    )
    steps: list[SeriesStep] = Field(
        min_length=1,
        max_length=MAX_STEPS,
        description="The re-engagement messages (marketing), in order, each with its `wait` after the previous "
        "one (the first after the silence is found); two a week apart is usual.",
    )
    unsubscribe_after: Duration = Field(
        default=7 * DAY, description="How long after the last message a contact still silent is unsubscribed (7d)."
    )
    send_at: time = Field(default=time(10, 0), description="The hour of the store's day (its zone) the series starts.")

    @property
    def inactive_days(self) -> int:
        return self.inactive_for // DAY

    @classmethod
    def sample_subjects(cls) -> dict[str, SubjectView]:
        return {"silence": SubjectView()}

    def sunset_inputs(self) -> dict[str, Any]:
        """What the state machine needs beyond the common run input."""
        return {"sunset_steps": numbered_steps(self.steps), "sunset_unsubscribe_after": self.unsubscribe_after}

    def run_inputs(
        self, store_id: str, email: str, workflow_id: str, subject_key: str, event: EventBody
    ) -> dict[str, Any]:
        return self.sunset_inputs()
