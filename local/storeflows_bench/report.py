"""The bench's figures as one JSON document (bench/results.json) and as the table it prints."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from storeflows_bench import costs, model
from storeflows_bench import flows as flows_part
from storeflows_bench.coldstart import ColdStart, as_json
from storeflows_bench.costs import Bill, Prices
from storeflows_bench.measure import BROWSING, ENGAGEMENT, INTAKE, BrowsingTally, Tally, workflow_tallies
from storeflows_bench.replay import Replay

TARGET_PER_1000_ORDERS = 0.25
TARGET_MONTHLY = 15.0
TARGET_IMPORT_RATIO = 1.3
TARGET_BENCH_SECONDS = 180
TARGET_PER_100000_PAGE_VIEWS = 0.50
# Short names of the price terms, for the table.
LABELS = {
    "api_gateway_http_request": "API requests",
    "lambda_request": "Lambda requests",
    "lambda_arm_gb_second": "Lambda GB-s",
    "step_functions_standard_transition": "transitions",
    "dynamodb_write_request_unit": "DynamoDB writes",
    "dynamodb_read_request_unit": "DynamoDB reads",
    "dynamodb_storage_gb_month": "DynamoDB storage",
    "dynamodb_pitr_gb_month": "DynamoDB backups",
    "sqs_request": "SQS requests",
    "cloudwatch_custom_metric_month": "custom metrics",
    "cloudwatch_alarm_month": "alarms",
    "cloudwatch_dashboard_month": "dashboards",
    "cloudwatch_logs_ingestion_gb": "log ingestion",
    "cloudwatch_logs_storage_gb_month": "log storage",
    "xray_trace_recorded": "X-Ray traces",
    "kms_request": "KMS requests",
    "ses_email": "SES postage",
    "sns_publish": "SNS publishes",
}


def reshaping_pass_states(root: Path) -> dict[str, list[str]]:
    """Pass states per template, split into those that compute (intrinsic functions, fixed
    results) and those that only reshape data a Parameters/ResultSelector/ResultPath of the
    neighbouring task could shape."""
    found: dict[str, list[str]] = {"computing": [], "reshaping_only": []}
    for path in sorted((root / "statemachines").glob("*.asl.json")):
        for name, state in json.loads(path.read_text())["States"].items():
            if state["Type"] != "Pass":
                continue
            computes = "Result" in state or "States." in json.dumps(state.get("Parameters", {}))
            found["computing" if computes else "reshaping_only"].append(f"{path.name.split('.')[0]}.{name}")
    return found


def _bill_json(bill: Bill, digits: int = 4) -> dict[str, Any]:
    dominant = bill.dominant
    return {
        "infrastructure_usd": round(bill.infrastructure, digits),
        "postage_usd": round(bill.postage.usd, digits),
        "total_usd": round(bill.total, digits),
        "dominant": {
            "term": dominant.term,
            "usd": round(dominant.usd, digits),
            "share_of_infrastructure": round(dominant.usd / bill.infrastructure, 3),
        },
        "lines": [
            {"term": line.term, "quantity": round(line.quantity, 6), "unit": line.unit, "usd": round(line.usd, 6)}
            for line in bill.lines
        ],
        "notes": bill.notes,
    }


def _operations(tally: Tally) -> dict[str, float]:
    return {
        f"{service}.{operation}": round(tally.per_unit(count), 3)
        for (service, operation), count in sorted(tally.calls.items())
    }


def results(
    *,
    replay: Replay,
    tallies: dict[str, Tally],
    fig: model.Figures,
    prices: Prices,
    cold: ColdStart,
    handler_time: dict[str, Any],
    bench_seconds: float,
    root: Path,
    date: str,
    browsed: BrowsingTally | None = None,
    browsing_fig: model.BrowsingFigures | None = None,
    alert_bills: model.AlertBills | None = None,
    flows: dict[str, Any] | None = None,
) -> dict[str, Any]:
    intake = tallies[INTAKE]
    engagement = tallies[ENGAGEMENT]
    templates = workflow_tallies(tallies)
    runs_per_purchase = sum(t.units for t in templates.values()) / replay.purchases
    calls_per_purchase = sum(t.total_calls for t in tallies.values()) / replay.purchases
    minimum_per_purchase = sum(t.minimum_calls for t in tallies.values()) / replay.purchases
    second = model.second_workflow(fig, prices)
    workflows = [model.TARGETED, second]
    bills = {f"{scale}x": model.monthly_bill(fig, workflows, scale, prices) for scale in model.SCALES}
    thousand = model.per_thousand_orders(fig, model.TARGETED, prices)
    monthly = bills["1x"].total
    passes = reshaping_pass_states(root)
    worst_ratio = max(cold.ratio(name) for name in cold.source_ms)
    per_purchase_operations: dict[str, float] = {}
    for tally in tallies.values():
        for (service, operation), count in tally.calls.items():
            key = f"{service}.{operation}"
            per_purchase_operations[key] = per_purchase_operations.get(key, 0) + count / replay.purchases
    targets = [
        _target(
            "infrastructure per 1,000 orders, targeted workflow, SES excluded (USD)",
            TARGET_PER_1000_ORDERS,
            thousand.infrastructure,
        ),
        _target("reference store's whole monthly bill (USD)", TARGET_MONTHLY, monthly),
        _target(
            "times cheaper than Klaviyo's list price (at least)",
            10,
            prices.saas["klaviyo"].usd_month / monthly,
            at_least=True,
        ),
        _target("worst handler import / import boto3", TARGET_IMPORT_RATIO, worst_ratio),
        _target(
            "AWS calls per purchase (minimum + 1 per run)", minimum_per_purchase + runs_per_purchase, calls_per_purchase
        ),
        _target("Pass states that only reshape data", 0, len(passes["reshaping_only"])),
        _target("bench wall time (s)", TARGET_BENCH_SECONDS, bench_seconds),
    ]
    browsing = None
    if browsed is not None and browsing_fig is not None and replay.browsing is not None:
        browsing = _browsing_json(replay, browsed, browsing_fig, prices)
        targets.insert(
            2,
            _target(
                "infrastructure per 100,000 page views, all included, SES postage apart (USD)",
                TARGET_PER_100000_PAGE_VIEWS,
                browsing["per_100000_page_views"]["infrastructure_usd"],
            ),
        )
    return {
        "date": date,
        "machine": {
            "cores": os.cpu_count(),
            "python": replay.python,
            "platform": platform.platform(),
            "load_average_at_end": [round(load, 2) for load in os.getloadavg()],
        },
        "workload": {
            "purchases": replay.purchases,
            "contacts": replay.contacts,
            "seed": replay.seed,
            "mix": replay.mix,
            "workflows_per_order": round(runs_per_purchase, 2),
            "replay_seconds": round(replay.seconds, 1),
        },
        "calls": {
            "per_purchase": {
                "measured": round(calls_per_purchase, 2),
                "minimum": round(minimum_per_purchase, 2),
                "runs": round(runs_per_purchase, 2),
                "by_operation": {key: round(value, 3) for key, value in sorted(per_purchase_operations.items())},
                "lambda_invocations": round(
                    sum(sum(t.invocations.values()) for t in tallies.values()) / replay.purchases, 2
                ),
                "state_transitions": round(sum(t.transitions for t in templates.values()) / replay.purchases, 2),
            },
            "intake_per_purchase": {
                "measured": round(intake.per_unit(intake.total_calls), 2),
                "minimum": round(intake.per_unit(intake.minimum_calls), 2),
                "by_operation": _operations(intake),
                "lambda_invocations": {f: round(intake.per_unit(n), 3) for f, n in sorted(intake.invocations.items())},
            },
            "engagement_per_email": {
                "emails": engagement.units,
                "measured": round(engagement.per_unit(engagement.total_calls), 2),
                "minimum": round(engagement.per_unit(engagement.minimum_calls), 2),
                "ses_events": round(engagement.per_unit(engagement.calls[("sns", "Publish")]), 2),
                "lambda_invocations": round(engagement.per_unit(sum(engagement.invocations.values())), 2),
                "by_operation": _operations(engagement),
                "cost_per_email_usd": round(sum(line.usd for line in costs.price(fig.engagement, prices)), 8),
            },
            "per_run": {
                name: {
                    "runs": tally.units,
                    "measured": round(tally.per_unit(tally.total_calls), 2),
                    "minimum": round(tally.per_unit(tally.minimum_calls), 2),
                    "state_transitions": round(tally.per_unit(tally.transitions), 2),
                    "lambda_invocations": round(tally.per_unit(sum(tally.invocations.values())), 2),
                    "emails": round(tally.per_unit(tally.emails), 2),
                    "by_operation": _operations(tally),
                    "ended_in": dict(tally.paths.most_common()),
                    "cost_per_run_usd": round(sum(line.usd for line in costs.price(fig.runs[name], prices)), 7),
                }
                for name, tally in sorted(templates.items())
            },
            "retried_attempts": replay.ledger.retried_attempts(),
            "pass_states": passes,
        },
        "cost": {
            "prices_file": "bench/prices.json",
            "free_tier": "not included",
            "per_1000_orders_targeted": _bill_json(thousand),
            "reference_store": {
                "contacts": model.REFERENCE.contacts,
                "orders_per_month": model.REFERENCE.orders_per_month,
                "emails_per_month": model.REFERENCE.emails_per_month,
                "workflows": workflows,
            },
            "monthly": {scale: _bill_json(bill) for scale, bill in bills.items()},
            "saas_usd_month": {
                name: {
                    "usd_month": saas.usd_month,
                    "plan": saas.plan,
                    "source": saas.source,
                    "times_the_reference_bill": round(saas.usd_month / monthly, 1),
                }
                for name, saas in prices.saas.items()
            },
            "custom_metrics": sorted(f"{namespace}/{name}" for namespace, name, _ in replay.custom_metrics),
        },
        "cold_start": as_json(cold),
        "handler_time": handler_time,
        **({"browsing": browsing} if browsing is not None else {}),
        **({"alerts": _alerts_json(replay, alert_bills)} if alert_bills is not None else {}),
        **({"flows": flows} if flows is not None else {}),
        "targets": targets,
        "bench_seconds": round(bench_seconds, 1),
    }


def _browsing_json(
    replay: Replay, browsed: BrowsingTally, fig: model.BrowsingFigures, prices: Prices
) -> dict[str, Any]:
    assert replay.browsing is not None
    views = browsed.page_views
    runs = {name: t for name, t in browsed.tallies.items() if name not in (BROWSING, ENGAGEMENT)}
    page = browsed.tallies[BROWSING]
    all_in = model.per_page_views(fig, prices)
    alone = model.per_page_views(fig, prices, with_runs=False)
    recovered = model.per_recovered_checkout(fig, prices)
    return {
        "workload": {**replay.browsing.mix, "seconds": round(replay.browsing.seconds, 1)},
        "per_page_view": {
            "collect_requests": round(browsed.collect_requests / views, 3),
            "events_dispatched": round(sum(n for t, n in browsed.records.items() if t != "session_check") / views, 3),
            "session_checks": round(browsed.records["session_check"] / views, 4),
            "session_checks_added_for_aws": round(fig.extra_checks_per_page_view, 4),
            "by_operation": _operations(Tally(units=views, calls=page.calls)),
            "read_units": round(page.read_units / views, 3),
            "write_units": round(page.write_units / views, 3),
        },
        "runs": {
            "executions_started_by_page_views": browsed.starts_by_page_views,
            "could_start": browsed.subjects,
            "watched_sessions": browsed.watched_sessions,
            "by_template": {
                name: {
                    "runs": t.units,
                    "emails": t.emails,
                    "state_transitions": round(t.per_unit(t.transitions), 2),
                    "ended_in": dict(t.paths.most_common()),
                }
                for name, t in sorted(runs.items())
            },
            "executions_per_100000_page_views": round(sum(t.units for t in runs.values()) / views * model.PAGE_VIEWS),
            "emails_per_100000_page_views": round(fig.emails_per_page_view * model.PAGE_VIEWS),
        },
        "per_100000_page_views": _bill_json(all_in),
        "per_100000_page_views_browsing_alone": _bill_json(alone),
        "recovered_checkouts": browsed.recovered.units,
        "per_recovered_checkout": {**_bill_json(recovered, digits=7), "emails": round(fig.emails_per_recovered, 2)},
    }


def _alerts_json(replay: Replay, bills: model.AlertBills) -> dict[str, Any]:
    assert replay.alerts is not None
    return {
        "recipients_per_run": bills.recipients,
        "seconds": round(replay.alerts.seconds, 1),
        "ses_rate_assumed": model.SES_RATE_ASSUMED,
        "by_template": {
            name: {
                "emails": bills.emails[name],
                "batches": bills.batches[name],
                "state_transitions": bills.transitions[name],
                "batch_gb_seconds_at_ses_rate": round(bills.paced_gb_seconds[name], 2),
                "per_run": _bill_json(bills.per_run[name], digits=6),
                "per_1000_recipients": _bill_json(bills.per_thousand[name], digits=6),
            }
            for name in sorted(bills.per_run)
        },
    }


def _alerts_lines(a: dict[str, Any]) -> list[str]:
    lines = [
        f"6. Catalogue alerts: one run each for a restock, a 20 % price cut and low stock, {a['recipients_per_run']} "
        f"contacts each, {a['seconds']:.0f} s; SES postage apart, the batch's Lambda time at least the emails at "
        f"{a['ses_rate_assumed']:g} a second",
    ]
    for name, t in a["by_template"].items():
        run, thousand = t["per_run"], t["per_1000_recipients"]
        lines.append(
            f"   {name:14s} {t['emails']} emails, {t['batches']} batches, {t['state_transitions']} transitions: "
            f"${run['infrastructure_usd']:.6f} a run, ${thousand['infrastructure_usd']:.6f} per 1,000 recipients "
            f"(dominant: {LABELS[thousand['dominant']['term']]} ${thousand['dominant']['usd']:.6f}; "
            f"postage ${thousand['postage_usd']:.2f})"
        )
    return lines


def _target(name: str, target: float, measured: float, *, at_least: bool = False) -> dict[str, Any]:
    met = measured >= target if at_least else measured <= target
    return {"name": name, "target": round(target, 4), "measured": round(measured, 4), "met": met}


def table(doc: dict[str, Any]) -> str:
    w = doc["workload"]
    calls = doc["calls"]
    purchase = calls["per_purchase"]
    lines = [
        f"Storeflows bench, {doc['date']}: {doc['machine']['cores']} cores, Python {doc['machine']['python']}, "
        f"{w['purchases']} purchases over {w['contacts']} contacts (seed {w['seed']}; first {w['mix']['first']}, "
        f"second {w['mix']['second']}, repeat {w['mix']['repeat']}), {w['workflows_per_order']} workflows per order",
        "",
        "1. AWS calls (the product's: functions, state machines, SES events)  measured  minimum",
        f"   per purchase, all included                                       "
        f"{purchase['measured']:8.2f} {purchase['minimum']:8.2f}"
        f"   (target <= minimum + {purchase['runs']:.0f} runs = {purchase['minimum'] + purchase['runs']:.2f})",
        f"   intake (ingest + dispatch), per purchase                        "
        f"{calls['intake_per_purchase']['measured']:8.2f} {calls['intake_per_purchase']['minimum']:8.2f}",
    ]
    for name, run in calls["per_run"].items():
        lines.append(
            f"   {name + ', per run (' + str(run['runs']) + ')':<64} {run['measured']:8.2f} {run['minimum']:8.2f}"
            f"   transitions {run['state_transitions']:5.2f}  Lambda {run['lambda_invocations']:4.2f}"
            f"  emails {run['emails']:4.2f}  ${run['cost_per_run_usd']:.6f}"
        )
    engaged = calls["engagement_per_email"]
    lines.append(
        f"   {'engagement, per email (' + str(engaged['emails']) + ')':<64} {engaged['measured']:8.2f} "
        f"{engaged['minimum']:8.2f}   SES events {engaged['ses_events']:4.2f}  Lambda "
        f"{engaged['lambda_invocations']:4.2f}  ${engaged['cost_per_email_usd']:.6f}"
    )
    lines.append(
        f"   per purchase: {purchase['lambda_invocations']} Lambda invocations, "
        f"{purchase['state_transitions']} state transitions, retried attempts {calls['retried_attempts']}"
    )
    lines.append(
        "   by operation, per purchase: " + ", ".join(f"{k} {v:.2f}" for k, v in purchase["by_operation"].items())
    )
    cost = doc["cost"]
    thousand = cost["per_1000_orders_targeted"]
    store = cost["reference_store"]
    lines += [
        "",
        f"2. Cost (us-east-1 list prices, {cost['prices_file']}, no free tier)",
        f"   1,000 orders through the targeted workflow, SES excluded: ${thousand['infrastructure_usd']:.4f} "
        f"(dominant: {LABELS[thousand['dominant']['term']]} ${thousand['dominant']['usd']:.4f}); "
        f"postage ${thousand['postage_usd']:.2f}",
        f"   reference store: {store['contacts']:,} contacts, {store['orders_per_month']:,} orders/month entering "
        f"{' + '.join(store['workflows'])}, {store['emails_per_month']:,} emails/month",
        "                          " + "".join(f"{scale:>16}" for scale in cost["monthly"]),
        "   infrastructure         "
        + "".join(f"{'$' + format(b['infrastructure_usd'], ',.2f'):>16}" for b in cost["monthly"].values()),
        "   SES postage            "
        + "".join(f"{'$' + format(b['postage_usd'], ',.2f'):>16}" for b in cost["monthly"].values()),
        "   total                  "
        + "".join(f"{'$' + format(b['total_usd'], ',.2f'):>16}" for b in cost["monthly"].values()),
        "   dominant term          "
        + "".join(f"{LABELS[b['dominant']['term']]:>16}" for b in cost["monthly"].values()),
    ]
    one = cost["monthly"]["1x"]
    lines.append("   1x terms: " + ", ".join(f"{LABELS[line['term']]} ${line['usd']:.3f}" for line in one["lines"]))
    lines.append(
        "   SaaS list prices at 10,000 contacts: "
        + ", ".join(
            f"{name} ${saas['usd_month']} ({saas['times_the_reference_bill']}x the 1x bill)"
            for name, saas in cost["saas_usd_month"].items()
        )
    )
    cold = doc["cold_start"]
    lines += [
        "",
        f"3. Cold start: handler import, median of {cold['runs']} fresh interpreters; import boto3 alone "
        f"{cold['boto3_ms']:.0f} ms",
        "   function                    as built   x boto3   compiling ours   heaviest packages (ms)",
    ]
    for name, f in cold["functions"].items():
        heavy = ", ".join(f"{package} {ms:.0f}" for package, ms in f["heaviest_packages_ms"].items())
        lines.append(
            f"   {name:<27} {f['import_ms']:6.0f} ms  {f['ratio_to_boto3']:6.2f}x  "
            f"{f['compiling_own_modules_ms']:9.0f} ms     {heavy}"
        )
    h = doc["handler_time"]
    lines += [
        "",
        f"4. Handler time in-process against moto (no HTTP), {h['events']} events each after {h['warm_up']} warm-up:",
        f"   ingest        median {h['ingest']['median_ms']:6.2f} ms   p99 {h['ingest']['p99_ms']:6.2f} ms   "
        f"first {h['ingest']['first_ms']:.1f} ms",
        f"   send step     median {h['send_message']['median_ms']:6.2f} ms   "
        f"p99 {h['send_message']['p99_ms']:6.2f} ms   first {h['send_message']['first_ms']:.1f} ms",
    ]
    if "browsing" in doc:
        lines += ["", *_browsing_lines(doc["browsing"])]
    if "alerts" in doc:
        lines += ["", *_alerts_lines(doc["alerts"])]
    if "flows" in doc:
        lines += ["", *flows_part.table_lines(doc["flows"])]
    lines += [
        "",
        "Targets",
    ]
    for target in doc["targets"]:
        lines.append(
            f"   {'met   ' if target['met'] else 'MISSED'} {target['name']}: {target['measured']:g} "
            f"(target {'>=' if 'at least' in target['name'] else '<='} {target['target']:g})"
        )
    lines.append(f"Bench took {doc['bench_seconds']:.0f} s; replay {w['replay_seconds']:.0f} s.")
    return "\n".join(lines)


def _browsing_lines(b: dict[str, Any]) -> list[str]:
    w, page, runs = b["workload"], b["per_page_view"], b["runs"]
    all_in, alone, recovered = (
        b["per_100000_page_views"],
        b["per_100000_page_views_browsing_alone"],
        b["per_recovered_checkout"],
    )
    met = all_in["infrastructure_usd"] <= TARGET_PER_100000_PAGE_VIEWS
    return [
        f"5. Browsing: {w['sessions']} sessions, {w['page_views']} page views ({w['identified_sessions']} sessions "
        f"identified), {w['events']} events through POST /collect, {w['seconds']:.0f} s",
        f"   per page view: {page['collect_requests']:.2f} requests, {page['events_dispatched']:.2f} events, "
        f"{page['session_checks']:.3f} session checks (+{page['session_checks_added_for_aws']:.3f} as in AWS), "
        f"{page['read_units']:.2f} RRU, {page['write_units']:.2f} WRU",
        "   by operation, per page view: " + ", ".join(f"{k} {v:.3f}" for k, v in page["by_operation"].items()),
        f"   runs: {runs['executions_started_by_page_views']} started by page views alone; "
        + ", ".join(f"{name} {t['runs']} (emails {t['emails']})" for name, t in runs["by_template"].items())
        + f"; {runs['executions_per_100000_page_views']:,} executions and "
        f"{runs['emails_per_100000_page_views']:,} emails per 100,000 page views",
        f"   100,000 page views, all included, SES postage apart: ${all_in['infrastructure_usd']:.4f} "
        f"({'MET' if met else 'MISSED'}: target ${TARGET_PER_100000_PAGE_VIEWS:.2f}; dominant: "
        f"{LABELS[all_in['dominant']['term']]} ${all_in['dominant']['usd']:.4f}); postage ${all_in['postage_usd']:.2f}",
        "   terms: " + ", ".join(f"{LABELS[line['term']]} ${line['usd']:.4f}" for line in all_in["lines"]),
        f"   the browsing alone (no runs): ${alone['infrastructure_usd']:.4f} "
        f"(dominant: {LABELS[alone['dominant']['term']]} ${alone['dominant']['usd']:.4f})",
        f"   per recovered checkout: dominant {LABELS[recovered['dominant']['term']]} "
        f"${recovered['dominant']['usd']:.6f}; terms: "
        + ", ".join(f"{LABELS[line['term']]} ${line['usd']:.6f}" for line in recovered["lines"]),
        f"   per recovered checkout ({b['recovered_checkouts']}: a reminder, then the order): "
        f"${recovered['infrastructure_usd']:.6f} infrastructure + ${recovered['postage_usd']:.6f} postage "
        f"({recovered['emails']:.1f} emails) = ${recovered['total_usd']:.6f}",
    ]
