"""The thank-you & upsell state machine: the optional delay, then one send about the order,
whose recommendations the send step reads (the run is about the order, keyed by its id)."""

from __future__ import annotations

from datetime import UTC, datetime

from storeflows.errors import UnknownMessage
from storeflows.events import StoreEvent
from storeflows.events.purchase import PurchaseEvent
from storeflows.workflows import Workflow, WorkflowStatus, runs

# As the other state-machine tests (tests/workflows/conftest.py).
STORE_ID, WORKFLOW_ID, EMAIL, ORDER_ID = "shop", "wf", "ana@example.com", "1001"

SETTINGS = {"template": "thank_you_upsell", "message": "thanks-and-more", "delay": "2h", "max_products": 3}


def upsell_run_input(settings: dict) -> dict:
    """The input the dispatcher gives the run: its subject made by the template itself."""
    event = StoreEvent(
        store_id=STORE_ID,
        event_id=f"api:{ORDER_ID}",
        source="api",
        received_at=datetime.now(UTC),
        event=PurchaseEvent(
            type="purchase",
            order={"id": ORDER_ID, "total": "50.00", "currency": "EUR", "items": [{"sku": "A", "quantity": 1}]},
            customer={"email": EMAIL},
        ),
    )
    workflow = Workflow(store_id=STORE_ID, workflow_id=WORKFLOW_ID, status=WorkflowStatus.PUBLISHED, settings=settings)
    [subject] = workflow.settings.run_subjects(event, EMAIL, event.event.run_subject(event.event_id))
    return runs.run_input(event, workflow, subject, EMAIL)


def test_after_the_delay_the_thanks_goes_about_the_order_with_the_recommendation_settings(workflow_engine):
    run_input = upsell_run_input(SETTINGS)
    status, states, _ = workflow_engine.run("thank_you_upsell", run_input)
    assert status == "SUCCEEDED"
    assert states == ["WaitAfterPurchase", "SendThankYouWithRecommendations"]
    [payload] = workflow_engine.send.payloads
    assert payload == {
        "run": run_input["send"],
        "message_id": "thanks-and-more",
        "step": "SendThankYouWithRecommendations",
    }
    # Keyed by the order's bare id, as every run about an order: a cancellation or erasure finds it.
    assert payload["run"]["subject"] == {
        "type": "upsell",
        "order_id": ORDER_ID,
        "max_products": 3,
        "skip_when_none": False,
    }
    assert run_input["subject_key"] == ORDER_ID


def test_skip_when_nothing_to_recommend_reaches_the_send_step(workflow_engine):
    run_input = upsell_run_input({**SETTINGS, "when_nothing_to_recommend": "skip"})
    workflow_engine.run("thank_you_upsell", run_input)
    assert workflow_engine.send.payloads[0]["run"]["subject"]["skip_when_none"] is True


def test_a_failing_send_fails_the_run_with_the_send_error(workflow_engine):
    workflow_engine.send.raises(UnknownMessage("no message 'thanks-and-more'"))
    status, states, failure = workflow_engine.run("thank_you_upsell", upsell_run_input(SETTINGS))
    assert status == "FAILED"
    assert states[-1] == "SendThankYouWithRecommendations"
    assert failure["error"] == "UnknownMessage"
