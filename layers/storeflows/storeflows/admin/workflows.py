"""Workflows: the templates, and the lifecycle draft → published → paused with the checks
before publishing; the runs in flight of each."""

from __future__ import annotations

from typing import Any

from storeflows.admin.errors import AdminError, PublishRefused
from storeflows.admin.stores import require_store
from storeflows.storage import messages
from storeflows.storage import workflows as workflow_store
from storeflows.workflows import Workflow, WorkflowStatus
from storeflows.workflows.publishing import validate_for_publish
from storeflows.workflows.runs import count_in_flight, state_machines_known
from storeflows.workflows.templates import TEMPLATES, TemplateSettings


def templates() -> dict[str, type[TemplateSettings]]:
    """Template name -> settings class (the registry, storeflows.workflows.templates)."""
    return dict(TEMPLATES)


def template_description(settings_class: type[TemplateSettings]) -> str:
    return settings_class.description


def require_workflow(store_id: str, workflow_id: str) -> Workflow:
    require_store(store_id)
    workflow = workflow_store.get_workflow(store_id, workflow_id)
    if workflow is None:
        raise AdminError(f"no workflow {workflow_id!r} in store {store_id}")
    return workflow


def apply_workflow(workflow: Workflow) -> tuple[Workflow, Workflow | None]:
    """Saves the settings as a draft with the next version; returns (saved, previous). A
    published workflow becomes a draft and starts no runs until published again; its runs
    in flight keep the settings they started with."""
    require_store(workflow.store_id)
    previous = workflow_store.get_workflow(workflow.store_id, workflow.workflow_id)
    saved = workflow.model_copy(
        update={
            "status": WorkflowStatus.DRAFT,
            "version": previous.version + 1 if previous else 1,
        }
    )
    workflow_store.put_workflow(saved)
    return saved, previous


def check_workflow(store_id: str, workflow_id: str) -> tuple[Workflow, list[str]]:
    workflow = require_workflow(store_id, workflow_id)
    return workflow, validate_for_publish(
        workflow, messages.list_messages(store_id), messages.list_senders(store_id), require_store(store_id)
    )


def publish_workflow(store_id: str, workflow_id: str) -> Workflow:
    """Publishes the version that passed validate_for_publish, or raises PublishRefused."""
    workflow, problems = check_workflow(store_id, workflow_id)
    if problems:
        raise PublishRefused(workflow, problems)
    return _set_status(workflow, WorkflowStatus.PUBLISHED)


def pause_workflow(store_id: str, workflow_id: str) -> Workflow:
    """A paused workflow starts no runs; runs in flight go on. Publish resumes it."""
    workflow = require_workflow(store_id, workflow_id)
    if workflow.status is WorkflowStatus.DRAFT:
        raise AdminError(f"workflow {workflow_id} is a draft: it starts no runs until it is published")
    return _set_status(workflow, WorkflowStatus.PAUSED)


def _set_status(workflow: Workflow, status: WorkflowStatus) -> Workflow:
    if not workflow_store.set_workflow_status(
        workflow.store_id, workflow.workflow_id, status.value, version=workflow.version
    ):
        raise AdminError(f"workflow {workflow.workflow_id} changed meanwhile (another apply?): check it and try again")
    return workflow.model_copy(update={"status": status})


def workflow_status(store_id: str, workflow_id: str | None = None) -> list[dict[str, Any]]:
    """Status, version, template and runs in flight (None when the template's state machine
    is not known to this environment) of one or every workflow of a store."""
    require_store(store_id)
    found = [require_workflow(store_id, workflow_id)] if workflow_id else workflow_store.list_workflows(store_id)
    rows = []
    for workflow in sorted(found, key=lambda item: item.workflow_id):
        rows.append(
            {
                "store": workflow.store_id,
                "workflow": workflow.workflow_id,
                "template": workflow.template,
                "status": workflow.status.value,
                "version": workflow.version,
                "in_flight": count_in_flight(workflow) if state_machines_known() else None,
            }
        )
    return rows
