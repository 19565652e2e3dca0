"""One engine for the state-machine tests of every workflow template.

`workflow_engine` is moto's Step Functions engine executing the real ASL of template.yaml:
the DynamoDB table and every state machine are made from the template itself, and the two
functions the state machines call are stand-ins that record their payloads and answer what
the test says (the real handlers have their own tests, and the e2e tests run them all
together). What is under test here is the ASL: which states run, what each send step is
asked to send, what the direct DynamoDB steps write, and how a run fails.

`purchase_run_input` builds a run's input with the product's own code (the dispatcher's
`runs.run_input`), so the ASL is tested against the input it really gets."""

from __future__ import annotations

import functools
import itertools
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from storeflows.events import StoreEvent
from storeflows.events.purchase import PurchaseEvent
from storeflows.workflows import Workflow, WorkflowStatus, runs
from storeflows_local.engine import InProcessLambdas, patch_moto
from storeflows_local.template import ACCOUNT_ID, REGION, STACK_NAME, Template

ROOT = Path(__file__).resolve().parents[2]
STORE_ID = "shop"
WORKFLOW_ID = "wf"
EMAIL = "ana@example.com"
ORDER_ID = "1001"
# A day of workflow time lasts under a millisecond: every Wait of the templates' defaults
# (days) passes at once, while the states still run in their order.
TIME_SCALE = 10**8
RUN_SECONDS = 20  # no run here takes more than a fraction of a second; this only bounds a hang
POLL_SECONDS = 0.02


class StandIn:
    """A stand-in for one Lambda function: records every payload it is invoked with and
    answers with `answer(payload)`; an exception raised there fails the invocation the way
    Lambda reports an unhandled error (its class name is the error the state sees)."""

    def __init__(self, answer: Callable[[dict], Any]) -> None:
        self.payloads: list[dict] = []
        self.answer = answer

    def __call__(self, event: dict, context: Any) -> Any:
        self.payloads.append(event)
        return self.answer(event)

    def returns(self, value: Any) -> None:
        self.answer = lambda payload: value

    def raises(self, error: Exception) -> None:
        def answer(payload: dict) -> Any:
            raise error

        self.answer = answer


def _no_answer(payload: dict) -> Any:
    raise AssertionError("the test did not say what the segments stand-in answers")


# The functions the state machines call, and what their stand-ins answer until a test says.
STAND_INS: dict[str, Callable[[dict], Any]] = {
    "EvaluateSegmentsFunction": _no_answer,
    "SendMessageFunction": lambda payload: {"status": "sent"},
    "CheckAbandonmentFunction": _no_answer,
    "SendAlertsFunction": _no_answer,
    "SunsetUnsubscribeFunction": lambda payload: {"status": "unsubscribed"},
}


class Run(NamedTuple):
    status: str
    states: list[str]  # the states entered, in order
    failure: dict[str, str] | None  # {"error": ..., "cause": ...} of a failed run


class WorkflowEngine:
    def __init__(
        self,
        sfn,
        dynamodb,
        table: str,
        machines: dict[str, str],
        segments: StandIn,
        send: StandIn,
        check_abandonment: StandIn | None = None,
        alerts: StandIn | None = None,
    ) -> None:
        self.sfn, self.dynamodb, self.table, self.machines = sfn, dynamodb, table, machines
        self.segments, self.send, self.check_abandonment = segments, send, check_abandonment
        self.alerts = alerts  # the catalogue alerts' batch task
        self._names = itertools.count()
        self.stand_ins: dict[str, StandIn] = {}

    def run(self, template: str, run_input: dict) -> Run:
        """Runs the template's state machine on `run_input` to its end."""
        execution = self.sfn.start_execution(
            stateMachineArn=self.machines[template],
            name=f"run-{next(self._names)}",
            input=json.dumps(run_input),
        )["executionArn"]
        deadline = time.monotonic() + RUN_SECONDS
        while (status := self.sfn.describe_execution(executionArn=execution)["status"]) == "RUNNING":
            assert time.monotonic() < deadline, f"the {template} run did not end within {RUN_SECONDS}s"
            time.sleep(POLL_SECONDS)
        events = self.sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        failure = next(
            (event["executionFailedEventDetails"] for event in events if event["type"] == "ExecutionFailed"), None
        )
        states = [
            event["stateEnteredEventDetails"]["name"] for event in events if event["type"].endswith("StateEntered")
        ]
        return Run(status, states, failure)

    def sent(self) -> list[str]:
        """The message id of every send step invoked so far, in order."""
        return [payload["message_id"] for payload in self.send.payloads]

    def put(self, key: dict, **attributes: dict) -> None:
        self.dynamodb.put_item(TableName=self.table, Item={**key, **attributes})

    def item(self, key: dict) -> dict:
        """The item at `key` (DynamoDB's wire format, as in a run input), {} if none."""
        return self.dynamodb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item", {})


@dataclass(frozen=True)
class StackTemplate:
    """What the engine needs of template.yaml, read once per test process."""

    table: str
    table_properties: dict[str, Any]
    function_arns: dict[str, str]  # logical id -> a stand-in ARN
    machines: dict[str, tuple[str, str]]  # template -> (state machine name, definition)


@pytest.fixture(scope="session")
def stack_template() -> StackTemplate:
    template = Template(ROOT, {"SenderIdentity": "storeflows.test"})
    table = Template.physical_name("Table")
    function_arns = {logical_id: template.function(logical_id).arn for logical_id in STAND_INS}
    template.physical.update({logical_id: {"Arn": arn} for logical_id, arn in function_arns.items()})
    template.physical["Table"] = {"Ref": table}
    machines = {}
    for logical_id, resource in template.of_type("AWS::Serverless::StateMachine").items():
        name = template.resolve(resource["Properties"]["Name"])  # <stack>_<template>, as the dispatcher finds it
        machines[name.removeprefix(f"{STACK_NAME}_")] = (name, template.state_machine_definition(logical_id))
    return StackTemplate(table, template.resources["Table"]["Properties"], function_arns, machines)


# moto parses a definition to validate it on every create_state_machine (a tenth of a second
# each, five per test); a definition valid once stays valid, so each is parsed once per process.
# An invalid one raises, which functools.cache never stores: it is refused every time.
_validated_once = staticmethod(functools.cache(StepFunctionsParserBackend._validate_definition))


@pytest.fixture
def workflow_engine(monkeypatch, stack_template) -> Iterator[WorkflowEngine]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(StepFunctionsParserBackend, "_validate_definition", _validated_once)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        table = stack_template.table_properties
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=stack_template.table,
            KeySchema=table["KeySchema"],
            AttributeDefinitions=table["AttributeDefinitions"],
            BillingMode=table["BillingMode"],
            GlobalSecondaryIndexes=table["GlobalSecondaryIndexes"],
        )
        stand_ins = {logical_id: StandIn(answer) for logical_id, answer in STAND_INS.items()}
        lambdas = InProcessLambdas()
        for logical_id, stand_in in stand_ins.items():
            lambdas.register(logical_id, stack_template.function_arns[logical_id], stand_in, timeout=10)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machines = {
            template: sfn.create_state_machine(
                name=name, definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
            )["stateMachineArn"]
            for template, (name, definition) in stack_template.machines.items()
        }
        with patch_moto(lambdas, time_scale=TIME_SCALE):
            engine = WorkflowEngine(
                sfn,
                dynamodb,
                stack_template.table,
                machines,
                segments=stand_ins["EvaluateSegmentsFunction"],
                send=stand_ins["SendMessageFunction"],
                check_abandonment=stand_ins["CheckAbandonmentFunction"],
                alerts=stand_ins["SendAlertsFunction"],
            )
            # Every stand-in by logical id, for the functions the engine names none for.
            engine.stand_ins = stand_ins
            yield engine


@pytest.fixture
def purchase_run_input() -> Callable[..., dict]:
    """`purchase_run_input(settings, items=..., total=...)`: the input the
    dispatcher gives a run of the workflow with these settings (a dict, with its
    `template`), started by the purchase of order ORDER_ID by EMAIL in STORE_ID."""

    def build(settings: dict, *, items: Sequence[dict] = (), total: str = "50.00") -> dict:
        purchase = PurchaseEvent(
            type="purchase",
            order={"id": ORDER_ID, "total": total, "currency": "EUR", "items": list(items)},
            customer={"email": EMAIL},
        )
        event = StoreEvent(
            store_id=STORE_ID,
            event_id=f"api:{ORDER_ID}",
            source="api",
            received_at=datetime.now(UTC),
            event=purchase,
        )
        workflow = Workflow(
            store_id=STORE_ID, workflow_id=WORKFLOW_ID, status=WorkflowStatus.PUBLISHED, settings=settings
        )
        assert workflow.runs_for(purchase), "the dispatcher would start no run for this purchase"
        return runs.run_input(event, workflow, event.event.run_subject(event.event_id), event.event.customer.email)

    return build
