"""The targeted post-purchase state machine: which thanks a first, second or later purchase
gets, the tags kept in step around it, and the repeat purchase score."""

from __future__ import annotations

import pytest

from storeflows.errors import UnknownMessage

SETTINGS = {
    "template": "targeted_post_purchase",
    "first_purchase_message": "first",
    "second_purchase_message": "second",
    "repeat_purchase_message": "repeat",
}


@pytest.fixture
def run_input(purchase_run_input):
    return purchase_run_input(SETTINGS)


def customer_in(engine, *, first_purchase: bool, repeat: bool) -> None:
    """What the segments function finds of the customer's two tags."""
    engine.segments.returns({"first_purchase_customers": first_purchase, "repeat_customers": repeat})


def test_the_segments_step_asks_for_the_two_tags_of_the_settings(workflow_engine, run_input):
    customer_in(workflow_engine, first_purchase=False, repeat=False)
    workflow_engine.run("targeted_post_purchase", run_input)
    [asked] = workflow_engine.segments.payloads
    assert asked == {
        "store_id": "shop",
        "email": "ana@example.com",
        "segments": {
            "first_purchase_customers": {"type": "has_tag", "tag": "first_purchase_customer"},
            "repeat_customers": {"type": "has_tag", "tag": "repeat_customer"},
        },
    }


def test_first_purchase_assigns_the_first_purchase_tag_and_thanks(workflow_engine, run_input):
    customer_in(workflow_engine, first_purchase=False, repeat=False)
    status, states, _ = workflow_engine.run("targeted_post_purchase", run_input)
    assert status == "SUCCEEDED"
    assert workflow_engine.sent() == ["first"]
    [payload] = workflow_engine.send.payloads
    assert payload == {"run": run_input["send"], "message_id": "first", "step": "SendFirstPurchaseThanks"}
    assert workflow_engine.item(run_input["contact_key"])["tags"] == {"SS": ["first_purchase_customer"]}
    assert states.index("AssignFirstPurchaseTag") < states.index("SendFirstPurchaseThanks")


def test_second_purchase_swaps_the_tags_around_the_second_thanks(workflow_engine, run_input):
    workflow_engine.put(run_input["contact_key"], tags={"SS": ["first_purchase_customer", "vip"]})
    customer_in(workflow_engine, first_purchase=True, repeat=False)
    status, states, _ = workflow_engine.run("targeted_post_purchase", run_input)
    assert status == "SUCCEEDED"
    assert workflow_engine.sent() == ["second"]
    assert workflow_engine.send.payloads[0]["run"] == run_input["send"]
    assert sorted(workflow_engine.item(run_input["contact_key"])["tags"]["SS"]) == ["repeat_customer", "vip"]
    assert (
        states.index("RemoveFirstPurchaseTag")
        < states.index("SendSecondPurchaseThanks")
        < states.index("AssignRepeatCustomerTag")
    )


def test_repeat_purchase_thanks_and_scores_once_per_order(workflow_engine, run_input):
    contact = run_input["contact_key"]
    workflow_engine.put(contact, tags={"SS": ["repeat_customer"]}, score={"N": "10"})
    customer_in(workflow_engine, first_purchase=False, repeat=True)
    assert workflow_engine.run("targeted_post_purchase", run_input).status == "SUCCEEDED"
    assert workflow_engine.item(contact)["score"] == {"N": "20"}
    status, states, _ = workflow_engine.run("targeted_post_purchase", run_input)  # the same order again: a replay
    assert status == "SUCCEEDED"
    assert states[-1] == "RepeatPurchaseHandled"
    assert workflow_engine.item(contact)["score"] == {"N": "20"}
    assert workflow_engine.item(contact)["scored_purchases"] == {"SS": ["wf#1001"]}
    assert workflow_engine.sent() == ["repeat", "repeat"], "send idempotency is the send function's job, tested there"
    assert all(payload["run"] == run_input["send"] for payload in workflow_engine.send.payloads)


def test_zero_points_removes_the_scoring_element(workflow_engine, purchase_run_input):
    run_input = purchase_run_input({**SETTINGS, "score_points": 0})
    customer_in(workflow_engine, first_purchase=False, repeat=True)
    status, states, _ = workflow_engine.run("targeted_post_purchase", run_input)
    assert status == "SUCCEEDED"
    assert "AddPurchaseScore" not in states
    assert "score" not in workflow_engine.item(run_input["contact_key"])


def test_a_failing_scoring_step_fails_the_run_with_its_own_error(workflow_engine, run_input):
    # A score stored as text makes the update fail for a reason no retry can fix.
    workflow_engine.put(run_input["contact_key"], score={"S": "corrupted"})
    customer_in(workflow_engine, first_purchase=False, repeat=True)
    status, states, failure = workflow_engine.run("targeted_post_purchase", run_input)
    assert status == "FAILED"
    assert states[-1] == "AddPurchaseScore"
    assert failure["error"].startswith("DynamoDB."), failure


def test_a_failing_send_fails_the_run_with_the_send_error(workflow_engine, run_input):
    customer_in(workflow_engine, first_purchase=False, repeat=False)
    workflow_engine.send.raises(UnknownMessage("no message 'first'"))
    status, states, failure = workflow_engine.run("targeted_post_purchase", run_input)
    assert status == "FAILED"
    assert states[-1] == "SendFirstPurchaseThanks"
    assert failure["error"] == "UnknownMessage"
    assert "no message 'first'" in failure["cause"]
