"""The consent confirmation state machine: EU customers split by marketing consent, everyone
else their own confirmation, each branch one send step with its own message."""

from __future__ import annotations

import pytest

from storeflows.errors import UnknownMessage, UnknownStore

SETTINGS = {
    "template": "consent_confirmation",
    "include_eea": True,
    "eu_consented_message": "with-offers",
    "eu_without_consent_message": "receipt-only",
    "outside_eu_message": "worldwide",
}


@pytest.fixture
def run_input(purchase_run_input):
    return purchase_run_input(SETTINGS)


def customer(engine, *, in_eu: bool, consent: bool) -> None:
    """What the segments function finds of the customer now."""
    engine.segments.returns({"in_eu": in_eu, "marketing_consent": consent})


def test_the_segments_step_asks_for_location_and_consent_with_the_eea_setting(workflow_engine, run_input):
    customer(workflow_engine, in_eu=False, consent=False)
    workflow_engine.run("consent_confirmation", run_input)
    [asked] = workflow_engine.segments.payloads
    assert asked == {
        "store_id": "shop",
        "email": "ana@example.com",
        "segments": {
            "in_eu": {"type": "in_eu", "include_eea": True},
            "marketing_consent": {"type": "has_marketing_consent"},
        },
    }


def test_an_eu_customer_with_consent_gets_the_confirmation_with_offers(workflow_engine, run_input):
    customer(workflow_engine, in_eu=True, consent=True)
    status, states, _ = workflow_engine.run("consent_confirmation", run_input)
    assert status == "SUCCEEDED"
    assert states == ["CheckLocationAndConsent", "IsCustomerInEU?", "HasMarketingConsent?", "SendConsentedConfirmation"]
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": "with-offers", "step": "SendConsentedConfirmation"}
    ]


def test_an_eu_customer_without_consent_gets_the_transactional_confirmation_only(workflow_engine, run_input):
    customer(workflow_engine, in_eu=True, consent=False)
    status, states, _ = workflow_engine.run("consent_confirmation", run_input)
    assert status == "SUCCEEDED"
    assert states[-1] == "SendTransactionalConfirmation"
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": "receipt-only", "step": "SendTransactionalConfirmation"}
    ]


def test_a_customer_outside_the_eu_gets_their_confirmation_whatever_their_consent(workflow_engine, run_input):
    customer(workflow_engine, in_eu=False, consent=True)
    status, states, _ = workflow_engine.run("consent_confirmation", run_input)
    assert status == "SUCCEEDED"
    assert "HasMarketingConsent?" not in states
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": "worldwide", "step": "SendOutsideEUConfirmation"}
    ]


def test_a_failing_segments_step_fails_the_run_with_its_error_and_sends_nothing(workflow_engine, run_input):
    workflow_engine.segments.raises(UnknownStore("shop"))
    status, states, failure = workflow_engine.run("consent_confirmation", run_input)
    assert status == "FAILED"
    assert states == ["CheckLocationAndConsent"]
    assert failure["error"] == "UnknownStore"
    assert workflow_engine.sent() == []


def test_a_failing_send_fails_the_run_with_the_send_error(workflow_engine, run_input):
    customer(workflow_engine, in_eu=True, consent=False)
    workflow_engine.send.raises(UnknownMessage("no message 'receipt-only'"))
    status, states, failure = workflow_engine.run("consent_confirmation", run_input)
    assert status == "FAILED"
    assert states[-1] == "SendTransactionalConfirmation"
    assert failure["error"] == "UnknownMessage"
    assert "no message 'receipt-only'" in failure["cause"]
