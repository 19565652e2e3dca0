"""From a replay to figures per purchase (the intake: ingest + dispatch), per workflow run of
each template and per email sent (engagement: the SES events of the email, their SNS
publishes and the tracking function): AWS calls by service and operation, Lambda
invocations and billed GB-seconds, state transitions, DynamoDB capacity units, emails, log
bytes, traces.

Attribution: the ingest and dispatch invocations are the intake, except the dispatcher's
StartExecution calls, one per run, which belong to the runs. A Lambda step belongs to the
run whose history scheduled it (matched on its exact payload). The state machines' own
service integrations are read from each run's history; the botocore hooks must have seen
the same number of them."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storeflows_bench import minimum
from storeflows_bench.calls import SES_EVENT_PUBLISHING, STATE_MACHINE, Call, Invocation, is_product
from storeflows_bench.costs import DYNAMODB_ITEM_OVERHEAD_BYTES
from storeflows_bench.dynamodb import capacity
from storeflows_bench.replay import Replay, Run, canonical

INTAKE = "intake"
INTAKE_FUNCTIONS = ("IngestFunction", "DispatchFunction")
ENGAGEMENT = "engagement"
TRACKING_FUNCTION = "TrackEngagementFunction"
START = ("stepfunctions", "StartExecution")
# What the history names a task's resource -> the API call it makes.
TASK_CALLS = {"lambda:invoke": ("lambda", "Invoke")}


@dataclass
class Tally:
    """What a number of purchases (the intake) or runs (a template) added up to."""

    units: int = 0
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    minimum_calls: int = 0
    invocations: Counter[str] = field(default_factory=Counter)
    lambda_gb_seconds: float = 0.0
    transitions: int = 0
    read_units: float = 0.0
    write_units: float = 0.0
    emails: int = 0
    log_bytes: int = 0
    log_events: int = 0
    traces: int = 0
    paths: Counter[str] = field(default_factory=Counter)  # the state each run ended in

    def per_unit(self, value: float) -> float:
        return value / self.units if self.units else 0.0

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def tally(replay: Replay) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {INTAKE: Tally(units=replay.purchases), ENGAGEMENT: Tally()}
    _add_runs_and_invocations(tallies, replay, replay.runs, replay.ledger.invocations, with_minimum=True)
    tallies[INTAKE].minimum_calls = _intake_minimum(_dispatched_events(replay.ledger.invocations))
    tallies[INTAKE].traces = sum(1 for i in replay.ledger.invocations if i.function in INTAKE_FUNCTIONS)
    _add_engagement(tallies[ENGAGEMENT], replay, emails=sum(t.emails for t in workflow_tallies(tallies).values()))
    _check_state_machine_calls(replay)
    return tallies


def _add_runs_and_invocations(
    tallies: dict[str, Tally], replay: Replay, runs: list[Any], invocations: list[Any], *, with_minimum: bool
) -> None:
    """Each run into its template's tally, and each invocation to its owner: the intake, the
    engagement tracking, or the run whose task scheduled it (by function and payload)."""
    owner_of_payload: dict[tuple[str, str], str] = {}
    for run in runs:
        _add_run(tallies.setdefault(run.template, Tally()), run, replay.item_sizes, with_minimum=with_minimum)
        for function, payload, _ in run.lambda_tasks:
            owner_of_payload[(function, payload)] = run.template
    for invocation in invocations:
        if invocation.function in INTAKE_FUNCTIONS:
            owner = INTAKE
        elif invocation.function == TRACKING_FUNCTION:
            owner = ENGAGEMENT
        else:
            scheduled = owner_of_payload.get((invocation.function, canonical(invocation.event)))
            if scheduled is None:
                raise RuntimeError(f"an invocation of {invocation.function} that no run scheduled")
            owner = scheduled
        _add_invocation(tallies[owner], invocation, replay.item_sizes, replay.memory_mb[invocation.function])
    _move_starts_to_runs(tallies, runs)


def workflow_tallies(tallies: dict[str, Tally]) -> dict[str, Tally]:
    """The templates' tallies (per run), without the intake's and engagement's."""
    return {name: tally for name, tally in tallies.items() if name not in (INTAKE, ENGAGEMENT)}


def _add_engagement(engagement: Tally, replay: Replay, *, emails: int) -> None:
    """Per email sent: the SNS publishes of its SES events (the tracking function's
    invocations and calls are added with the other invocations)."""
    engagement.units = emails
    published = [call for call in replay.ledger.calls if call.source == SES_EVENT_PUBLISHING]
    for call in published:
        engagement.calls[(call.service, call.operation)] += 1
    engagement.minimum_calls = minimum.ENGAGEMENT_EVENT * len(published)
    engagement.traces = engagement.invocations[TRACKING_FUNCTION]


def _add_run(tally_: Tally, run: Run, sizes, *, with_minimum: bool = True) -> None:
    tally_.units += 1
    tally_.transitions += run.transitions
    tally_.traces += 1  # one trace per execution; the Lambda steps join it
    tally_.paths[run.states[-1]] += 1
    for resource, count in run.tasks.items():
        service, operation = TASK_CALLS.get(resource) or _dynamodb_call(resource)
        tally_.calls[(service, operation)] += count
    for operation, request in run.dynamodb_requests:
        reads, writes = capacity(operation, request, sizes)
        tally_.read_units += reads
        tally_.write_units += writes
    if with_minimum:  # stated for the purchase templates' steps (minimum.py)
        dynamodb_tasks = sum(n for resource, n in run.tasks.items() if resource.startswith("dynamodb:"))
        tally_.minimum_calls += minimum.run(dynamodb_tasks, run.lambda_tasks)


def _dynamodb_call(resource: str) -> tuple[str, str]:
    service, action = resource.split(":")
    if service != "dynamodb":
        raise ValueError(f"the bench does not know the integration {resource}")
    return service, action[0].upper() + action[1:]


def _add_invocation(tally_: Tally, invocation: Invocation, sizes, memory_mb: int) -> None:
    tally_.invocations[invocation.function] += 1
    # Lambda bills duration rounded up to the millisecond, at the configured memory.
    tally_.lambda_gb_seconds += math.ceil(invocation.seconds * 1000) / 1000 * memory_mb / 1024
    tally_.log_bytes += invocation.log_bytes
    tally_.log_events += invocation.log_events
    for call in invocation.calls:
        if not is_product(call.source):
            continue
        tally_.calls[(call.service, call.operation)] += 1
        if call.service == "sesv2" and call.operation == "SendEmail":
            tally_.emails += 1
        if call.service == "dynamodb":
            reads, writes = _capacity(call, sizes)
            tally_.read_units += reads
            tally_.write_units += writes


def _capacity(call: Call, sizes) -> tuple[float, float]:
    return capacity(call.operation, call.request or {}, sizes, call.returned_item_sizes)


def _move_starts_to_runs(tallies: dict[str, Tally], runs: list[Run], starter: str = INTAKE) -> None:
    """One StartExecution per run belongs to the run; any surplus (a redelivery finding its
    runs started) stays with the intake (`starter`: the tally of the dispatcher's calls)."""
    intake = tallies[starter]
    for template, runs_of_template in Counter(run.template for run in runs).items():
        intake.calls[START] -= runs_of_template
        tallies[template].calls[START] += runs_of_template
    if intake.calls[START] < 0:
        raise RuntimeError("fewer StartExecution calls than runs")
    intake.calls += Counter()  # drops the zero entry


def _intake_minimum(events: list[dict[str, Any]]) -> int:
    """The fewest calls of these purchases' intake, in the order they were dispatched: a
    returning buyer's SKUs bought a day per unit or more before add to the repeat intervals
    (storage.purchase_stats; the bench's purchases come seconds apart, so none do)."""
    # contact -> SKU -> (when, quantity) of its latest purchase
    bought: dict[str, dict[str, tuple[datetime, int]]] = {}
    total = 0
    for event in events:
        items = event["event"]["order"]["items"]
        at = datetime.fromisoformat(event["event"].get("occurred_at") or event["received_at"])
        skus = {item["sku"] for item in items if item.get("sku")}
        earlier = bought.setdefault(event["event"]["customer"]["email"].lower(), {})
        total += minimum.intake(
            skus=len(skus),
            carries_consent=event["event"]["customer"].get("accepts_marketing") is not None,
            products=len({item.get("product_id") or item.get("sku") for item in items} - {None}),
            sku_only_lines=any(not item.get("product_id") and item.get("sku") for item in items),
            returning=bool(earlier),
            repeated_skus=sum(
                1
                for sku in skus
                if sku in earlier and (at - earlier[sku][0]).total_seconds() >= 86400 * earlier[sku][1]
            ),
        )
        earlier.update({item["sku"]: (at, int(item.get("quantity", 1))) for item in items if item.get("sku")})
    return total


def _dispatched_events(invocations: list[Invocation]) -> list[dict[str, Any]]:
    """Each purchase the dispatcher recorded, once (a redelivery is the same event)."""
    events = {}
    for invocation in invocations:
        if invocation.function == "DispatchFunction":
            for record in invocation.event["Records"]:
                event = json.loads(record["body"])
                events[event["event_id"]] = event
    return [event for event in events.values() if event["event"]["type"] == "purchase"]


def _check_state_machine_calls(replay: Replay) -> None:
    seen = sum(1 for call in replay.ledger.calls if call.source == STATE_MACHINE)
    scheduled = sum(sum(run.tasks.values()) for run in replay.runs)
    if seen != scheduled:
        raise RuntimeError(f"the hooks saw {seen} state machine calls, the histories scheduled {scheduled}")


def per_function(replay: Replay) -> dict[str, Tally]:
    """Each function's invocations on their own (the send step's cost per email, say)."""
    tallies: dict[str, Tally] = {}
    for invocation in replay.ledger.invocations:
        function = tallies.setdefault(invocation.function, Tally())
        function.units += 1
        _add_invocation(function, invocation, replay.item_sizes, replay.memory_mb[invocation.function])
    return tallies


def stored_bytes(replay: Replay) -> dict[str, float]:
    """What the table holds per contact and per order, DynamoDB's 100 bytes per item
    included, for the storage estimate: profiles, and what each order leaves (orders, send
    records, engagement flags, series markers, sales counters, report rows)."""
    stored = {key: size + DYNAMODB_ITEM_OVERHEAD_BYTES for key, size in replay.item_sizes.items()}
    profiles = [size for (pk, sk), size in stored.items() if sk == "PROFILE"]
    kept = sum(size for (pk, sk), size in stored.items() if sk != "PROFILE" and not pk.startswith("STORE#"))
    return {"profile_bytes": sum(profiles) / len(profiles), "kept_bytes_per_order": kept / replay.purchases}


# --- parts 2 and 3: browsing and the recovered checkouts ------------------------------------------

BROWSING = "browsing"
BROWSING_FUNCTIONS = ("CollectFunction", "DispatchFunction")
RECOVERIES_FUNCTIONS = ("IngestFunction", "DispatchFunction")
# What a page sends by itself: none of these may start a run.
PAGE_VIEW_TYPES = frozenset({"page_viewed", "product_viewed", "category_viewed", "search"})


@dataclass
class BrowsingTally:
    """What the browsing workload added up to (part 2), and its recovered checkouts (part 3)."""

    page_views: int
    collect_requests: int
    records: Counter[str]  # event type -> records the dispatcher got (session checks included)
    watched_sessions: int  # sessions whose end was checked
    tallies: dict[str, Tally]  # BROWSING (collect + dispatch), ENGAGEMENT, and each template's runs
    subjects: dict[str, int]  # sessions, carts and checkouts that could start a run
    recovered: Tally  # the runs of the recovered checkouts, their Lambda steps included
    recoveries: Tally  # the purchases of the recovered checkouts (ingest + dispatch)
    starts_by_page_views: int  # StartExecution calls in batches holding page views only: must be 0
    dispatch_gb_seconds: float  # of the dispatcher alone (a session check's share, for the model)


def browsing_tally(replay: Replay) -> BrowsingTally:
    browsed = replay.browsing
    if browsed is None:
        raise ValueError("the replay has no browsing part")
    sizes = replay.item_sizes
    memory = replay.memory_mb
    tallies: dict[str, Tally] = {BROWSING: Tally(), ENGAGEMENT: Tally()}
    recovered = Tally()
    recovered_names = set(browsed.recovered_runs)
    owner_of_payload: dict[tuple[str, str], tuple[str, bool]] = {}
    for run in browsed.runs:
        _add_run(tallies.setdefault(run.template, Tally()), run, sizes, with_minimum=False)
        is_recovered = run.name in recovered_names
        if is_recovered:
            _add_run(recovered, run, sizes, with_minimum=False)
        for function, payload, _ in run.lambda_tasks:
            owner_of_payload[(function, payload)] = (run.template, is_recovered)
    records: Counter[str] = Counter()
    watched: set[str] = set()
    starts_by_page_views = 0
    for invocation in browsed.ledger.invocations:
        if invocation.function in BROWSING_FUNCTIONS:
            owner, is_recovered = BROWSING, False
        elif invocation.function == TRACKING_FUNCTION:
            owner, is_recovered = ENGAGEMENT, False
        else:
            found = owner_of_payload.get((invocation.function, canonical(invocation.event)))
            if found is None:
                raise RuntimeError(f"an invocation of {invocation.function} that no run scheduled")
            owner, is_recovered = found
        _add_invocation(tallies[owner], invocation, sizes, memory[invocation.function])
        if is_recovered:
            _add_invocation(recovered, invocation, sizes, memory[invocation.function])
        if invocation.function == "DispatchFunction":
            types = set()
            for record in invocation.event["Records"]:
                event = json.loads(record["body"])
                types.add(event["event"]["type"])
                records[event["event"]["type"]] += 1
                if event["event"]["type"] == "session_check":
                    watched.add(event["event"]["session_id"])
            starts = sum(1 for call in invocation.calls if (call.service, call.operation) == START)
            if starts and types <= PAGE_VIEW_TYPES:
                starts_by_page_views += starts
    _move_starts_to_runs(tallies, browsed.runs, BROWSING)
    engagement = tallies[ENGAGEMENT]
    engagement.units = sum(t.emails for name, t in tallies.items() if name not in (BROWSING, ENGAGEMENT))
    for call in browsed.ledger.calls:
        if call.source == SES_EVENT_PUBLISHING:
            engagement.calls[(call.service, call.operation)] += 1
    recovered.calls[START] += recovered.units
    recoveries = Tally(units=len(recovered_names))
    for invocation in browsed.recoveries.invocations:
        if invocation.function not in RECOVERIES_FUNCTIONS:
            raise RuntimeError(f"a recovery purchase invoked {invocation.function}: it starts no run here")
        _add_invocation(recoveries, invocation, sizes, memory[invocation.function])
    collect = [i for i in browsed.ledger.invocations if i.function == "CollectFunction"]
    sessions = browsed.sessions
    return BrowsingTally(
        page_views=browsed.mix["page_views"],
        collect_requests=len(collect),
        records=records,
        watched_sessions=len(watched),
        tallies=tallies,
        subjects={
            "sessions": sum(1 for s in sessions if s.email),
            "carts": sum(1 for s in sessions if s.email and s.cart_token),
            "checkouts": sum(1 for s in sessions if s.checkout_token),
        },
        recovered=recovered,
        recoveries=recoveries,
        starts_by_page_views=starts_by_page_views,
        dispatch_gb_seconds=sum(
            math.ceil(i.seconds * 1000) / 1000 * memory[i.function] / 1024
            for i in browsed.ledger.invocations
            if i.function == "DispatchFunction"
        ),
    )


def check_browsing(tally_: BrowsingTally, runs: list[Run]) -> None:
    """No page view started a run, at most one run per session, cart or checkout, and every
    run ended well; otherwise the figures would describe something else."""
    if tally_.starts_by_page_views:
        raise RuntimeError(f"{tally_.starts_by_page_views} executions started by batches of page views alone")
    kinds = Counter(run.template.split("_")[0] for run in runs)
    per_session = kinds["browse"] + kinds["site"] + kinds["search"]
    if (
        per_session > tally_.subjects["sessions"]
        or kinds["cart"] > tally_.subjects["carts"]
        or kinds["checkout"] > tally_.subjects["checkouts"]
    ):
        raise RuntimeError(f"more runs than sessions, carts or checkouts: {dict(kinds)} for {tally_.subjects}")
    failed = [run.name for run in runs if run.status != "SUCCEEDED"]
    if failed:
        raise RuntimeError(f"{len(failed)} browsing runs did not succeed")


def alerts_tallies(replay: Replay) -> dict[str, Tally]:
    """Part 4: per catalogue alert template, its run (units: 1) with its batch invocations and
    its product event's intake (the three events' ingest and dispatch, a third each); and the
    engagement of the emails it sent (units: emails)."""
    part = replay.alerts
    assert part is not None
    tallies: dict[str, Tally] = {INTAKE: Tally(units=len(part.runs)), ENGAGEMENT: Tally()}
    _add_runs_and_invocations(tallies, replay, part.runs, part.ledger.invocations, with_minimum=False)
    emails = sum(t.emails for t in workflow_tallies(tallies).values())
    tallies[ENGAGEMENT].units = emails
    for call in part.ledger.calls:
        if call.source == SES_EVENT_PUBLISHING:
            tallies[ENGAGEMENT].calls[(call.service, call.operation)] += 1
    return tallies
