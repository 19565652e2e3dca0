"""The bench's figures as one JSON document (bench/results.json) and as the table it prints."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from storeflows_bench import costs, model
from storeflows_bench.coldstart import ColdStart, as_json
from storeflows_bench.costs import Bill, Prices
from storeflows_bench.measure import ENGAGEMENT, INTAKE, Tally, workflow_tallies
from storeflows_bench.replay import Replay

TARGET_PER_1000_ORDERS = 0.25
TARGET_MONTHLY = 15.0
TARGET_IMPORT_RATIO = 1.3
TARGET_BENCH_SECONDS = 180
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


def _bill_json(bill: Bill) -> dict[str, Any]:
    dominant = bill.dominant
    return {
        "infrastructure_usd": round(bill.infrastructure, 4),
        "postage_usd": round(bill.postage.usd, 4),
        "total_usd": round(bill.total, 4),
        "dominant": {
            "term": dominant.term,
            "usd": round(dominant.usd, 4),
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
        "targets": targets,
        "bench_seconds": round(bench_seconds, 1),
    }


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
