"""What browse, search and site abandonment share: a run about one ended site session
(subjects.SessionSubject), one message `send_after` the session's end, re-checked before
the send (bought since, carted since: the send step), at most once per `not_more_often_than`
per contact (the send step's atomic slot: skip reason frequency_cap), to contacts with
marketing consent only (the message must be a marketing message: the send step applies
consent, unsubscribes and suppression)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from storeflows.events.subjects import RunSubject, SessionSubject, SubjectView, sample_session
from storeflows.fields import Duration, MessageId
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.triggers import SessionEndTrigger

HOUR = 3600
DAY = 86400


class SessionAbandonmentSettings(TemplateSettings):
    # The kind of session this template's runs are about (one per session: the dispatcher
    # offers a session to browse, then search, then site abandonment).
    session_kind: ClassVar[Literal["browse", "search", "site"]]
    frequency_cap_setting: ClassVar[str | None] = "not_more_often_than"

    trigger: SessionEndTrigger = Field(default=SessionEndTrigger(), description="A site session of the contact ended.")
    message: MessageId = Field(description="The marketing message sent after the session.")
    send_after: Duration = Field(default=HOUR, description="How long after the session's end the message goes.")

    @classmethod
    def sample_subjects(cls) -> dict[str, SubjectView]:
        return {f"{cls.session_kind} session": sample_session(cls.session_kind).view(None)}

    def takes(self, subject: RunSubject) -> bool:
        return isinstance(subject, SessionSubject) and subject.kind == self.session_kind and self.qualifies(subject)

    def qualifies(self, session: SessionSubject) -> bool:
        """Whether the session is worth this template's message (beyond its kind)."""
        return True
