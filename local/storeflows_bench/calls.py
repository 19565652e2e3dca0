"""Every AWS API call this process makes, and who made it.

A botocore `before-call` hook on every client (installed by wrapping
`botocore.session.Session.create_client`, which every boto3 client goes through) records
each call with its source:

- a function: the call happened while one of the handlers ran (they run in the thread that
  invoked them: the HTTP API, the SQS poller or Step Functions' Lambda integration);
- the state machine: the client was created by moto's Step Functions engine, which makes
  the ASL's service integrations (DynamoDB, Lambda invoke) through boto3, as AWS would;
- the event source mapping: the SQS poller's own receives and deletes (Lambda's, in AWS);
- SES event publishing: the SNS publishes of the configuration set's engagement events
  (SES makes them, the topic's owner is billed for them);
- the local stack: everything else (creating resources, the bench reading histories).

The first two and the third are the product's calls. `before-send` counts HTTP attempts as well, so
a retry (billed in AWS) would show as attempts above calls."""

from __future__ import annotations

import contextvars
import functools
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any
from unittest import mock

import botocore.session

from storeflows_bench.dynamodb import RETURNS_ITEMS, item_size
from storeflows_local.ses_events import PUBLISHER_THREAD
from storeflows_local.stack import POLLER_THREAD_PREFIX

STATE_MACHINE = "state machine"
EVENT_SOURCE_MAPPING = "event source mapping"
SES_EVENT_PUBLISHING = "SES event publishing"
LOCAL_STACK = "local stack"
FUNCTION_PREFIX = "function:"
_STEP_FUNCTIONS_ENGINE = "moto.stepfunctions.parser"


def classify(*, created_by_state_machine: bool, function: str | None, thread_name: str) -> str:
    """Who a call belongs to; see the module docstring."""
    if created_by_state_machine:
        return STATE_MACHINE
    if function is not None:
        return FUNCTION_PREFIX + function
    if thread_name.startswith(POLLER_THREAD_PREFIX):
        return EVENT_SOURCE_MAPPING
    if thread_name == PUBLISHER_THREAD:
        return SES_EVENT_PUBLISHING
    return LOCAL_STACK


def is_product(source: str) -> bool:
    """Calls AWS would bill to the product's own design: its functions, its state machines,
    and the engagement events its configuration set publishes."""
    return source in (STATE_MACHINE, SES_EVENT_PUBLISHING) or source.startswith(FUNCTION_PREFIX)


@dataclass
class Call:
    source: str
    service: str
    operation: str
    # The DynamoDB request as sent (low-level attribute values), for capacity units.
    request: dict[str, Any] | None = None
    # Sizes of the items a DynamoDB Query, Scan or BatchGetItem returned.
    returned_item_sizes: list[int] | None = None
    part: str = ""  # the part of the bench it was made in (Ledger.begin)


@dataclass
class Invocation:
    function: str
    event: Any
    seconds: float
    failed: bool
    calls: list[Call] = field(default_factory=list)
    log_bytes: int = 0
    log_events: int = 0
    part: str = ""


class Ledger:
    """The calls and invocations of one run of the bench, each marked with the part of the
    bench (purchases, browsing...) it was made in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # The invocation under way: a context variable, so the threads a handler starts with
        # its context (a catalogue alert batch's senders) are counted in its invocation.
        self._invocation: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar(
            f"bench-invocation-{id(self)}", default=None
        )
        self.calls: list[Call] = []
        self.attempts: Counter[str] = Counter()  # source -> HTTP requests sent
        self.invocations: list[Invocation] = []
        self.part = ""
        self._attempts_by_part: dict[str, Counter[str]] = {}

    def begin(self, part: str) -> None:
        """What follows belongs to `part`. Call it when the stack is quiet (nothing queued,
        no run running), so nothing of the previous part is still under way."""
        with self._lock:
            self.part = part

    def of_part(self, part: str) -> Ledger:
        """The calls and invocations of one part, as a ledger of their own."""
        view = Ledger()
        with self._lock:
            view.calls = [call for call in self.calls if call.part == part]
            view.invocations = [invocation for invocation in self.invocations if invocation.part == part]
            view.attempts = Counter(self._attempts_by_part.get(part, Counter()))
        view.part = part
        return view

    # --- handlers ----------------------------------------------------------------------------

    def instrument(self, function: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        """A stack.Instrument: counts the invocation, times it and collects its calls."""

        @functools.wraps(handler)
        def measured(event: Any, context: Any) -> Any:
            invocation = Invocation(function=function, event=event, seconds=0.0, failed=False, part=self.part)
            token = self._invocation.set(invocation)
            started = time.perf_counter()
            try:
                return handler(event, context)
            except Exception:
                invocation.failed = True
                raise
            finally:
                invocation.seconds = time.perf_counter() - started
                self._invocation.reset(token)
                with self._lock:
                    self.invocations.append(invocation)

        return measured

    def current_invocation(self) -> Invocation | None:
        return self._invocation.get()

    # --- botocore hooks ------------------------------------------------------------------------

    def _source(self, created_by_state_machine: bool) -> str:
        invocation = self.current_invocation()
        return classify(
            created_by_state_machine=created_by_state_machine,
            function=invocation.function if invocation else None,
            thread_name=threading.current_thread().name,
        )

    def _before_call(self, created_by_state_machine: bool, model, params, context, **_: Any) -> None:
        service = model.service_model.service_name
        request = json.loads(params["body"]) if service == "dynamodb" and params.get("body") else None
        call = Call(self._source(created_by_state_machine), service, model.name, request, part=self.part)
        context["bench_call"] = call
        invocation = self.current_invocation()
        with self._lock:
            self.calls.append(call)
            if invocation is not None:
                invocation.calls.append(call)

    @staticmethod
    def _after_call(http_response, context, **_: Any) -> None:
        call = context.get("bench_call")
        if call is not None and call.service == "dynamodb" and call.operation in RETURNS_ITEMS:
            # The raw answer: boto3's resources turn `parsed` into Python values first.
            answer = json.loads(http_response.content)
            items = answer.get("Items") or [item for items in answer.get("Responses", {}).values() for item in items]
            call.returned_item_sizes = [item_size(item) for item in items]

    def _before_send(self, created_by_state_machine: bool, **_: Any) -> None:
        source = self._source(created_by_state_machine)
        with self._lock:
            self.attempts[source] += 1
            self._attempts_by_part.setdefault(self.part, Counter())[source] += 1

    def _watch(self, client: Any) -> None:
        created_by_state_machine = _created_by_step_functions_engine()
        client.meta.events.register("before-call", functools.partial(self._before_call, created_by_state_machine))
        client.meta.events.register("before-send", functools.partial(self._before_send, created_by_state_machine))
        client.meta.events.register("after-call", self._after_call)

    # --- summaries -----------------------------------------------------------------------------

    def count(self, *, product_only: bool = True) -> Counter[tuple[str, str, str]]:
        """(source, service, operation) -> number of calls."""
        with self._lock:
            return Counter(
                (c.source, c.service, c.operation) for c in self.calls if is_product(c.source) or not product_only
            )

    def retried_attempts(self) -> int:
        """HTTP attempts beyond one per call, over the product's calls."""
        with self._lock:
            calls = sum(1 for c in self.calls if is_product(c.source))
            attempts = sum(n for source, n in self.attempts.items() if is_product(source))
        return attempts - calls


def _created_by_step_functions_engine() -> bool:
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith(_STEP_FUNCTIONS_ENGINE):
            return True
        frame = frame.f_back
    return False


@contextmanager
def recording(ledger: Ledger) -> Iterator[Ledger]:
    """Watches every botocore client created inside the block (create the stack inside it)."""
    create_client = botocore.session.Session.create_client

    def watched_create_client(session, *args: Any, **kwargs: Any):
        client = create_client(session, *args, **kwargs)
        ledger._watch(client)
        return client

    with mock.patch.object(botocore.session.Session, "create_client", watched_create_client):
        yield ledger
