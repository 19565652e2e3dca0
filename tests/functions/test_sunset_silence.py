"""The sunset on moto: the silence index (storage.silence) fed by SES Delivery / Open / Click
events and purchases, the hourly schedule (functions/schedule) starting a run for each contact
silent for `inactive_for` with `min_emails` delivered, reading only that day's partition, and
the series' end (functions/sunset_unsubscribe) unsubscribing a contact still silent with
reason sunset, counted in the report; a proxy open is no engagement."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from pydantic import TypeAdapter

from storeflows import dispatch, engagement, privacy, reports
from storeflows.events import EventBody, StoreEvent
from storeflows.messaging.ses import contact_fingerprint, message_tags
from storeflows.records import Store
from storeflows.storage import contacts, keys, silence, stores, workflows
from storeflows.workflows import Workflow, WorkflowStatus
from storeflows.workflows.templates.sunset import SunsetSettings
from storeflows_local.signing import purchase

SILENT, FEW, ENGAGED, PROXY = "ana@example.com", "joe@example.com", "carla@example.com", "dora@example.com"
DAY0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
# 90 days after DAY0, at 10:00 in Warsaw (UTC+1 in November).
DUE_TICK = "2026-11-30T09:00:00Z"


@pytest.fixture
def schedule(aws, load_handler, lambda_context, monkeypatch):
    """The schedule function with its page-job queue: call it with a tick's time; it plays the
    tick and every page job it queued, and returns the sunset runs it started."""
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="storeflows-test-schedule")["QueueUrl"]
    monkeypatch.setenv("SCHEDULE_QUEUE_URL", queue_url)
    from storeflows import config

    config.settings.cache_clear()
    app = load_handler("schedule")
    stores.put_store(Store(store_id="shop", unsubscribe_key="k" * 32, timezone="Europe/Warsaw"))

    def tick(at: str) -> list[dict[str, Any]]:
        before = {run["name"] for run in sunset_runs()}
        app.lambda_handler({"scheduled_time": at}, lambda_context)
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages", []):
            (message,) = messages
            record = {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            assert app.lambda_handler({"Records": [record]}, lambda_context) == {"batchItemFailures": []}
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [run for run in sunset_runs() if run["name"] not in before]

    return tick


def sunset_runs() -> list[dict[str, Any]]:
    from storeflows.workflows import runs

    sfn = boto3.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=runs.state_machine_arn("sunset"))["executions"]
    return [
        {"name": item["name"], "input": json.loads(sfn.describe_execution(executionArn=item["executionArn"])["input"])}
        for item in listed
    ]


def publish(**settings: Any) -> None:
    workflows.put_workflow(
        Workflow(
            store_id="shop",
            workflow_id="sunset",
            status=WorkflowStatus.PUBLISHED,
            settings=SunsetSettings(
                steps=[{"message": "miss-you"}, {"message": "last-call", "wait": "7d"}], **settings
            ),
        )
    )


def ses_event(kind: str, email: str, at: datetime, number: int, **details: Any) -> str:
    """An SES event record of the `number`th email to `email`, as SNS hands it over."""
    tags = message_tags(
        store_id="shop", workflow_id="news", message_id="news", step="Send", sent_on=at.date(), email=email
    )
    record: dict[str, Any] = {
        "eventType": kind,
        "mail": {
            "messageId": f"ses-{contact_fingerprint(email)}-{number}",
            "timestamp": at.isoformat(),
            "destination": [email],
            "tags": {tag["Name"]: [tag["Value"]] for tag in tags},
        },
    }
    if kind != "Delivery":
        record[kind.lower()] = {"timestamp": at.isoformat(), "ipAddress": "192.0.2.1", **details}
    return json.dumps(record)


def contact_with_emails(email: str, count: int, *, at: datetime = DAY0) -> None:
    contacts.record_consent("shop", email, marketing=True, source="signup", at=at - timedelta(days=1))
    for number in range(count):
        engagement.record_ses_notification(ses_event("Delivery", email, at + timedelta(hours=number), number))


def test_a_contact_silent_for_the_days_with_enough_emails_gets_one_run(schedule):
    publish()
    contact_with_emails(SILENT, 5)
    contact_with_emails(FEW, 4)
    # A redelivered Delivery counts once.
    engagement.record_ses_notification(ses_event("Delivery", SILENT, DAY0, 0))
    profile = contacts.get_contact("shop", SILENT)
    assert profile is not None and (profile.emails_received, profile.silent_since) == (5, "2026-09-01")

    assert schedule("2026-11-30T08:00:00Z") == []  # 09:00 in Warsaw: not the hour
    (run,) = schedule(DUE_TICK)
    assert run["input"]["email"] == SILENT
    assert run["input"]["send"]["subject"] == {
        "type": "silence",
        "since": "2026-09-01",
        "contact": keys.email_digest(SILENT)[:24],
    }
    # The series stops at an engagement after the run started; its end checks the same moment.
    exit_after = datetime.fromisoformat(run["input"]["send"]["exit_on_engagement_after"].replace("Z", "+00:00"))
    assert exit_after == datetime.fromisoformat(run["input"]["sunset_started_at"])
    assert run["input"]["sunset_steps"]["step2"] == {"message": "last-call", "wait": 7 * 86400}
    assert run["input"]["sunset_unsubscribe_after"] == 7 * 86400
    # The same tick again, or retried: nothing more.
    assert schedule(DUE_TICK) == []
    assert schedule("2026-11-30T09:00:41Z") == []


def test_an_engagement_moves_the_contact_a_proxy_open_does_not(schedule):
    publish()
    contact_with_emails(ENGAGED, 6)
    contact_with_emails(PROXY, 6)
    clicked = DAY0 + timedelta(days=10)
    engagement.record_ses_notification(
        ses_event("Click", ENGAGED, clicked, 1, link="https://shop.test/", userAgent="Mozilla/5.0 (iPhone)")
    )
    # Apple's proxy fetches every image with a bare user agent: no engagement.
    engagement.record_ses_notification(ses_event("Open", PROXY, clicked, 1, userAgent="Mozilla/5.0"))
    assert [run["input"]["email"] for run in schedule(DUE_TICK)] == [PROXY]
    # 90 days after the click (the 10th of December, 10:00 in Warsaw).
    assert [run["input"]["email"] for run in schedule("2026-12-10T09:00:00Z")] == [ENGAGED]


def test_a_purchase_ends_the_silence(schedule):
    publish()
    contact_with_emails(SILENT, 5)
    body = purchase("1001", SILENT)
    body["occurred_at"] = (DAY0 + timedelta(days=20)).isoformat()
    dispatch.dispatch_event(
        StoreEvent(
            store_id="shop",
            event_id="api:1001",
            source="api",
            received_at=datetime.now(UTC),
            event=TypeAdapter(EventBody).validate_python(body),
        )
    )
    assert schedule(DUE_TICK) == []
    profile = contacts.get_contact("shop", SILENT)
    assert profile is not None and profile.silent_since == "2026-09-21"


def test_a_tick_queries_only_the_due_days_partition(schedule):
    """No scan, no other day's contacts: the workflows' index, then the one due day's partition."""
    publish()
    for day in range(1, 29):
        contact_with_emails(f"c{day}@example.com", 5, at=DAY0 + timedelta(days=day))
    contact_with_emails(SILENT, 5)
    calls: list[tuple[str, str]] = []

    def note(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("Query", "Scan"):
            sent = json.loads(params["body"] or b"{}")
            values = sent.get("ExpressionAttributeValues") or {}
            calls.append((model.name, sent.get("IndexName") or next(iter(values.values()), {}).get("S", "")))

    boto3.DEFAULT_SESSION.events.register("before-call.dynamodb", note)  # type: ignore[union-attr]
    from storeflows import aws as storeflows_aws

    storeflows_aws.dynamodb_table.cache_clear()
    try:
        assert [run["input"]["email"] for run in schedule(DUE_TICK)] == [SILENT]
    finally:
        boto3.DEFAULT_SESSION.events.unregister("before-call.dynamodb", note)  # type: ignore[union-attr]
    assert sorted(calls) == [("Query", "SILENT#shop#2026-09-01"), ("Query", "lookup")]


def test_pages_are_handed_on_and_a_stale_entry_is_dropped(schedule, monkeypatch):
    monkeypatch.setattr(silence, "PAGE_SIZE", 2)
    publish()
    for number in range(5):
        contact_with_emails(f"p{number}@example.com", 5)
    # An entry left behind (its contact moved on): dropped when read.
    silence.note_engagement("shop", "p0@example.com", DAY0 + timedelta(days=3))
    silence_entry_back("p0@example.com")
    assert len(schedule(DUE_TICK)) == 4
    assert silence.silent_page("shop", "2026-09-01")[0] == ["p1@example.com", "p2@example.com"]


def silence_entry_back(email: str) -> None:
    from storeflows.storage import dynamodb as db

    db.table().put_item(Item={**keys.silence_key("shop", "2026-09-01", email), "email": email})


def unsubscribe_end(load_handler, lambda_context, run: dict[str, Any]) -> dict[str, Any]:
    return load_handler("sunset_unsubscribe").lambda_handler(run["input"], lambda_context)


def test_the_end_unsubscribes_a_contact_still_silent_with_reason_sunset(schedule, load_handler, lambda_context):
    publish()
    contact_with_emails(SILENT, 5)
    contact_with_emails(ENGAGED, 5)
    runs = {run["input"]["email"]: run for run in schedule(DUE_TICK)}
    engagement.record_ses_notification(
        ses_event("Open", ENGAGED, datetime.now(UTC) + timedelta(seconds=1), 9, userAgent="Mozilla/5.0 (Macintosh)")
    )
    assert unsubscribe_end(load_handler, lambda_context, runs[SILENT]) == {"status": "unsubscribed"}
    assert unsubscribe_end(load_handler, lambda_context, runs[SILENT]) == {"status": "already_unsubscribed"}
    assert unsubscribe_end(load_handler, lambda_context, runs[ENGAGED]) == {"status": "engaged_since"}
    silent = contacts.get_contact("shop", SILENT)
    assert silent is not None and silent.unsubscribed_at is not None and silent.unsubscribed_reason == "sunset"
    engaged = contacts.get_contact("shop", ENGAGED)
    assert engaged is not None and engaged.unsubscribed_at is None
    today = datetime.now(UTC).date()
    report = reports.build_report("shop", today, today).as_dict()
    (row,) = [row for row in report["rows"] if row["workflow"] == "sunset"]
    assert (row["message"], row["sunset_unsubscribed"], row["unsubscribed"]) == ("last-call", 1, 0)


def test_an_erasure_removes_the_contact_from_the_index(aws):
    stores.put_store(Store(store_id="shop", unsubscribe_key="k" * 32))
    contact_with_emails(SILENT, 5)
    assert silence.silent_page("shop", "2026-09-01")[0] == [SILENT]
    privacy.erase_contact("shop", SILENT, via="test")
    assert silence.silent_page("shop", "2026-09-01")[0] == []
