"""Workflows: template, status, version and settings.

STORE#<store>/WORKFLOW#<workflow> is the workflow as it runs: published, paused, or a draft
that was never published. An edit of a published or paused workflow is kept next to it, at
STORE#<store>/WORKFLOWDRAFT#<workflow>, until it is published: the live version goes on
starting runs meanwhile, and the dispatcher's Query of WORKFLOW# items never sees drafts."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from storeflows.storage import dynamodb as db
from storeflows.storage import keys
from storeflows.workflows import Workflow, WorkflowStatus
from storeflows.workflows.triggers import ScheduleTrigger


def _live_item(workflow: Workflow) -> dict[str, Any]:
    """A live version's attributes; a scheduled template's carry their lookup index key."""
    item = workflow.model_dump(mode="json")
    if isinstance(workflow.settings.trigger, ScheduleTrigger):
        item.update(keys.scheduled_workflow_index_key(workflow.store_id, workflow.workflow_id))
    return item


def put_workflow(workflow: Workflow) -> None:
    """Writes the live version (what the dispatcher reads)."""
    item = _live_item(workflow)
    db.table().put_item(Item={**keys.workflow_key(workflow.store_id, workflow.workflow_id), **item})


def put_draft(workflow: Workflow) -> None:
    """Writes the draft kept next to a published or paused version."""
    item = workflow.model_copy(update={"status": WorkflowStatus.DRAFT}).model_dump(mode="json")
    db.table().put_item(Item={**keys.workflow_draft_key(workflow.store_id, workflow.workflow_id), **item})


def list_workflows(store_id: str) -> list[Workflow]:
    """The live versions of the store's workflows: one Query (the dispatcher's, per event)."""
    return _query(store_id, keys.WORKFLOW_PREFIX)


def list_drafts(store_id: str) -> list[Workflow]:
    """The drafts kept next to published or paused versions."""
    return _query(store_id, keys.WORKFLOW_DRAFT_PREFIX)


def _query(store_id: str, prefix: str) -> list[Workflow]:
    condition = Key("pk").eq(keys.store_pk(store_id)) & Key("sk").begins_with(prefix)
    return [
        Workflow.model_validate(db.without_keys(item))
        for page in db.query_pages(condition, ConsistentRead=True)
        for item in page
    ]


def list_scheduled_workflows() -> list[Workflow]:
    """The published workflows of every store whose runs the schedule starts: one Query of the
    lookup index (it holds those workflows only, paused ones too, beside other kinds of items)."""
    found = [
        Workflow.model_validate(db.without_keys(item))
        for page in db.query_pages(Key(keys.LOOKUP_PK).eq(keys.SCHEDULED_WORKFLOWS), IndexName=keys.LOOKUP_INDEX)
        for item in page
    ]
    return [workflow for workflow in found if workflow.status is WorkflowStatus.PUBLISHED]


def get_workflow(store_id: str, workflow_id: str) -> Workflow | None:
    """The live version, or None."""
    return _get(keys.workflow_key(store_id, workflow_id))


def get_draft(store_id: str, workflow_id: str) -> Workflow | None:
    """The draft kept next to the live version, or None."""
    return _get(keys.workflow_draft_key(store_id, workflow_id))


def _get(key: dict[str, str]) -> Workflow | None:
    item = db.table().get_item(Key=key, ConsistentRead=True).get("Item")
    return Workflow.model_validate(db.without_keys(item)) if item else None


def set_workflow_status(store_id: str, workflow_id: str, status: str, *, version: int) -> bool:
    """Publishes, pauses or un-publishes exactly the live version that was checked: False when
    the workflow is gone or another apply wrote a newer version meanwhile."""
    return (
        db.if_condition_holds(
            db.table().update_item,
            Key=keys.workflow_key(store_id, workflow_id),
            UpdateExpression="SET #status = :status",
            ConditionExpression="attribute_exists(pk) AND #version = :version",
            ExpressionAttributeNames={"#status": "status", "#version": "version"},
            ExpressionAttributeValues={":status": status, ":version": version},
        )
        is not None
    )


def publish_draft(draft: Workflow, *, live_version: int | None) -> bool:
    """Makes exactly the checked draft the live version, published, and removes the draft, in
    one transaction: False, changing nothing, when the draft or the live version changed
    since they were read (another apply or publish meanwhile)."""
    live_key = keys.workflow_key(draft.store_id, draft.workflow_id)
    item = _live_item(draft.model_copy(update={"status": WorkflowStatus.PUBLISHED}))
    live_condition: dict[str, Any] = (
        {"ConditionExpression": "attribute_not_exists(pk)"}
        if live_version is None
        else {
            "ConditionExpression": "#version = :live",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": db.serialize({":live": live_version}),
        }
    )
    transaction = [
        {"Put": {"TableName": db.table_name(), "Item": db.serialize({**live_key, **item}), **live_condition}},
        {
            "Delete": {
                "TableName": db.table_name(),
                "Key": db.serialize(keys.workflow_draft_key(draft.store_id, draft.workflow_id)),
                "ConditionExpression": "#version = :draft",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": db.serialize({":draft": draft.version}),
            }
        },
    ]
    return not db.failed_items(transaction)


def delete_draft(store_id: str, workflow_id: str) -> bool:
    """False when there was no draft next to the live version."""
    return (
        db.if_condition_holds(
            db.table().delete_item,
            Key=keys.workflow_draft_key(store_id, workflow_id),
            ConditionExpression="attribute_exists(pk)",
        )
        is not None
    )


def delete_workflow(store_id: str, workflow_id: str) -> None:
    """Removes the live version and the draft (whichever exist)."""
    db.table().delete_item(Key=keys.workflow_key(store_id, workflow_id))
    db.table().delete_item(Key=keys.workflow_draft_key(store_id, workflow_id))
