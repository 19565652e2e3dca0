"""Templates 1 (consent-based purchase confirmation) and 2 (follow-up after purchase) end to end."""

from __future__ import annotations

import pytest
import requests

from storeflows.workflows.runs import run_name
from storeflows.workflows.templates.consent_confirmation import ConsentConfirmationSettings
from storeflows.workflows.templates.purchase_follow_up import PurchaseFollowUpSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for, wait_for_run

pytestmark = pytest.mark.e2e


def buy(stack, store_id, email, order_id, **details):
    answer = post_event(stack.api_url, store_id, stack.webhook_secret, purchase(order_id, email, **details))
    assert answer.status_code == 202, answer.text
    return run_name(store_id, order_id, "wf")


@pytest.fixture
def confirmation_store(store_with_workflow):
    return store_with_workflow(
        ConsentConfirmationSettings(
            eu_consented_message="eu-consented",
            eu_without_consent_message="eu-transactional",
            outside_eu_message="outside-eu",
        ),
        {"eu-consented": "marketing", "eu-transactional": "transactional", "outside-eu": "transactional"},
    )


@pytest.mark.parametrize(
    ("country", "consent", "expected"),
    [
        ("PL", True, ["eu-consented"]),
        ("PL", False, ["eu-transactional"]),
        ("US", True, ["outside-eu"]),
        ("US", False, ["outside-eu"]),
        ("NO", True, ["outside-eu"]),  # EEA but not EU, and the store did not include the EEA
    ],
)
def test_each_group_gets_its_own_confirmation(stack, confirmation_store, email, country, consent, expected):
    name = buy(stack, confirmation_store, email, "1", country=country, accepts_marketing=consent)
    assert wait_for_run(state_machine_arn("_consent_confirmation"), name)["status"] == "SUCCEEDED"
    assert [m["subject"] for m in stack.outbox(email)] == expected


def test_an_eu_customer_who_unsubscribed_gets_the_transactional_confirmation_for_the_next_order(
    stack, confirmation_store, email, storage
):
    from storeflows.messaging.unsubscribe_links import UnsubscribeRequest, make_unsubscribe_token, unsubscribe_url

    machine = state_machine_arn("_consent_confirmation")
    wait_for_run(machine, buy(stack, confirmation_store, email, "1", country="PL", accepts_marketing=True))
    assert [m["subject"] for m in stack.outbox(email)] == ["eu-consented"]
    store = storage.stores.get_store(confirmation_store)
    token = make_unsubscribe_token(store.unsubscribe_key, UnsubscribeRequest(confirmation_store, email, "eu-consented"))
    assert requests.post(unsubscribe_url(stack.api_url, token), timeout=10).status_code == 200
    # The next order ticks the marketing box again: a checkbox never lifts an unsubscribe.
    execution = wait_for_run(machine, buy(stack, confirmation_store, email, "2", country="PL", accepts_marketing=True))
    assert execution["status"] == "SUCCEEDED"
    assert [m["subject"] for m in stack.outbox(email)] == ["eu-consented", "eu-transactional"]
    contact = stack.contact(email, store_id=confirmation_store)
    assert contact["consent"]["marketing"] is True and contact["unsubscribed_at"]


def test_the_eea_option_treats_norway_like_the_eu(stack, store_with_workflow, email):
    store = store_with_workflow(
        ConsentConfirmationSettings(
            include_eea=True,
            eu_consented_message="eu-consented",
            eu_without_consent_message="eu-transactional",
            outside_eu_message="outside-eu",
        ),
        {"eu-consented": "marketing", "eu-transactional": "transactional", "outside-eu": "transactional"},
    )
    wait_for_run(
        state_machine_arn("_consent_confirmation"), buy(stack, store, email, "1", country="NO", accepts_marketing=False)
    )
    assert [m["subject"] for m in stack.outbox(email)] == ["eu-transactional"]


@pytest.fixture
def follow_up_store(store_with_workflow):
    return store_with_workflow(
        PurchaseFollowUpSettings(
            thank_you_message="thanks",
            follow_up_message="specials",
            follow_up_after="20d",
            sku_tags={"VENISE-DRESS": "dress_owner"},
        ),
        {"thanks": "transactional", "specials": "marketing"},
    )


def test_thanks_now_tags_by_purchase_and_follows_up_after_the_wait(stack, follow_up_store, email):
    items = [
        {"sku": "VENISE-DRESS", "name": "Venise dress", "category": "Summer Dresses", "quantity": 1, "price": "10"},
        {"sku": "BELT", "name": "Belt", "category": "accessories", "quantity": 1, "price": "5"},
    ]
    name = buy(stack, follow_up_store, email, "1", items=items, total="15.00")
    wait_for(lambda: [m["subject"] for m in stack.outbox(email)] == ["thanks"], what="the thank-you")
    contact = stack.contact(email, store_id=follow_up_store)
    assert contact["tags"] == ["bought:accessories", "bought:summer-dresses", "dress_owner"]
    execution = wait_for_run(state_machine_arn("_purchase_follow_up"), name, timeout=30)
    assert execution["status"] == "SUCCEEDED"
    assert [m["subject"] for m in stack.outbox(email)] == ["thanks", "specials"]
    sent = {m["subject"]: m["sent_at"] for m in stack.outbox(email)}
    assert sent["specials"] >= sent["thanks"]


def test_an_unsubscribe_during_the_wait_stops_the_follow_up(stack, follow_up_store, email, storage):
    from storeflows.messaging.unsubscribe_links import UnsubscribeRequest, make_unsubscribe_token, unsubscribe_url

    name = buy(stack, follow_up_store, email, "1")
    wait_for(lambda: stack.outbox(email), what="the thank-you")
    store = storage.stores.get_store(follow_up_store)
    token = make_unsubscribe_token(store.unsubscribe_key, UnsubscribeRequest(follow_up_store, email, "thanks"))
    assert requests.post(unsubscribe_url(stack.api_url, token), timeout=10).status_code == 200
    assert wait_for_run(state_machine_arn("_purchase_follow_up"), name, timeout=30)["status"] == "SUCCEEDED"
    assert [m["subject"] for m in stack.outbox(email)] == ["thanks"]
    sends = {s["message_id"]: s for s in stack.contact(email, store_id=follow_up_store)["sends"]}
    assert sends["specials"]["status"] == "skipped" and sends["specials"]["reason"] == "unsubscribed"


def test_a_run_in_flight_keeps_the_settings_it_started_with(stack, store_with_workflow, email, storage):
    from storeflows.workflows import Workflow, WorkflowStatus

    store = store_with_workflow(
        PurchaseFollowUpSettings(thank_you_message="thanks", follow_up_message="specials", follow_up_after="16d"),
        {"thanks": "transactional", "specials": "marketing", "other": "marketing"},
    )
    name = buy(stack, store, email, "1")
    wait_for(lambda: stack.outbox(email), what="the thank-you")
    # The marketer edits and pauses the workflow while the run waits.
    storage.workflows.put_workflow(
        Workflow(
            store_id=store,
            workflow_id="wf",
            status=WorkflowStatus.PAUSED,
            version=2,
            settings=PurchaseFollowUpSettings(thank_you_message="thanks", follow_up_message="other"),
        )
    )
    assert wait_for_run(state_machine_arn("_purchase_follow_up"), name, timeout=30)["status"] == "SUCCEEDED"
    assert [m["subject"] for m in stack.outbox(email)] == ["thanks", "specials"]
    # ...but a new purchase no longer starts a run.
    buy(stack, store, email, "2")
    wait_for(lambda: stack.contact(email, store_id=store)["orders_count"] == 2, what="the second purchase")
    from storeflows_local.waiting import wait_until_quiet

    wait_until_quiet(stack.event_queue_url, state_machine_arn("_purchase_follow_up"))
    assert [m["subject"] for m in stack.outbox(email)] == ["thanks", "specials"]


def test_consent_events_decide_the_next_confirmation_newest_first(stack, confirmation_store, email):
    def consent(marketing: bool, at: str):
        event = {
            "type": "consent",
            "occurred_at": at,
            "marketing": marketing,
            "source": "preference centre",
            "customer": {"email": email},
        }
        assert post_event(stack.api_url, confirmation_store, stack.webhook_secret, event).status_code == 202

    machine = state_machine_arn("_consent_confirmation")
    wait_for_run(machine, buy(stack, confirmation_store, email, "1", country="PL", accepts_marketing=False))
    consent(True, "2099-01-01T00:00:00Z")  # the customer opts in (dated in the future: newest)
    consent(False, "2020-01-01T00:00:00Z")  # a stale record arriving late changes nothing
    wait_for(
        lambda: (
            (stack.contact(email, store_id=confirmation_store)["consent"] or {}).get("source") == "preference centre"
        ),
        what="the consent event",
    )
    # The order says "no" but is older than the opt-in: the opt-in stands.
    wait_for_run(machine, buy(stack, confirmation_store, email, "2", country="PL", accepts_marketing=False))
    assert [m["subject"] for m in stack.outbox(email)] == ["eu-transactional", "eu-consented"]
