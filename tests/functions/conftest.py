"""Fixtures for the moto-backed tests in this directory: the functions' handlers and the
domain and storage code they call, against moto.

Nothing here is autouse. A handler test
asks for `aws` (a fresh moto account with the resources of template.yaml that the functions
touch, and the functions' environment) and gets a handler from `load_handler`."""

from __future__ import annotations

import base64
import functools
import importlib.util
import itertools
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
TABLE_NAME = "storeflows-test-table"
QUEUE_NAME = "storeflows-test-events"
CONFIGURATION_SET = "storeflows-test"
SENDER_IDENTITY = "storeflows.test"
PUBLIC_API_URL = "https://api.example.test"
STATE_MACHINE_PREFIX = "storeflows-test_"  # the stack names them <stack>_<template>

_PASS_DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
_module_numbers = itertools.count()


@dataclass
class Aws:
    """The mocked account: resource names and a few read helpers for assertions."""

    table_name: str
    queue_url: str
    queue_arn: str
    state_machine_arn: str

    def queued_bodies(self) -> list[dict[str, Any]]:
        """Every message on the event queue, parsed; they stay invisible afterwards."""
        sqs = boto3.client("sqs", region_name=REGION)
        bodies = []
        while True:
            messages = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return bodies
            bodies.extend(json.loads(message["Body"]) for message in messages)

    def executions(self) -> list[dict[str, Any]]:
        """Every execution of the state machine, with its parsed input."""
        sfn = boto3.client("stepfunctions", region_name=REGION)
        listed = sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]
        return [
            {
                "name": item["name"],
                "input": json.loads(sfn.describe_execution(executionArn=item["executionArn"])["input"]),
            }
            for item in listed
        ]

    def table(self) -> Any:
        return boto3.resource("dynamodb", region_name=REGION).Table(self.table_name)

    def items(self, pk: str) -> list[dict[str, Any]]:
        """Every item of one partition."""
        return self.table().query(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": pk}, ConsistentRead=True
        )["Items"]

    def sent_emails(self) -> list[Any]:
        """What SES accepted (moto's backend: raw MIME in .raw_data, .destinations)."""
        from moto.ses.models import ses_backends

        return list(ses_backends[ACCOUNT_ID][REGION].sent_messages)


@functools.cache
def _shared_boto3_session() -> boto3.session.Session:
    """One session per test process: loading botocore's service models is most of the
    cost of a fresh session. Fake credentials and region are fixed on it."""
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)


@functools.cache
def _template_table() -> dict[str, Any]:
    from storeflows_local.template import Template

    return dict(Template(ROOT, {"SenderIdentity": SENDER_IDENTITY}).resources["Table"]["Properties"])


def _reset_storeflows_state() -> None:
    """Settings and clients are cached per process; Powertools metrics are process-global."""
    from storeflows import aws, config
    from storeflows.messaging import pacing
    from storeflows.observability import metrics

    config.settings.cache_clear()
    pacing.forget()
    aws.client.cache_clear()
    aws.dynamodb_table.cache_clear()
    # Metrics() may have been created before the environment was set (at collection).
    metrics.namespace = "Storeflows"
    metrics.service = "storeflows"
    metrics.clear_metrics()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """moto with the table, event queue, SES identity and configuration set and a state
    machine per template (each one Pass state), and the environment template.yaml gives the
    functions."""
    from storeflows.workflows.templates import TEMPLATES

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "MOTO_ACCOUNT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "storeflows")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Storeflows")
    # Imported here, not at the top: the pure unit tests in this directory never load moto.
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID

    assert DEFAULT_ACCOUNT_ID == ACCOUNT_ID
    with mock_aws(config={"stepfunctions": {"execute_state_machine": False}}):
        # moto resets boto3's default session on start; hand it one with warm model caches
        # (moto's interception is global, so its clients are mocked like any other).
        boto3.DEFAULT_SESSION = _shared_boto3_session()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        # The table as template.yaml declares it (keys, billing, TTL), not a second description.
        table = _template_table()
        dynamodb.create_table(
            TableName=TABLE_NAME,
            BillingMode=table["BillingMode"],
            AttributeDefinitions=table["AttributeDefinitions"],
            KeySchema=table["KeySchema"],
            GlobalSecondaryIndexes=table["GlobalSecondaryIndexes"],
        )
        dynamodb.update_time_to_live(TableName=TABLE_NAME, TimeToLiveSpecification=table["TimeToLiveSpecification"])
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sesv2 = boto3.client("sesv2", region_name=REGION)
        sesv2.create_email_identity(EmailIdentity=SENDER_IDENTITY)
        sesv2.create_configuration_set(ConfigurationSetName=CONFIGURATION_SET)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        state_machines = {
            template: sfn.create_state_machine(
                name=f"{STATE_MACHINE_PREFIX}{template}",
                definition=_PASS_DEFINITION,
                roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/storeflows-test",
                type="STANDARD",
            )["stateMachineArn"]
            for template in TEMPLATES
        }
        state_machine_arn = state_machines["targeted_post_purchase"]

        monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
        monkeypatch.setenv("EVENT_QUEUE_URL", queue_url)
        monkeypatch.setenv("SES_CONFIGURATION_SET", CONFIGURATION_SET)
        # moto's SES v2 has no GetAccount: the pacer takes its rate from here (SesSendRate).
        monkeypatch.setenv("SES_SEND_RATE", "1000")
        monkeypatch.setenv("PUBLIC_API_URL", PUBLIC_API_URL)
        monkeypatch.setenv("SENDER_IDENTITY", SENDER_IDENTITY)  # what the CLI reads from the stack's outputs
        monkeypatch.setenv("STATE_MACHINE_ARN_PREFIX", state_machine_arn.removesuffix("targeted_post_purchase"))
        _reset_storeflows_state()
        try:
            yield Aws(
                table_name=TABLE_NAME, queue_url=queue_url, queue_arn=queue_arn, state_machine_arn=state_machine_arn
            )
        finally:
            # No client created under this mock may outlive it.
            _reset_storeflows_state()


def _import_handler(function: str) -> Any:
    """functions/<function>/app.py under a unique module name (every handler is app.py)."""
    path = ROOT / "functions" / function / "app.py"
    module_name = f"storeflows_test_{function}_app_{next(_module_numbers)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def _warm_handlers() -> Iterator[dict[str, Any]]:
    modules: dict[str, Any] = {}
    yield modules
    for module in modules.values():
        sys.modules.pop(module.__name__, None)


@pytest.fixture
def load_handler(aws: Aws, _warm_handlers: dict[str, Any]) -> Callable[[str], Any]:
    """load_handler("ingest") -> functions/ingest/app.py, imported after the mock and the
    environment are in place (handlers read settings and build their Powertools DynamoDB
    persistence layer, with its boto3 client, at import).

    Imported once per test module, inside the first test's mock, then reused the way a warm
    Lambda container reuses it: moto intercepts botocore process-wide, so that client reaches
    whichever test's mock is active. Every test still gets fresh AWS state from `aws`."""

    def load(function: str) -> Any:
        if function not in _warm_handlers:
            _warm_handlers[function] = _import_handler(function)
        return _warm_handlers[function]

    return load


class FakeLambdaContext:
    """The attributes of the Lambda context that the handlers and Powertools read."""

    def __init__(self, function_name: str = "storeflows-test-function", timeout_ms: int = 30_000):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "test"
        self._timeout_ms = timeout_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def http_api_event(
    method: str,
    route: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    lower_case_headers: bool = True,
    base64_body: bool = False,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event, as API Gateway builds it: header
    names lower-cased (unless a test says otherwise), the body as text unless base64."""
    headers = dict(headers or {})
    if lower_case_headers:
        headers = {name.lower(): value for name, value in headers.items()}
    raw_query = urlencode(query or {})
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "testapi",
            "domainName": "api.example.test",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "pytest",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {route}",
            "stage": "$default",
            "time": "01/Mar/2025:10:15:00 +0000",
            "timeEpoch": 1740824100000,
        },
        "isBase64Encoded": base64_body,
    }
    if path_parameters:
        event["pathParameters"] = path_parameters
    if query:
        event["queryStringParameters"] = dict(query)
    if body is not None:
        event["body"] = base64.b64encode(body).decode("ascii") if base64_body else body.decode("utf-8")
    return event


@pytest.fixture
def make_http_event() -> Callable[..., dict[str, Any]]:
    """The http_api_event builder, for tests."""
    return http_api_event


def response_json(response: dict[str, Any]) -> Any:
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8")
    return json.loads(body)


@pytest.fixture
def read_json() -> Callable[[dict[str, Any]], Any]:
    """Parse the JSON body of a handler's API Gateway response."""
    return response_json


# The secrets the vendors' sample requests in tests/fixtures were signed with.
WOOCOMMERCE_FIXTURE_SECRET = json.loads((FIXTURES / "woocommerce_order_created.headers.json").read_text("utf-8"))[
    "computed_secret"
]
SHOPIFY_FIXTURE_SECRET = json.loads((FIXTURES / "shopify_orders_create.headers.json").read_text("utf-8"))[
    "computed_secret"
]


@dataclass
class SeededStore:
    store_id: str
    workflow_id: str
    shopify_secret: str
    webhook_secret: str
    unsubscribe_key: str


@pytest.fixture
def demo_store(aws: Aws) -> SeededStore:
    """The local stack's `demo` store (three messages, a published targeted post-purchase
    workflow), with the Shopify secret of the fixture request."""
    from storeflows.intake.signatures import generate_standard_webhooks_secret
    from storeflows.storage import stores
    from storeflows_local.demo_store import DEMO_STORE_ID, DEMO_WORKFLOW_ID, DemoSecrets, create_demo_store

    create_demo_store(
        DemoSecrets(
            shopify_secret=SHOPIFY_FIXTURE_SECRET,
            webhook_secret=generate_standard_webhooks_secret(),
            woocommerce_secret=WOOCOMMERCE_FIXTURE_SECRET,
            generated=False,
        )
    )
    store = stores.get_store(DEMO_STORE_ID)
    assert store is not None and store.webhook_secret and store.shopify_secret
    return SeededStore(
        store_id=store.store_id,
        workflow_id=DEMO_WORKFLOW_ID,
        shopify_secret=store.shopify_secret,
        webhook_secret=store.webhook_secret,
        unsubscribe_key=store.unsubscribe_key,
    )
