"""TrackEngagementFunction (functions/track_engagement/app.py) against moto: AWS's own sample
SES event records, wrapped the way SNS delivers them to Lambda, counted exactly once per email
whatever the order and however often they arrive; bounces and complaints suppress the contact."""

from __future__ import annotations

import copy
import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from storeflows import reports
from storeflows.events.purchase import PurchaseEvent
from storeflows.messaging.ses import contact_fingerprint, message_tags
from storeflows.records import Purpose
from storeflows.storage import contacts as contact_store
from storeflows.storage import orders
from storeflows_local.signing import purchase

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLES = [
    "ses_send",
    "ses_delivery",
    "ses_open",
    "ses_click",
    "ses_bounce",
    "ses_complaint",
    "ses_reject",
    "ses_rendering_failure",
    "ses_delivery_delay",
    "ses_subscription",
]
SENT_ON = date(2017, 8, 5)
WORKFLOW, MESSAGE = "targeted-post-purchase", "second-purchase-thanks"
# Every counter of a report row that AWS's samples touch, once each.
EXPECTED_COUNTS = {
    "sent": 1,
    "delivered": 1,
    "opened": 1,
    "clicked": 1,
    "bounced": 1,
    "complained": 1,
    "rejected": 1,
    "rendering_failed": 1,
    "delivery_delayed": 1,
    "unsubscribed": 1,
    "sunset_unsubscribed": 0,
    "ordered": 0,
    "soft_bounced": 0,
}


def sample(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))


def as_sent_by_storeflows(record: dict[str, Any], *, store_id: str = "demo") -> dict[str, Any]:
    """The sample with the tags the send step puts on every email (SES returns them as lists)."""
    record = copy.deepcopy(record)
    tags = message_tags(
        store_id=store_id,
        workflow_id=WORKFLOW,
        message_id=MESSAGE,
        step="SendSecondPurchaseThanks",
        sent_on=SENT_ON,
        email=record["mail"]["destination"][0],
    )
    record["mail"]["tags"].update({tag["Name"]: [tag["Value"]] for tag in tags})
    return record


def sns_event(record: dict[str, Any] | str) -> dict[str, Any]:
    """AWS's SNS-to-Lambda envelope with the SES record as its Message (a JSON string)."""
    envelope = json.loads((FIXTURES / "sns_lambda_event_envelope.json").read_text("utf-8"))
    envelope["Records"][0]["Sns"]["Message"] = record if isinstance(record, str) else json.dumps(record)
    return envelope


@pytest.fixture
def track(load_handler, demo_store, lambda_context):
    app = load_handler("track_engagement")
    return lambda record: app.lambda_handler(sns_event(record), lambda_context)[0]


@pytest.fixture
def contacts(demo_store) -> list[str]:
    """The samples' recipients, as contacts of the demo store with marketing consent."""
    emails = sorted({sample(name)["mail"]["destination"][0] for name in SAMPLES})
    for number, email in enumerate(emails):
        assert orders.record_purchase(
            "demo", f"api:seed-{number}", PurchaseEvent.model_validate(purchase(f"S-{number}", email))
        )
    return emails


def report_counts(**filters) -> dict[str, int]:
    return reports.build_report("demo", SENT_ON, SENT_ON, **filters).total.counts


def test_every_sample_delivered_twice_in_any_order_counts_exactly_once(track, contacts):
    records = [as_sent_by_storeflows(sample(name)) for name in SAMPLES]
    deliveries = records * 2
    random.Random(20261201).shuffle(deliveries)

    outcomes = [track(record) for record in deliveries]

    assert report_counts() == EXPECTED_COUNTS
    assert sorted(outcome["status"] for outcome in outcomes).count("duplicate") == len(SAMPLES)
    (row,) = reports.build_report("demo", SENT_ON, SENT_ON).rows
    assert (row.workflow_id, row.message_id) == (WORKFLOW, MESSAGE)
    recipient = contact_store.get_contact("demo", "recipient@example.com")
    assert recipient.suppressed_reason in ("bounce", "complaint")  # whichever arrived first; both suppress
    assert recipient.unsubscribed_at is not None  # the Subscription sample's "unsubscribe all"
    assert recipient.last_open is not None and recipient.last_click is not None
    assert (
        contact_store.get_contact("demo", "sender@example.com").suppressed_reason is None
    )  # a Reject suppresses no one


def test_a_click_without_an_open_counts_as_an_open_once(track, contacts):
    """Mail clients that block images send no open; the click shows the email was opened."""
    track(as_sent_by_storeflows(sample("ses_click")))
    track(as_sent_by_storeflows(sample("ses_open")))

    counts = report_counts()
    assert (counts["opened"], counts["clicked"]) == (1, 1)


def test_an_open_before_its_delivery_still_counts(track, contacts):
    track(as_sent_by_storeflows(sample("ses_open")))
    track(as_sent_by_storeflows(sample("ses_delivery")))

    counts = report_counts()
    assert (counts["opened"], counts["delivered"]) == (1, 1)


@pytest.mark.parametrize(
    ("bounce_type", "counter", "suppressed"),
    [("Permanent", "bounced", "bounce"), ("Transient", "soft_bounced", None), ("Undetermined", "soft_bounced", None)],
)
def test_only_a_permanent_bounce_suppresses_the_contact(track, contacts, bounce_type, counter, suppressed):
    record = as_sent_by_storeflows(sample("ses_bounce"))
    record["bounce"]["bounceType"] = bounce_type

    outcome = track(record)

    assert outcome["counter"] == counter
    assert report_counts()[counter] == 1
    assert contact_store.get_contact("demo", "recipient@example.com").suppressed_reason == suppressed


def test_a_complaint_suppresses_the_contact_in_our_own_record(track, contacts):
    track(as_sent_by_storeflows(sample("ses_complaint")))

    contact = contact_store.get_contact("demo", "recipient@example.com")
    assert contact.suppressed_reason == "complaint"
    assert contact.may_receive(Purpose.TRANSACTIONAL) == (False, "suppressed")


@pytest.mark.parametrize("name", SAMPLES)
def test_emails_this_stack_did_not_send_are_ignored(track, contacts, name):
    outcome = track(sample(name))  # AWS's sample as published: no Storeflows tags

    assert outcome["status"] == "ignored"
    assert report_counts() == dict.fromkeys(EXPECTED_COUNTS, 0)
    assert contact_store.get_contact("demo", "recipient@example.com").suppressed_reason is None


def test_tags_that_do_not_match_the_recipient_are_ignored(track, contacts):
    record = as_sent_by_storeflows(sample("ses_bounce"))
    record["mail"]["tags"]["contact"] = [contact_fingerprint("someone-else@example.com")]

    assert track(record)["status"] == "ignored"
    assert contact_store.get_contact("demo", "recipient@example.com").suppressed_reason is None


def test_test_sends_are_never_counted(track, contacts):
    record = as_sent_by_storeflows(sample("ses_open"))
    record["mail"]["tags"]["test"] = ["true"]

    assert track(record)["status"] == "ignored"
    assert report_counts()["opened"] == 0


@pytest.mark.parametrize("message", ["not json", json.dumps({"eventType": "Open"}), json.dumps([1, 2])])
def test_a_malformed_record_is_dropped_without_error(track, contacts, message):
    assert track(message) == {"status": "ignored", "reason": "malformed"}


def test_an_unknown_event_type_is_ignored(track, contacts):
    record = as_sent_by_storeflows(sample("ses_open"))
    record["eventType"] = "Teleport"

    assert track(record)["status"] == "ignored"
    assert report_counts() == dict.fromkeys(EXPECTED_COUNTS, 0)


def test_events_of_an_erased_contact_recreate_no_profile(track, demo_store):
    track(as_sent_by_storeflows(sample("ses_complaint")))
    track(as_sent_by_storeflows(sample("ses_click")))

    assert contact_store.get_contact("demo", "recipient@example.com") is None
    assert report_counts()["complained"] == 1  # the aggregate still counts; it holds no address


def test_the_latest_touch_wins_whatever_the_arrival_order(track, contacts):
    later, earlier = as_sent_by_storeflows(sample("ses_click")), as_sent_by_storeflows(sample("ses_click"))
    earlier["click"]["timestamp"] = "2017-08-09T23:00:00.000Z"

    track(later)
    track(earlier)

    touch = contact_store.get_contact("demo", "recipient@example.com").last_click
    assert touch.at.isoformat().startswith("2017-08-09T23:51:25.570")
    assert (touch.workflow_id, touch.message_id, touch.sent_on) == (WORKFLOW, MESSAGE, SENT_ON.isoformat())
