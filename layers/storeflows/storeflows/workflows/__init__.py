"""Workflows: a template + a store + settings, saved as a draft and published by the marketer.

The dispatcher snapshots the published settings into each run's input: a run keeps the
settings it started with even if the marketer edits the workflow meanwhile. Templates live in
`templates/` (one module each), what starts them in `triggers`, runs in `runs`, and the checks
before publishing in `publishing`."""

from __future__ import annotations

import enum

from pydantic import BaseModel

from storeflows.events import EventBody
from storeflows.fields import WorkflowId
from storeflows.workflows.templates import WorkflowSettings


class WorkflowStatus(str, enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    PAUSED = "paused"


class Workflow(BaseModel):
    store_id: str
    workflow_id: WorkflowId
    status: WorkflowStatus = WorkflowStatus.DRAFT
    version: int = 1
    settings: WorkflowSettings

    @property
    def template(self) -> str:
        return self.settings.template

    def runs_for(self, event: EventBody) -> bool:
        return self.status is WorkflowStatus.PUBLISHED and self.settings.runs_for(event)
