"""The places where the local stack reaches into moto.

1. Lambda tasks: moto would run a function in Docker. Here the invocation is handed to the
   real handler named in template.yaml, in this process, and an exception comes back the
   way Lambda reports it (errorType = exception class), so Retry and Catch see the same
   error names as in AWS.
2. Wait states: moto waits in real time. Here a wait of N workflow seconds lasts
   N / time_scale real seconds. The deployed code and the ASL know nothing of this. A
   Timestamp(Path) wait is scaled too (moto turns it into the seconds left, then waits
   those): it lasts (timestamp - now) / time_scale. moto counts those seconds from the
   machine's local time, naive, while the timestamp is UTC ("…Z"): on a machine whose clock
   is not UTC every such wait would be off by the zone's offset (an hour or more, scaled),
   so here they count from UTC. A timestamp computed from a time recorded in real time (a
   cart's last activity + 24h) therefore arrives, on the scaled clock, late by the real time
   since then multiplied by the scale; the abandonment checks compare recorded activity,
   never the clock, so that only delays a reminder, never sends one early.
3. DynamoDB requests: DynamoDB applies each request atomically per item (a conditional
   update is checked and applied as one step). moto's server handles requests on many
   threads and its DynamoDB has no locking: with 50 threads claiming coupon codes from a
   pool of 20 (`ADD claimed :1` if `claimed < size`, ReturnValues ALL_NEW), about one run
   in ten let a 21st claim through or gave two claims the same counter value. Here every
   DynamoDB request is handled under one lock, whole (condition, update and the values it
   returns), so concurrent callers (tests, the Step Functions engine, the handlers) get
   DynamoDB's guarantees.
4. SES sends: moto keeps an email and publishes no events. Here each accepted SendEmail is
   handed to the stack (ses_events.py publishes what SES would to the configuration set's
   event destination). With STOREFLOWS_LOCAL_SES_RATE (emails per real second; unset: no
   limit), a send beyond that many in the last second is refused as SES refuses it: error
   `Throttling`, "Maximum sending rate exceeded.". moto has no GetAccount: here it answers
   with that rate as SendQuota.MaxSendRate (1,000 when unset), which the pacer reads. The
   rate is real time, as SES's is; so are Retry intervals (moto sleeps them unscaled, unlike
   Wait states), so a throttled send's retries wait as long as in AWS. Each accepted email
   keeps when SES accepted it (`accepted_at`, shown in the outbox).
5. SNS deliveries to Lambda: moto would call its own Lambda backend with a fixed sample
   envelope. Here the stack invokes the real handler asynchronously, as SNS does, with the
   envelope AWS sends (this topic, this message id).
6. Step Functions speed: for every execution moto parses the definition with ANTLR (about
   140 ms of CPU for the larger templates); for every task it builds a new boto3 client
   (about 25 ms) and for every path a new JSONPath parser. Here a definition is parsed once
   per stack, the engine's clients are reused and each path is compiled once: a purchase
   entering five workflows costs about a third less CPU. What an execution changes lives in
   its own Environment, not in the parsed program; the program's components name their
   slots in that Environment lazily (`heap_key`), so those names are made once, up front,
   before concurrent executions could race to make two.
7. DynamoDB transactions: to roll a failed transaction back, moto deep-copies every table it
   names, once per item, so with one table holding everything each transaction cost more
   as the table grew (every purchase and every SES event is a transaction). Here tables are
   not copied; the items a transaction names are saved first and put back if it fails,
   which is the same rollback (patch 3 makes every DynamoDB request run alone).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import queue
import threading
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from time import monotonic
from typing import Any
from unittest import mock

import boto3
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.ses.models import ses_backends
from moto.sesv2 import urls as sesv2_urls
from moto.sesv2.responses import SESV2Response
from moto.sns.models import Subscription
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.component import Component
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

log = logging.getLogger("storeflows.local")


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    timeout_seconds: int
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    log_group_name: str = "local"
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - monotonic()) * 1000))


Handler = Callable[[dict, Any], Any]


class ExecutionEnvironments:
    """A function's execution environments, as Lambda keeps them: each runs one invocation
    at a time, and when all are busy another is started, up to `limit`. Handlers are written
    for that: the batch processor keeps the current batch on a module-level object. Here an
    environment is a fresh import of the handler's module, with module-level objects of its
    own, made by `start(number)`; an invocation takes a free one (the warmest first), or
    starts one, or waits for one.

    What the package keeps on a class is shared by every environment of this process:
    Powertools' HTTP resolvers keep the request being resolved on BaseRouter itself (two
    concurrent webhooks read each other's body: 2 of 8 purchases became copies of others).
    Functions behind such a resolver pass one `turns` lock between them, and run one
    invocation at a time, whatever the function."""

    def __init__(
        self,
        start: Callable[[int], Handler],
        limit: int,
        turns: threading.Lock | None = None,
    ) -> None:
        self._start = start
        self._limit = limit
        self._turns = turns if turns is not None else contextlib.nullcontext()
        self._free: queue.LifoQueue[Handler] = queue.LifoQueue()
        self._started = 0
        self._starting = threading.Lock()
        self._free.put(self._started_one())  # the first now: a broken handler fails the stack's start

    def __call__(self, event: dict, context: Any) -> Any:
        handler = self._take()
        try:
            with self._turns:
                return handler(event, context)
        finally:
            self._free.put(handler)

    @property
    def started(self) -> int:
        return self._started

    def _take(self) -> Handler:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._starting:
            may_start = self._started < self._limit
            if may_start:
                return self._started_one()
        return self._free.get()

    def _started_one(self) -> Handler:
        self._started += 1
        return self._start(self._started)


class InProcessLambdas:
    """Function name or ARN -> the real handler, invoked in this process."""

    def __init__(self) -> None:
        self._handlers: dict[str, tuple[Handler, str, str, int]] = {}

    def register(self, name: str, arn: str, handler: Handler, timeout: int) -> None:
        entry = (handler, name, arn, timeout)
        self._handlers[name] = entry
        self._handlers[arn] = entry

    def invoke(self, function: str, event: dict) -> tuple[Any, str | None]:
        """Returns (payload, function_error) as Lambda's Invoke API would."""
        handler, name, arn, timeout = self._handlers[function]
        try:
            return handler(event, LambdaContext(name, arn, timeout)), None
        except Exception as error:  # noqa: BLE001 - reported to the caller exactly as Lambda does
            log.warning("function %s failed: %s: %s", name, type(error).__name__, error)
            return {
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "stackTrace": traceback.format_tb(error.__traceback__),
            }, "Unhandled"


_DYNAMODB_LOCK = threading.RLock()


_DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


def _one_dynamodb_request_at_a_time(call_action: Callable, on_write: Callable[[], None] | None = None) -> Callable:
    @functools.wraps(call_action)
    def serialised(handler):
        with _DYNAMODB_LOCK:
            answer = call_action(handler)
        if on_write is not None and handler.headers.get("X-Amz-Target", "").rpartition(".")[2] in _DYNAMODB_WRITES:
            on_write()
        return answer

    return serialised


def _parsed_once(get_program: Callable) -> Callable:
    programs: dict[str, EvalComponent] = {}
    lock = threading.Lock()

    @functools.wraps(get_program)
    def cached(worker: ExecutionWorker) -> EvalComponent:
        definition = worker._evaluation_details.state_machine_details.definition
        with lock:
            if definition not in programs:
                program = get_program(worker)
                _make_heap_keys(program)
                programs[definition] = program
            return programs[definition]

    return cached


def _make_heap_keys(program: EvalComponent) -> None:
    pending: list[Any] = [program]
    seen: set[int] = set()
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, EvalComponent):
            item.heap_key  # noqa: B018 - made on first read
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            pending.extend(item)
        elif isinstance(item, Component):
            pending.extend(vars(item).values())


class _ReusedClients:
    """Stands in for the boto3 module inside moto's `boto_client_for`, which every task
    calls. Its clients always use moto's fake keys and one configuration, so one client per
    service, region and endpoint serves every task."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str, str | None], Any] = {}
        self._lock = threading.Lock()

    def client(self, *, service_name: str, region_name: str, **options: Any) -> Any:
        key = (service_name, region_name, options.get("endpoint_url"))
        with self._lock:
            if key not in self._clients:
                self._clients[key] = boto3.client(service_name=service_name, region_name=region_name, **options)
            return self._clients[key]


def _speed_up_step_functions(stack: ExitStack) -> None:
    stack.enter_context(
        mock.patch.object(
            ExecutionWorker, "_get_evaluation_entrypoint", _parsed_once(ExecutionWorker._get_evaluation_entrypoint)
        )
    )
    stack.enter_context(mock.patch.object(boto_client, "boto3", _ReusedClients()))
    for module in (json_path, result_path):
        stack.enter_context(mock.patch.object(module, "parse", functools.lru_cache(maxsize=None)(module.parse)))


# What the local SES reports as its maximum send rate when STOREFLOWS_LOCAL_SES_RATE is unset.
UNLIMITED_SES_RATE = 1000.0


class SesSendRate:
    """SES's maximum send rate: at most `rate` emails accepted in any second (real time)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._accepted: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self) -> bool:
        with self._lock:
            now = monotonic()
            while self._accepted and self._accepted[0] <= now - 1.0:
                self._accepted.popleft()
            if len(self._accepted) >= self.rate:
                return False
            self._accepted.append(now)
            return True


class MaximumSendingRateExceeded(JsonRESTError):
    def __init__(self) -> None:
        super().__init__("Throttling", "Maximum sending rate exceeded.")


def _ses_account(ses_rate: float | None) -> Callable:
    def get_account(response):  # noqa: ARG001 - moto's signature
        return json.dumps(
            {
                "DedicatedIpAutoWarmupEnabled": False,
                "EnforcementStatus": "HEALTHY",
                "ProductionAccessEnabled": True,
                "SendingEnabled": True,
                "SendQuota": {
                    "Max24HourSend": 1_000_000.0,
                    "MaxSendRate": ses_rate or UNLIMITED_SES_RATE,
                    "SentLast24Hours": 0.0,
                },
            }
        )

    return get_account


def _stamp_accepted(response: SESV2Response, message_id: str, accepted_at: str) -> None:
    sent = ses_backends[response.current_account][response.region].sent_messages
    for message in reversed(sent):  # this one is among the last few
        if message.id == message_id:
            message.accepted_at = accepted_at
            return


def sns_lambda_event(
    topic_arn: str, subscription_arn: str, message_id: str, message: str, subject: str | None
) -> dict[str, Any]:
    """The event SNS invokes a subscribed function with (one record per invocation)."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "SignatureVersion": "1",
                    "Signature": "local",
                    "SigningCertUrl": "local",
                    "UnsubscribeUrl": "local",
                    "MessageAttributes": {},
                },
            }
        ]
    }


class _NoTableCopies:
    """Stands in for the `copy` module inside moto's DynamoDB backend: a Table is not copied
    (see _rolled_back_item_by_item), anything else is, as before."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _rolled_back_item_by_item(transact_write_items: Callable) -> Callable:
    @functools.wraps(transact_write_items)
    def transact(backend, transact_items):
        saved = [entry for entry in map(lambda item: _saved_item(backend, item), transact_items) if entry]
        try:
            return transact_write_items(backend, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(saved):
                if attributes is None:
                    backend.delete_item(table_name, key)
                else:
                    backend.put_item(table_name, attributes)
            raise

    return transact


def _saved_item(backend, transact_item: dict) -> tuple[str, dict, dict | None] | None:
    """(table, key, the item's attributes now or None) for one item of a transaction."""
    _, operation = next(iter(transact_item.items()))
    table = backend.tables.get(operation.get("TableName"))
    if table is None:
        return None
    key = operation.get("Key") or {
        name: operation["Item"][name] for name in (table.hash_key_attr, table.range_key_attr) if name
    }
    try:
        current = backend.get_item(table.name, key)
    except Exception:  # noqa: BLE001 - a malformed key: moto refuses the transaction before any write
        return None
    return table.name, key, None if current is None else copy.deepcopy(current.to_json()["Attributes"])


def patch_moto(
    lambdas: InProcessLambdas,
    time_scale: float,
    *,
    on_email_sent: Callable[[dict, str], None] | None = None,
    on_sns_to_lambda: Callable[[str, dict], None] | None = None,
    on_dynamodb_write: Callable[[], None] | None = None,
    ses_rate: float | None = None,
) -> ExitStack:
    """Installs the patches; closing the returned stack removes them. `on_email_sent(request,
    message_id)` hears of every email SES accepted; `on_sns_to_lambda(function_arn, event)`
    delivers an SNS notification to a subscribed function. Without them (tests of one state
    machine), SES and SNS stay as moto has them. `on_dynamodb_write()` hears of every request that
    may have written to DynamoDB (the local state file saves then). `ses_rate`: SES's maximum
    send rate (None: none)."""

    def invoke(backend, function_name, qualifier, body, headers, response_headers):  # noqa: ARG001 - moto's signature
        payload, error = lambdas.invoke(function_name, json.loads(body or "{}"))
        if error:
            response_headers["x-amz-function-error"] = error
        return json.dumps(payload).encode("utf-8")

    def scaled_wait(wait_function, env, wait_seconds):  # noqa: ARG001 - moto's signature
        if wait_seconds > 0:
            # Returns early when the execution is stopped, as moto's own wait does.
            env.program_state_event.wait(wait_seconds / time_scale)

    get_timestamp_wait_seconds = Timestamp._get_wait_seconds

    def utc_timestamp_wait_seconds(wait_function, env):
        # moto: (timestamp - naive local now); the timestamp is UTC. Its local-time error, added back.
        local_error = datetime.now() - datetime.now(UTC).replace(tzinfo=None)
        return get_timestamp_wait_seconds(wait_function, env) + round(local_error.total_seconds())

    send_email = SESV2Response.send_email
    limit = SesSendRate(ses_rate) if ses_rate else None

    def send_email_and_publish(response):
        if limit is not None and not limit.admit():
            raise MaximumSendingRateExceeded()
        accepted_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        answer = send_email(response)
        message_id = json.loads(answer)["MessageId"]
        _stamp_accepted(response, message_id, accepted_at)
        if on_email_sent is not None:
            on_email_sent(json.loads(response.body), message_id)
        return answer

    publish = Subscription.publish

    def publish_to_function(subscription, message, message_id, subject=None, *args, **kwargs):
        if subscription.protocol != "lambda" or on_sns_to_lambda is None:
            return publish(subscription, message, message_id, subject, *args, **kwargs)
        on_sns_to_lambda(
            subscription.endpoint,
            sns_lambda_event(subscription.topic.arn, subscription.arn, message_id, message, subject),
        )

    stack = ExitStack()
    stack.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", invoke))
    if on_email_sent is not None or limit is not None:
        stack.enter_context(mock.patch.object(SESV2Response, "send_email", send_email_and_publish))
    stack.enter_context(mock.patch.object(SESV2Response, "get_account", _ses_account(ses_rate), create=True))
    # moto's server routes no GetAccount path ("/v2/.*" is a literal rule there, not a pattern).
    stack.enter_context(mock.patch.dict(sesv2_urls.url_paths, {"{0}/v2/email/account$": SESV2Response.dispatch}))
    if on_sns_to_lambda is not None:
        stack.enter_context(mock.patch.object(Subscription, "publish", publish_to_function))
    stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", scaled_wait))
    stack.enter_context(mock.patch.object(Timestamp, "_get_wait_seconds", utc_timestamp_wait_seconds))
    stack.enter_context(
        mock.patch.object(
            DynamoHandler, "call_action", _one_dynamodb_request_at_a_time(DynamoHandler.call_action, on_dynamodb_write)
        )
    )
    _speed_up_step_functions(stack)
    stack.enter_context(mock.patch.object(dynamodb_models, "copy", _NoTableCopies))
    stack.enter_context(
        mock.patch.object(
            dynamodb_models.DynamoDBBackend,
            "transact_write_items",
            _rolled_back_item_by_item(dynamodb_models.DynamoDBBackend.transact_write_items),
        )
    )
    return stack
