"""What every workflow template is: its settings class carries all a template knows.

A template is one module in this package with one settings class (a subclass of
TemplateSettings), one line in the registry (templates/__init__.py), one state machine,
`statemachines/<template>.asl.json`, and its block in template.yaml: the state machine,
named `${AWS::StackName}_<template>` (so the dispatcher finds it by name), its alarm and its
output. Nothing else names a template."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from storeflows.events import EventBody, StoreEvent
from storeflows.events.subjects import RunSubject, SubjectView
from storeflows.workflows.triggers import Trigger, trigger_classes


class TemplateSettings(BaseModel):
    """The settings a marketer gives a template, and the template's behaviour around them."""

    model_config = ConfigDict(extra="forbid")

    # What `storeflows workflows templates` shows: one sentence a marketer understands.
    description: ClassVar[str]
    # Settings whose message must be transactional, and what goes wrong when it is not.
    transactional_only: ClassVar[Mapping[str, str]] = {}
    # The setting (a Duration) that is "not more often than once per <duration>" for this
    # workflow's sends to one contact, if the template has one; the send step enforces it.
    frequency_cap_setting: ClassVar[str | None] = None

    template: str
    trigger: Trigger

    @classmethod
    def sample_subjects(cls) -> dict[str, SubjectView]:
        """What each kind of run of this template shows its messages of the run's subject,
        with sample data (kind -> view): every message it sends must render for each. From
        its triggers; a template whose runs are about something else (a cart, a product)
        overrides it."""
        return dict(
            trigger.sample_subject  # type: ignore[attr-defined]
            for trigger in trigger_classes(cls.model_fields["trigger"].annotation)
        )

    def runs_for(self, event: EventBody) -> bool:
        """Whether an event starts a run of this template (its trigger matches)."""
        return self.trigger.matches(event)

    def takes(self, subject: RunSubject) -> bool:
        """Whether a run about this subject is this template's (the dispatcher asks after the
        trigger matched): every subject, but for the session templates, which each take
        their own kind of session."""
        return True

    def run_subjects(self, event: StoreEvent, email: str, subject: RunSubject) -> list[RunSubject]:
        """The runs this workflow starts for an event whose trigger matched, by subject (the
        contact is `email`): one about the event's subject when the template takes it. A
        template whose runs are about a part of it (replenishment: one per SKU of an order),
        named otherwise (vip: per contact), seeing more of it (review_request: review links)
        or started only sometimes (vip: when a threshold is crossed) overrides it."""
        return [subject] if self.takes(subject) else []

    def run_inputs(
        self, store_id: str, email: str, workflow_id: str, subject_key: str, event: EventBody
    ) -> dict[str, Any]:
        """What the template's state machine needs beyond the common run input, derived
        before the run starts (ASL cannot compute it)."""
        return {}

    def frequency_cap_seconds(self) -> int:
        """The frequency cap in seconds (0: no limit)."""
        return int(getattr(self, self.frequency_cap_setting)) if self.frequency_cap_setting else 0

    def exits_on_purchase(self) -> bool:
        """Whether the run's sends stop once the contact buys (checked before each send)."""
        return False

    def exit_on_purchase_after(self, received_at: datetime, event: EventBody) -> datetime | None:
        """With exits_on_purchase: a purchase at or after this moment skips the run's later
        sends; by default, one after the event that started the run arrived."""
        return received_at if self.exits_on_purchase() else None

    def problems(self) -> list[str]:
        """The template's own mistakes in its settings, in words a marketer understands
        ("field: what is wrong"); checked before publishing."""
        return []
