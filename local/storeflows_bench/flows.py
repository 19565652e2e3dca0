"""The bench's flows (part 7 of its table): the catalogue of flows (issue 14's templates), each template's cost per
run, on the same local stack as parts 1 to 3.

SCENARIOS holds one entry per template: a store of its own (`bench-<template>`) with the
template's example workflow (examples/workflows/<template>.yaml) and its example messages
published, a `prepare` that gives the store what the runs need before the measured part
(catalogue `product` events, contacts with a birthday, a first order a year ago), and a
`play` that makes a few runs happen end to end on the time scale (purchases through the
signed event API, deliveries, the hourly schedule's ticks for the hours they are due). Each
scenario's play is a bench part of its own (`flows:<template>`), begun and ended with the
stack quiet, so its ledger holds its own calls only.

Per template, from its runs' histories and the part's calls: runs, emails, state
transitions, Lambda invocations and GB-seconds, DynamoDB read and write units, SQS requests,
SNS publishes of the emails' SES events, priced with bench/prices.json (costs.price). A run
costs its StartExecution's transitions, its DynamoDB tasks, its Lambda steps, and its
emails' SES events (published and tracked); SES postage apart. What starts the runs (the
intake of the purchases and deliveries, or the schedule's ticks and page jobs) is tallied
apart, as `start`: a purchase's intake is shared by every workflow it enters, and part 1
measures it per purchase; the hourly tick runs whether anyone is due or not.

Adding a template: one Scenario in SCENARIOS (its example workflow must exist), whose play
makes `runs` runs; the table, results.json and the README's table follow."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

from storeflows_bench import costs
from storeflows_bench.calls import SES_EVENT_PUBLISHING, Ledger
from storeflows_bench.costs import Prices, Usage
from storeflows_bench.measure import TRACKING_FUNCTION, Tally, _add_invocation, _add_run
from storeflows_bench.replay import Run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SHOP = "https://shop.bench.example"
START_FUNCTIONS = ("IngestFunction", "DispatchFunction", "ScheduleFunction")
START = ("stepfunctions", "StartExecution")
QUIET_TIMEOUT_SECONDS = 120


class Shop:
    """A scenario's store on the running stack: what a store and the schedule send it."""

    def __init__(self, api_url: str, store_id: str, secret: str, time_scale: float, quiet: Callable[[], None]):
        self.api_url = api_url
        self.store_id = store_id
        self.secret = secret
        self.time_scale = time_scale
        self.quiet = quiet  # waits until nothing is queued, running or calling
        self.tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()

    def post(self, payload: dict[str, Any]) -> None:
        from storeflows_local.signing import post_event

        answer = post_event(self.api_url, self.store_id, self.secret, payload)
        if answer.status_code != 202:
            raise RuntimeError(f"{self.store_id}: {payload['type']}: {answer.status_code} {answer.text}")

    def buy(self, order_id: str, email: str, *items: dict[str, Any], **customer: Any) -> None:
        from storeflows_local.signing import purchase

        total = sum(Decimal(item["price"]) * item.get("quantity", 1) for item in items)
        self.post(purchase(order_id, email, total=str(total), items=list(items), **customer))

    def product(self, product_id: str, price: str = "20.00", **extra: Any) -> None:
        self.post(
            {
                "type": "product",
                "product": {
                    "product_id": product_id,
                    "name": product_id.replace("-", " ").title(),
                    "url": f"{SHOP}/products/{product_id}",
                    "image_url": f"{SHOP}/img/{product_id}.jpg",
                    "currency": "EUR",
                    "variants": [
                        {
                            "variant_id": f"{product_id}-v",
                            "sku": product_id.upper(),
                            "price": price,
                            "inventory_quantity": 50,
                        }
                    ],
                    **extra,
                },
            }
        )

    def orders_in(self, emails: list[str]) -> None:
        """Waits until each contact's order is recorded (the dispatcher has seen it)."""
        from storeflows.storage import contacts
        from storeflows_local.waiting import wait_for

        wait_for(
            lambda: all(contacts.get_contact(self.store_id, email) is not None for email in emails),
            timeout=QUIET_TIMEOUT_SECONDS,
            what=f"the orders of {self.store_id}",
        )

    def wait_days(self, days: float) -> None:
        """`days` of workflow time, in real time on the stack's scale."""
        time.sleep(days * 86400 / self.time_scale)

    def tick_when_due(self, send_at: str, countries: list[str]) -> None:
        """The hourly schedule's ticks (POST /_local/schedules/ScheduleTick) of the hours in which
        `send_at` tomorrow falls for contacts of these countries, each once, waiting for each."""
        import requests

        from storeflows.schedules import due_at
        from storeflows.timezones import contact_zone

        hours = sorted(
            {
                due_at(self.tomorrow, clock_time.fromisoformat(send_at), contact_zone(country, "UTC")).replace(
                    minute=0, second=0, microsecond=0
                )
                for country in countries
            }
        )
        for hour in hours:
            answer = requests.post(
                f"{self.api_url}/_local/schedules/ScheduleTick", params={"at": hour.isoformat()}, timeout=60
            )
            if answer.status_code != 200:
                raise RuntimeError(f"the schedule's tick of {hour}: {answer.status_code} {answer.text}")
            self.quiet()


def item(sku: str, price: str = "20.00", quantity: int = 1, category: str = "care") -> dict[str, Any]:
    product_id = sku.lower()
    return {
        "product_id": product_id,
        "sku": sku,
        "name": product_id.replace("-", " ").title(),
        "category": category,
        "quantity": quantity,
        "price": price,
        "url": f"{SHOP}/products/{product_id}",
    }


def customer(number: int, template: str) -> str:
    return f"{template.replace('_', '-')}-{number}@bench.example"


# --- the scenarios: one per template -----------------------------------------------------------


def _nothing(shop: Shop) -> None:
    pass


def _win_back(shop: Shop) -> None:
    for number in range(3):
        shop.buy(f"WB-{number}", customer(number, "win_back"), item("CANDLE"))


def _review_request(shop: Shop) -> None:
    emails = [customer(number, "review_request") for number in range(3)]
    for number, email in enumerate(emails):
        shop.buy(f"RR-{number}", email, item("CANDLE"), item("DIFFUSER", "35.00"))
    # The carrier delivers 3 days after the orders are in; the runs check for it every 12
    # hours meanwhile (the example's check_every).
    shop.orders_in(emails)
    shop.wait_days(3)
    for number, email in enumerate(emails):
        shop.post({"type": "delivered", "order": {"id": f"RR-{number}"}, "customer": {"email": email}})


def _vip(shop: Shop) -> None:
    # The example's threshold is a lifetime spend of 500: one order of 600 crosses it.
    for number in range(3):
        shop.buy(f"VIP-{number}", customer(number, "vip"), item("TOTE", "600.00"))


def _usage_tips(shop: Shop) -> None:
    for number in range(3):
        shop.buy(f"UT-{number}", customer(number, "usage_tips"), item("VENISE-DRESS", "129.90", category="dresses"))


def _catalogue_with_related(shop: Shop) -> None:
    shop.product("lamp", related=["shade", "bulb", "stand"])
    for product_id in ("shade", "bulb", "stand"):
        shop.product(product_id)


def _thank_you_upsell(shop: Shop) -> None:
    for number in range(3):
        shop.buy(f"TU-{number}", customer(number, "thank_you_upsell"), item("LAMP", "80.00"))


def _catalogue_with_cycles(shop: Shop) -> None:
    shop.product("vitamins", usage_cycle_days=30)
    shop.product("filters", usage_cycle_days=20)


def _replenishment(shop: Shop) -> None:
    # One SKU each for two customers, two SKUs (two runs) for the third.
    shop.buy("RP-0", customer(0, "replenishment"), item("VITAMINS"))
    shop.buy("RP-1", customer(1, "replenishment"), item("FILTERS", quantity=2))
    shop.buy("RP-2", customer(2, "replenishment"), item("VITAMINS"), item("FILTERS"))


BIRTHDAY_COUNTRIES = ["PL", "PL", "US"]


def _birthdays_tomorrow(shop: Shop) -> None:
    for number, country in enumerate(BIRTHDAY_COUNTRIES):
        shop.post(
            {
                "type": "consent",
                "marketing": True,
                "source": "account settings",
                "customer": {
                    "email": customer(number, "birthday"),
                    "country": country,
                    "birthday": f"--{shop.tomorrow:%m-%d}",
                },
            }
        )


def _birthday(shop: Shop) -> None:
    shop.tick_when_due("09:00", BIRTHDAY_COUNTRIES)


ANNIVERSARY_COUNTRIES = ["PL", "PL", "US"]


def _first_orders_a_year_ago_tomorrow(shop: Shop) -> None:
    from storeflows_local.signing import purchase

    a_year_back = (
        shop.tomorrow.replace(year=shop.tomorrow.year - 1)
        if shop.tomorrow.strftime("%m-%d") != "02-29"
        else shop.tomorrow
    )
    first = datetime.combine(a_year_back, clock_time(12), tzinfo=UTC)
    for number, country in enumerate(ANNIVERSARY_COUNTRIES):
        body = purchase(f"AN-{number}", customer(number, "anniversary"), country=country, language="en-GB")
        shop.post({**body, "occurred_at": first.isoformat()})


def _anniversary(shop: Shop) -> None:
    shop.tick_when_due("10:00", ANNIVERSARY_COUNTRIES)


@dataclass(frozen=True)
class Scenario:
    template: str  # its example workflow: examples/workflows/<template>.yaml
    does: str  # what the workload does, as the table and the README say it
    play: Callable[[Shop], None]  # the measured part: makes `runs` runs happen
    runs: int
    prepare: Callable[[Shop], None] = _nothing  # before the measured part: what the runs read


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("win_back", "3 purchases; no purchase after: both steps (90 days, then 14)", _win_back, 3),
    Scenario(
        "review_request",
        "3 purchases of 2 products, delivered 3 days later; the request 14 days after",
        _review_request,
        3,
    ),
    Scenario("vip", "3 first orders of 600 (over the spend of 500): tag and VIP email", _vip, 3),
    Scenario("usage_tips", "3 purchases of the Venise dress: 2 tips (5 + 2 days, then 7)", _usage_tips, 3),
    Scenario(
        "thank_you_upsell",
        "3 purchases of a product with 3 related ones in the catalogue",
        _thank_you_upsell,
        3,
        _catalogue_with_related,
    ),
    Scenario(
        "replenishment",
        "3 purchases, 4 SKU lines with 20/30-day cycles: 2 reminders each",
        _replenishment,
        4,
        _catalogue_with_cycles,
    ),
    Scenario(
        "birthday",
        "3 contacts (PL, PL, US) with a birthday tomorrow; the 2 ticks of 09:00 their time",
        _birthday,
        3,
        _birthdays_tomorrow,
    ),
    Scenario(
        "anniversary",
        "3 contacts (PL, PL, US) whose first order was a year ago tomorrow; the 2 ticks of 10:00",
        _anniversary,
        3,
        _first_orders_a_year_ago_tomorrow,
    ),
)


# --- playing them on the stack ------------------------------------------------------------------


@dataclass
class Played:
    """One scenario's runs and the calls of its part."""

    template: str
    does: str
    runs: list[Run]
    ledger: Ledger
    seconds: float


def store_of(template: str) -> str:
    return "bench-" + template.replace("_", "-")


def set_up_store(template: str) -> str:
    """The scenario's store with the template's example workflow and its messages published;
    returns the store's event API secret."""
    from storeflows.admin import messages as admin_messages
    from storeflows.admin import stores as admin_stores
    from storeflows.admin import workflows as admin_workflows
    from storeflows.admin.files import load_message_yaml, load_workflow_yaml
    from storeflows.storage import messages
    from storeflows_local.demo_store import demo_sender_profile

    store_id = store_of(template)
    _, secret = admin_stores.create_store(store_id, "api", name=f"Bench {template}")
    messages.put_sender(demo_sender_profile(store_id))
    workflow = load_workflow_yaml((EXAMPLES / "workflows" / f"{template}.yaml").read_text(), store=store_id)
    if workflow.template != template:
        raise RuntimeError(f"examples/workflows/{template}.yaml is a {workflow.template} workflow")
    message_ids = set(_message_ids(workflow.settings.model_dump()))
    for message_id in sorted(message_ids):
        path = EXAMPLES / "messages" / f"{message_id}.yaml"
        admin_messages.apply_message(load_message_yaml(path.read_text(), base_dir=path.parent, store=store_id))
    admin_workflows.apply_workflow(workflow)
    admin_workflows.publish_workflow(store_id, workflow.workflow_id)
    return secret


def _message_ids(settings: Any, name: str = "") -> list[str]:
    """Every message a workflow's settings name (`message`, `*_message`, steps' `message`)."""
    if isinstance(settings, dict):
        return [found for key, value in settings.items() for found in _message_ids(value, key)]
    if isinstance(settings, list):
        return [found for value in settings for found in _message_ids(value, name)]
    return [settings] if name.endswith("message") and isinstance(settings, str) and settings else []


def play(
    api_url: str,
    ledger: Ledger,
    time_scale: float,
    read_runs: Callable[[str], list[Run]],
    progress: Callable[[str], None] | None = None,
    scenarios: tuple[Scenario, ...] = SCENARIOS,
) -> list[Played]:
    """Each scenario in turn, on the running stack; `read_runs(template)` reads every run of a
    template's state machine from its history."""
    quiet = _quiet_waiter(ledger)
    played = []
    for scenario in scenarios:
        ledger.begin("setup")
        shop = Shop(api_url, store_of(scenario.template), set_up_store(scenario.template), time_scale, quiet)
        before = {run.name for run in read_runs(scenario.template)}
        scenario.prepare(shop)
        quiet()
        part = f"flows:{scenario.template}"
        ledger.begin(part)
        started = time.perf_counter()
        scenario.play(shop)
        quiet()
        seconds = time.perf_counter() - started
        ledger.begin("after")
        runs = [run for run in read_runs(scenario.template) if run.name not in before]
        failed = [run.name for run in runs if run.status != "SUCCEEDED"]
        if len(runs) != scenario.runs or failed:
            raise RuntimeError(
                f"{scenario.template}: {len(runs)} runs (expected {scenario.runs}), {len(failed)} not succeeded"
            )
        played.append(Played(scenario.template, scenario.does, runs, ledger.of_part(part), seconds))
        if progress is not None:
            emails = sum(run.emails_sent for run in runs)
            progress(f"  {scenario.template}: {len(runs)} runs, {emails} emails, {seconds:.1f} s")
    return played


def _quiet_waiter(ledger: Ledger) -> Callable[[], None]:
    """Waits until the event and schedule queues are empty (delayed messages included), no run
    of any template is running, and no call was made for a second."""
    import boto3

    from storeflows.workflows.runs import state_machine_arn
    from storeflows.workflows.templates import TEMPLATES
    from storeflows_local.waiting import wait_for

    sqs = boto3.client("sqs")
    sfn = boto3.client("stepfunctions")
    queues = [os.environ["EVENT_QUEUE_URL"], sqs.get_queue_url(QueueName="storeflows-local-ScheduleQueue")["QueueUrl"]]
    machines = [state_machine_arn(template) for template in TEMPLATES]
    attributes = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]

    def wait() -> None:
        seen = [-1]

        def quiet() -> bool:
            for queue in queues:
                counts = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=attributes)["Attributes"]
                if any(int(value) for value in counts.values()):
                    return False
            if any(
                sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING", maxResults=1)["executions"]
                for machine in machines
            ):
                return False
            made = sum(ledger.count().values())
            still = made == seen[0]
            seen[0] = made
            return still

        wait_for(quiet, timeout=QUIET_TIMEOUT_SECONDS, interval=1.0, what="the stack to be quiet")

    return wait


# --- the arithmetic -----------------------------------------------------------------------------


@dataclass
class FlowTally:
    """One scenario's runs (their steps and their emails' SES events) and what started them."""

    template: str
    does: str
    runs: Tally  # units: runs
    start: Tally  # ingest, dispatch, the schedule's ticks and page jobs; units: runs
    sns_publishes: int = 0  # the emails' SES events, published
    sqs_requests: int = 0  # the runs' own
    seconds: float = 0.0
    paths: Counter[str] = field(default_factory=Counter)
    run_histories: list[Run] = field(default_factory=list)


def tally(played: Played, sizes: dict[tuple[str, str], int], memory_mb: dict[str, int]) -> FlowTally:
    runs = Tally()
    start = Tally(units=len(played.runs))
    for run in played.runs:
        _add_run(runs, run, sizes, with_minimum=False)
    for invocation in played.ledger.invocations:
        owner = start if invocation.function in START_FUNCTIONS else runs
        _add_invocation(owner, invocation, sizes, memory_mb[invocation.function])
    # The StartExecution of each run (the dispatcher's or the schedule's) is the run's.
    start.calls[START] -= len(played.runs)
    runs.calls[START] += len(played.runs)
    if start.calls[START] < 0:
        raise RuntimeError(f"{played.template}: fewer StartExecution calls than runs")
    start.calls += Counter()
    published = sum(1 for call in played.ledger.calls if call.source == SES_EVENT_PUBLISHING)
    runs.calls[("sns", "Publish")] += published
    return FlowTally(
        template=played.template,
        does=played.does,
        runs=runs,
        start=start,
        sns_publishes=published,
        sqs_requests=sum(n for (service, _), n in runs.calls.items() if service == "sqs"),
        seconds=played.seconds,
        paths=runs.paths,
        run_histories=played.runs,
    )


def usage_per_run(flow: FlowTally) -> Usage:
    """What one run bills, SES postage apart: its transitions, Lambda requests and GB-s (its
    steps and the tracking of its emails' events, each traced), DynamoDB units, SQS, SNS and
    logs. No cold starts: those depend on the store's pace (part 1 shows them)."""
    return (
        _usage(flow.runs, traces=flow.runs.units + flow.runs.invocations[TRACKING_FUNCTION])
        .plus(
            {
                "step_functions_standard_transition": flow.runs.transitions,
                "sns_publish": flow.sns_publishes,
                "sqs_request": flow.sqs_requests,
            }
        )
        .times(1 / flow.runs.units if flow.runs.units else 0.0)
    )


def start_usage_per_run(flow: FlowTally) -> Usage:
    """What started the runs, per run: the events' HTTP requests and intake, or the ticks."""
    start = flow.start
    ingested = start.invocations["IngestFunction"]
    return (
        _usage(start, traces=sum(start.invocations.values()))
        .plus(
            {
                "api_gateway_http_request": ingested,
                "sqs_request": sum(n for (service, _), n in start.calls.items() if service == "sqs")
                + costs.ESM_REQUESTS_PER_BATCH
                * (start.invocations["DispatchFunction"] + start.invocations["ScheduleFunction"]),
            }
        )
        .times(1 / start.units if start.units else 0.0)
    )


def _usage(tally_: Tally, *, traces: float) -> Usage:
    invocations = sum(tally_.invocations.values())
    logs = costs.log_gb(tally_.log_bytes, tally_.log_events, invocations)
    return Usage(
        {
            "lambda_arm_gb_second": tally_.lambda_gb_seconds,
            "lambda_request": invocations,
            "dynamodb_read_request_unit": tally_.read_units,
            "dynamodb_write_request_unit": tally_.write_units,
            "cloudwatch_logs_ingestion_gb": logs,
            "cloudwatch_logs_storage_gb_month": logs,
            "xray_trace_recorded": traces,
        }
    )


def figures(flow: FlowTally, prices: Prices) -> dict[str, Any]:
    """The scenario's row: per run and per email, in USD, and what they are made of."""
    runs = flow.runs
    count = runs.units
    usage = usage_per_run(flow)
    lines = costs.price(usage, prices)
    infrastructure = sum(line.usd for line in lines)
    emails_per_run = runs.per_unit(runs.emails)
    postage = costs.postage(emails_per_run, prices).usd
    start = sum(line.usd for line in costs.price(start_usage_per_run(flow), prices))
    per_run = infrastructure + postage
    return {
        "does": flow.does,
        "runs": count,
        "emails": runs.emails,
        "paths": dict(sorted(flow.paths.items())),
        # How often a run entered each state: its loops (a review request's checks for the
        # delivery) show how its cost depends on when things happened.
        "states_per_run": states_per_run(flow.run_histories),
        "seconds": round(flow.seconds, 1),
        "per_run": {
            "transitions": round(runs.per_unit(runs.transitions), 2),
            "lambda_invocations": round(runs.per_unit(sum(runs.invocations.values())), 2),
            "lambda_gb_seconds": round(runs.per_unit(runs.lambda_gb_seconds), 5),
            "read_units": round(runs.per_unit(runs.read_units), 2),
            "write_units": round(runs.per_unit(runs.write_units), 2),
            "sqs_requests": round(runs.per_unit(flow.sqs_requests), 2),
            "sns_publishes": round(runs.per_unit(flow.sns_publishes), 2),
            "emails": round(emails_per_run, 2),
            "aws_calls": round(runs.per_unit(runs.total_calls), 2),
            "infrastructure_usd": round(infrastructure, 7),
            "postage_usd": round(postage, 7),
            "usd": round(per_run, 7),
            "start_usd": round(start, 7),
        },
        "per_email_usd": round(per_run / emails_per_run, 7) if emails_per_run else None,
        "per_1000_runs_usd": round(1000 * per_run, 4),
        "dominant": lines[0].term if lines else None,
        "terms": {line.term: round(line.usd, 8) for line in lines},
        "by_operation": {f"{s}.{o}": round(runs.per_unit(n), 2) for (s, o), n in sorted(runs.calls.items()) if n},
    }


def states_per_run(runs: list[Run]) -> dict[str, float]:
    entered = Counter(name for run in runs for name in run.states)
    return {name: round(count / len(runs), 2) for name, count in sorted(entered.items())}


def results(
    played: list[Played], sizes: dict[tuple[str, str], int], memory_mb: dict[str, int], prices: Prices
) -> dict[str, Any]:
    """bench/results.json's "flows": each template's row."""
    return {p.template: figures(tally(p, sizes, memory_mb), prices) for p in played}


def table_lines(flows: dict[str, Any]) -> list[str]:
    """Part 6 of the table."""
    lines = [
        "7. Flows: each template's example workflow on a store of its own, a few runs each; per run, SES postage "
        "included; what starts the runs (intake, schedule) apart",
        "   template          (all runs)   | per run: transitions, Lambda invocations and GB-s, DynamoDB units, "
        "SNS publishes, USD | USD per email, per 1,000 runs, and what started a run",
        f"   {'template':<18}{'runs':>5}{'emails':>7}{'trans.':>8}{'Lambda':>8}{'GB-s':>9}{'RRU':>7}{'WRU':>7}"
        f"{'SNS':>5}{'per run':>11}{'per email':>11}{'per 1,000':>10}{'start':>11}",
    ]
    for template, row in flows.items():
        per = row["per_run"]
        per_email = f"${row['per_email_usd']:.6f}" if row["per_email_usd"] is not None else "-"
        lines.append(
            f"   {template:<18}{row['runs']:>5}{row['emails']:>7}{per['transitions']:>8.2f}"
            f"{per['lambda_invocations']:>8.2f}{per['lambda_gb_seconds']:>9.4f}{per['read_units']:>7.1f}"
            f"{per['write_units']:>7.1f}{per['sns_publishes']:>5.1f}{'$' + format(per['usd'], '.6f'):>11}"
            f"{per_email:>11}{'$' + format(row['per_1000_runs_usd'], '.3f'):>10}"
            f"{'$' + format(per['start_usd'], '.6f'):>11}"
        )
    for template, row in flows.items():
        lines.append(f"   {template}: {row['does']}; ended in {', '.join(f'{k} {v}' for k, v in row['paths'].items())}")
    return lines
