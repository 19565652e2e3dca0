"""The VIP state machine: once per contact ever (the VIP# item, written only if absent),
the tag, then the VIP message; a second run for a VIP does nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from storeflows.events import StoreEvent
from storeflows.events.purchase import PurchaseEvent
from storeflows.events.subjects import VipSubject
from storeflows.workflows import Workflow, WorkflowStatus, runs

STORE_ID, WORKFLOW_ID, EMAIL = "shop", "wf", "ana@example.com"  # as tests/workflows/conftest.py
SETTINGS = {"template": "vip", "min_total_spent": "500", "message": "welcome-vip"}


def vip_run_input(order_id: str = "1001") -> dict:
    """The input of the run the dispatcher starts when order `order_id` makes Ana a VIP."""
    event = StoreEvent(
        store_id=STORE_ID,
        event_id=f"api:{order_id}",
        source="api",
        received_at=datetime.now(UTC),
        event=PurchaseEvent(
            type="purchase", order={"id": order_id, "total": "600", "currency": "EUR"}, customer={"email": EMAIL}
        ),
    )
    workflow = Workflow(store_id=STORE_ID, workflow_id=WORKFLOW_ID, status=WorkflowStatus.PUBLISHED, settings=SETTINGS)
    return runs.run_input(event, workflow, VipSubject(contact_ref="abc", order_id=order_id), EMAIL)


def test_a_new_vip_is_tagged_then_gets_the_vip_message(workflow_engine):
    run_input = vip_run_input()
    tags_when_sent = []

    def send(payload):
        tags_when_sent.append(workflow_engine.item(run_input["contact_key"]).get("tags"))
        return {"status": "sent"}

    workflow_engine.send.answer = send
    status, states, _ = workflow_engine.run("vip", run_input)
    assert status == "SUCCEEDED"
    assert states == ["EnterVip", "TagVip", "SendVipMessage"]
    assert tags_when_sent == [{"SS": ["vip"]}]
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": "welcome-vip", "step": "SendVipMessage"}
    ]
    assert workflow_engine.item(run_input["vip_key"])["subject"] == {"S": "vip:abc"}


def test_a_contact_who_became_a_vip_before_gets_nothing_more(workflow_engine):
    assert workflow_engine.run("vip", vip_run_input("1001")).status == "SUCCEEDED"
    status, states, _ = workflow_engine.run("vip", vip_run_input("1002"))
    assert status == "SUCCEEDED"
    assert states == ["EnterVip", "AlreadyVip"]
    assert workflow_engine.sent() == ["welcome-vip"]
