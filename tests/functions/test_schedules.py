"""The hourly schedule's function (functions/schedule, storeflows.schedules) on moto: a tick
queues a page job per day partition due in its hour; page jobs start the birthday runs due in
that hour in each contact's zone, read only the due partitions, start nothing twice, hand
the next page on; Feb 29 birthdays go on Feb 28 in other years; the birthday comes from the
event API's customer and leaves with an erasure."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from pydantic import TypeAdapter

from storeflows import dispatch, privacy
from storeflows.events import EventBody, StoreEvent
from storeflows.records import Store
from storeflows.storage import dates, keys, stores, workflows
from storeflows.workflows import Workflow, WorkflowStatus
from storeflows.workflows.templates.birthday import BirthdaySettings

_bodies: TypeAdapter[Any] = TypeAdapter(EventBody)
WARSAW, NEW_YORK, NOWHERE = "ana@example.com", "joe@example.com", "carla@example.com"


@pytest.fixture
def schedule(aws, load_handler, lambda_context, monkeypatch):
    """The function with its page-job queue; call it with a tick's hour, it plays the tick and
    every page job it queued (as SQS would hand them over), and returns the runs it started."""
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="storeflows-test-schedule")["QueueUrl"]
    monkeypatch.setenv("SCHEDULE_QUEUE_URL", queue_url)
    from storeflows import config

    config.settings.cache_clear()
    app = load_handler("schedule")
    stores.put_store(Store(store_id="shop", unsubscribe_key="k" * 32, timezone="Europe/Warsaw"))

    def tick(at: str) -> list[dict[str, Any]]:
        before = {run["name"] for run in birthday_runs()}
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
            answer = app.lambda_handler({"Records": [record]}, lambda_context)
            assert answer == {"batchItemFailures": []}
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [run for run in birthday_runs() if run["name"] not in before]

    return tick


def birthday_runs() -> list[dict[str, Any]]:
    from storeflows.workflows import runs

    sfn = boto3.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=runs.state_machine_arn("birthday"))["executions"]
    return [
        {"name": item["name"], "input": json.loads(sfn.describe_execution(executionArn=item["executionArn"])["input"])}
        for item in listed
    ]


def publish(**settings: Any) -> None:
    workflows.put_workflow(
        Workflow(
            store_id="shop",
            workflow_id="birthday",
            status=WorkflowStatus.PUBLISHED,
            settings=BirthdaySettings(message="birthday", **settings),
        )
    )


def give_birthday(email: str, birthday: str, country: str | None) -> None:
    customer = {"email": email, "birthday": birthday, **({"country": country} if country else {})}
    dispatch.dispatch_event(
        StoreEvent(
            store_id="shop",
            event_id=f"api:{email}:{birthday}",
            source="api",
            received_at=datetime.now(UTC),
            event=_bodies.validate_python(
                {"type": "consent", "marketing": True, "source": "account", "customer": customer}
            ),
        )
    )


def started_for(runs: list[dict[str, Any]]) -> dict[str, tuple[str, int]]:
    """email -> (the UTC moment its email is due, the run's wait from the tick)."""
    return {run["input"]["email"]: (run["input"]["send_at"], run["input"]["wait_seconds"]) for run in runs}


def test_each_contact_gets_the_birthday_run_in_the_hour_of_send_at_in_their_own_zone(schedule):
    publish(send_at="09:30")
    give_birthday(WARSAW, "1990-12-05", "PL")
    give_birthday(NEW_YORK, "--12-05", "US")  # the store is in Warsaw: New York, the most populous zone
    give_birthday(NOWHERE, "1985-12-05", None)  # no country: the store's zone

    started = {hour: started_for(schedule(f"2026-12-05T{hour:02d}:00:00Z")) for hour in range(24)}
    assert {hour: runs for hour, runs in started.items() if runs} == {
        8: {WARSAW: ("2026-12-05T08:30:00+00:00", 1800), NOWHERE: ("2026-12-05T08:30:00+00:00", 1800)},
        14: {NEW_YORK: ("2026-12-05T14:30:00+00:00", 1800)},
    }
    (run,) = [run for run in birthday_runs() if run["input"]["email"] == NEW_YORK]
    assert run["input"]["send"]["subject"] == {
        "type": "date",
        "occasion": "birthday",
        "on": "2026-12-05",
        "contact": keys.email_digest(NEW_YORK)[:24],
    }
    assert run["input"]["settings"]["message"] == "birthday"


def test_a_second_or_retried_tick_starts_nothing_more(schedule):
    publish()
    give_birthday(WARSAW, "--12-05", "PL")
    assert len(schedule("2026-12-05T08:00:00Z")) == 1
    assert schedule("2026-12-05T08:00:00Z") == []
    # Scheduler's time is to the second; a retry is the same hour's tick.
    assert schedule("2026-12-05T08:00:07Z") == []
    assert len(birthday_runs()) == 1


def test_days_before_sends_ahead_and_a_paused_workflow_starts_nothing(schedule):
    publish(days_before=2)
    give_birthday(WARSAW, "--12-07", "PL")
    assert started_for(schedule("2026-12-05T08:00:00Z")) == {WARSAW: ("2026-12-05T08:00:00+00:00", 0)}
    (run,) = birthday_runs()
    assert run["input"]["send"]["subject"]["on"] == "2026-12-07"

    workflow = workflows.get_workflow("shop", "birthday")
    assert workflow is not None
    workflows.put_workflow(workflow.model_copy(update={"status": WorkflowStatus.PAUSED}))
    give_birthday(NEW_YORK, "--12-08", "PL")
    assert schedule("2026-12-06T08:00:00Z") == []


def test_feb_29_is_celebrated_on_feb_28_in_other_years_and_on_the_day_in_leap_years(schedule):
    publish()
    give_birthday(WARSAW, "2000-02-29", "PL")
    give_birthday(NEW_YORK, "1999-02-28", "PL")
    assert set(started_for(schedule("2027-02-28T08:00:00Z"))) == {WARSAW, NEW_YORK}
    assert schedule("2027-03-01T08:00:00Z") == []
    assert set(started_for(schedule("2028-02-28T08:00:00Z"))) == {NEW_YORK}
    assert set(started_for(schedule("2028-02-29T08:00:00Z"))) == {WARSAW}


def test_a_tick_queries_only_the_due_days_partitions(schedule):
    """No scan, no other day's contacts: the workflows' index, then each due day's partition."""
    publish()
    for day in range(1, 29):
        give_birthday(f"c{day}@example.com", f"--11-{day:02d}", "PL")
    give_birthday(WARSAW, "--12-05", "PL")
    calls: list[tuple[str, str]] = []

    def note(params: dict[str, Any], model: Any, **_: Any) -> None:
        # The request as sent: the partition each Query names, or the index it reads.
        if model.name in ("Query", "Scan", "GetItem", "BatchGetItem"):
            sent = json.loads(params["body"] or b"{}")
            values = sent.get("ExpressionAttributeValues") or {}
            calls.append((model.name, sent.get("IndexName") or next(iter(values.values()), {}).get("S", "")))

    boto3.DEFAULT_SESSION.events.register("before-call.dynamodb", note)  # type: ignore[union-attr]
    from storeflows import aws as storeflows_aws

    storeflows_aws.dynamodb_table.cache_clear()
    try:
        assert set(started_for(schedule("2026-12-05T08:00:00Z"))) == {WARSAW}
    finally:
        boto3.DEFAULT_SESSION.events.unregister("before-call.dynamodb", note)  # type: ignore[union-attr]
    assert sorted(call for call in calls if call[0] in ("Query", "Scan")) == [
        ("Query", "DATES#shop#birthday#12-05"),
        ("Query", "lookup"),
    ]
    # The page job reads the workflow and the store (their time zone and settings), nothing else.
    assert sum(1 for call in calls if call[0] == "GetItem") == 2


def test_pages_are_handed_on_so_no_call_starts_a_whole_day(schedule, monkeypatch):
    monkeypatch.setattr(dates, "PAGE_SIZE", 2)
    publish()
    for number in range(5):
        give_birthday(f"p{number}@example.com", "--12-05", "PL")
    assert len(schedule("2026-12-05T08:00:00Z")) == 5


def test_a_changed_birthday_moves_the_contact_and_an_erasure_removes_it(aws, schedule):
    publish()
    give_birthday(WARSAW, "--12-05", "PL")
    give_birthday(WARSAW, "--12-06", "PL")
    assert aws.items(keys.dates_pk("shop", "birthday", "12-05")) == []
    (item,) = aws.items(keys.dates_pk("shop", "birthday", "12-06"))
    assert (item["email"], item["country"]) == (WARSAW, "PL")
    profile = aws.table().get_item(Key=keys.contact_key("shop", WARSAW))["Item"]
    assert profile["birthday"] == "--12-06"
    assert privacy.export_contact("shop", WARSAW)["profile"]["birthday"] == "--12-06"

    privacy.erase_contact("shop", WARSAW, via="test")
    assert aws.items(keys.dates_pk("shop", "birthday", "12-06")) == []
    assert schedule("2026-12-06T08:00:00Z") == []


def test_a_birthday_that_is_no_day_of_the_year_is_refused():
    from pydantic import ValidationError

    for wrong in ("1990-02-30", "--13-01", "05-17", "1990/05/17"):
        with pytest.raises(ValidationError, match="birthday|day of the year"):
            _bodies.validate_python(
                {"type": "consent", "marketing": True, "source": "x", "customer": {"email": WARSAW, "birthday": wrong}}
            )


def buy(email: str, order_id: str, at: datetime) -> None:
    dispatch.dispatch_event(
        StoreEvent(
            store_id="shop",
            event_id=f"api:{order_id}",
            source="api",
            received_at=datetime.now(UTC),
            event=_bodies.validate_python(
                {
                    "type": "purchase",
                    "occurred_at": at.isoformat(),
                    "order": {"id": order_id, "total": "10.00", "currency": "EUR", "items": []},
                    "customer": {"email": email, "country": "US"},
                }
            ),
        )
    )


def test_the_first_orders_anniversary_from_the_first_year_on_with_the_years(aws, schedule):
    from storeflows.workflows.templates.anniversary import AnniversarySettings

    workflows.put_workflow(
        Workflow(
            store_id="shop",
            workflow_id="anniversary",
            status=WorkflowStatus.PUBLISHED,
            settings=AnniversarySettings(message="anniversary"),
        )
    )
    buy(NEW_YORK, "A-1", datetime(2024, 12, 5, 18, tzinfo=UTC))
    buy(NEW_YORK, "A-2", datetime(2025, 3, 1, 18, tzinfo=UTC))  # a later order moves nothing
    buy(WARSAW, "B-1", datetime(2026, 12, 5, 7, tzinfo=UTC))  # today's first order: no anniversary yet
    assert [item["email"] for item in aws.items(keys.dates_pk("shop", "anniversary", "12-05"))] == [WARSAW, NEW_YORK]

    def anniversaries(at: str) -> dict[str, Any]:
        from storeflows.workflows import runs

        sfn = boto3.client("stepfunctions")
        before = {
            e["name"] for e in sfn.list_executions(stateMachineArn=runs.state_machine_arn("anniversary"))["executions"]
        }
        schedule(at)
        listed = sfn.list_executions(stateMachineArn=runs.state_machine_arn("anniversary"))["executions"]
        return {
            (started := json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]))["email"]: started
            for e in listed
            if e["name"] not in before
        }

    started = {hour: anniversaries(f"2026-12-05T{hour:02d}:00:00Z") for hour in (8, 14)}
    assert started[8] == {}
    (run,) = started[14].values()
    assert (run["email"], run["send"]["subject"]["years"], run["send"]["subject"]["on"]) == (NEW_YORK, 2, "2026-12-05")
    assert run["send_at"] == "2026-12-05T14:00:00+00:00"

    privacy.erase_contact("shop", NEW_YORK, via="test")
    assert [item["email"] for item in aws.items(keys.dates_pk("shop", "anniversary", "12-05"))] == [WARSAW]
