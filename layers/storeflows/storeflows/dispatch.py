"""From an accepted event to workflow runs.

For each event from the queue: record the purchase on the contact (once per order), then
start one run of every published workflow whose trigger matches. Run names are derived
from (store, order, workflow), so Step Functions itself refuses a second run for the same
order — whether the second delivery is a redelivery, or Shopify's orders/paid following
orders/create — and ExecutionAlreadyExists counts as done."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from storeflows import privacy

from storeflows.storage import keys
from storeflows.storage import contacts, orders, workflows
from storeflows.aws import client
from storeflows.config import require
from storeflows.ingest import StoreEvent
from storeflows.observability import MetricUnit, logger, metrics
from storeflows.workflows import (
    STATE_MACHINE_SETTING,
    CareSeriesSettings,
    OrderValueSettings,
    PurchaseFollowUpSettings,
    Workflow,
    run_name,
)


def dispatch_event(event: StoreEvent) -> dict[str, Any]:
    if event.consent is not None:
        return _record_consent(event)
    if event.delivered is not None:
        return _record_delivery(event)
    if event.erasure is not None:
        return _erase_contact(event)
    if event.data_request is not None:
        return _record_data_request(event)
    purchase = event.purchase
    newly_recorded = orders.record_purchase(event.store_id, event.event_id, purchase)
    attributed_to = _attribute_purchase(event) if newly_recorded else None
    started, already_running = [], []
    for workflow in workflows.list_workflows(event.store_id):
        if not workflow.runs_for(purchase):
            continue
        if start_run(event, workflow):
            started.append(workflow.workflow_id)
        else:
            already_running.append(workflow.workflow_id)
    logger.info(
        "event dispatched",
        extra={
            "store_id": event.store_id,
            "event_id": event.event_id,
            "order_id": purchase.order.id,
            "order_newly_recorded": newly_recorded,
            "attributed_to_message": attributed_to,
            "runs_started": started,
            "runs_already_started": already_running,
        },
    )
    metrics.add_metric(name="WorkflowRunsStarted", unit=MetricUnit.Count, value=len(started))
    # Each metric published in a month is billed for it: this one only when it happens.
    if already_running:
        metrics.add_metric(name="WorkflowRunsDeduplicated", unit=MetricUnit.Count, value=len(already_running))
    return {"event_id": event.event_id, "order_newly_recorded": newly_recorded, "runs_started": started}


def _attribute_purchase(event: StoreEvent) -> str | None:
    """Credits the purchase to the Storeflows email the contact last opened or clicked
    within the store's windows; returns that message's id, or None."""
    purchase = event.purchase
    contact = contacts.get_contact(event.store_id, purchase.customer.email)
    touch = event.attribution.touch_for(contact, purchase.occurred_at or event.received_at) if contact else None
    if touch is None or not orders.attribute_order(
        event.store_id, purchase.customer.email, purchase.order.id, total=purchase.order.total,
        currency=purchase.order.currency, touch=touch,
    ):
        return None
    metrics.add_metric(name="OrdersAttributed", unit=MetricUnit.Count, value=1)
    return touch.message_id


def _record_consent(event: StoreEvent) -> dict[str, Any]:
    consent = event.consent
    # An explicit consent statement (unlike the checkbox an order carries) may re-subscribe.
    applied = contacts.record_consent(
        event.store_id, consent.customer.email, marketing=consent.marketing, source=consent.source,
        at=consent.occurred_at or event.received_at, lifts_unsubscribe=True,
    )
    logger.info("consent recorded", extra={"store_id": event.store_id, "event_id": event.event_id, "applied": applied})
    return {"event_id": event.event_id, "consent_applied": applied}


def _record_delivery(event: StoreEvent) -> dict[str, Any]:
    delivered = event.delivered
    stamped = orders.mark_order_delivered(
        event.store_id, delivered.customer.email, delivered.order.id, delivered.occurred_at or event.received_at
    )
    logger.info("delivery recorded",
                extra={"store_id": event.store_id, "event_id": event.event_id, "order_id": delivered.order.id,
                       "order_known": stamped})
    return {"event_id": event.event_id, "order_known": stamped}


def _erase_contact(event: StoreEvent) -> dict[str, Any]:
    erasure = privacy.erase_contact(event.store_id, event.erasure.customer.email, via=event.event_id)
    logger.info("contact erased",
                extra={"store_id": event.store_id, "event_id": event.event_id, "items_erased": erasure.items_count,
                       "runs_stopped": len(erasure.runs_stopped), "data_requests_erased": erasure.data_requests_erased})
    if erasure.items_count:
        metrics.add_metric(name="ContactsErased", unit=MetricUnit.Count, value=1)
    return {"event_id": event.event_id, "items_erased": erasure.items_count, "runs_stopped": len(erasure.runs_stopped)}


def _record_data_request(event: StoreEvent) -> dict[str, Any]:
    request = event.data_request
    kept = privacy.record_data_request(event.store_id, request, source=event.event_id)
    logger.info("data request kept",
                extra={"store_id": event.store_id, "event_id": event.event_id, "data_request_id": request.request_id,
                       "newly_kept": kept})
    if kept:
        metrics.add_metric(name="DataRequestsReceived", unit=MetricUnit.Count, value=1)
    return {"event_id": event.event_id, "data_request_id": request.request_id, "newly_kept": kept}


def start_run(event: StoreEvent, workflow: Workflow) -> bool:
    """Starts the run; False when a run for this (store, order, workflow) already exists."""
    try:
        client("stepfunctions").start_execution(
            stateMachineArn=require(STATE_MACHINE_SETTING[workflow.template]),
            name=run_name(event.store_id, event.purchase.order.id, workflow.workflow_id),
            input=json.dumps(run_input(event, workflow)),
        )
    except ClientError as err:
        if err.response["Error"]["Code"] == "ExecutionAlreadyExists":
            return False
        raise
    return True


def run_input(event: StoreEvent, workflow: Workflow) -> dict[str, Any]:
    """Everything a run needs, snapshotted at start; the ASL never builds a key itself."""
    purchase = event.purchase
    email = purchase.customer.email
    return {
        "store_id": event.store_id,
        "workflow_id": workflow.workflow_id,
        "workflow_version": workflow.version,
        "event_id": event.event_id,
        "email": email,
        "order": purchase.order.model_dump(mode="json"),
        "settings": workflow.settings.model_dump(mode="json"),
        "contact_key": keys.as_attribute_values(keys.contact_key(event.store_id, email)),
        **_template_inputs(workflow, event),
    }


def _template_inputs(workflow: Workflow, event: StoreEvent) -> dict[str, Any]:
    """What a template derives from the purchase before it starts (ASL cannot compute it)."""
    settings = workflow.settings
    if isinstance(settings, PurchaseFollowUpSettings):
        return {"purchase_tags": settings.purchase_tags(event.purchase)}
    if isinstance(settings, OrderValueSettings):
        tier = settings.tier_for(event.purchase.order.total)
        return {"tier_message": tier.message if tier else None}
    if isinstance(settings, CareSeriesSettings):
        store_id, email, order_id = event.store_id, event.purchase.customer.email, event.purchase.order.id
        return {
            "order_key": keys.as_attribute_values(keys.order_key(store_id, email, order_id)),
            "active_key": keys.as_attribute_values(keys.active_run_key(store_id, email, workflow.workflow_id, order_id)),
            "delivery_checks": {"left": settings.delivery.checks},
        }
    return {}
