"""template.yaml lints clean and transforms into the CloudFormation a DevOps engineer expects.

cfn-lint runs through its Python API so plain `pytest` is enough (the Makefile also runs the
CLI). The SAM transform runs locally with aws-sam-translator and a fake managed-policy map:
no AWS account, no network. Local CodeUri/ContentUri/DefinitionUri paths are swapped for S3
URIs first, as `sam package` would."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint, lint_file
from samtranslator.public.translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

from storeflows.storage import keys
from storeflows_local.template import Template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
PARAMETERS = {"SenderIdentity": "example.com"}
ARTIFACT_PROPERTIES = ("CodeUri", "ContentUri", "DefinitionUri")

# The only AWS-managed policies roles may carry: the narrow ones SAM itself attaches for
# logging, X-Ray and SQS polling. Anything broader (AdministratorAccess, ...FullAccess)
# must be a deliberate, reviewed change to this list.
ALLOWED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
}
SERVICE_WILDCARD = re.compile(r"^[A-Za-z0-9-]+:\*$")


class FakeManagedPolicyLoader(ManagedPolicyLoader):
    """Answers managed-policy-name lookups from a fixed map instead of calling IAM."""

    POLICIES = {
        "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        "AWSLambdaSQSQueueExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
    }

    def __init__(self) -> None:  # no IAM client
        self.loads = 0

    def load(self) -> dict[str, str]:
        self.loads += 1
        return dict(self.POLICIES)


@pytest.fixture(scope="module")
def template() -> Template:
    return Template(ROOT, PARAMETERS)


@pytest.fixture(scope="module")
def sam_template(template: Template) -> dict[str, Any]:
    """template.yaml as SAM sees it (Globals, Transform), with local paths packaged to S3."""
    document = copy.deepcopy(template.document)
    for logical_id, resource in document["Resources"].items():
        properties = resource.get("Properties", {})
        for name in ARTIFACT_PROPERTIES:
            if isinstance(properties.get(name), str):
                assert (ROOT / properties[name]).exists(), f"{logical_id}.{name} {properties[name]} does not exist"
                properties[name] = f"s3://storeflows-artifacts/{properties[name].strip('/')}"
    return document


@pytest.fixture(scope="module")
def cfn(sam_template: dict[str, Any]) -> dict[str, Any]:
    """The plain CloudFormation the SAM transform produces."""
    with pytest.MonkeyPatch.context() as env:
        # The translator asks boto3 for a region (for ARNs/partition); give it one, offline.
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.delenv("AWS_PROFILE", raising=False)
        env.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        return transform(copy.deepcopy(sam_template), dict(PARAMETERS), FakeManagedPolicyLoader())


def of_type(document: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in document["Resources"].items() if res["Type"] == resource_type}


def referenced_id(value: Any) -> str | None:
    """The logical id behind {"Ref": X} or {"Fn::GetAtt": [X, ...]}, else None."""
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Ref":
            return argument
        if name == "Fn::GetAtt":
            return argument[0] if isinstance(argument, list) else argument.split(".", 1)[0]
    return None


def wildcard_grants(document: dict[str, Any]) -> list[str]:
    """Allow statements anywhere in the template's IAM that grant Action "*" or "service:*"
    (or use NotAction, which allows everything else)."""
    found = []
    for logical_id, resource in document["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            documents = [(p.get("PolicyName"), p.get("PolicyDocument", {})) for p in properties.get("Policies", [])]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [(logical_id, properties.get("PolicyDocument", {}))]
        else:
            continue
        for policy_name, policy in documents:
            statements = policy.get("Statement", [])
            for statement in statements if isinstance(statements, list) else [statements]:
                if statement.get("Effect") != "Allow":
                    continue
                if "NotAction" in statement:
                    found.append(f"{logical_id}/{policy_name}: NotAction {statement['NotAction']}")
                actions = statement.get("Action", [])
                for action in actions if isinstance(actions, list) else [actions]:
                    if isinstance(action, str) and (action == "*" or SERVICE_WILDCARD.match(action)):
                        found.append(f"{logical_id}/{policy_name}: Action {action}")
    return found


# --- cfn-lint ------------------------------------------------------------------------------


def test_cfn_lint_reports_nothing():
    """`make lint` passes: cfn-lint finds no error or warning in template.yaml."""
    matches = lint_file(TEMPLATE)
    problems = [m for m in matches if m.rule.severity in ("error", "warning")]
    assert problems == [], "\n".join(f"{m.rule.id} {m.rule.severity}: {m}" for m in problems)


def test_cfn_lint_api_reports_errors():
    """Control: the cfn-lint API used above does report a broken template."""
    broken = """
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUESTS
"""
    assert any(m.rule.severity == "error" for m in lint(broken)), "cfn-lint found nothing wrong"


# --- SAM transform -------------------------------------------------------------------------


def test_sam_transform_produces_plain_cloudformation(cfn: dict[str, Any]):
    """`sam deploy` would succeed at the transform step: no AWS::Serverless::* resource is left."""
    leftovers = {
        name: res["Type"] for name, res in cfn["Resources"].items() if res["Type"].startswith("AWS::Serverless::")
    }
    assert not leftovers, leftovers
    assert "Transform" not in cfn
    assert of_type(cfn, "AWS::Lambda::Function"), "the transform produced no Lambda function"


def test_state_machines_are_standard(cfn: dict[str, Any]):
    """Workflows run as STANDARD (exactly-once steps, waits of days, full history), not EXPRESS."""
    machines = of_type(cfn, "AWS::StepFunctions::StateMachine")
    assert machines, "no state machine after the transform"
    for name, machine in machines.items():
        # CloudFormation's default is STANDARD too, so only an explicit other type fails.
        assert machine["Properties"].get("StateMachineType", "STANDARD") == "STANDARD", name


def test_table_is_recoverable_on_demand_and_expires_items(cfn: dict[str, Any], template: Template):
    """The functions' table (TABLE_NAME) has point-in-time recovery, on-demand billing, and TTL
    on the attribute the code writes (storeflows.keys.EXPIRES_AT), so sales counters and email
    engagement flags expire."""
    name = referenced_id(template.document["Globals"]["Function"]["Environment"]["Variables"]["TABLE_NAME"])
    tables = of_type(cfn, "AWS::DynamoDB::Table")
    assert name in tables, f"TABLE_NAME does not refer to a DynamoDB table of this stack: {name}"
    properties = tables[name]["Properties"]
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
    assert properties["BillingMode"] == "PAY_PER_REQUEST", name
    ttl = properties["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": keys.EXPIRES_AT, "Enabled": True}
    assert keys.EXPIRES_AT == "expires_at"


def _dispatch_mapping(cfn: dict[str, Any]) -> dict[str, Any]:
    mappings = [
        res["Properties"]
        for res in of_type(cfn, "AWS::Lambda::EventSourceMapping").values()
        if referenced_id(res["Properties"].get("FunctionName")) == "DispatchFunction"
    ]
    assert len(mappings) == 1, f"expected one event source mapping for DispatchFunction, found {len(mappings)}"
    return mappings[0]


def test_event_queue_redrives_to_dead_letter_queue(cfn: dict[str, Any]):
    """A poison event ends in the dead-letter queue (and its alarm) instead of being retried
    forever; the DLQ keeps messages at least as long as the source queue."""
    queues = of_type(cfn, "AWS::SQS::Queue")
    event_queue_id = referenced_id(_dispatch_mapping(cfn)["EventSourceArn"])
    assert event_queue_id in queues, f"dispatch does not read an SQS queue of this stack: {event_queue_id}"
    event_queue = queues[event_queue_id]["Properties"]
    redrive = event_queue.get("RedrivePolicy")
    assert redrive, f"{event_queue_id} has no RedrivePolicy"
    dlq_id = referenced_id(redrive["deadLetterTargetArn"])
    assert dlq_id in queues and dlq_id != event_queue_id, f"redrive target is not another queue: {redrive}"
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert 1 <= int(redrive["maxReceiveCount"]) <= 100
    dlq = queues[dlq_id]["Properties"]
    assert int(dlq.get("MessageRetentionPeriod", 345600)) >= int(event_queue.get("MessageRetentionPeriod", 345600))


def test_event_queue_visibility_covers_dispatch_timeout(cfn: dict[str, Any]):
    """Lambda's SQS guidance: visibility timeout >= 6x the consumer's timeout, or messages in
    flight are redelivered (and counted towards the DLQ) while still being processed."""
    mapping = _dispatch_mapping(cfn)
    queue = of_type(cfn, "AWS::SQS::Queue")[referenced_id(mapping["EventSourceArn"])]["Properties"]
    timeout = int(of_type(cfn, "AWS::Lambda::Function")["DispatchFunction"]["Properties"].get("Timeout", 3))
    assert int(queue.get("VisibilityTimeout", 30)) >= 6 * timeout


def test_dispatch_reports_batch_item_failures(cfn: dict[str, Any]):
    """One bad record is retried alone; the rest of its batch is not redelivered."""
    assert "ReportBatchItemFailures" in _dispatch_mapping(cfn).get("FunctionResponseTypes", [])


def test_every_function_has_the_powertools_service_name_from_globals(cfn: dict[str, Any], template: Template):
    """Logs, metrics and traces of every function carry the same service name, set once in Globals."""
    globals_variables = template.document["Globals"]["Function"]["Environment"]["Variables"]
    service = globals_variables.get("POWERTOOLS_SERVICE_NAME")
    assert isinstance(service, str) and service, "Globals sets no POWERTOOLS_SERVICE_NAME"
    functions = of_type(cfn, "AWS::Lambda::Function")
    assert functions
    for name, function in functions.items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert variables.get("POWERTOOLS_SERVICE_NAME") == service, name


def test_no_iam_statement_grants_wildcard_actions(cfn: dict[str, Any]):
    """Least privilege: no role allows Action "*" or "service:*" (nor NotAction)."""
    assert of_type(cfn, "AWS::IAM::Role"), "no IAM role after the transform"
    grants = wildcard_grants(cfn)
    assert grants == [], "\n".join(grants)


def test_wildcard_check_catches_broad_grants():
    """Control: the wildcard check above flags "*", "service:*" and NotAction, but not "sqs:SendMessage*"."""
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Policies": [
                {
                    "PolicyName": "P",
                    "PolicyDocument": {
                        "Statement": [
                            {"Effect": "Allow", "Action": ["sqs:SendMessage*", "s3:*"], "Resource": "*"},
                            {"Effect": "Allow", "Action": "*", "Resource": "*"},
                            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
                            {"Effect": "Deny", "Action": "*", "Resource": "*"},
                        ]
                    },
                }
            ]
        },
    }
    grants = wildcard_grants({"Resources": {"Role": role}})
    assert grants == ["Role/P: Action s3:*", "Role/P: Action *", "Role/P: NotAction iam:*"]


def test_roles_attach_only_narrow_aws_managed_policies(cfn: dict[str, Any]):
    """No role gets a broad AWS-managed policy (e.g. AdministratorAccess), which the
    wildcard check cannot see inside."""
    own = set(of_type(cfn, "AWS::IAM::ManagedPolicy"))  # their documents are checked above
    for name, role in of_type(cfn, "AWS::IAM::Role").items():
        attached = role["Properties"].get("ManagedPolicyArns", [])
        extra = {arn for arn in attached if not (isinstance(arn, dict) and arn.get("Ref") in own)}
        extra -= ALLOWED_MANAGED_POLICIES
        assert not extra, f"{name} attaches {sorted(map(str, extra))}"


def test_outputs_expose_api_url_table_and_state_machine_arns(cfn: dict[str, Any]):
    """Operators (and the README's setup steps) get the API URL, the table name and every
    state machine's ARN from the stack outputs."""
    outputs = cfn.get("Outputs", {})
    assert "ApiUrl" in outputs and "${HttpApi}" in str(outputs["ApiUrl"]["Value"])
    assert "TableName" in outputs and outputs["TableName"]["Value"] == {"Ref": "Table"}
    referenced = {referenced_id(output["Value"]) for output in outputs.values()}
    machines = of_type(cfn, "AWS::StepFunctions::StateMachine")
    assert machines
    missing = [name for name in machines if name not in referenced]
    assert not missing, f"no output gives the ARN (Ref) of {missing}"


# This stack's state machines and their executions: every name starts with "<stack>_", and a
# stack name cannot contain "_", so no other stack's state machine matches.
THIS_STACKS_MACHINES = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}_*"
THIS_STACKS_EXECUTIONS = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}_*:*"
RUN_CONTROL = ("states:DescribeExecution", "states:StopExecution")


def grants_of(cfn: dict[str, Any], actions: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """Role -> its Allow statements that grant any of `actions`."""
    grants: dict[str, list[dict[str, Any]]] = {}
    for name, role in of_type(cfn, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            statements = policy["PolicyDocument"]["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                granted = statement.get("Action", [])
                if set(granted if isinstance(granted, list) else [granted]) & set(actions):
                    grants.setdefault(name, []).append(statement)
    return grants


def test_every_state_machine_is_named_for_its_template_under_the_stack(cfn: dict[str, Any], template: Template):
    """<stack>_<template>: the dispatcher finds a template's state machine by name, and the
    grants below cover exactly this stack's."""
    from storeflows.workflows.templates import TEMPLATES

    machines = of_type(template.document, "AWS::Serverless::StateMachine")
    names = {
        resource["Properties"]["Name"]["Fn::Sub"]: resource["Properties"]["DefinitionUri"]
        for resource in machines.values()
    }
    assert names == {f"${{AWS::StackName}}_{name}": f"statemachines/{name}.asl.json" for name in TEMPLATES}


def test_only_the_dispatcher_may_start_and_stop_runs_and_only_this_stacks(cfn: dict[str, Any]):
    """The dispatcher starts runs, and so does the hourly schedule (date workflows), and an
    erasure (customers/redact) stops the contact's runs: their roles may start this stack's
    state machines, the dispatcher's look up and stop their executions; no role may stop
    anything else."""
    starts = grants_of(cfn, ("states:StartExecution",))
    assert sorted(starts) == ["DispatchFunctionRole", "ScheduleFunctionRole"], starts
    for role in starts:
        (statement,) = starts[role]
        assert (statement["Effect"], statement["Action"], statement["Resource"]) == (
            "Allow",
            ["states:StartExecution"],
            {"Fn::Sub": THIS_STACKS_MACHINES},
        )
    stops = grants_of(cfn, RUN_CONTROL)
    assert list(stops) == ["DispatchFunctionRole"], stops
    (statement,) = stops["DispatchFunctionRole"]
    assert (statement["Effect"], sorted(statement["Action"]), statement["Resource"]) == (
        "Allow",
        list(RUN_CONTROL),
        {"Fn::Sub": THIS_STACKS_EXECUTIONS},
    )


def test_the_dispatcher_finds_state_machines_by_the_names_they_are_given(cfn: dict[str, Any], template: Template):
    (dispatch,) = [spec for spec in template.functions() if spec.logical_id == "DispatchFunction"]
    prefix = dispatch.environment["STATE_MACHINE_ARN_PREFIX"]["Fn::Sub"]
    assert prefix + "*" == THIS_STACKS_MACHINES
