"""The sunset end to end on the local stack: customers buy (a purchase is an engagement: their
silence counts from that day) and each order's thanks and follow-up are delivered (two emails
an order); the hourly schedule is played 90 days later at 10:00 in the store's zone
(POST /_local/schedules/ScheduleTick, the e2e stack's clock being manual). A contact with 6
emails gets both messages and, 7 days after the last, is unsubscribed with reason sunset
(`storeflows contacts show` says so, `storeflows reports` counts it); one who clicks the first
message gets no second one and stays subscribed; one with 4 emails gets nothing; an open by a
mail privacy proxy is no engagement."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import requests

from storeflows.workflows import Workflow, WorkflowStatus
from storeflows.workflows.templates.purchase_follow_up import PurchaseFollowUpSettings
from storeflows.workflows.templates.sunset import SunsetSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for, wait_until_quiet

pytestmark = pytest.mark.e2e

MESSAGES = {"thanks": "marketing", "follow-up": "marketing", "miss-you": "marketing", "last-call": "marketing"}


def subjects(stack, email: str) -> list[str]:
    return [mail["subject"] for mail in stack.outbox(email)]


def buy(stack, store: str, email: str, orders: int) -> None:
    for number in range(orders):
        body = purchase(f"{email.split('@')[0]}-{number}", email, language="en-GB")
        assert post_event(stack.api_url, store, stack.webhook_secret, body).status_code == 202


def tick(stack, hour: datetime) -> None:
    answer = requests.post(
        f"{stack.api_url}/_local/schedules/ScheduleTick", params={"at": hour.isoformat()}, timeout=60
    )
    assert answer.status_code == 200, answer.text


def test_a_contact_silent_for_90_days_gets_the_series_and_is_unsubscribed(
    stack, store_with_workflow, storage, storeflows, email
):
    store = store_with_workflow(
        PurchaseFollowUpSettings(thank_you_message="thanks", follow_up_message="follow-up", follow_up_after="1d"),
        MESSAGES,
        workflow_id="orders",
    )
    storage.workflows.put_workflow(
        Workflow(
            store_id=store,
            workflow_id="sunset",
            status=WorkflowStatus.PUBLISHED,
            settings=SunsetSettings(steps=[{"message": "miss-you"}, {"message": "last-call", "wait": "14d"}]),
        )
    )
    silent, clicker, few, proxy = (email.replace("@", f"+{name}@") for name in ("silent", "clicker", "few", "proxy"))
    for contact, orders in ((silent, 3), (clicker, 3), (few, 2), (proxy, 3)):
        buy(stack, store, contact, orders)
    received = {silent: 6, clicker: 6, few: 4, proxy: 6}
    wait_for(
        lambda: all(
            (stack.contact(contact, store_id=store) or {}).get("emails_received") == count
            for contact, count in received.items()
        ),
        timeout=40,
        what="every thanks and follow-up delivered",
    )
    # Apple's proxy fetches the images of an email as it arrives: an open, but no engagement.
    engaged_at = stack.contact(proxy, store_id=store)["engaged_at"]  # the last purchase
    (first, *_) = stack.outbox(proxy)
    assert requests.post(f"{stack.api_url}/_local/ses/{first['id']}/proxy_open", timeout=10).status_code == 202
    wait_for(lambda: stack.contact(proxy, store_id=store)["last_open"], what="the proxy's open recorded")
    assert stack.contact(proxy, store_id=store)["engaged_at"] == engaged_at

    # 89 days on, at 10:00 (the store's zone is UTC): not yet.
    today = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    tick(stack, today + timedelta(days=89))
    queue = boto3.client("sqs").get_queue_url(QueueName="storeflows-local-ScheduleQueue")["QueueUrl"]
    machine = state_machine_arn("_sunset")
    wait_until_quiet(queue, machine, timeout=30)
    assert subjects(stack, silent)[6:] == []

    tick(stack, today + timedelta(days=90))
    clicked = wait_for(
        lambda: next((mail for mail in stack.outbox(clicker) if mail["subject"] == "miss-you"), None),
        timeout=30,
        what="the first sunset message to the clicker",
    )
    answer = requests.post(f"{stack.api_url}/_local/ses/{clicked['id']}/click", timeout=10)
    assert answer.status_code == 202
    wait_until_quiet(queue, machine, timeout=60)

    assert subjects(stack, silent)[6:] == ["miss-you", "last-call"]
    assert subjects(stack, proxy)[6:] == ["miss-you", "last-call"]
    assert subjects(stack, clicker)[6:] == ["miss-you"]
    assert subjects(stack, few)[4:] == []
    skipped = [send for send in stack.contact(clicker, store_id=store)["sends"] if send["step"] == "SendSunset2"]
    assert [(send["status"], send["reason"]) for send in skipped] == [("skipped", "engaged_since")]

    for contact in (silent, proxy):
        assert stack.contact(contact, store_id=store)["unsubscribed_reason"] == "sunset"
    for contact in (clicker, few):
        assert stack.contact(contact, store_id=store)["unsubscribed_at"] is None
    shown = storeflows("contacts", "show", store, silent).stdout
    assert "marketing allowed now: no (unsubscribed: sunset)" in shown
    report = json.loads(storeflows("reports", store, "--workflow", "sunset", "--json").stdout)
    assert report["total"]["sunset_unsubscribed"] == 2
    assert report["total"]["unsubscribed"] == 0
    assert "UNSUBSCRIBED  BY SUNSET" in storeflows("reports", store).stdout

    # The same tick again: one run per silence, nothing more.
    tick(stack, today + timedelta(days=90))
    wait_until_quiet(queue, machine, timeout=30)
    assert len(subjects(stack, silent)) == 8
