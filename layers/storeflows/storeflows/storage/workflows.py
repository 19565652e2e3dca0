"""Workflows: template, status, version and settings (STORE#<store>/WORKFLOW#<workflow>)."""

from __future__ import annotations

from boto3.dynamodb.conditions import Key

from storeflows.storage import dynamodb as db
from storeflows.storage import keys
from storeflows.workflows import Workflow


def put_workflow(workflow: Workflow) -> None:
    item = workflow.model_dump(mode="json")
    db.table().put_item(Item={**keys.workflow_key(workflow.store_id, workflow.workflow_id), **item})


def list_workflows(store_id: str) -> list[Workflow]:
    response = db.table().query(
        KeyConditionExpression=Key("pk").eq(keys.store_pk(store_id)) & Key("sk").begins_with(keys.WORKFLOW_PREFIX),
        ConsistentRead=True,
    )
    return [Workflow.model_validate(db.without_keys(item)) for item in response["Items"]]


def get_workflow(store_id: str, workflow_id: str) -> Workflow | None:
    item = db.table().get_item(Key=keys.workflow_key(store_id, workflow_id), ConsistentRead=True).get("Item")
    return Workflow.model_validate(db.without_keys(item)) if item else None


def set_workflow_status(store_id: str, workflow_id: str, status: str, *, version: int) -> bool:
    """Publishes, pauses or un-publishes exactly the version that was checked: False when the
    workflow is gone or another apply wrote a newer version meanwhile."""
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
