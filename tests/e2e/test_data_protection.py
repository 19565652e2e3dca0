"""Erasing a contact through the local stack: the care series they are waiting in is stopped
and sends nothing more, their data is gone but for a suppression record that holds no
address, and when the same (unsubscribed) address buys again it gets no marketing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import boto3
import pytest
import requests

from storeflows.messaging.unsubscribe_links import UnsubscribeRequest, make_unsubscribe_token, unsubscribe_url
from storeflows.storage import keys
from storeflows.workflows.runs import run_name
from storeflows.workflows.templates.care_series import CareSeriesSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for, wait_for_run

pytestmark = pytest.mark.e2e

MESSAGES = {"thanks": "transactional", "all-well": "transactional", "care-tips": "marketing", "cross-sell": "marketing"}
DRESS = [{"sku": "VENISE-DRESS", "name": "Venise dress", "category": "dresses", "quantity": 1, "price": "129.90"}]
# The wait for the parcel (10 s at four workflow days per second) leaves time to erase the
# contact while the first run waits in it.
SERIES = CareSeriesSettings(
    trigger={"skus": ["VENISE-DRESS"]},
    thank_you_message="thanks",
    delivery_check_message="all-well",
    care_tips_message="care-tips",
    cross_sell_message="cross-sell",
    delivery={"mode": "fixed", "wait": "40d"},
    tips_after="1d",
    cross_sell_after="1d",
)


def subjects(stack, email: str) -> list[str]:
    return [message["subject"] for message in stack.outbox(email)]


def test_an_erased_contact_gets_nothing_more_and_an_address_that_had_unsubscribed_stays_so(
    stack, store_with_workflow, storage, storeflows, email
):
    store = store_with_workflow(SERIES, MESSAGES)
    care = state_machine_arn("_care_series")
    assert post_event(stack.api_url, store, stack.webhook_secret, purchase("1", email, items=DRESS)).status_code == 202
    wait_for(lambda: subjects(stack, email) == ["thanks"], what="the thank-you")
    token = make_unsubscribe_token(
        storage.stores.get_store(store).unsubscribe_key,
        UnsubscribeRequest(store_id=store, email=email, message_id="care-tips"),
    )
    assert requests.post(unsubscribe_url(stack.api_url, token), timeout=10).status_code == 200

    report = json.loads(storeflows("contacts", "delete", store, email, "--yes", "--json").stdout)

    assert report["runs_stopped"] == [{"workflow_id": "wf", "subject": "1"}]
    assert report["items_erased"] == {"active": 1, "order": 1, "profile": 1, "send": 1}
    first_run = boto3.client("stepfunctions").describe_execution(
        executionArn=care.replace(":stateMachine:", ":execution:") + ":" + run_name(store, "1", "wf")
    )
    assert first_run["status"] == "ABORTED"
    table = boto3.resource("dynamodb").Table("storeflows-local-Table")
    assert (
        table.query(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": keys.contact_pk(store, email)}
        )["Items"]
        == []
    )
    (kept,) = table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"SUPPRESSION#{store}"})[
        "Items"
    ]
    assert email not in json.dumps(kept) and kept["unsubscribed_at"]

    # She buys the dress again, ticking "send me offers": a new run, which starts after the
    # first would have sent "all-well", and ends after it. (Order times have whole seconds:
    # this one is stated after the erasure even if she buys within the same second.)
    again = purchase("2", email, items=DRESS, accepts_marketing=True)
    again["occurred_at"] = (datetime.fromisoformat(report["kept"]["erased_at"]) + timedelta(seconds=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert post_event(stack.api_url, store, stack.webhook_secret, again).status_code == 202
    assert wait_for_run(care, run_name(store, "2", "wf"), timeout=40)["status"] == "SUCCEEDED"
    assert subjects(stack, email) == ["thanks", "thanks", "all-well"], "the stopped run sent nothing more"
    contact = stack.contact(email, store_id=store)
    assert contact["unsubscribed_at"] and contact["consent"]["marketing"] is True
    assert {send["message_id"]: (send["status"], send.get("reason")) for send in contact["sends"]} == {
        "thanks": ("sent", None),
        "all-well": ("sent", None),
        "care-tips": ("skipped", "unsubscribed"),
        "cross-sell": ("skipped", "unsubscribed"),
    }
