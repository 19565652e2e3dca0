"""Measured usage -> dollars, with the list prices of bench/prices.json.

Usage is kept in the units the prices are quoted in (requests, GB-seconds, transitions,
request units, GB, metric-months), keyed by the price's name, so a bill is quantity / per
x usd, term by term. Where the local stack cannot measure something AWS bills, the model
below says what it assumes (the constants), and the README repeats it."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRICES_FILE = ROOT / "bench" / "prices.json"

SECONDS_PER_MONTH = 30 * 86400
# Lambda's SQS event source mapping long-polls the queue whether or not messages arrive:
# assumed 5 connections (its starting concurrency for SQS), each a 20-second ReceiveMessage.
ESM_POLLERS = 5
ESM_LONG_POLL_SECONDS = 20
# Per batch it receives, the mapping makes one ReceiveMessage and one DeleteMessageBatch.
ESM_REQUESTS_PER_BATCH = 2
# At the reference store's pace (a few orders an hour) every batch holds one event.
EVENTS_PER_BATCH = 1
# How long Lambda keeps an idle execution environment (not documented; 5-15 minutes is what
# is commonly observed). With invocations arriving at random, P(cold) = exp(-rate x this).
IDLE_ENVIRONMENT_SECONDS = 600
# Lambda's own JSON log records per invocation (platform.start, platform.report).
PLATFORM_LOG_EVENTS = 2
PLATFORM_LOG_BYTES = 600
# CloudWatch Logs counts 26 bytes per event on top of its message.
LOG_EVENT_OVERHEAD_BYTES = 26
# The table uses the AWS managed key (SSEEnabled: true): DynamoDB asks KMS for each caller's
# table key at most every 5 minutes. Assumed: every role with table access (5 functions,
# 3 state machines) active every hour of the month, an upper bound.
KMS_PRINCIPALS = 8
KMS_REQUESTS_PER_PRINCIPAL_HOUR = 12
DYNAMODB_ITEM_OVERHEAD_BYTES = 100
# Orders and send records are kept: the reference store's table holds a year of them.
MONTHS_OF_HISTORY = 12
GB = 1024**3

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Price:
    usd: float
    per: float
    unit: str
    source: str
    checked: str
    confirmed: str

    def cost(self, quantity: float) -> float:
        return quantity / self.per * self.usd


@dataclass(frozen=True)
class SaasPrice:
    usd_month: float
    plan: str
    source: str
    checked: str
    confirmed: str


@dataclass(frozen=True)
class Prices:
    aws: dict[str, Price]
    saas: dict[str, SaasPrice]


class PriceFileError(ValueError):
    pass


def load_prices(path: Path = PRICES_FILE) -> Prices:
    """The price file, checked: every price has a positive amount, a source URL and the date
    it was checked."""
    document = json.loads(path.read_text())
    aws = {name: Price(**entry) for name, entry in document["aws"].items()}
    saas = {name: SaasPrice(**entry) for name, entry in document["saas"].items()}
    entries: list[tuple[str, Price | SaasPrice]] = [*aws.items(), *saas.items()]
    for name, entry in entries:
        amount = entry.usd if isinstance(entry, Price) else entry.usd_month
        if not amount > 0 or (isinstance(entry, Price) and not entry.per > 0):
            raise PriceFileError(f"{name}: the price must be positive")
        if not entry.source.startswith("https://"):
            raise PriceFileError(f"{name}: the source must be an https URL")
        if not _DATE.match(entry.checked):
            raise PriceFileError(f"{name}: 'checked' must be a date (YYYY-MM-DD)")
    return Prices(aws=aws, saas=saas)


class Usage(dict):
    """Price name -> quantity, in the price's own unit (0 when absent)."""

    def __missing__(self, name: str) -> float:
        return 0.0

    def times(self, factor: float) -> Usage:
        return Usage({name: quantity * factor for name, quantity in self.items()})

    def plus(self, other: Mapping[str, float]) -> Usage:
        return Usage({name: self.get(name, 0) + other.get(name, 0) for name in {*self, *other}})


@dataclass
class Line:
    term: str
    quantity: float
    unit: str
    usd: float


@dataclass
class Bill:
    lines: list[Line]
    postage: Line
    notes: list[str] = field(default_factory=list)

    @property
    def infrastructure(self) -> float:
        return sum(line.usd for line in self.lines)

    @property
    def total(self) -> float:
        return self.infrastructure + self.postage.usd

    @property
    def dominant(self) -> Line:
        return max(self.lines, key=lambda line: line.usd)


def price(usage: Mapping[str, float], prices: Prices) -> list[Line]:
    """One line per priced term, dearest first; SES postage is priced with `postage`."""
    lines = [
        Line(name, quantity, prices.aws[name].unit, prices.aws[name].cost(quantity))
        for name, quantity in usage.items()
        if name != "ses_email" and quantity
    ]
    return sorted(lines, key=lambda line: -line.usd)


def postage(emails: float, prices: Prices) -> Line:
    return Line("ses_email", emails, prices.aws["ses_email"].unit, prices.aws["ses_email"].cost(emails))


def log_gb(log_bytes: float, log_events: float, invocations: float) -> float:
    """What CloudWatch Logs ingests for these invocations: their own records and Lambda's."""
    events = log_events + PLATFORM_LOG_EVENTS * invocations
    return (log_bytes + PLATFORM_LOG_BYTES * invocations + LOG_EVENT_OVERHEAD_BYTES * events) / GB


def cold_start_share(invocations_per_month: float) -> float:
    """Chance an invocation finds no warm environment, for invocations arriving at random."""
    if invocations_per_month <= 0:
        return 0.0
    return math.exp(-invocations_per_month / SECONDS_PER_MONTH * IDLE_ENVIRONMENT_SECONDS)


def init_gb_seconds(
    invocations_per_month: Mapping[str, float], init_seconds: Mapping[str, float], memory_mb: Mapping[str, int]
) -> float:
    """The INIT phase, billed since 2025-08-01: cold starts x init time x memory."""
    return sum(
        count * cold_start_share(count) * init_seconds[function] * memory_mb[function] / 1024
        for function, count in invocations_per_month.items()
    )


def fixed_monthly(*, custom_metrics: int, alarms: int, dashboards: int) -> Usage:
    """What the stack costs a month before its first order."""
    return Usage(
        {
            "cloudwatch_custom_metric_month": custom_metrics,
            "cloudwatch_alarm_month": alarms,
            "cloudwatch_dashboard_month": dashboards,
            "sqs_request": ESM_POLLERS * SECONDS_PER_MONTH / ESM_LONG_POLL_SECONDS,
            "kms_request": KMS_PRINCIPALS * KMS_REQUESTS_PER_PRINCIPAL_HOUR * SECONDS_PER_MONTH / 3600,
        }
    )


def storage(*, contacts: float, orders_per_month: float, profile_bytes: float, kept_bytes_per_order: float) -> Usage:
    """The table after MONTHS_OF_HISTORY months: profiles and what each order leaves (order,
    send and engagement items, sales counters; the ones that expire live 400 days, longer
    than that history). Bytes include DynamoDB's overhead per item."""
    size = contacts * profile_bytes + MONTHS_OF_HISTORY * orders_per_month * kept_bytes_per_order
    return Usage({"dynamodb_storage_gb_month": size / GB, "dynamodb_pitr_gb_month": size / GB})
