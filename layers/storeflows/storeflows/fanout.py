"""Catalogue alerts (back in stock, price drop, low stock): one run per change of a variant and
workflow, however many are told (catalogue anchors 6.2, shape B).

A product event's changes (storage.products reports each once) start, for every published
catalogue alert workflow whose transition a change is, one run named by (store, change,
workflow): a redelivered webhook finds it started. The run is a loop around one Lambda task,
`send_batch`: it sends to the next contacts of the audience for as long as its invocation
lasts, and hands back where it stopped (the audience, the page cursor of the interest index,
what is left of the wave); the state machine then calls it again at once, after a pause (the
SES pacer is full), after `wave_interval` (back in stock's waves), or ends (everyone told, or
the variant is no longer as the alert says). One execution for 20,000 contacts, a few state
transitions per batch: no execution per recipient, no Map state.

Each contact goes through the send step's own decision (storeflows.messaging.batches sends,
storeflows.messaging.sending decides: consent, suppression, unsubscribes, the once-per-step
decision record, a cooldown per contact and product), with what the message shows of the
product made per recipient (the price they saw). Before each send the variant is read again:
once it is not as the alert says (sold out, below min stock, the price back up), nothing more
goes. A contact appears once per kind of interest; the step's decision record answers a
second time (no second email). Who is not of the audience after all (the price they saw is
not high enough for the drop) gets no record at all."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from storeflows.catalogue import VariantChange
from storeflows.events.subjects import VariantChangeSubject
from storeflows.observability import MetricUnit, logger, metrics
from storeflows.storage import workflows
from storeflows.workflows import Workflow, WorkflowStatus, runs
from storeflows.workflows.templates import WorkflowSettings
from storeflows.workflows.templates.catalogue_alerts import CatalogueAlertSettings


class AlertProgress(BaseModel):
    """Where a run is: what the state machine hands each batch and gets back."""

    audience: int = 0  # the template's audiences (Audience), in order: this one's turn
    cursor: str | None = None  # the interest index's page where this audience resumes
    wave_left: int | None = None  # how many more this wave tells (None: no waves)
    sent: int = 0  # emails this run sent so far
    # start: the first batch; more: call again now; pause: again after a pause (the pacer is
    # full); next_wave: again after wave_interval; done: nothing more to send.
    next: Literal["start", "more", "pause", "next_wave", "done"] = "start"
    stopped: str | None = None  # why the run stopped before its audiences ended


class AlertBatch(BaseModel):
    """One invocation of the batch task: the run's change and settings, where it is, and the
    state's name (the step of every recipient's decision record)."""

    store_id: str
    workflow_id: str
    change: VariantChange
    settings: WorkflowSettings
    progress: AlertProgress
    step: str


def run_input(workflow: Workflow, change: VariantChange, event_id: str) -> dict[str, Any]:
    """A catalogue alert run's input: no contact, no snapshot of anyone (it is read as the run goes)."""
    subject = subject_of(change)
    return {
        "store_id": workflow.store_id,
        "workflow_id": workflow.workflow_id,
        "workflow_version": workflow.version,
        "event_id": event_id,
        "subject_key": subject.key,
        "settings": workflow.settings.model_dump(mode="json"),
        "change": change.model_dump(mode="json"),
        "progress": AlertProgress().model_dump(mode="json"),
    }


def subject_of(change: VariantChange) -> VariantChangeSubject:
    return VariantChangeSubject(change_id=change.change_id, product_id=change.product_id, variant_id=change.variant_id)


def start_alerts(store_id: str, source: str, changes: list[VariantChange]) -> list[str]:
    """Starts the runs these changes are the transition of (`source`: the event, or the import,
    that made them); the workflow ids of those started (a run started before for the same
    change is not started again)."""
    if not changes:
        return []
    alerting = [
        workflow
        for workflow in workflows.list_workflows(store_id)
        if workflow.status is WorkflowStatus.PUBLISHED and isinstance(workflow.settings, CatalogueAlertSettings)
    ]
    started = []
    for change in changes:
        for workflow in alerting:
            settings = workflow.settings
            assert isinstance(settings, CatalogueAlertSettings)
            if not settings.is_transition(change):
                continue
            if runs.start_named_run(workflow, subject_of(change).key, run_input(workflow, change, source)):
                started.append(workflow.workflow_id)
    if started:
        logger.info(
            "catalogue alerts started",
            extra={"store_id": store_id, "event_id": source, "runs_started": started},
        )
        metrics.add_metric(name="WorkflowRunsStarted", unit=MetricUnit.Count, value=len(started))
    return started
