"""Reports: counters per send day, workflow and message, summed over a date range, with rates;
and the `storeflows reports` output (table, CSV, JSON)."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from storeflows import reports
from storeflows.errors import InvalidPayload
from storeflows.events.purchase import PurchaseEvent
from storeflows.records import SKIP_REASONS, Touch
from storeflows.storage import orders
from storeflows.storage import reports as report_store
from storeflows_local.signing import purchase

DAY_1, DAY_2, DAY_3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


def count(day: date, workflow: str, message: str, counter: str, times: int = 1) -> None:
    for number in range(times):
        assert report_store.count_email_event(
            store_id="demo",
            workflow_id=workflow,
            message_id=message,
            sent_on=day.isoformat(),
            ses_message_id=f"{day}-{workflow}-{message}-{number}",
            flag=f"{counter}_at",
            at=datetime.now(UTC),
            counter=counter,
        )


def order(day: date, workflow: str, message: str, order_id: str, total: str) -> None:
    """A recorded order, attributed to an email of `day`."""
    touch = Touch(
        at=datetime.now(UTC),
        workflow_id=workflow,
        message_id=message,
        sent_on=day.isoformat(),
        ses_message_id="x",
    )
    assert orders.record_purchase(
        "demo", f"api:{order_id}", PurchaseEvent.model_validate(purchase(order_id, "ana@example.com", total=total))
    )
    assert orders.attribute_order(
        "demo", "ana@example.com", order_id, total=Decimal(total), currency="EUR", touch=touch
    )


def skip(day: date, workflow: str, message: str, reason: str, step: str, monkeypatch) -> None:
    """A send step of `day` that sent nothing, recorded as the send step records it."""
    from storeflows.storage import dynamodb, keys, sends

    monkeypatch.setattr(dynamodb, "now", lambda: datetime(day.year, day.month, day.day, 12, tzinfo=UTC))
    assert sends.record_skip(
        keys.send_log_key("demo", "ana@example.com", workflow, "A-9", step),
        store_id="demo",
        workflow_id=workflow,
        subject="A-9",
        step=step,
        message_id=message,
        reason=reason,
    )
    monkeypatch.undo()


@pytest.fixture
def figures(demo_store, monkeypatch):
    count(DAY_1, "wf-a", "thanks", "sent", 4)
    count(DAY_1, "wf-a", "thanks", "delivered", 4)
    count(DAY_1, "wf-a", "thanks", "opened", 2)
    count(DAY_1, "wf-a", "thanks", "clicked", 1)
    count(DAY_2, "wf-a", "thanks", "sent", 1)
    count(DAY_2, "wf-a", "thanks", "delivered", 1)
    count(DAY_2, "wf-b", "care", "sent", 2)
    count(DAY_3, "wf-b", "care", "sent", 5)  # outside the range asked for below
    order(DAY_1, "wf-a", "thanks", "A-1", "59.90")
    order(DAY_2, "wf-a", "thanks", "A-2", "10.10")
    skip(DAY_1, "wf-a", "thanks", "unsubscribed", "SendA", monkeypatch)
    skip(DAY_2, "wf-a", "thanks", "frequency_cap", "SendB", monkeypatch)
    skip(DAY_2, "wf-a", "thanks", "frequency_cap", "SendC", monkeypatch)
    skip(DAY_3, "wf-b", "care", "suppressed", "SendD", monkeypatch)  # outside the range


def test_a_range_sums_its_days_per_workflow_and_message(figures):
    report = reports.build_report("demo", DAY_1, DAY_2)

    rows = {(row.workflow_id, row.message_id): row for row in report.rows}
    assert list(rows) == [("wf-a", "thanks"), ("wf-b", "care")]
    thanks = rows["wf-a", "thanks"]
    assert {name: thanks.counts[name] for name in ("sent", "delivered", "opened", "clicked", "ordered")} == {
        "sent": 5,
        "delivered": 5,
        "opened": 2,
        "clicked": 1,
        "ordered": 2,
    }
    assert thanks.revenue == {"EUR": Decimal("70.00")}
    assert (thanks.ctr, thanks.open_rate, thanks.click_to_open) == (0.2, 0.4, 0.5)
    assert rows["wf-b", "care"].counts["sent"] == 2
    assert rows["wf-b", "care"].ctr is None  # nothing delivered: no rate, not 0 %
    assert report.total.counts["sent"] == 7
    assert {reason: count for reason, count in thanks.skipped.items() if count} == {
        "unsubscribed": 1,
        "frequency_cap": 2,
    }
    assert sum(report.total.skipped.values()) == 3


def test_a_skip_is_counted_once_with_its_decision_record(demo_store, monkeypatch):
    """A second attempt of the same step writes no second record, and counts nothing."""
    from storeflows.storage import keys, sends

    skip(DAY_1, "wf-a", "thanks", "unsubscribed", "SendA", monkeypatch)
    assert not sends.record_skip(
        keys.send_log_key("demo", "ana@example.com", "wf-a", "A-9", "SendA"),
        store_id="demo",
        workflow_id="wf-a",
        subject="A-9",
        step="SendA",
        message_id="thanks",
        reason="unsubscribed",
    )
    (row,) = reports.build_report("demo", DAY_1, date.today()).rows
    assert row.as_dict()["skipped"] == 1 and row.as_dict()["skipped_by_reason"]["unsubscribed"] == 1


def test_filters_by_workflow_and_message(figures):
    assert [row.message_id for row in reports.build_report("demo", DAY_1, DAY_3, workflow_id="wf-b").rows] == ["care"]
    assert reports.build_report("demo", DAY_1, DAY_3, message_id="thanks").total.counts["sent"] == 5
    assert reports.build_report("demo", DAY_1, DAY_3, workflow_id="wf-a", message_id="care").rows == []


@pytest.mark.parametrize(
    ("first", "last", "problem"),
    [
        ("2026-11-31", None, "yyyy-mm-dd"),
        ("2026-11-05", "2026-11-01", "after"),
        ("2020-01-01", "2026-01-01", "at most"),
    ],
)
def test_bad_ranges_are_refused_in_words(first, last, problem):
    with pytest.raises(InvalidPayload, match=problem):
        reports.date_range(first, last)


def test_the_default_range_is_the_last_thirty_days():
    assert reports.date_range(None, None, today=date(2026, 12, 1)) == (date(2026, 11, 2), date(2026, 12, 1))


def show(capsys, **options) -> str:
    from storeflows_cli.commands.reports import reports_show

    args = argparse.Namespace(
        store="demo",
        to=DAY_2.isoformat(),
        workflow=None,
        message=None,
        csv=None,
        json=False,
        **{"from": DAY_1.isoformat()},
    )
    for name, value in options.items():
        setattr(args, name, value)
    assert reports_show(args) == 0
    return capsys.readouterr().out


def test_the_cli_prints_a_table_with_a_total(figures, capsys):
    lines = show(capsys).splitlines()

    assert (
        lines[0] == "store demo: emails sent 2026-11-01 to 2026-11-02 (each with everything that happened to it since)"
    )
    assert lines[1].split() == [
        "WORKFLOW",
        "MESSAGE",
        "SENT",
        "SKIPPED",
        "DELIVERED",
        "OPENED",
        "CLICKED",
        "ORDERED",
        "REVENUE",
        "UNSUBSCRIBED",
        "BY",
        "SUNSET",
        "BOUNCED",
        "COMPLAINED",
        "CTR",
        "OPEN",
        "RATE",
        "CLICK-TO-OPEN",
    ]
    assert lines[2].split() == [
        "wf-a",
        "thanks",
        "5",
        "3",
        "5",
        "2",
        "1",
        "2",
        "70.00",
        "EUR",
        "0",
        "0",
        "0",
        "0",
        "20.0%",
        "40.0%",
        "50.0%",
    ]
    assert lines[3].split() == ["wf-b", "care", "2", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "-", "-", "-"]
    assert lines[4].split()[:4] == ["TOTAL", "7", "3", "5"]
    assert lines[5:] == ["skipped (nothing sent), by reason:", "  wf-a  thanks: unsubscribed 1, frequency_cap 2"]


def test_the_cli_writes_csv_and_json(figures, capsys):
    rows = list(csv.DictReader(io.StringIO(show(capsys, csv="-"))))
    assert [(row["workflow"], row["message"], row["sent"], row["revenue"]) for row in rows] == [
        ("wf-a", "thanks", "5", "70.00 EUR"),
        ("wf-b", "care", "2", ""),
        ("TOTAL", "", "7", "70.00 EUR"),
    ]
    assert rows[0]["from"] == "2026-11-01" and rows[0]["ctr"] == "0.2"
    assert [(row["skipped"], row["skipped_unsubscribed"], row["skipped_frequency_cap"]) for row in rows] == [
        ("3", "1", "2"),
        ("0", "0", "0"),
        ("3", "1", "2"),
    ]
    assert list(rows[0])[-len(SKIP_REASONS) :] == [f"skipped_{reason}" for reason in SKIP_REASONS]

    data = json.loads(show(capsys, json=True))
    assert data["total"]["sent"] == 7 and data["rows"][0]["revenue"] == {"EUR": "70.00"}
    assert data["total"]["skipped"] == 3
    assert data["rows"][0]["skipped_by_reason"] == dict.fromkeys(SKIP_REASONS, 0) | {
        "unsubscribed": 1,
        "frequency_cap": 2,
    }
