"""What a workflow's send step is asked to do. The dispatcher builds a run's part once, into
the run input (`$.send`); each send state adds the message and its own name.

Kept apart from the send pipeline, so the dispatcher that builds it never imports Jinja2."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from storeflows.events.subjects import RunSubject
from storeflows.storage import keys


class SendRun(BaseModel):
    """What every send step of one run hands the send function."""

    store_id: str
    workflow_id: str
    email: str
    subject: RunSubject
    # "Not more often than once per <seconds>" for this workflow and contact; 0: no limit.
    frequency_cap_seconds: int = 0
    # The cap holds per this scope of the workflow (a product: a catalogue alert's cooldown,
    # once per contact and product), not the whole workflow; None: the whole workflow.
    frequency_cap_scope: str | None = None
    # A run that ends once the contact buys (the welcome series' exit_on_purchase): a
    # purchase made at or after this moment skips every later send.
    exit_on_purchase_after: datetime | None = None
    # A run that ends once the contact engages (the sunset's): an open not by a mail privacy
    # proxy, a click or a purchase at or after this moment skips every later send.
    exit_on_engagement_after: datetime | None = None


class SendRequest(BaseModel):
    """One send step: its run, the message and the step's own name."""

    run: SendRun
    message_id: str
    step: str

    @property
    def store_id(self) -> str:
        return self.run.store_id

    @property
    def workflow_id(self) -> str:
        return self.run.workflow_id

    @property
    def email(self) -> str:
        return self.run.email

    @property
    def send_key(self) -> str:
        return f"{self.run.workflow_id}#{self.run.subject.key}#{self.step}"

    @property
    def decision_key(self) -> dict[str, str]:
        return keys.send_log_key(self.store_id, self.email, self.workflow_id, self.run.subject.key, self.step)

    @property
    def coupon_claim_key(self) -> str:
        """One send to one contact: the unit a dynamic coupon code is claimed for."""
        return f"{self.send_key}#{self.email}"
