"""Double opt-in and the welcome series, end to end with waits passed by the time scale: a
browser sign-up gets a confirmation email and nothing else until its link is followed; then
the welcome series sends its messages at their times, once however often the link is
followed; a purchase ends it; a second request within 10 minutes and a suppressed address
get no email."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
import requests

from storeflows.records import SenderProfile
from storeflows.workflows.runs import run_name
from storeflows.workflows.templates.welcome_series import WelcomeSeriesSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for, wait_for_run, wait_until_quiet

pytestmark = pytest.mark.e2e

MESSAGES = {"welcome-1": "marketing", "welcome-2": "marketing", "welcome-3": "marketing"}
# 8 workflow days between messages: 2 s at the tests' time scale, long enough to tell apart.
STEPS = [
    {"message": "welcome-1", "wait": "0s"},
    {"message": "welcome-2", "wait": "8d"},
    {"message": "welcome-3", "wait": "8d"},
]


@pytest.fixture
def welcome_store(store_with_workflow, storage):
    def create(**settings) -> str:
        store = store_with_workflow(WelcomeSeriesSettings(steps=STEPS, **settings), MESSAGES)
        # The built-in confirmation goes from the store's sender profile.
        storage.messages.put_sender(
            SenderProfile(store_id=store, sender_id="shop-team", name="Test Shop", address="shop@storeflows.test")
        )
        return store

    return create


def requested(email: str) -> dict:
    return {
        "type": "subscription_requested",
        "customer": {"email": email, "first_name": "Ana"},
        "consent_text": "Yes, send me news and offers by email.",
        "source": "popup",
    }


def subjects(stack, email) -> list[str]:
    return [mail["subject"] for mail in stack.outbox(email)]


def confirm_link(stack, email) -> str:
    (mail,) = wait_for(lambda: stack.outbox(email), what="the confirmation email")
    (link,) = set(re.findall(r"https?://\S+/subscriptions/confirm\?token=[A-Za-z0-9_.-]+", mail["text"]))
    return link


def test_the_welcome_series_starts_only_once_the_link_is_followed_and_once_however_often(stack, welcome_store, email):
    store = welcome_store()
    assert post_event(stack.api_url, store, stack.webhook_secret, requested(email)).status_code == 202
    link = confirm_link(stack, email)
    assert link.startswith(stack.api_url) and email not in link
    assert subjects(stack, email) == ["Please confirm your subscription to Test Shop"]
    assert "Hello Ana" in stack.outbox(email)[0]["text"]
    wait_until_quiet(stack.event_queue_url, state_machine_arn("_welcome_series"))
    assert stack.contact(email, store_id=store) is None, "not subscribed, not even a contact, before the click"

    page = requests.get(link, timeout=10)
    assert page.status_code == 200 and "Yes, subscribe me" in page.text and "Test Shop" in page.text
    wait_until_quiet(stack.event_queue_url, state_machine_arn("_welcome_series"))
    assert len(stack.outbox(email)) == 1, "showing the page subscribes nobody (mail scanners follow links)"

    confirmed = [requests.post(link, timeout=10) for _ in range(2)]
    assert [answer.status_code for answer in confirmed] == [200, 200]
    assert "You are subscribed" in confirmed[0].text
    wait_for(lambda: "welcome-1" in subjects(stack, email), what="the first welcome")
    assert "welcome-2" not in subjects(stack, email), "the second waits its 8 days"
    contact = stack.contact(email, store_id=store)
    assert contact["consent"]["marketing"] is True and contact["consent"]["source"] == "popup"

    execution = wait_for_run(state_machine_arn("_welcome_series"), _run(store, stack, email), timeout=30)
    assert execution["status"] == "SUCCEEDED"
    welcomes = stack.outbox(email)[1:]
    assert [mail["subject"] for mail in welcomes] == ["welcome-1", "welcome-2", "welcome-3"]
    sent = [parsedate_to_datetime(mail["headers"]["Date"]) for mail in welcomes]
    assert all((later - earlier).total_seconds() >= 1 for earlier, later in zip(sent, sent[1:], strict=False))
    wait_until_quiet(stack.event_queue_url, state_machine_arn("_welcome_series"))
    assert len(stack.outbox(email)) == 4, "the link followed twice: one series"


def _run(store: str, stack, email: str) -> str:
    """The run's name: the `subscribed` event the confirmation queued is signup:<request id>."""
    sends = wait_for(lambda: (stack.contact(email, store_id=store) or {}).get("sends"), what="a send decision")
    return run_name(store, sends[0]["subject"], "wf")


def test_a_purchase_ends_the_series_when_exit_on_purchase(stack, welcome_store, email):
    store = welcome_store()
    subscribed = {"type": "subscribed", "customer": {"email": email}, "consent_text": "Yes", "source": "footer form"}
    assert post_event(stack.api_url, store, stack.webhook_secret, subscribed).status_code == 202
    wait_for(lambda: subjects(stack, email) == ["welcome-1"], what="the first welcome (no confirmation from the API)")
    assert post_event(stack.api_url, store, stack.webhook_secret, purchase("1", email)).status_code == 202
    execution = wait_for_run(state_machine_arn("_welcome_series"), _run(store, stack, email), timeout=30)
    assert execution["status"] == "SUCCEEDED"
    assert subjects(stack, email) == ["welcome-1"]
    skipped = {send["step"]: send.get("reason") for send in stack.contact(email, store_id=store)["sends"]}
    assert skipped == {
        "SendWelcome1": None,
        "SendWelcome2": "bought_since",
        "SendWelcome3": "bought_since",
    }


def test_a_second_request_within_ten_minutes_and_a_suppressed_address_get_no_email(
    stack, welcome_store, storage, email
):
    store = welcome_store()
    assert post_event(stack.api_url, store, stack.webhook_secret, requested(email)).status_code == 202
    confirm_link(stack, email)
    assert post_event(stack.api_url, store, stack.webhook_secret, requested(email)).status_code == 202
    bounced = f"bounced-{email}"
    storage.contacts.start_profile(store, bounced)
    storage.contacts.suppress_contact(store, bounced, "bounce", datetime.now(UTC))
    assert post_event(stack.api_url, store, stack.webhook_secret, requested(bounced)).status_code == 202
    wait_until_quiet(stack.event_queue_url, state_machine_arn("_welcome_series"))
    assert len(stack.outbox(email)) == 1
    assert stack.outbox(bounced) == []
