"""Part 1 of the bench: purchases through the HTTP API of a local stack, every template
published, and everything the product did for them.

One store (the local stack's `demo` store) has all five templates published: the targeted
post-purchase follow-up runs for every order, and each of the other four for orders of one
product category (SECOND_WORKFLOW_BY_CATEGORY), so every order enters two workflows, as the
reference store's orders do, and each template is measured on about a quarter of them.

A contact's purchases are posted one after another, each once the targeted run of the
previous one has ended (so the second purchase finds the first-purchase tag, as days apart
would); contacts are served by WORKERS threads at once; at the end the bench waits until no
run is running. Waits pass at TIME_SCALE. At the end the
bench reads every execution's history and scans the table for item sizes (the local stack's
own calls, not counted as the product's).

Then, on the same stack, parts 2 and 3 (`_browse`, storeflows_bench.browsing): the browsing
workload and its recovered checkouts; and part 4 (storeflows_bench.alerts): the catalogue
alerts' fan-out. The ledger marks each call with its part, and a part
begins only once the stack is quiet, so each part's figures hold its own calls only."""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

from storeflows_bench import alerts, browsing, workload
from storeflows_bench.alerts import AlertsPart
from storeflows_bench.calls import Ledger, recording

if TYPE_CHECKING:
    from storeflows_bench.flows import Played

# Twenty workflow days per real second: the longest run (the care series, 13 days of waits)
# lasts under a second.
TIME_SCALE = 20 * 86400.0
WORKERS = 8
TARGETED = "targeted_post_purchase"
RUN_TIMEOUT_SECONDS = 120
POLL_SECONDS = 0.5

SECOND_WORKFLOW_BY_CATEGORY = {
    "dresses": "care_series",  # its own trigger: the dress's SKU
    "accessories": "purchase_follow_up",
    "bags": "order_value",
    "shoes": "consent_confirmation",
}


@dataclass
class Run:
    """One execution, read from its history."""

    template: str
    status: str
    states: list[str]  # every state entered, in order
    retries: int  # task attempts beyond the first, each billed as a transition
    tasks: Counter[str] = field(default_factory=Counter)  # "dynamodb:updateItem" -> scheduled
    # Lambda tasks that succeeded: (function name, canonical JSON payload, the step's answer)
    lambda_tasks: list[tuple[str, str, Any]] = field(default_factory=list)
    # DynamoDB tasks: (operation, the request as sent)
    dynamodb_requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    name: str = ""  # the execution's name

    @property
    def emails_sent(self) -> int:
        return sum(
            1
            for function, _, answer in self.lambda_tasks
            if function.endswith("SendMessageFunction") and isinstance(answer, dict) and answer.get("status") == "sent"
        )

    @property
    def transitions(self) -> int:
        """What Step Functions bills: every state entered, plus every retry."""
        return len(self.states) + self.retries


@dataclass
class Replay:
    purchases: int
    contacts: int
    seed: int
    mix: dict[str, int]
    seconds: float
    ledger: Ledger
    runs: list[Run]
    item_sizes: dict[tuple[str, str], int]
    custom_metrics: set[tuple[str, str, tuple[tuple[str, str], ...]]]
    memory_mb: dict[str, int]
    browsing: Browsing | None = None
    alerts: AlertsPart | None = None
    flows: list[Played] | None = None  # part 7 of the table (storeflows_bench.flows)
    python: str = sys.version.split()[0]


@dataclass
class Browsing:
    """Part 2 (the browsing workload) and part 3 (the recoveries), each with its own calls."""

    mix: dict[str, int]
    seconds: float  # from the first page until every session was decided and every run ended
    ledger: Ledger
    runs: list[Run]  # of browsing.TEMPLATES
    recovered_runs: list[str]  # names of the checkout runs that sent a reminder, then the customer bought
    recoveries: Ledger  # the purchases of the recovered checkouts
    sessions: list[browsing.Session] = field(default_factory=list, repr=False)


class LogSink:
    """Stands in for stdout while the functions run: counts each invocation's log bytes and
    events (what CloudWatch Logs would ingest) and notes the custom metrics in their EMF
    records; prints nothing."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self.custom_metrics: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()

    def write(self, text: str) -> int:
        invocation = self._ledger.current_invocation()
        if invocation is not None:
            invocation.log_bytes += len(text.encode())
            invocation.log_events += text.count("\n")
        if '"_aws"' in text:
            self._note_metrics(json.loads(text))
        return len(text)

    def flush(self) -> None:
        pass

    def _note_metrics(self, record: dict[str, Any]) -> None:
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                identity = tuple((name, str(record[name])) for name in dimensions)
                with self._lock:
                    self.custom_metrics.update(
                        (directive["Namespace"], metric["Name"], identity) for metric in directive["Metrics"]
                    )


def replay(
    purchases: int,
    contacts: int,
    seed: int,
    *,
    sessions: int = 0,
    alert_recipients: int = 0,
    flows: Callable[..., list[Played]] | None = None,
    progress=None,
) -> Replay:
    """Part 1 (`purchases`), then, with `sessions`, parts 2 and 3 (see browsing), then, with
    `alert_recipients`, part 4 (see alerts), then the flows (part 7 of the table, after the
    catalogue alerts' 6): `flows(api_url, ledger, time_scale, read_runs, progress)`
    (storeflows_bench.flows.play)."""
    chains = workload.plan(purchases, contacts, seed)
    ledger = Ledger()
    sink = LogSink(ledger)
    os.environ["STOREFLOWS_SESSION_TIMEOUT"] = str(browsing.SESSION_TIMEOUT_SECONDS)
    # At 20 workflow days a second the hourly schedule would tick 480 times a second: it ticks
    # only when part 4 asks, for the hours its runs are due.
    os.environ["STOREFLOWS_LOCAL_SCHEDULES"] = "manual"
    with _stack(ledger, sink) as (stack, secrets):
        ledger.begin("purchases")
        workflows = _publish_every_template()
        machines = _state_machines()
        # One client for every waiting thread: a client costs more than the waits.
        sfn = boto3.client("stepfunctions")
        started = time.perf_counter()
        done = itertools.count(1)

        def buy(chain: list[workload.Purchase]) -> None:
            for purchase in chain:
                _buy(stack.api_url, secrets.webhook_secret, sfn, workflows, machines, purchase)
                finished = next(done)
                if progress is not None and finished % 50 == 0:
                    progress(f"  {finished}/{purchases} purchases, {time.perf_counter() - started:.0f} s")

        # Long chains first, so the last minutes are not one contact buying alone.
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(buy, sorted(chains, key=len, reverse=True)))
        _wait_until_every_run_ended(sfn, machines)
        seconds = time.perf_counter() - started
        runs = _runs(sfn, {t: arn for t, arn in machines.items() if t not in (*browsing.TEMPLATES, *alerts.TEMPLATES)})
        browsed = _browse(stack.api_url, ledger, sfn, machines, sessions, seed, progress) if sessions else None
        alerted = (
            alerts.play(
                stack.api_url,
                ledger,
                lambda: _wait_until_quiet(ledger, sfn, machines),
                lambda: _runs(sfn, {template: machines[template] for template in alerts.TEMPLATES}),
                alert_recipients,
                progress,
            )
            if alert_recipients
            else None
        )
        flowed = None
        if flows is not None:
            flowed = flows(
                stack.api_url, ledger, TIME_SCALE, lambda template: _runs(sfn, {template: machines[template]}), progress
            )
        sizes = _item_sizes(os.environ["TABLE_NAME"])
        memory = {spec.logical_id: _memory_mb(stack.template, spec.logical_id) for spec in stack.template.functions()}
    purchased = ledger.of_part("purchases")
    _check_complete(purchased, runs, purchases)
    return Replay(
        purchases=purchases,
        contacts=contacts,
        seed=seed,
        mix=workload.mix(chains),
        seconds=seconds,
        ledger=purchased,
        runs=runs,
        item_sizes=sizes,
        custom_metrics=sink.custom_metrics,
        memory_mb=memory,
        browsing=browsed,
        alerts=alerted,
        flows=flowed,
    )


def _browse(
    api_url: str, ledger: Ledger, sfn: Any, machines: dict[str, str], sessions: int, seed: int, progress
) -> Browsing:
    """Parts 2 and 3 on the same stack, each begun once the stack is quiet."""
    from storeflows.storage import stores, workflows
    from storeflows.workflows.runs import run_name
    from storeflows_local.signing import post_event

    ledger.begin("setup")
    key = browsing.set_up_store()
    store = stores.get_store(browsing.BROWSING_STORE)
    assert store is not None and store.webhook_secret is not None
    secret = store.webhook_secret
    planned = browsing.plan(sessions, seed)
    mix = browsing.mix(planned)

    def sign_up(session: browsing.Session) -> None:
        consent = {
            "type": "consent",
            "marketing": True,
            "source": "bench sign-up",
            "customer": {"email": session.email},
        }
        answer = post_event(api_url, browsing.BROWSING_STORE, secret, consent)
        if answer.status_code != 202:
            raise RuntimeError(f"consent of {session.email}: {answer.status_code} {answer.text}")

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(sign_up, [session for session in planned if session.email]))
    _wait_until_quiet(ledger, sfn, machines)

    if progress is not None:
        progress(f"browsing: {mix['sessions']} sessions, {mix['page_views']} page views, {mix['events']} events")
    ledger.begin("browsing")
    started = time.perf_counter()

    def visit(session: browsing.Session) -> None:
        for page in session.pages:
            browsing.post_page(api_url, key, session, page)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(visit, planned))
    # Every session's end decided (its checks come SESSION_TIMEOUT_SECONDS after its pages)
    # and every run it started ended.
    _wait_until_quiet(ledger, sfn, machines)
    seconds = time.perf_counter() - started
    runs = _runs(sfn, {t: arn for t, arn in machines.items() if t in browsing.TEMPLATES})

    (checkout_workflow,) = [
        w.workflow_id for w in workflows.list_workflows(browsing.BROWSING_STORE) if w.template == "checkout_abandonment"
    ]
    reminded = {run.name for run in runs if run.template == "checkout_abandonment" and run.emails_sent}
    buyers = [
        (session, name)
        for session in planned
        if session.buys_after_reminder
        and (name := run_name(browsing.BROWSING_STORE, f"checkout:{session.checkout_token}", checkout_workflow))
        in reminded
    ]
    ledger.begin("recoveries")
    for number, (session, _) in enumerate(buyers, start=1):
        answer = post_event(
            api_url, browsing.BROWSING_STORE, secret, browsing.purchase_body(session, f"R-{number:04d}")
        )
        if answer.status_code != 202:
            raise RuntimeError(f"recovery purchase: {answer.status_code} {answer.text}")
    _wait_until_quiet(ledger, sfn, machines)
    ledger.begin("after")
    if progress is not None:
        progress(f"  browsing done in {seconds:.0f} s: {len(runs)} runs, {len(buyers)} recovered checkouts")
    return Browsing(
        mix=mix,
        seconds=seconds,
        ledger=ledger.of_part("browsing"),
        runs=runs,
        recovered_runs=[name for _, name in buyers],
        recoveries=ledger.of_part("recoveries"),
        sessions=planned,
    )


def _wait_until_quiet(ledger: Ledger, sfn: Any, machines: dict[str, str]) -> None:
    """Nothing on the event queue (delayed session checks included), no run running, and
    no call made for a second (SES's events are published from a thread of their own)."""
    from storeflows_local.waiting import wait_for

    sqs = boto3.client("sqs")
    queue_url = os.environ["EVENT_QUEUE_URL"]
    seen = [-1]

    def quiet() -> bool:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        if any(int(value) for value in attributes.values()):
            return False
        if any(
            sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING", maxResults=1)["executions"]
            for machine in machines.values()
        ):
            return False
        made = sum(ledger.count().values())
        still = made == seen[0]
        seen[0] = made
        return still

    wait_for(quiet, timeout=RUN_TIMEOUT_SECONDS, interval=1.0, what="the stack to be quiet")


@contextmanager
def _stack(ledger: Ledger, sink: LogSink) -> Iterator[tuple[Any, Any]]:
    """The local stack with the template's own log level (INFO) and metrics on, every
    handler instrumented, and every botocore client watched from the start."""
    from storeflows_local.__main__ import running_stack

    with (
        redirect_stdout(sink),
        recording(ledger),
        running_stack(0, TIME_SCALE, quiet=False, instrument=ledger.instrument) as (stack, secrets),
    ):
        yield stack, secrets


def _state_machines() -> dict[str, str]:
    """Template -> its state machine's ARN."""
    from storeflows.workflows.runs import state_machine_arn
    from storeflows.workflows.templates import TEMPLATES

    return {template: state_machine_arn(template) for template in TEMPLATES}


def _publish_every_template() -> list[Any]:
    """The demo store's targeted post-purchase workflow, plus the demo's scenario of each
    other template, triggered by one product category each."""
    from storeflows.storage import workflows
    from storeflows.workflows.triggers import PurchaseTrigger
    from storeflows_local.demo import SCENARIOS, add_workflow
    from storeflows_local.demo_store import DEMO_STORE_ID

    for category, template in SECOND_WORKFLOW_BY_CATEGORY.items():
        scenario = SCENARIOS[template]
        settings = scenario.settings
        if template != "care_series":
            settings = settings.model_copy(update={"trigger": PurchaseTrigger(categories=[category])})
        if settings.frequency_cap_setting:
            # The frequency cap runs on the wall clock: shorten it like the Waits.
            settings = settings.model_copy(
                update={settings.frequency_cap_setting: max(1, round(settings.frequency_cap_seconds() / TIME_SCALE))}
            )
        add_workflow(DEMO_STORE_ID, template.replace("_", "-"), scenario, settings)
    return workflows.list_workflows(DEMO_STORE_ID)


def _buy(
    api_url: str, secret: str, sfn: Any, workflows: list[Any], machines: dict[str, str], purchase: workload.Purchase
) -> None:
    from storeflows.events.purchase import PurchaseEvent
    from storeflows.workflows.runs import run_name
    from storeflows_local.demo_store import DEMO_STORE_ID
    from storeflows_local.signing import post_event
    from storeflows_local.signing import purchase as purchase_body

    customer = purchase.customer
    body = purchase_body(
        purchase.order_id,
        customer.email,
        first_name=customer.first_name,
        total=purchase.total,
        language=customer.language,
        country=customer.country,
        accepts_marketing=customer.accepts_marketing,
        items=purchase.items(),
    )
    response = post_event(api_url, DEMO_STORE_ID, secret, body)
    if response.status_code != 202:
        raise RuntimeError(f"purchase {purchase.order_id}: {response.status_code} {response.text}")
    event = PurchaseEvent.model_validate(body)
    # The next purchase must find this one's tags: wait for the targeted run only (the other
    # runs write nothing a later run reads, and waiting costs the stack CPU).
    (targeted,) = [w for w in workflows if w.template == TARGETED and w.runs_for(event)]
    execution = machines[TARGETED].replace(":stateMachine:", ":execution:")
    _wait_until_ended(sfn, f"{execution}:{run_name(DEMO_STORE_ID, purchase.order_id, targeted.workflow_id)}")


def _wait_until_ended(sfn: Any, execution_arn: str) -> None:
    from storeflows_local.waiting import TERMINAL, wait_for

    def ended() -> bool:
        try:
            return sfn.describe_execution(executionArn=execution_arn)["status"] in TERMINAL
        except sfn.exceptions.ExecutionDoesNotExist:
            return False

    wait_for(ended, timeout=RUN_TIMEOUT_SECONDS, interval=POLL_SECONDS, what=execution_arn)


def _wait_until_every_run_ended(sfn: Any, machines: dict[str, str]) -> None:
    from storeflows_local.waiting import wait_for

    def none_running() -> bool:
        return not any(
            sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING", maxResults=1)["executions"]
            for machine in machines.values()
        )

    wait_for(none_running, timeout=RUN_TIMEOUT_SECONDS, interval=POLL_SECONDS, what="every run to end")


def _runs(sfn: Any, machines: dict[str, str]) -> list[Run]:
    runs = []
    for template, machine in machines.items():
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
            for execution in page["executions"]:
                events = [
                    event
                    for history in sfn.get_paginator("get_execution_history").paginate(
                        executionArn=execution["executionArn"]
                    )
                    for event in history["events"]
                ]
                runs.append(parse_history(template, execution["status"], events, name=execution["name"]))
    return runs


def parse_history(template: str, status: str, events: list[dict[str, Any]], *, name: str = "") -> Run:
    run = Run(template=template, status=status, states=[], retries=0, name=name)
    by_id = {event["id"]: event for event in events}
    scheduled_in_state = 0
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            run.states.append(event["stateEnteredEventDetails"]["name"])
            scheduled_in_state = 0
        elif kind == "TaskScheduled":
            details = event["taskScheduledEventDetails"]
            run.tasks[f"{details['resourceType']}:{details['resource']}"] += 1
            scheduled_in_state += 1
            run.retries += scheduled_in_state > 1
            if details["resourceType"] == "dynamodb":
                operation = details["resource"][0].upper() + details["resource"][1:]
                run.dynamodb_requests.append((operation, json.loads(details["parameters"])))
        elif kind == "TaskSucceeded" and event["taskSucceededEventDetails"]["resourceType"] == "lambda":
            # TaskSucceeded follows TaskStarted, which follows its TaskScheduled.
            scheduled = by_id[by_id[event["previousEventId"]]["previousEventId"]]
            parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
            answer = json.loads(event["taskSucceededEventDetails"]["output"])["Payload"]
            run.lambda_tasks.append(
                (parameters["FunctionName"].rsplit(":", 1)[-1], canonical(parameters["Payload"]), answer)
            )
    return run


def canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def _item_sizes(table: str) -> dict[tuple[str, str], int]:
    from storeflows_bench.dynamodb import item_size

    sizes = {}
    for page in boto3.client("dynamodb").get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            sizes[(item["pk"]["S"], item["sk"]["S"])] = item_size(item)
    return sizes


def _memory_mb(template: Any, logical_id: str) -> int:
    properties = template.resources[logical_id]["Properties"]
    globals_ = template.document.get("Globals", {}).get("Function", {})
    return int(properties.get("MemorySize", globals_.get("MemorySize", 128)))


def _check_complete(ledger: Ledger, runs: list[Run], purchases: int) -> None:
    """Every purchase was accepted, dispatched and its runs ended well; otherwise the
    figures would describe something else."""
    ingested = sum(1 for i in ledger.invocations if i.function == "IngestFunction")
    dispatched = sum(len(i.event["Records"]) for i in ledger.invocations if i.function == "DispatchFunction")
    failed = [run for run in runs if run.status != "SUCCEEDED"]
    expected_runs = 2 * purchases
    if ingested != purchases or dispatched < purchases or failed or len(runs) != expected_runs:
        raise RuntimeError(
            f"incomplete replay: {ingested} ingested, {dispatched} dispatched, "
            f"{len(runs)} runs (expected {expected_runs}), {len(failed)} not succeeded"
        )
