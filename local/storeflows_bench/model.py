"""The reference store's monthly bill (at 1x, 10x and 100x) and the cost of 1,000 orders,
built from what the replay measured: usage per order (the intake), per run of each
template, per send step and per email's engagement (its SES events, as the replay saw them:
Send and Delivery; opens and clicks each add one more event of the same cost); plus the
stack's fixed monthly costs and its storage.

The reference store: 10,000 contacts, 3,000 orders a month, each order entering two
workflows (the targeted post-purchase follow-up, the seed's ten elements, and the costliest
run of the other four templates, to stay on the safe side), and 50,000 emails a month. The
workflows send fewer than that; the rest (campaigns) are costed as send steps, postage
apart."""

from __future__ import annotations

from dataclasses import dataclass

from storeflows_bench import costs
from storeflows_bench.costs import Bill, Prices, Usage
from storeflows_bench.measure import (
    BROWSING,
    ENGAGEMENT,
    INTAKE,
    TRACKING_FUNCTION,
    BrowsingTally,
    Tally,
    workflow_tallies,
)

TARGETED = "targeted_post_purchase"
SEND_FUNCTION = "SendMessageFunction"
INTAKE_INVOCATIONS = {"IngestFunction": 1.0, "DispatchFunction": 1.0 / costs.EVENTS_PER_BATCH}
SCALES = (1, 10, 100)


@dataclass(frozen=True)
class ReferenceStore:
    contacts: int = 10_000
    orders_per_month: int = 3_000
    emails_per_month: int = 50_000


REFERENCE = ReferenceStore()


@dataclass
class Figures:
    """Measured usage per unit, ready to scale."""

    intake: Usage  # per order
    runs: dict[str, Usage]  # per run
    run_invocations: dict[str, dict[str, float]]  # template -> function -> invocations per run
    emails_per_run: dict[str, float]
    send_step: Usage  # per send step (one email)
    engagement: Usage  # per email: its SES events, published and tracked
    engagement_invocations: float  # of the tracking function, per email
    init_seconds: dict[str, float]  # function -> cold-start import time
    memory_mb: dict[str, int]
    fixed: Usage  # per month
    stored: dict[str, float]  # measure.stored_bytes


def figures(
    tallies: dict[str, Tally],
    functions: dict[str, Tally],
    *,
    init_seconds: dict[str, float],
    memory_mb: dict[str, int],
    fixed: Usage,
    stored: dict[str, float],
) -> Figures:
    intake = tallies[INTAKE]
    intake_usage = _usage(intake, invocations=sum(INTAKE_INVOCATIONS.values()))
    intake_usage.update(
        {
            "api_gateway_http_request": 1,
            "lambda_request": sum(INTAKE_INVOCATIONS.values()),
            "sqs_request": intake.per_unit(intake.calls[("sqs", "SendMessage")])
            + costs.ESM_REQUESTS_PER_BATCH / costs.EVENTS_PER_BATCH,
            "xray_trace_recorded": sum(INTAKE_INVOCATIONS.values()),  # a trace per API request, per batch
        }
    )
    templates = workflow_tallies(tallies)
    runs = {}
    for name, tally in templates.items():
        invocations = tally.per_unit(sum(tally.invocations.values()))
        runs[name] = _usage(tally, invocations=invocations)
        runs[name].update(
            {
                "step_functions_standard_transition": tally.per_unit(tally.transitions),
                "lambda_request": invocations,
                "xray_trace_recorded": 1,  # the execution's trace; its Lambda steps join it
            }
        )
    send = functions[SEND_FUNCTION]
    send_step = _usage(send, invocations=1)
    send_step["lambda_request"] = 1
    tracked = tallies[ENGAGEMENT]
    tracking_invocations = tracked.per_unit(tracked.invocations[TRACKING_FUNCTION])
    engagement = _usage(tracked, invocations=tracking_invocations)
    engagement.update(
        {
            "sns_publish": tracked.per_unit(tracked.calls[("sns", "Publish")]),
            "lambda_request": tracking_invocations,
            "xray_trace_recorded": tracking_invocations,
        }
    )
    return Figures(
        intake=intake_usage,
        runs=runs,
        run_invocations={name: {f: t.per_unit(n) for f, n in t.invocations.items()} for name, t in templates.items()},
        emails_per_run={name: tally.per_unit(tally.emails) for name, tally in templates.items()},
        send_step=send_step,
        engagement=engagement,
        engagement_invocations=tracking_invocations,
        init_seconds=init_seconds,
        memory_mb=memory_mb,
        fixed=fixed,
        stored=stored,
    )


def _usage(tally: Tally, *, invocations: float) -> Usage:
    """The terms every unit has: compute, DynamoDB, logs."""
    logs = costs.log_gb(tally.per_unit(tally.log_bytes), tally.per_unit(tally.log_events), invocations)
    return Usage(
        {
            "lambda_arm_gb_second": tally.per_unit(tally.lambda_gb_seconds),
            "dynamodb_read_request_unit": tally.per_unit(tally.read_units),
            "dynamodb_write_request_unit": tally.per_unit(tally.write_units),
            "cloudwatch_logs_ingestion_gb": logs,
            "cloudwatch_logs_storage_gb_month": logs,
        }
    )


def second_workflow(fig: Figures, prices: Prices) -> str:
    """The reference store's second workflow: the costliest run of the other templates."""
    others = [name for name in fig.runs if name != TARGETED]
    return max(others, key=lambda name: sum(line.usd for line in costs.price(fig.runs[name], prices)))


def _orders_usage(fig: Figures, orders: float, workflows: list[str]) -> tuple[Usage, dict[str, float], float]:
    """Usage, invocations per function and emails of `orders` orders entering `workflows`."""
    usage = fig.intake.times(orders)
    invocations = {function: per_order * orders for function, per_order in INTAKE_INVOCATIONS.items()}
    emails = 0.0
    for workflow in workflows:
        usage = usage.plus(fig.runs[workflow].times(orders))
        for function, per_run in fig.run_invocations[workflow].items():
            invocations[function] = invocations.get(function, 0) + per_run * orders
        emails += fig.emails_per_run[workflow] * orders
    return usage, invocations, emails


def monthly_bill(fig: Figures, workflows: list[str], scale: float, prices: Prices) -> Bill:
    orders = REFERENCE.orders_per_month * scale
    usage, invocations, workflow_emails = _orders_usage(fig, orders, workflows)
    emails = REFERENCE.emails_per_month * scale
    other_sends = max(0.0, emails - workflow_emails)
    usage = usage.plus(fig.send_step.times(other_sends)).plus(fig.engagement.times(emails))
    invocations[SEND_FUNCTION] = invocations.get(SEND_FUNCTION, 0) + other_sends
    invocations[TRACKING_FUNCTION] = fig.engagement_invocations * emails
    usage = usage.plus(fig.fixed).plus(
        costs.storage(
            contacts=REFERENCE.contacts * scale,
            orders_per_month=orders,
            profile_bytes=fig.stored["profile_bytes"],
            kept_bytes_per_order=fig.stored["kept_bytes_per_order"],
        )
    )
    usage["lambda_arm_gb_second"] += costs.init_gb_seconds(invocations, fig.init_seconds, fig.memory_mb)
    return Bill(
        lines=costs.price(usage, prices),
        postage=costs.postage(emails, prices),
        notes=[
            f"{orders:,.0f} orders entering {' and '.join(workflows)}; {workflow_emails:,.0f} workflow emails, "
            f"{other_sends:,.0f} other sends costed as send steps",
        ],
    )


def per_thousand_orders(fig: Figures, workflow: str, prices: Prices) -> Bill:
    """1,000 orders through the intake and `workflow`, no fixed costs, postage apart; cold
    starts as often as at the reference store's pace."""
    usage, invocations, emails = _orders_usage(fig, 1000, [workflow])
    usage = usage.plus(fig.engagement.times(emails))
    invocations[TRACKING_FUNCTION] = fig.engagement_invocations * emails
    monthly = REFERENCE.orders_per_month / 1000
    usage["lambda_arm_gb_second"] += sum(
        count * costs.cold_start_share(count * monthly) * fig.init_seconds[function] * fig.memory_mb[function] / 1024
        for function, count in invocations.items()
    )
    return Bill(lines=costs.price(usage, prices), postage=costs.postage(emails, prices))


# --- browsing: per 100,000 page views, and per recovered checkout ---------------------------------

PAGE_VIEWS = 100_000
# In AWS a session ends after 30 minutes; its check is delayed by SQS's longest delay, 15
# minutes, and comes again while the session may go on: at 15, 30 and (for a session of
# about 5 minutes) 35 minutes, 3 checks. The bench's sessions end after a few seconds, so
# its checks come fewer times; the hops it does not see are added, each as measured for a
# check: its SendMessage, the poller's receive and delete, one dispatcher invocation (at
# one event per batch) with its trace, and a read of the session.
SESSION_CHECKS_IN_AWS = 3


@dataclass
class BrowsingFigures:
    page_views: Usage  # collect, dispatch, sessions and their checks, per page view
    runs: Usage  # the runs the sessions, carts and checkouts started, their sends and the emails' events, per page view
    emails_per_page_view: float
    invocations_per_page_view: dict[str, float]
    extra_checks_per_page_view: float
    recovered: Usage  # per recovered checkout: its run and sends, its emails' events, the purchase
    emails_per_recovered: float
    init_seconds: dict[str, float]
    memory_mb: dict[str, int]


def browsing_figures(
    bt: BrowsingTally, *, init_seconds: dict[str, float], memory_mb: dict[str, int]
) -> BrowsingFigures:
    views = bt.page_views
    browsing = bt.tallies[BROWSING]
    records = sum(bt.records.values())
    # At a store's pace a batch holds one event: one dispatcher invocation per event.
    invocations = {"CollectFunction": bt.collect_requests, "DispatchFunction": records}
    page = _totals(browsing, invocations=bt.collect_requests + records)
    page.update(
        {
            "api_gateway_http_request": bt.collect_requests,
            "lambda_request": bt.collect_requests + records,
            "sqs_request": browsing.calls[("sqs", "SendMessageBatch")]
            + browsing.calls[("sqs", "SendMessage")]
            + costs.ESM_REQUESTS_PER_BATCH * records,
            "xray_trace_recorded": records,  # the dispatcher is traced, the collect function is not
        }
    )
    extra = max(0, SESSION_CHECKS_IN_AWS * bt.watched_sessions - bt.records["session_check"])
    per_record_gb_seconds = bt.dispatch_gb_seconds / records if records else 0.0
    page = page.plus(
        {
            "sqs_request": 3 * extra,
            "lambda_request": extra,
            "xray_trace_recorded": extra,
            "dynamodb_read_request_unit": extra,
            "lambda_arm_gb_second": extra * per_record_gb_seconds,
        }
    )
    invocations["DispatchFunction"] += extra
    runs = Usage()
    emails = 0
    for name, tally in bt.tallies.items():
        if name == BROWSING:
            continue
        count = sum(tally.invocations.values())
        usage = _totals(tally, invocations=count)
        usage["lambda_request"] = count
        if name == ENGAGEMENT:
            usage["sns_publish"] = tally.calls[("sns", "Publish")]
            usage["xray_trace_recorded"] = count
        else:
            usage["step_functions_standard_transition"] = tally.transitions
            usage["xray_trace_recorded"] = tally.units
            emails += tally.emails
        runs = runs.plus(usage)
        for function, n in tally.invocations.items():
            invocations[function] = invocations.get(function, 0) + n
    engagement = bt.tallies[ENGAGEMENT]
    per_email = _totals(engagement, invocations=sum(engagement.invocations.values())).times(
        1 / engagement.units if engagement.units else 0.0
    )
    per_email.update(
        {
            "sns_publish": engagement.per_unit(engagement.calls[("sns", "Publish")]),
            "lambda_request": engagement.per_unit(sum(engagement.invocations.values())),
            "xray_trace_recorded": engagement.per_unit(sum(engagement.invocations.values())),
        }
    )
    recovered, recoveries = bt.recovered, bt.recoveries
    run_invocations = sum(recovered.invocations.values())
    purchase_invocations = sum(recoveries.invocations.values())
    per_recovered = _totals(recovered, invocations=run_invocations).plus(
        {
            "step_functions_standard_transition": recovered.transitions,
            "lambda_request": run_invocations,
            "xray_trace_recorded": recovered.units,
        }
    )
    per_recovered = per_recovered.plus(per_email.times(recovered.emails))
    per_recovered = per_recovered.plus(_totals(recoveries, invocations=purchase_invocations)).plus(
        {
            "api_gateway_http_request": recoveries.units,
            "lambda_request": purchase_invocations,
            "sqs_request": recoveries.calls[("sqs", "SendMessage")] + costs.ESM_REQUESTS_PER_BATCH * recoveries.units,
            "xray_trace_recorded": purchase_invocations,
        }
    )
    count = recovered.units
    return BrowsingFigures(
        page_views=page.times(1 / views),
        runs=runs.times(1 / views),
        emails_per_page_view=emails / views,
        invocations_per_page_view={function: n / views for function, n in invocations.items()},
        extra_checks_per_page_view=extra / views,
        recovered=per_recovered.times(1 / count) if count else Usage(),
        emails_per_recovered=recovered.emails / count if count else 0.0,
        init_seconds=init_seconds,
        memory_mb=memory_mb,
    )


def _totals(tally: Tally, *, invocations: float) -> Usage:
    """The terms every part has (compute, DynamoDB, logs), as totals over the tally."""
    logs = costs.log_gb(tally.log_bytes, tally.log_events, invocations)
    return Usage(
        {
            "lambda_arm_gb_second": tally.lambda_gb_seconds,
            "dynamodb_read_request_unit": tally.read_units,
            "dynamodb_write_request_unit": tally.write_units,
            "cloudwatch_logs_ingestion_gb": logs,
            "cloudwatch_logs_storage_gb_month": logs,
        }
    )


def per_page_views(bf: BrowsingFigures, prices: Prices, *, with_runs: bool = True) -> Bill:
    """PAGE_VIEWS page views (a month, for the cold starts), SES postage apart; with the runs
    they started, their sends and their emails' events, or the browsing alone."""
    usage = bf.page_views.times(PAGE_VIEWS)
    invocations = {f: n * PAGE_VIEWS for f, n in bf.invocations_per_page_view.items()}
    if with_runs:
        usage = usage.plus(bf.runs.times(PAGE_VIEWS))
    else:
        invocations = {f: n for f, n in invocations.items() if f in ("CollectFunction", "DispatchFunction")}
    usage["lambda_arm_gb_second"] += costs.init_gb_seconds(invocations, bf.init_seconds, bf.memory_mb)
    emails = bf.emails_per_page_view * PAGE_VIEWS if with_runs else 0.0
    return Bill(lines=costs.price(usage, prices), postage=costs.postage(emails, prices))


def per_recovered_checkout(bf: BrowsingFigures, prices: Prices) -> Bill:
    return Bill(lines=costs.price(bf.recovered, prices), postage=costs.postage(bf.emails_per_recovered, prices))


# --- catalogue alerts: per run, and per 1,000 recipients -------------------------------------------

ALERTS_FUNCTION = "SendAlertsFunction"
# SES's send rate a batch is paced at in AWS: a production account's starting quota (SES
# raises it with the account's volume). The local SES takes the bench's emails far faster, so
# the batch's Lambda time is at least emails / this, whatever the bench measured.
SES_RATE_ASSUMED = 14.0


@dataclass(frozen=True)
class AlertBills:
    recipients: int  # the audience of each run
    per_run: dict[str, Bill]  # template -> one run telling `recipients`, its product event's intake included
    per_thousand: dict[str, Bill]  # template -> the same, per 1,000 recipients
    emails: dict[str, int]
    transitions: dict[str, int]
    batches: dict[str, int]
    paced_gb_seconds: dict[str, float]  # the batch's Lambda time at SES_RATE_ASSUMED, per run


def alert_bills(tallies: dict[str, Tally], recipients: int, memory_mb: dict[str, int], prices: Prices) -> AlertBills:
    """Each catalogue alert run as AWS would bill it: its transitions, its batch invocations
    (their Lambda time at least the emails at SES's pace), DynamoDB, logs, its product event's
    intake, and its emails' SES events; SES postage apart. No cold starts (a batch runs for
    minutes: one start among hundreds of emails)."""
    intake = tallies[INTAKE]
    engagement = tallies[ENGAGEMENT]
    intake_usage = _usage(intake, invocations=sum(intake.invocations.values()) / max(intake.units, 1))
    intake_usage.update(
        {
            "api_gateway_http_request": 1,
            "lambda_request": intake.per_unit(sum(intake.invocations.values())),
            "sqs_request": intake.per_unit(intake.calls[("sqs", "SendMessage")])
            + costs.ESM_REQUESTS_PER_BATCH / costs.EVENTS_PER_BATCH,
            "xray_trace_recorded": intake.per_unit(sum(intake.invocations.values())),
        }
    )
    per_email = _usage(engagement, invocations=engagement.per_unit(sum(engagement.invocations.values())))
    per_email.update(
        {
            "sns_publish": engagement.per_unit(engagement.calls[("sns", "Publish")]),
            "lambda_request": engagement.per_unit(sum(engagement.invocations.values())),
            "xray_trace_recorded": engagement.per_unit(sum(engagement.invocations.values())),
        }
    )
    per_run, per_thousand, paced = {}, {}, {}
    templates = workflow_tallies(tallies)
    for name, tally in templates.items():
        invocations = tally.per_unit(sum(tally.invocations.values()))
        usage = _usage(tally, invocations=invocations)
        floor = tally.per_unit(tally.emails) / SES_RATE_ASSUMED * memory_mb[ALERTS_FUNCTION] / 1024
        paced[name] = floor
        usage["lambda_arm_gb_second"] = max(usage["lambda_arm_gb_second"], floor)
        usage.update(
            {
                "step_functions_standard_transition": tally.per_unit(tally.transitions),
                "lambda_request": invocations,
                "xray_trace_recorded": 1,
            }
        )
        emails = tally.per_unit(tally.emails)
        usage = usage.plus(intake_usage).plus(per_email.times(emails))
        per_run[name] = Bill(lines=costs.price(usage, prices), postage=costs.postage(emails, prices))
        factor = 1000 / recipients
        per_thousand[name] = Bill(
            lines=costs.price(usage.times(factor), prices), postage=costs.postage(emails * factor, prices)
        )
    return AlertBills(
        recipients=recipients,
        per_run=per_run,
        per_thousand=per_thousand,
        emails={name: tally.emails for name, tally in templates.items()},
        transitions={name: tally.transitions for name, tally in templates.items()},
        batches={name: tally.invocations[ALERTS_FUNCTION] for name, tally in templates.items()},
        paced_gb_seconds=paced,
    )
