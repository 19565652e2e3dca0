"""The birthday end to end on the local stack: contacts give their birthday through the event
API; the hourly schedule is played hour by hour (POST /_local/schedules/ScheduleTick, the
e2e stack's clock being manual), and each contact's email goes in the hour of 09:00 their
time: Warsaw's at the tick of 08:00 UTC, New York's at 14:00 UTC, with its coupon; ticks
played again send nothing more; a contact without consent gets nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
import requests

from storeflows.workflows.templates.birthday import BirthdaySettings
from storeflows_local.signing import post_event
from storeflows_local.waiting import state_machine_arn, wait_for, wait_until_quiet

pytestmark = pytest.mark.e2e


def tick(stack, hour: datetime) -> None:
    """One tick of the schedule, and everything it started, done."""
    answer = requests.post(
        f"{stack.api_url}/_local/schedules/ScheduleTick", params={"at": hour.isoformat()}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    queue = boto3.client("sqs").get_queue_url(QueueName="storeflows-local-ScheduleQueue")["QueueUrl"]
    wait_until_quiet(queue, state_machine_arn("_birthday"), timeout=30)


def give_birthday(stack, store: str, email: str, birthday: str, country: str, *, consent: bool = True) -> None:
    payload = {
        "type": "consent",
        "marketing": consent,
        "source": "account settings",
        "customer": {"email": email, "country": country, "birthday": birthday},
    }
    assert post_event(stack.api_url, store, stack.webhook_secret, payload).status_code == 202


def test_a_birthday_tomorrow_is_sent_tomorrow_at_nine_in_each_contacts_zone(stack, store_with_workflow, email):
    store = store_with_workflow(
        BirthdaySettings(message="birthday"),
        {"birthday": "marketing"},
        coupons={"birthday": {"type": "static", "code": "BIRTHDAY15"}},
    )
    warsaw, new_york, unconsented = (email.replace("@", f"+{name}@") for name in ("pl", "us", "no"))
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    give_birthday(stack, store, warsaw, f"1990-{tomorrow:%m-%d}", "PL")
    give_birthday(stack, store, new_york, f"--{tomorrow:%m-%d}", "US")
    give_birthday(stack, store, unconsented, f"--{tomorrow:%m-%d}", "PL", consent=False)
    wait_for(
        lambda: all((stack.contact(contact, store_id=store) or {}).get("birthday") for contact in (warsaw, new_york)),
        what="the birthdays on the contacts",
    )
    assert stack.contact(warsaw, store_id=store)["birthday"] == f"1990-{tomorrow:%m-%d}"

    # Warsaw is UTC+1 in winter, UTC+2 in summer; New York UTC-5 / UTC-4.
    nine = {
        contact: datetime.combine(tomorrow, datetime.min.time(), tzinfo=UTC).replace(hour=9) - offset
        for contact, offset in (
            (warsaw, _utc_offset("Europe/Warsaw", tomorrow)),
            (new_york, _utc_offset("America/New_York", tomorrow)),
        )
    }
    first = datetime.combine(tomorrow, datetime.min.time(), tzinfo=UTC).replace(hour=5)
    arrived_at_tick: dict[str, datetime] = {}
    for hours in range(12):
        hour = first + timedelta(hours=hours)
        tick(stack, hour)
        for contact in (warsaw, new_york):
            if contact not in arrived_at_tick and stack.outbox(contact):
                arrived_at_tick[contact] = hour
    assert arrived_at_tick == nine
    for contact in (warsaw, new_york):
        (mail,) = stack.outbox(contact)
        assert (mail["subject"], mail["text"].strip()) == ("birthday", "code: BIRTHDAY15")
    assert stack.outbox(unconsented) == []
    (skip,) = stack.contact(unconsented, store_id=store)["sends"]
    assert (skip["status"], skip["reason"]) == ("skipped", "no_marketing_consent")

    # The same hours played again (a retried tick, a second schedule): nothing more.
    for hour in nine.values():
        tick(stack, hour)
    assert [len(stack.outbox(contact)) for contact in (warsaw, new_york)] == [1, 1]


def _utc_offset(zone: str, day) -> timedelta:
    from zoneinfo import ZoneInfo

    offset = datetime.combine(day, datetime.min.time().replace(hour=9), tzinfo=ZoneInfo(zone)).utcoffset()
    assert offset is not None
    return offset
