"""The bench's flows part without the stack: every scenario names a template whose example
workflow and messages exist, and the arithmetic from a scenario's recorded calls and run
histories to its figures per run (what started the runs apart, each run's StartExecution
its own) and its cost per run, per email and per 1,000 runs at bench/prices.json's prices."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from storeflows_bench import costs, flows
from storeflows_bench.calls import FUNCTION_PREFIX, SES_EVENT_PUBLISHING, STATE_MACHINE, Call, Invocation, Ledger
from storeflows_bench.replay import Run

ROOT = Path(__file__).resolve().parents[2]
PART = "flows:vip"
MEMORY = {"IngestFunction": 256, "DispatchFunction": 512, "SendMessageFunction": 1024, "TrackEngagementFunction": 128}


def test_every_scenario_publishes_its_templates_own_example_and_its_messages():
    from storeflows.admin.files import load_workflow_yaml
    from storeflows.workflows.templates import TEMPLATES

    templates = [scenario.template for scenario in flows.SCENARIOS]
    assert len(set(templates)) == len(templates)
    for scenario in flows.SCENARIOS:
        assert scenario.template in TEMPLATES and scenario.runs > 0 and scenario.does
        workflow = load_workflow_yaml((ROOT / "examples" / "workflows" / f"{scenario.template}.yaml").read_text())
        assert workflow.template == scenario.template
        messages = flows._message_ids(workflow.settings.model_dump())
        assert messages, scenario.template
        assert all((ROOT / "examples" / "messages" / f"{message}.yaml").is_file() for message in messages)
        assert flows.store_of(scenario.template) == "bench-" + scenario.template.replace("_", "-")


def test_the_messages_of_steps_and_named_settings_are_all_found():
    settings = {
        "message": "a",
        "reminder_message": "b",
        "second_reminder_message": None,
        "steps": [{"message": "c", "wait": "1d"}, {"message": "d"}],
        "tag": "vip",
    }
    assert flows._message_ids(settings) == ["a", "b", "c", "d"]


def invocation(function: str, seconds: float, *calls: tuple[str, str]) -> Invocation:
    made = Invocation(function, {"n": function}, seconds=seconds, failed=False, part=PART)
    made.calls = [Call(FUNCTION_PREFIX + function, service, operation, part=PART) for service, operation in calls]
    made.log_bytes, made.log_events = 1000, 4
    return made


def played() -> flows.Played:
    """Two runs: a purchase each (ingest, dispatch with its StartExecution), one send step
    each sending an email, whose Send and Delivery events are published and tracked."""
    runs = [
        Run(
            template="vip",
            status="SUCCEEDED",
            states=["TagVip", "SendVipMessage"],
            retries=1,
            tasks=Counter({"lambda:invoke": 2}),
            name=f"run-{n}",
        )
        for n in range(2)
    ]
    ledger = Ledger()
    for _ in range(2):
        ledger.invocations += [
            invocation("IngestFunction", 0.0104, ("sqs", "SendMessage")),
            invocation("DispatchFunction", 0.0201, ("stepfunctions", "StartExecution")),
            invocation("SendMessageFunction", 0.1005, ("sesv2", "SendEmail")),
            invocation("TrackEngagementFunction", 0.002),
            invocation("TrackEngagementFunction", 0.002),
        ]
    ledger.calls = [Call(SES_EVENT_PUBLISHING, "sns", "Publish", part=PART) for _ in range(4)]
    ledger.calls += [Call(STATE_MACHINE, "lambda", "Invoke", part=PART) for _ in range(4)]
    ledger.calls += [call for i in ledger.invocations for call in i.calls]
    return flows.Played("vip", "2 orders over the threshold", runs, ledger, seconds=1.5)


def test_a_runs_figures_are_its_own_steps_and_emails_and_the_start_is_apart():
    flow = flows.tally(played(), sizes={}, memory_mb=MEMORY)
    runs, start = flow.runs, flow.start
    assert (runs.units, runs.emails, runs.transitions, start.units) == (2, 2, 6, 2)
    assert runs.invocations == Counter({"SendMessageFunction": 2, "TrackEngagementFunction": 4})
    assert start.invocations == Counter({"IngestFunction": 2, "DispatchFunction": 2})
    # Each run's StartExecution is the run's, not the dispatcher's.
    assert (
        runs.calls[("stepfunctions", "StartExecution")] == 2 and ("stepfunctions", "StartExecution") not in start.calls
    )
    assert runs.calls[("lambda", "Invoke")] == 4 and runs.calls[("sns", "Publish")] == 4
    assert flow.sns_publishes == 4 and flow.sqs_requests == 0
    # Billed duration rounds up to the millisecond at the function's memory.
    assert runs.lambda_gb_seconds == pytest.approx(2 * 0.101 + 4 * 0.002 * 128 / 1024)


def test_more_runs_than_starts_fail_the_bench():
    scenario = played()
    scenario.ledger.invocations = [i for i in scenario.ledger.invocations if i.function != "DispatchFunction"]
    with pytest.raises(RuntimeError, match="fewer StartExecution calls than runs"):
        flows.tally(scenario, sizes={}, memory_mb=MEMORY)


def test_the_cost_per_run_prices_transitions_requests_duration_traces_logs_and_postage():
    prices = costs.load_prices()
    aws = prices.aws
    row = flows.figures(flows.tally(played(), sizes={}, memory_mb=MEMORY), prices)
    # Per run: 3 transitions, 3 invocations (a send, two trackings) and 3 traces (the run's,
    # the trackings'), 0.103 GB-s, 2 SNS publishes, 3 invocations' logs, one email.
    logs = costs.log_gb(3000, 12, 3)
    expected = (
        aws["step_functions_standard_transition"].cost(3)
        + aws["lambda_request"].cost(3)
        + aws["lambda_arm_gb_second"].cost(0.101 + 2 * 0.002 * 128 / 1024)
        + aws["xray_trace_recorded"].cost(3)
        + aws["sns_publish"].cost(2)
        + aws["cloudwatch_logs_ingestion_gb"].cost(logs)
        + aws["cloudwatch_logs_storage_gb_month"].cost(logs)
    )
    postage = aws["ses_email"].cost(1)
    per_run = row["per_run"]
    assert (row["runs"], row["emails"], per_run["transitions"], per_run["lambda_invocations"]) == (2, 2, 3.0, 3.0)
    assert per_run["infrastructure_usd"] == pytest.approx(expected, abs=1e-7)
    assert per_run["postage_usd"] == pytest.approx(postage, abs=1e-7)
    assert per_run["usd"] == pytest.approx(expected + postage, abs=1e-7)
    assert row["per_email_usd"] == pytest.approx(expected + postage, abs=1e-7)  # one email a run
    assert row["per_1000_runs_usd"] == pytest.approx(1000 * (expected + postage), abs=1e-4)
    assert row["dominant"] == max(row["terms"], key=row["terms"].get)
    assert row["states_per_run"] == {"SendVipMessage": 1.0, "TagVip": 1.0}
    # The start, per run: an HTTP request, ingest and dispatch with their traces, the
    # SendMessage and the poller's receive and delete.
    assert per_run["start_usd"] > aws["api_gateway_http_request"].cost(1) + aws["sqs_request"].cost(3)
    assert not math.isnan(per_run["start_usd"])


def test_the_table_has_a_row_per_template_with_its_cost_per_run():
    prices = costs.load_prices()
    doc = {"vip": flows.figures(flows.tally(played(), sizes={}, memory_mb=MEMORY), prices)}
    lines = flows.table_lines(doc)
    (row,) = [line for line in lines if line.split()[:3] == ["vip", "2", "2"]]
    assert f"${doc['vip']['per_run']['usd']:.6f}" in row
    assert any(line.strip().startswith("vip: 2 orders over the threshold; ended in SendVipMessage 2") for line in lines)
