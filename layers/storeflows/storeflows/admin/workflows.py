"""Workflows: the templates, and the lifecycle draft → published → paused with the checks
before publishing; the runs in flight and the failed runs of each.

A workflow that was never published is its draft. Applying a file to a published (or
paused) workflow saves a draft next to it (storage.workflows): the live version goes on
starting runs (or staying paused) until the draft is published, so a mistake in an edit
never takes a store's flow offline. validate and publish act on the draft when there is
one; pause acts on the live version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storeflows.admin.errors import AdminError, PublishRefused
from storeflows.admin.stores import require_store
from storeflows.storage import messages
from storeflows.storage import workflows as workflow_store
from storeflows.workflows import Workflow, WorkflowStatus
from storeflows.workflows.publishing import validate_for_publish
from storeflows.workflows.runs import count_in_flight, failed_runs, running_runs, state_machines_known, stop_runs
from storeflows.workflows.templates import TEMPLATES, TemplateSettings

# How many of a workflow's latest failed runs `workflows status` reads (two Step Functions
# calls each); the count covers them all.
LATEST_FAILURES = 3


def templates() -> dict[str, type[TemplateSettings]]:
    """Template name -> settings class (the registry, storeflows.workflows.templates)."""
    return dict(TEMPLATES)


def template_description(settings_class: type[TemplateSettings]) -> str:
    return settings_class.description


@dataclass(frozen=True)
class Versions:
    """A workflow's live version (published or paused; None until first published) and its
    draft (None when there is nothing to publish)."""

    live: Workflow | None
    draft: Workflow | None

    @property
    def pending(self) -> Workflow:
        """What validate and publish act on: the draft, else the live version."""
        found = self.draft or self.live
        assert found is not None
        return found


def workflow_versions(store_id: str, workflow_id: str) -> Versions:
    """Both versions of a workflow; AdminError when it has neither."""
    require_store(store_id)
    stored = workflow_store.get_workflow(store_id, workflow_id)
    if stored is None:
        raise AdminError(f"no workflow {workflow_id!r} in store {store_id}")
    if stored.status is WorkflowStatus.DRAFT:
        return Versions(None, stored)  # never published: its draft is where the dispatcher looks
    return Versions(stored, workflow_store.get_draft(store_id, workflow_id))


def require_workflow(store_id: str, workflow_id: str) -> Workflow:
    """The workflow as it runs (its draft if it was never published)."""
    versions = workflow_versions(store_id, workflow_id)
    return versions.live or versions.pending


def apply_workflow(workflow: Workflow) -> tuple[Workflow, Workflow | None]:
    """Saves the settings as a draft with the next version; returns (saved, live): the live
    version (published or paused) that the draft was saved next to, untouched and still
    starting runs if published, or None when the workflow was never published."""
    require_store(workflow.store_id)
    stored = workflow_store.get_workflow(workflow.store_id, workflow.workflow_id)
    live = stored if stored is not None and stored.status is not WorkflowStatus.DRAFT else None
    draft = workflow_store.get_draft(workflow.store_id, workflow.workflow_id) if live is not None else None
    version = max((found.version for found in (stored, draft) if found is not None), default=0) + 1
    saved = workflow.model_copy(update={"status": WorkflowStatus.DRAFT, "version": version})
    if live is None:
        workflow_store.put_workflow(saved)
    else:
        workflow_store.put_draft(saved)
    return saved, live


def check_workflow(store_id: str, workflow_id: str) -> tuple[Workflow, list[str]]:
    """The version publish would publish (the draft, else the live one) and its problems."""
    workflow = workflow_versions(store_id, workflow_id).pending
    return workflow, validate_for_publish(
        workflow, messages.list_messages(store_id), messages.list_senders(store_id), require_store(store_id)
    )


def publish_workflow(store_id: str, workflow_id: str) -> tuple[Workflow, Workflow | None]:
    """Publishes the draft (or resumes a paused workflow) once it passes validate_for_publish,
    or raises PublishRefused (the live version stays as it was). Returns (published,
    replaced): the live version the draft replaced, if any."""
    versions = workflow_versions(store_id, workflow_id)
    workflow, problems = check_workflow(store_id, workflow_id)
    if problems:
        raise PublishRefused(workflow, problems)
    if versions.live is not None and versions.draft is not None:
        if not workflow_store.publish_draft(versions.draft, live_version=versions.live.version):
            raise _changed_meanwhile(workflow)
        return versions.draft.model_copy(update={"status": WorkflowStatus.PUBLISHED}), versions.live
    return _set_status(workflow, WorkflowStatus.PUBLISHED), None


def pause_workflow(store_id: str, workflow_id: str) -> Workflow:
    """A paused workflow starts no runs; runs in flight go on. Publish resumes it. A draft
    next to it stays a draft."""
    live = workflow_versions(store_id, workflow_id).live
    if live is None:
        raise AdminError(f"workflow {workflow_id} is a draft: it starts no runs until it is published")
    return _set_status(live, WorkflowStatus.PAUSED)


def _set_status(workflow: Workflow, status: WorkflowStatus) -> Workflow:
    if not workflow_store.set_workflow_status(
        workflow.store_id, workflow.workflow_id, status.value, version=workflow.version
    ):
        raise _changed_meanwhile(workflow)
    return workflow.model_copy(update={"status": status})


def _changed_meanwhile(workflow: Workflow) -> AdminError:
    return AdminError(f"workflow {workflow.workflow_id} changed meanwhile (another apply?): check it and try again")


@dataclass(frozen=True)
class Deleted:
    versions: Versions
    stopped: int  # runs in flight stopped


def delete_workflow(store_id: str, workflow_id: str, *, draft_only: bool = False, stop: bool = False) -> Deleted:
    """Deletes a workflow (both versions), or only the draft next to a live version. Refused
    while the workflow has runs in flight, unless `stop` stops them (as an erasure stops a
    contact's runs): a run left going after its workflow is gone could not be found by an
    erasure any more, which finds a contact's runs through the store's workflows."""
    versions = workflow_versions(store_id, workflow_id)
    if draft_only:
        if versions.live is None or versions.draft is None:
            raise AdminError(
                f"workflow {workflow_id} has no draft next to a published version"
                + (
                    ""
                    if versions.live is not None
                    else f" (delete the workflow: storeflows workflows delete {store_id} {workflow_id})"
                )
            )
        workflow_store.delete_draft(store_id, workflow_id)
        return Deleted(Versions(None, versions.draft), 0)
    stopped = 0
    if state_machines_known():
        running = running_runs(versions.live or versions.pending)
        if running and not stop:
            raise AdminError(
                f"workflow {workflow_id} has {len(running)} run(s) in flight: pause it (storeflows workflows pause "
                f"{store_id} {workflow_id}) and delete it once they have ended, or pass --stop-runs to stop them now"
            )
        stopped = len(stop_runs(running, error="Storeflows.WorkflowDeleted", cause=f"workflow {workflow_id} deleted"))
    workflow_store.delete_workflow(store_id, workflow_id)
    return Deleted(versions, stopped)


def workflow_status(store_id: str, workflow_id: str | None = None) -> list[dict[str, Any]]:
    """Status, version, template, the draft next to it, runs in flight and failed runs (None
    when the template's state machine is not known to this environment) of one or every
    workflow of a store."""
    require_store(store_id)
    if workflow_id:
        found = [workflow_versions(store_id, workflow_id)]
    else:
        drafts = {draft.workflow_id: draft for draft in workflow_store.list_drafts(store_id)}
        found = [
            Versions(None, stored)
            if stored.status is WorkflowStatus.DRAFT
            else Versions(stored, drafts.get(stored.workflow_id))
            for stored in workflow_store.list_workflows(store_id)
        ]
    rows = []
    for versions in sorted(found, key=lambda item: item.pending.workflow_id):
        shown = versions.live or versions.pending
        row: dict[str, Any] = {
            "store": shown.store_id,
            "workflow": shown.workflow_id,
            "template": shown.template,
            "status": shown.status.value,
            "version": shown.version,
            "draft_version": versions.draft.version if versions.live is not None and versions.draft else None,
            "in_flight": None,
            "failed": None,
            "latest_failures": [],
        }
        if state_machines_known():
            count, latest = failed_runs(shown, latest=LATEST_FAILURES)
            row.update(
                in_flight=count_in_flight(shown), failed=count, latest_failures=[run.as_dict() for run in latest]
            )
        rows.append(row)
    return rows
