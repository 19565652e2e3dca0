"""The purchase follow-up state machine: tags from what was bought, thanks, a wait, then the
follow-up."""

from __future__ import annotations

from storeflows.errors import UnknownMessage

SETTINGS = {
    "template": "purchase_follow_up",
    "thank_you_message": "thanks",
    "follow_up_message": "specials",
    "sku_tags": {"VENISE-DRESS": "dress_owner"},
}
DRESS = {"sku": "VENISE-DRESS", "name": "Venise dress", "category": "Summer Dresses", "price": "129.90"}
# Neither a category nor a SKU of sku_tags: the purchase gives no tag.
GIFT_CARD = {"sku": "GIFT-50", "name": "Gift card", "price": "50.00"}


def test_the_customer_is_tagged_by_what_they_bought_then_thanked_and_followed_up(workflow_engine, purchase_run_input):
    run_input = purchase_run_input(SETTINGS, items=[DRESS])
    workflow_engine.put(run_input["contact_key"], tags={"SS": ["vip"]})
    status, states, _ = workflow_engine.run("purchase_follow_up", run_input)
    assert status == "SUCCEEDED"
    assert states == ["HasPurchaseTags?", "TagCustomerByPurchase", "SendThankYou", "WaitBeforeFollowUp", "SendFollowUp"]
    assert sorted(workflow_engine.item(run_input["contact_key"])["tags"]["SS"]) == [
        "bought:summer-dresses",
        "dress_owner",
        "vip",
    ]
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": "thanks", "step": "SendThankYou"},
        {"run": run_input["send"], "message_id": "specials", "step": "SendFollowUp"},
    ]


def test_a_purchase_without_tags_skips_the_tag_step(workflow_engine, purchase_run_input):
    # A DynamoDB string set cannot be empty: the tag step would fail on an empty list.
    run_input = purchase_run_input(SETTINGS, items=[GIFT_CARD])
    assert run_input["purchase_tags"] == []
    status, states, _ = workflow_engine.run("purchase_follow_up", run_input)
    assert status == "SUCCEEDED"
    assert "TagCustomerByPurchase" not in states
    assert workflow_engine.item(run_input["contact_key"]) == {}
    assert workflow_engine.sent() == ["thanks", "specials"]


def test_a_failing_thank_you_fails_the_run_with_its_error_and_no_follow_up_is_sent(workflow_engine, purchase_run_input):
    run_input = purchase_run_input(SETTINGS, items=[DRESS])
    workflow_engine.send.raises(UnknownMessage("no message 'thanks'"))
    status, states, failure = workflow_engine.run("purchase_follow_up", run_input)
    assert status == "FAILED"
    assert states[-1] == "SendThankYou"
    assert failure["error"] == "UnknownMessage"
    assert "no message 'thanks'" in failure["cause"]
    assert workflow_engine.sent() == ["thanks"]
