"""What DevOps watches: every metric on the dashboard and behind an alarm is one the code
emits, every state machine and dead-letter queue has an alarm, and the SES reputation
alarms sit at the thresholds SES and the mailbox providers enforce."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from storeflows_local.template import Template

ROOT = Path(__file__).resolve().parents[2]
_EMITTED = re.compile(r"""(?:add_metric\(name=|count_by\(|refused_metric=)"(\w+)\"""")
_SEARCHED = re.compile(r'MetricName="(\w+)"')


@pytest.fixture(scope="module")
def template() -> Template:
    return Template(ROOT, {"SenderIdentity": "example.com"})


def emitted_metrics() -> set[str]:
    sources = [*(ROOT / "layers" / "storeflows" / "storeflows").rglob("*.py"), *(ROOT / "functions").glob("*/app.py")]
    return {name for path in sources for name in _EMITTED.findall(path.read_text("utf-8"))}


def dashboard(template: Template) -> dict:
    (resource,) = template.of_type("AWS::CloudWatch::Dashboard").values()
    body = resource["Properties"]["DashboardBody"]["Fn::Sub"]
    tokens = set(re.findall(r"\$\{([^}]+)\}", body))
    for token in tokens:
        assert token.split(".")[0] in template.resources or token.startswith("AWS::"), f"unknown ${{{token}}}"
    return json.loads(re.sub(r"\$\{[^}]+\}", "X", body))


def test_the_dashboard_is_json_and_shows_only_metrics_the_code_emits(template):
    widgets = dashboard(template)["widgets"]
    shown = set()
    for widget in widgets:
        for metric in widget["properties"].get("metrics", []):
            if isinstance(metric[0], dict) and "{Storeflows," in metric[0]["expression"]:
                shown.update(_SEARCHED.findall(metric[0]["expression"]))
            elif metric[0] == "Storeflows":
                shown.add(metric[1])
    assert shown, "the dashboard shows no Storeflows metric"
    assert shown <= emitted_metrics()
    # The list: webhooks received/rejected, runs, sends/skips, coupons.
    assert {
        "WebhooksAccepted",
        "WebhooksRejected",
        "WorkflowRunsStarted",
        "EmailsSent",
        "EmailsSkipped",
        "CouponCodesClaimed",
        "CouponPoolExhausted",
    } <= shown


def run_failure_alarms(template: Template) -> set[str]:
    """The alarms on one state machine's ExecutionsFailed: one per template, in its block."""
    return {name for name, alarm in alarms(template).items() if alarm["MetricName"] == "ExecutionsFailed"}


def test_the_dashboard_shows_every_alarm_but_those_of_each_template(template):
    """A template's block in template.yaml is its state machine, alarm and output, nothing
    else: its failures show in the dashboard through one search over the stack's state
    machines (named <stack>_<template>), the other alarms by name."""
    (alarm_widget,) = [widget for widget in dashboard(template)["widgets"] if widget["type"] == "alarm"]
    (resource,) = template.of_type("AWS::CloudWatch::Dashboard").values()
    body = resource["Properties"]["DashboardBody"]["Fn::Sub"]
    shown = set(re.findall(r"\$\{(\w+)\.Arn\}", body))
    assert len(alarm_widget["properties"]["alarms"]) == len(shown)
    assert shown == set(template.of_type("AWS::CloudWatch::Alarm")) - run_failure_alarms(template)
    assert run_failure_alarms(template), "each template has its failure alarm"
    assert 'MetricName=\\"ExecutionsFailed\\" StateMachineArn=${AWS::StackName}' in body


def alarms(template: Template) -> dict[str, dict]:
    return {name: res["Properties"] for name, res in template.of_type("AWS::CloudWatch::Alarm").items()}


def test_every_state_machine_and_dead_letter_queue_has_an_alarm(template):
    watched = {
        alarm["Dimensions"][0]["Value"].get("Ref") or alarm["Dimensions"][0]["Value"].get("Fn::GetAtt", [None])[0]
        for alarm in alarms(template).values()
        if isinstance(alarm["Dimensions"][0]["Value"], dict)
    }
    assert set(template.of_type("AWS::Serverless::StateMachine")) <= watched
    dead_letter_queues = {
        name for name, res in template.of_type("AWS::SQS::Queue").items() if "RedrivePolicy" not in res["Properties"]
    }
    assert dead_letter_queues == {"EventDeadLetterQueue", "TrackingDeadLetterQueue", "ScheduleDeadLetterQueue"}
    assert dead_letter_queues <= watched


@pytest.mark.parametrize(
    ("metric", "threshold"), [("Reputation.BounceRate", 0.05), ("Reputation.ComplaintRate", 0.001)]
)
def test_reputation_alarms_sit_at_the_ses_thresholds(template, metric, threshold):
    (alarm,) = [alarm for alarm in alarms(template).values() if alarm["MetricName"] == metric]
    assert (alarm["Namespace"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "AWS/SES",
        threshold,
        "GreaterThanThreshold",
    )
    assert alarm["Dimensions"] == [{"Name": "ses:configuration-set", "Value": {"Ref": "ConfigurationSet"}}]


def test_every_alarm_notifies_the_alarm_topic_and_custom_ones_watch_emitted_metrics(template):
    for name, alarm in alarms(template).items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        if alarm["Namespace"] == "Storeflows":
            assert alarm["MetricName"] in emitted_metrics(), name


def test_a_failure_is_logged_by_its_kind_and_place_never_by_the_data_it_failed_on():
    from botocore.exceptions import ClientError

    from storeflows.observability import error_summary

    def fail():
        raise ClientError(
            {"Error": {"Code": "ValidationException", "Message": "key CONTACT#demo#ana@example.com"}}, "UpdateItem"
        )

    try:
        fail()
    except ClientError as error:
        summary = error_summary(error)
    assert (summary["error_type"], summary["error_code"]) == ("ClientError", "ValidationException")
    assert summary["raised_at"][-1].endswith(" fail")
    assert "ana@example.com" not in json.dumps(summary)


def test_skip_reasons_are_one_fixed_list_in_the_code_the_reports_and_the_readme():
    """Each reason is a billed metric dimension value and a report column: the send step uses
    only records.SKIP_REASONS, and README's Operations lists exactly those."""
    from storeflows.records import SKIP_REASONS

    sending = (ROOT / "layers" / "storeflows" / "storeflows" / "messaging" / "sending.py").read_text("utf-8")
    records = (ROOT / "layers" / "storeflows" / "storeflows" / "records.py").read_text("utf-8")
    used = set(re.findall(r'_skipped\(request, "(\w+)"', sending)) | set(re.findall(r'return False, "(\w+)"', records))
    assert used and used <= set(SKIP_REASONS)
    readme = (ROOT / "README.md").read_text("utf-8")
    (listed,) = re.findall(r"`EmailsSkipped` \(\+ `reason`: ([^)]*)\)", readme)
    assert tuple(re.findall(r"`(\w+)`", listed)) == SKIP_REASONS
