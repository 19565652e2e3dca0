"""Storeflows on a laptop: moto-backed AWS in this process, built from template.yaml.

Start order: moto's server (so Step Functions' own service calls and other processes can
reach it), then the resources of template.yaml in dependency order, then the functions'
environment, then the handlers (imported from their CodeUri with the layer on sys.path,
as Lambda would) and their SNS subscriptions, then the SQS poller that plays Lambda's event
source mapping. SNS invokes functions asynchronously, as Lambda does for SNS: an error is
retried (EventInvokeConfig) and then parked in the function's DeadLetterQueue."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests
from moto.server import ThreadedMotoServer

from storeflows_local.engine import ExecutionEnvironments, Handler, InProcessLambdas, LambdaContext, patch_moto
from storeflows_local.ses_events import EVENT_TYPES, Destination, SesEventPublisher
from storeflows_local.template import ACCOUNT_ID, REGION, FunctionSpec, Route, Template, TemplateError

log = logging.getLogger("storeflows.local")

ROOT = Path(__file__).resolve().parents[2]
LOCAL_SENDER_IDENTITY = "storeflows.test"
# The threads that play Lambda's SQS event source mapping are named after it.
POLLER_THREAD_PREFIX = "poll-"

SUPPORTED_TYPES = {
    "AWS::Serverless::LayerVersion",
    "AWS::Serverless::Function",
    "AWS::Serverless::HttpApi",
    "AWS::Serverless::StateMachine",
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::SES::ConfigurationSet",
    "AWS::SES::ConfigurationSetEventDestination",
}
# Lambda retries an asynchronous invocation after about a minute, then two; locally, soon.
ASYNC_RETRY_DELAY_SECONDS = 0.5
# Concurrent invocations of one function, each in an environment of its own (Lambda's
# default account limit is 1,000; on a laptop a few are as fast as many).
ENVIRONMENTS_PER_FUNCTION = 4
# A send waits in its environment for its SES pacer slot (up to its horizon, 2 s): in a burst,
# Lambda runs as many at once as that takes. Here enough for a local SES rate of 20 a second.
ENVIRONMENTS_OF = {"SendMessageFunction": 48}


# (logical id, handler) -> the handler to run instead, e.g. one that also measures it.
Instrument = Callable[[str, Handler], Handler]


@dataclass
class HttpRoute:
    route: Route
    function: FunctionSpec


class LocalStack:
    def __init__(
        self,
        *,
        api_url: str,
        time_scale: float = 1.0,
        parameters: dict[str, str] | None = None,
        instrument: Instrument | None = None,
        on_dynamodb_write: Callable[[], None] | None = None,
    ):
        self.api_url = api_url.rstrip("/")
        self.time_scale = time_scale
        self.template = Template(ROOT, {"SenderIdentity": LOCAL_SENDER_IDENTITY, **(parameters or {})})
        self.template.check_types(SUPPORTED_TYPES)
        self.lambdas = InProcessLambdas()
        self.routes: list[HttpRoute] = []
        self.handlers: dict[str, Any] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: ThreadedMotoServer | None = None
        self._patches: contextlib.ExitStack | None = None
        self.ses_events: SesEventPublisher | None = None
        # Lambda's queue of asynchronous invocations (SNS deliveries).
        self._async_invocations = ThreadPoolExecutor(max_workers=4, thread_name_prefix="async-invoke")
        # Wraps every handler, whichever way it is reached (HTTP API, SQS poller, Step Functions).
        self._instrument = instrument
        self._on_dynamodb_write = on_dynamodb_write

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._start_moto()
        self._patches = patch_moto(
            self.lambdas,
            self.time_scale,
            on_email_sent=self._email_sent,
            on_sns_to_lambda=self._invoke_async,
            on_dynamodb_write=self._on_dynamodb_write,
            ses_rate=float(os.environ.get("STOREFLOWS_LOCAL_SES_RATE") or 0) or None,
        )
        self.build()
        self._start_pollers()

    def build(self) -> None:
        """The template's resources and functions, against whichever moto is active: the
        server `start` runs, or `mock_aws` in this process (the bench times handlers so,
        without HTTP)."""
        self._create_resources()
        self._load_functions()
        self._subscribe_functions()

    def stop(self) -> None:
        self._stop.set()
        if self.ses_events is not None:
            self.ses_events.stop()
        self._async_invocations.shutdown(wait=True, cancel_futures=True)
        for thread in self._threads:
            thread.join(timeout=5)
        if self._patches is not None:
            self._patches.close()
        if self._server is not None:
            self._server.stop()

    @property
    def table_name(self) -> str:
        return self.template.physical["Table"]["Ref"]

    @property
    def endpoint_url(self) -> str:
        return os.environ["AWS_ENDPOINT_URL"]

    def _start_moto(self) -> None:
        os.environ.update(
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
        )
        os.environ.pop("AWS_PROFILE", None)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        _, port = self._server.get_host_and_port()
        # MOTO_PORT: Step Functions' own service calls (DynamoDB, SES, Lambda) go to this server.
        os.environ["MOTO_PORT"] = str(port)
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        requests.post(
            f"{self.endpoint_url}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}},
            timeout=10,
        ).raise_for_status()

    # --- resources from template.yaml -----------------------------------------------------

    def _create_resources(self) -> None:
        t = self.template
        for logical_id, res in t.of_type("AWS::DynamoDB::Table").items():
            self._create_table(logical_id, res["Properties"])
        queues = t.of_type("AWS::SQS::Queue")
        # Dead-letter queues first: a redrive policy names its target by ARN.
        for logical_id in sorted(queues, key=lambda name: "RedrivePolicy" in queues[name]["Properties"]):
            self._create_queue(logical_id, queues[logical_id]["Properties"])
        sns = boto3.client("sns")
        for logical_id in t.of_type("AWS::SNS::Topic"):
            arn = sns.create_topic(Name=t.physical_name(logical_id))["TopicArn"]
            t.physical[logical_id] = {"Ref": arn, "TopicArn": arn, "TopicName": t.physical_name(logical_id)}
        sesv2 = boto3.client("sesv2")
        sesv2.create_email_identity(EmailIdentity=t.parameters["SenderIdentity"])
        for logical_id in t.of_type("AWS::SES::ConfigurationSet"):
            name = t.physical_name(logical_id)
            sesv2.create_configuration_set(ConfigurationSetName=name)
            t.physical[logical_id] = {"Ref": name}
        self.ses_events = SesEventPublisher(self._ses_event_destinations())
        for logical_id in t.of_type("AWS::Serverless::HttpApi"):
            t.physical[logical_id] = {"Ref": "local"}
        for spec in t.functions():
            t.physical[spec.logical_id] = {"Ref": spec.logical_id, "Arn": spec.arn}
        sfn = boto3.client("stepfunctions")
        for logical_id, res in t.of_type("AWS::Serverless::StateMachine").items():
            # Named as the template names it (<stack>_<template>): the dispatcher finds it so.
            name = t.resolve(res["Properties"].get("Name")) or t.physical_name(logical_id)
            arn = sfn.create_state_machine(
                name=name,
                definition=t.state_machine_definition(logical_id),
                roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{logical_id}Role",
                type="STANDARD",
            )["stateMachineArn"]
            t.physical[logical_id] = {"Ref": arn, "Name": name, "Arn": arn}

    def _ses_event_destinations(self) -> dict[str, list[Destination]]:
        """Configuration set -> where SES publishes its events (SNS destinations only)."""
        destinations: dict[str, list[Destination]] = {}
        for logical_id, res in self.template.of_type("AWS::SES::ConfigurationSetEventDestination").items():
            props = self.template.resolve(res["Properties"])
            destination = props["EventDestination"]
            if "SnsDestination" not in destination:
                raise TemplateError(f"{logical_id}: only SNS event destinations run locally")
            if destination.get("Enabled", False):
                destinations.setdefault(props["ConfigurationSetName"], []).append(
                    Destination(
                        topic_arn=destination["SnsDestination"]["TopicARN"],
                        event_types=frozenset(EVENT_TYPES[kind] for kind in destination["MatchingEventTypes"]),
                    )
                )
        return destinations

    def _email_sent(self, request: dict, message_id: str) -> None:
        if self.ses_events is not None:
            self.ses_events.sent(request, message_id)

    def _create_table(self, logical_id: str, props: dict[str, Any]) -> None:
        name = self.template.physical_name(logical_id)
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName=name,
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props["BillingMode"],
            **(
                {"GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"]} if "GlobalSecondaryIndexes" in props else {}
            ),
        )
        if "TimeToLiveSpecification" in props:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
        self.template.physical[logical_id] = {
            "Ref": name,
            "Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}",
        }

    def _create_queue(self, logical_id: str, props: dict[str, Any]) -> None:
        name = self.template.physical_name(logical_id)
        attributes: dict[str, str] = {
            key: str(props[key]) for key in ("VisibilityTimeout", "MessageRetentionPeriod") if key in props
        }
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(self.template.resolve(props["RedrivePolicy"]))
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.template.physical[logical_id] = {"Ref": url, "Arn": arn, "QueueName": name}

    # --- functions ------------------------------------------------------------------------

    def _load_functions(self) -> None:
        specs = self.template.functions()
        environment: dict[str, str] = {}
        for spec in specs:
            for name, value in spec.environment.items():
                resolved = str(self.template.resolve(value))
                if name in environment and environment[name] != resolved:
                    # All handlers share this process's environment.
                    raise TemplateError(f"{name} differs between functions; the local stack cannot run both")
                environment[name] = resolved
        environment["PUBLIC_API_URL"] = self.api_url
        # A site session ends after 30 minutes without activity (storeflows.sessions), on the
        # wall clock that stamps every event: the time scale cannot shorten it (at 86400 it
        # would be 0.02 s, shorter than the gap between two clicks), so the local stack gives
        # it a length of its own, long enough for a person to browse the demo shop. The
        # session checks' SQS delays are computed from it, so moto plays them as given:
        # scaling them as well would shorten them twice.
        environment["SESSION_TIMEOUT_SECONDS"] = os.environ.get("STOREFLOWS_SESSION_TIMEOUT", "30")
        os.environ.update(environment)
        # No X-Ray daemon locally.
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        for layer_dir in self.template.layer_dirs():
            if str(layer_dir) not in sys.path:
                sys.path.insert(0, str(layer_dir))
        # The functions behind the HTTP API use Powertools' resolver (see ExecutionEnvironments).
        http_turns = threading.Lock()
        for spec in specs:
            handler = ExecutionEnvironments(
                functools.partial(self._start_environment, spec),
                ENVIRONMENTS_OF.get(spec.logical_id, ENVIRONMENTS_PER_FUNCTION),
                turns=http_turns if spec.routes else None,
            )
            self.handlers[spec.logical_id] = handler
            self.lambdas.register(spec.logical_id, spec.arn, handler, spec.timeout)
            self.routes.extend(HttpRoute(route, spec) for route in spec.routes)

    def _start_environment(self, spec: FunctionSpec, number: int) -> Handler:
        handler = self._import_handler(spec, number)
        return handler if self._instrument is None else self._instrument(spec.logical_id, handler)

    @staticmethod
    def _import_handler(spec: FunctionSpec, number: int):
        """The handler of the function's environment `number`: its module imported afresh, as
        Lambda's init phase does (the layer's modules are shared, as a warm cache)."""
        path = spec.code_dir / f"{spec.module.replace('.', '/')}.py"
        module_name = f"storeflows_function_{spec.logical_id}_{number}"
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        if module_spec is None or module_spec.loader is None:
            raise TemplateError(f"{spec.logical_id}: cannot import {path}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        module_spec.loader.exec_module(module)
        return getattr(module, spec.handler)

    def _subscribe_functions(self) -> None:
        sns = boto3.client("sns")
        for spec in self.template.functions():
            for topic in spec.sns_topics:
                sns.subscribe(TopicArn=self.template.resolve(topic), Protocol="lambda", Endpoint=spec.arn)

    def _invoke_async(self, function_arn: str, event: dict) -> None:
        """Lambda's asynchronous invocation: queued, retried after an error, and then sent to
        the function's dead-letter queue, so nothing SNS delivered is lost."""
        spec = next(spec for spec in self.template.functions() if spec.arn == function_arn)

        def run() -> None:
            for attempt in range(1 + spec.async_retries):
                if attempt:
                    time.sleep(ASYNC_RETRY_DELAY_SECONDS)
                _, error = self.lambdas.invoke(function_arn, event)
                if error is None:
                    return
            if spec.dead_letter_queue is not None:
                queue_arn = self.template.resolve(spec.dead_letter_queue)
                queue_url = next(p["Ref"] for p in self.template.physical.values() if p.get("Arn") == queue_arn)
                boto3.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(event))
            log.warning(
                "%s failed %d times; event parked in its dead-letter queue", spec.logical_id, 1 + spec.async_retries
            )

        self._async_invocations.submit(run)

    def invoke(self, logical_id: str, event: dict) -> Any:
        spec = self.template.function(logical_id)
        return self.handlers[logical_id](event, LambdaContext(spec.logical_id, spec.arn, spec.timeout))

    # --- SQS event source mapping -----------------------------------------------------------

    def _start_pollers(self) -> None:
        for spec in self.template.functions():
            for queue in spec.sqs_queues:
                queue_arn = self.template.resolve(queue)
                queue_url = next(p["Ref"] for p in self.template.physical.values() if p.get("Arn") == queue_arn)
                thread = threading.Thread(
                    target=self._poll,
                    args=(spec, queue_url, queue_arn),
                    name=f"{POLLER_THREAD_PREFIX}{spec.logical_id}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)

    def _poll(self, spec: FunctionSpec, queue_url: str, queue_arn: str) -> None:
        sqs = boto3.client("sqs")
        while not self._stop.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=spec.batch_size,
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
            except Exception:  # noqa: BLE001 - the server is going away at shutdown
                if self._stop.is_set():
                    return
                log.exception("polling %s failed", queue_url)
                continue
            if messages:
                self._deliver(spec, sqs, queue_url, queue_arn, messages)

    def _deliver(self, spec, sqs, queue_url: str, queue_arn: str, messages: list[dict]) -> None:
        event = {"Records": [_sqs_record(message, queue_arn) for message in messages]}
        payload, error = self.lambdas.invoke(spec.logical_id, event)
        failed = (
            {message["MessageId"] for message in messages}
            if error
            else {item["itemIdentifier"] for item in (payload or {}).get("batchItemFailures", [])}
        )
        for message in messages:
            if message["MessageId"] in failed:
                # Lambda would wait out the visibility timeout; locally, retry soon.
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=1
                )
            else:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _sqs_record(message: dict, queue_arn: str) -> dict:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
