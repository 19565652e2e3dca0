"""Reports: sent, skipped (by reason), delivered, opened, clicked, ordered, revenue,
unsubscribed, bounced and complained per store, workflow and message over a date range, with
CTR, open rate and click-to-open.

Counters are kept per (day, workflow, message) as the events arrive (engagement.py,
dispatch attribution, unsubscribes), so a report is one Query over the days asked for, never
a scan of events. A row's day is the day its emails were SENT: every later event of an email
(its open a week later, the order it earned) counts in the row of the day it went out, so a
range reports what the emails sent in it achieved, and its rates stay between 0 and 100 %.
Opened and clicked are unique per email. A skipped send (records.SKIP_REASONS) counts in the
row of the day it was decided, in the transaction that records the decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from storeflows.errors import InvalidPayload, UnknownStore
from storeflows.records import SKIP_REASONS
from storeflows.storage import reports as report_store
from storeflows.storage import stores

COUNTERS = (
    "sent",
    "delivered",
    "opened",
    "clicked",
    "ordered",
    "unsubscribed",
    # Unsubscribed by the sunset's end, not by the contact (templates.sunset).
    "sunset_unsubscribed",
    "bounced",
    "complained",
    "soft_bounced",
    "rejected",
    "delivery_delayed",
    "rendering_failed",
)
DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366  # bounds one report's Query pages


@dataclass
class ReportRow:
    """The figures of one message of one workflow (or a total, with ids None)."""

    workflow_id: str | None
    message_id: str | None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    revenue: dict[str, Decimal] = field(default_factory=dict)  # currency -> amount
    # Sends skipped, by reason: every reason of SKIP_REASONS, in its order.
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIP_REASONS, 0))

    def add(self, item: dict[str, Any]) -> None:
        for name in COUNTERS:
            self.counts[name] += int(item.get(name, 0))
        for name, value in item.items():
            if name.startswith(report_store.REVENUE_PREFIX):
                currency = name.removeprefix(report_store.REVENUE_PREFIX)
                self.revenue[currency] = self.revenue.get(currency, Decimal(0)) + Decimal(value)
            elif name.startswith(report_store.SKIPPED_PREFIX):
                reason = name.removeprefix(report_store.SKIPPED_PREFIX)
                self.skipped[reason] = self.skipped.get(reason, 0) + int(value)

    def merge(self, other: ReportRow) -> None:
        for name in COUNTERS:
            self.counts[name] += other.counts[name]
        for currency, amount in other.revenue.items():
            self.revenue[currency] = self.revenue.get(currency, Decimal(0)) + amount
        for reason, count in other.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + count

    @property
    def ctr(self) -> float | None:
        """Unique clicks per delivered email."""
        return _rate(self.counts["clicked"], self.counts["delivered"])

    @property
    def open_rate(self) -> float | None:
        return _rate(self.counts["opened"], self.counts["delivered"])

    @property
    def click_to_open(self) -> float | None:
        return _rate(self.counts["clicked"], self.counts["opened"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow_id,
            "message": self.message_id,
            "sent": self.counts["sent"],
            "skipped": sum(self.skipped.values()),
            "skipped_by_reason": dict(self.skipped),
            **self.counts,
            "revenue": {currency: str(amount) for currency, amount in sorted(self.revenue.items())},
            "ctr": self.ctr,
            "open_rate": self.open_rate,
            "click_to_open": self.click_to_open,
        }


@dataclass
class Report:
    store_id: str
    first_day: date
    last_day: date
    rows: list[ReportRow]
    total: ReportRow

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": self.store_id,
            "from": self.first_day.isoformat(),
            "to": self.last_day.isoformat(),
            "rows": [row.as_dict() for row in self.rows],
            "total": self.total.as_dict(),
        }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def date_range(first: str | None, last: str | None, *, today: date | None = None) -> tuple[date, date]:
    """The report's days from text (yyyy-mm-dd, both included); by default the last 30 days
    up to today. Raises InvalidPayload naming the problem."""
    today = today or date.today()
    try:
        last_day = date.fromisoformat(last) if last else today
        first_day = date.fromisoformat(first) if first else last_day - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError as err:
        raise InvalidPayload(f"dates are written yyyy-mm-dd ({err})") from None
    if first_day > last_day:
        raise InvalidPayload(f"from {first_day} is after to {last_day}")
    if (last_day - first_day).days >= MAX_DAYS:
        raise InvalidPayload(f"a report covers at most {MAX_DAYS} days")
    return first_day, last_day


def build_report(
    store_id: str, first_day: date, last_day: date, *, workflow_id: str | None = None, message_id: str | None = None
) -> Report:
    """The store's figures per workflow and message, for the emails sent from first_day to
    last_day, optionally for one workflow and/or message only."""
    rows: dict[tuple[str, str], ReportRow] = {}
    for item in report_store.report_rows(store_id, first_day.isoformat(), last_day.isoformat()):
        if workflow_id is not None and item["workflow_id"] != workflow_id:
            continue
        if message_id is not None and item["message_id"] != message_id:
            continue
        key = (item["workflow_id"], item["message_id"])
        rows.setdefault(key, ReportRow(*key)).add(item)
    total = ReportRow(None, None)
    for row in rows.values():
        total.merge(row)
    return Report(store_id, first_day, last_day, [rows[key] for key in sorted(rows)], total)


def store_report(
    store_id: str, first: str | None, last: str | None, *, workflow_id: str | None = None, message_id: str | None = None
) -> Report:
    """GET /reports/{store_id}: the report for the days given as text (date_range), of a store
    that exists (UnknownStore otherwise)."""
    first_day, last_day = date_range(first, last)
    if stores.get_store(store_id) is None:
        raise UnknownStore(f"no store {store_id}")
    return build_report(store_id, first_day, last_day, workflow_id=workflow_id, message_id=message_id)
