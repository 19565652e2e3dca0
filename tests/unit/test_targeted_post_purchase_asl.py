"""The targeted post-purchase state machine itself, executed by moto's Step Functions engine.

The Lambda steps are stand-ins here (the real handlers are covered by their own tests and
end to end); what is under test is the ASL: which branch runs, what the direct DynamoDB
steps write, and how scoring failures end."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from storeflows_local.engine import InProcessLambdas, patch_moto
from storeflows_local.template import ACCOUNT_ID, REGION, Template

ROOT = Path(__file__).resolve().parents[2]
TABLE = "asl-test-table"
SEGMENTS_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:Segments"
SEND_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:Send"
CONTACT_KEY = {"pk": {"S": "CONTACT#shop#ana@example.com"}, "sk": {"S": "PROFILE"}}


@pytest.fixture
def engine(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        template = Template(ROOT, {"SenderIdentity": "storeflows.test"})
        template.physical.update({
            "EvaluateSegmentsFunction": {"Arn": SEGMENTS_ARN},
            "SendMessageFunction": {"Arn": SEND_ARN},
            "Table": {"Ref": TABLE},
        })
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="targeted", definition=template.state_machine_definition("TargetedPostPurchaseStateMachine"),
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/test",
        )["stateMachineArn"]
        lambdas = InProcessLambdas()
        sends: list[str] = []
        with patch_moto(lambdas, time_scale=1000):
            yield _Engine(sfn, dynamodb, machine, lambdas, sends)


class _Engine:
    def __init__(self, sfn, dynamodb, machine, lambdas, sends):
        self.sfn, self.dynamodb, self.machine, self.lambdas, self.sends = sfn, dynamodb, machine, lambdas, sends

    def customer_in(self, *, first_purchase: bool, repeat: bool) -> None:
        segments = {"first_purchase_customers": first_purchase, "repeat_customers": repeat}
        self.lambdas.register("Segments", SEGMENTS_ARN, lambda event, context: segments, 10)
        self.lambdas.register("Send", SEND_ARN, lambda event, context: self.sends.append(event["message_id"]) or {"status": "sent"}, 10)

    def run(self, score_points: int = 10) -> tuple[str, list[str]]:
        execution = self.sfn.start_execution(stateMachineArn=self.machine, name=f"run-{time.time_ns()}", input=json.dumps({
            "store_id": "shop", "workflow_id": "wf", "event_id": "api:1", "email": "ana@example.com",
            "subject_key": "1001",
            "send": {"store_id": "shop", "workflow_id": "wf", "email": "ana@example.com",
                     "subject": {"type": "order", "order": {"id": "1001", "total": "10.00", "currency": "EUR", "items": []}}},
            "settings": {"first_purchase_tag": "first_purchase_customer", "repeat_customer_tag": "repeat_customer",
                         "first_purchase_message": "first", "second_purchase_message": "second",
                         "repeat_purchase_message": "repeat", "score_points": score_points},
            "contact_key": CONTACT_KEY,
        }))["executionArn"]
        deadline = time.monotonic() + 20
        while (status := self.sfn.describe_execution(executionArn=execution)["status"]) == "RUNNING":
            assert time.monotonic() < deadline, "run did not end"
            time.sleep(0.05)
        events = self.sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        self.failure = next((e["executionFailedEventDetails"] for e in events if e["type"] == "ExecutionFailed"), None)
        return status, [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]

    def contact(self) -> dict:
        return self.dynamodb.get_item(TableName=TABLE, Key=CONTACT_KEY).get("Item", {})


def test_first_purchase_assigns_the_first_purchase_tag_and_thanks(engine):
    engine.customer_in(first_purchase=False, repeat=False)
    status, states = engine.run()
    assert status == "SUCCEEDED"
    assert engine.sends == ["first"]
    assert engine.contact()["tags"] == {"SS": ["first_purchase_customer"]}
    assert states.index("AssignFirstPurchaseTag") < states.index("SendFirstPurchaseThanks")


def test_second_purchase_swaps_the_tags_around_the_second_thanks(engine):
    engine.dynamodb.put_item(TableName=TABLE, Item={**CONTACT_KEY, "tags": {"SS": ["first_purchase_customer", "vip"]}})
    engine.customer_in(first_purchase=True, repeat=False)
    status, states = engine.run()
    assert status == "SUCCEEDED"
    assert engine.sends == ["second"]
    assert sorted(engine.contact()["tags"]["SS"]) == ["repeat_customer", "vip"]
    assert states.index("RemoveFirstPurchaseTag") < states.index("SendSecondPurchaseThanks") < states.index("AssignRepeatCustomerTag")


def test_repeat_purchase_thanks_and_scores_once_per_order(engine):
    engine.dynamodb.put_item(TableName=TABLE, Item={**CONTACT_KEY, "tags": {"SS": ["repeat_customer"]}, "score": {"N": "10"}})
    engine.customer_in(first_purchase=False, repeat=True)
    assert engine.run()[0] == "SUCCEEDED"
    assert engine.contact()["score"] == {"N": "20"}
    status, states = engine.run()  # the same order again, e.g. a retried step or a replay
    assert status == "SUCCEEDED"
    assert states[-1] == "RepeatPurchaseHandled"
    assert engine.contact()["score"] == {"N": "20"}
    assert engine.contact()["scored_purchases"] == {"SS": ["wf#1001"]}
    assert engine.sends == ["repeat", "repeat"], "send idempotency is the send function's job, tested there"


def test_zero_points_removes_the_scoring_element(engine):
    engine.customer_in(first_purchase=False, repeat=True)
    status, states = engine.run(score_points=0)
    assert status == "SUCCEEDED"
    assert "AddPurchaseScore" not in states
    assert "score" not in engine.contact()



def test_a_failing_scoring_step_fails_the_run_with_its_own_error(engine):
    # A score stored as text makes the update fail for a reason no retry can fix.
    engine.dynamodb.put_item(TableName=TABLE, Item={**CONTACT_KEY, "score": {"S": "corrupted"}})
    engine.customer_in(first_purchase=False, repeat=True)
    status, states = engine.run()
    assert status == "FAILED"
    assert states[-1] == "AddPurchaseScore"
    assert engine.failure["error"].startswith("DynamoDB."), engine.failure
