"""Template 5, the post-purchase care series, end to end with waits passed by the time scale."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import boto3
import pytest
import requests

from storeflows.messaging.unsubscribe_links import UnsubscribeRequest, make_unsubscribe_token, unsubscribe_url
from storeflows.workflows.runs import run_name
from storeflows.workflows.templates.care_series import CareSeriesSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for, wait_for_run, wait_until_quiet

pytestmark = pytest.mark.e2e

MESSAGES = {"thanks": "transactional", "all-well": "transactional", "care-tips": "marketing", "cross-sell": "marketing"}
SERIES = ["thanks", "all-well", "care-tips", "cross-sell"]
DRESS = [{"sku": "VENISE-DRESS", "name": "Venise dress", "category": "dresses", "quantity": 1, "price": "129.90"}]
SHOES = [{"sku": "SHOE-1", "name": "Shoe", "category": "shoes", "quantity": 1, "price": "40.00"}]


def settings(**delivery) -> CareSeriesSettings:
    return CareSeriesSettings(
        trigger={"skus": ["VENISE-DRESS"]},
        thank_you_message="thanks",
        delivery_check_message="all-well",
        care_tips_message="care-tips",
        cross_sell_message="cross-sell",
        delivery=delivery or {"mode": "fixed", "wait": "4d"},
        tips_after="2d",
        cross_sell_after="5d",
    )


def subjects(stack, email):
    return [m["subject"] for m in stack.outbox(email)]


def test_buyers_of_the_product_get_the_whole_series_and_are_marked_inside_it_meanwhile(
    stack, store_with_workflow, email
):
    store = store_with_workflow(settings(), MESSAGES)
    assert post_event(stack.api_url, store, stack.webhook_secret, purchase("1", email, items=DRESS)).status_code == 202
    wait_for(lambda: subjects(stack, email) == ["thanks"], what="the thank-you")
    assert stack.contact(email, store_id=store)["in_workflows"] == [{"workflow_id": "wf", "subject": "1"}]
    execution = wait_for_run(state_machine_arn("_care_series"), run_name(store, "1", "wf"), timeout=40)
    assert execution["status"] == "SUCCEEDED"
    assert subjects(stack, email) == SERIES
    assert stack.contact(email, store_id=store)["in_workflows"] == [], "out of the series once it ends"


def test_a_purchase_without_the_product_does_not_enter_the_series(stack, store_with_workflow, email):
    store = store_with_workflow(settings(), MESSAGES)
    assert post_event(stack.api_url, store, stack.webhook_secret, purchase("1", email, items=SHOES)).status_code == 202
    wait_for(lambda: stack.contact(email, store_id=store), what="the purchase to be recorded")
    wait_until_quiet(stack.event_queue_url, state_machine_arn("_care_series"))
    assert subjects(stack, email) == []
    assert stack.contact(email, store_id=store)["in_workflows"] == []


def test_a_reported_delivery_moves_the_series_on_before_the_timeout(stack, store_with_workflow, email):
    store = store_with_workflow(settings(mode="event", check_every="12h", timeout="200d"), MESSAGES)
    assert post_event(stack.api_url, store, stack.webhook_secret, purchase("1", email, items=DRESS)).status_code == 202
    wait_for(lambda: subjects(stack, email) == ["thanks"], what="the thank-you")
    delivered = {"type": "delivered", "order": {"id": "1"}, "customer": {"email": email}}
    assert post_event(stack.api_url, store, stack.webhook_secret, delivered).status_code == 202
    # The next check (12 h of workflow time) sees the delivery; the 200-day timeout would take 50 s.
    wait_for(lambda: subjects(stack, email)[:2] == ["thanks", "all-well"], timeout=8, what="the delivery check")


def test_without_a_delivery_report_the_series_asks_after_the_timeout(stack, store_with_workflow, email):
    store = store_with_workflow(settings(mode="event", check_every="1d", timeout="3d"), MESSAGES)
    assert post_event(stack.api_url, store, stack.webhook_secret, purchase("1", email, items=DRESS)).status_code == 202
    execution = wait_for_run(state_machine_arn("_care_series"), run_name(store, "1", "wf"), timeout=40)
    assert execution["status"] == "SUCCEEDED"
    assert subjects(stack, email) == SERIES

    history = boto3.client("stepfunctions").get_execution_history(
        executionArn=execution["executionArn"], maxResults=1000
    )
    checks = [
        e
        for e in history["events"]
        if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "CheckOrderDelivered"
    ]
    assert len(checks) == 3, "3 days checked once a day, then the series goes on"


def test_an_unsubscribe_or_a_suppression_during_a_wait_stops_the_later_marketing_sends(
    stack, store_with_workflow, storage
):
    store = store_with_workflow(
        CareSeriesSettings(
            trigger={"skus": ["VENISE-DRESS"]},
            thank_you_message="thanks",
            delivery_check_message="all-well",
            care_tips_message="care-tips",
            cross_sell_message="cross-sell",
            delivery={"mode": "fixed", "wait": "8d"},
            tips_after="1d",
            cross_sell_after="1d",
        ),
        MESSAGES,
    )
    ana, bea = (f"{name}-{uuid.uuid4().hex[:8]}@example.com" for name in ("ana", "bea"))
    for order_id, buyer in (("1", ana), ("2", bea)):
        assert (
            post_event(stack.api_url, store, stack.webhook_secret, purchase(order_id, buyer, items=DRESS)).status_code
            == 202
        )
    wait_for(lambda: subjects(stack, ana) == subjects(stack, bea) == ["thanks"], what="both thank-yous")

    # While both wait for their parcels (8 days: 2 s), Ana unsubscribes and Bea's address is
    # suppressed, as a hard bounce marks it (the SES path to it: test_engagement_and_reports).
    token = make_unsubscribe_token(
        storage.stores.get_store(store).unsubscribe_key, UnsubscribeRequest(store, ana, "thanks")
    )
    assert requests.post(unsubscribe_url(stack.api_url, token), timeout=10).status_code == 200
    assert storage.contacts.suppress_contact(store, bea, "bounce", datetime.now(UTC))

    machine = state_machine_arn("_care_series")
    for order_id in ("1", "2"):
        assert wait_for_run(machine, run_name(store, order_id, "wf"), timeout=30)["status"] == "SUCCEEDED"
    assert subjects(stack, ana) == ["thanks", "all-well"], "transactional messages still reach Ana"
    assert subjects(stack, bea) == ["thanks"], "a suppressed address gets nothing more"
    for buyer, reason, skipped in (
        (ana, "unsubscribed", {"care-tips", "cross-sell"}),
        (bea, "suppressed", {"all-well", "care-tips", "cross-sell"}),
    ):
        sends = stack.contact(buyer, store_id=store)["sends"]
        assert {s["message_id"]: s.get("reason") for s in sends if s["status"] == "skipped"} == dict.fromkeys(
            skipped, reason
        )
