"""End-to-end fixtures: one local stack per test process, driven over HTTP like a store.

The stack runs as a subprocess (`python -m storeflows_local serve`, what `make dev` runs);
this process reaches its moto through AWS_ENDPOINT_URL, with the code path used in AWS."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SHOPIFY_SECRET = "e2e-shopify-secret"
WOOCOMMERCE_SECRET = "e2e-woocommerce-secret"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
STARTUP_SECONDS = 60
# Four workflow days per real second: long waits stay short, ordering stays observable.
TIME_SCALE = 4 * 86400
SESSION_TIMEOUT = 2


@dataclass
class Stack:
    api_url: str
    aws_endpoint_url: str
    time_scale: float
    state_machine_arn: str
    event_queue_url: str
    shopify_secret: str = SHOPIFY_SECRET
    webhook_secret: str = WEBHOOK_SECRET
    woocommerce_secret: str = WOOCOMMERCE_SECRET
    local_file: str = ""  # the stack's .storeflows/local.json, for the storeflows CLI
    session_timeout: float = SESSION_TIMEOUT  # seconds without activity that end a site session

    def outbox(self, to: str) -> list[dict]:
        return requests.get(f"{self.api_url}/_local/outbox", params={"to": to}, timeout=10).json()

    def contact(self, email: str, store_id: str = "demo") -> dict | None:
        response = requests.get(f"{self.api_url}/_local/contacts/{store_id}/{email}", timeout=10)
        return response.json() if response.status_code == 200 else None


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    with local_stack(tmp_path_factory) as started:
        yield started


@contextlib.contextmanager
def local_stack(tmp_path_factory, **extra_env: str) -> Iterator[Stack]:
    """A local stack of its own, its subprocess given `extra_env` too (a test module that needs
    another setting of the stack overrides `stack` with one: tests/e2e/test_send_pacing.py)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "storeflows"), str(ROOT / "local")]),
        "STOREFLOWS_DEMO_SHOPIFY_SECRET": SHOPIFY_SECRET,
        "STOREFLOWS_DEMO_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STOREFLOWS_DEMO_WOOCOMMERCE_SECRET": WOOCOMMERCE_SECRET,
        "STOREFLOWS_TIME_SCALE": str(TIME_SCALE),
        # Site sessions end after 2 s without activity (tests/e2e/test_session_abandonment.py).
        "STOREFLOWS_SESSION_TIMEOUT": str(SESSION_TIMEOUT),
        # Never the repo's .storeflows/local.json: that one is `make dev`'s.
        "STOREFLOWS_LOCAL_FILE": str(tmp_path_factory.mktemp("stack") / "local.json"),
        # Nor its kept state: every test run starts from an empty table.
        "STOREFLOWS_KEEP_STATE": "0",
        **extra_env,
    }
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "storeflows_local", "serve", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    ready: dict = {}

    started = threading.Event()

    def read_ready_line_then_drain() -> None:
        # Read to the end: what the stack logs after READY (a warning per failed function
        # attempt, e.g. every SendThrottled of a burst) would otherwise fill the pipe, and the
        # stack's next log line would block it for good.
        for line in process.stdout:
            if line.startswith("READY "):
                ready.update(json.loads(line[len("READY ") :]))
                started.set()

    threading.Thread(target=read_ready_line_then_drain, daemon=True).start()
    started.wait(STARTUP_SECONDS)
    if not ready:
        process.kill()
        pytest.fail(f"local stack did not start within {STARTUP_SECONDS}s (exit code {process.poll()})")
    saved = {
        name: os.environ.get(name)
        for name in (
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
            "TABLE_NAME",
        )
    }
    os.environ.update(
        AWS_ENDPOINT_URL=ready["aws_endpoint_url"],
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION="us-east-1",
        TABLE_NAME="storeflows-local-Table",
    )
    machines = boto3.client("stepfunctions").list_state_machines()["stateMachines"]
    queue_url = boto3.client("sqs").get_queue_url(QueueName="storeflows-local-EventQueue")["QueueUrl"]
    try:
        yield Stack(
            api_url=ready["api_url"],
            aws_endpoint_url=ready["aws_endpoint_url"],
            time_scale=ready["time_scale"],
            state_machine_arn=next(
                m["stateMachineArn"] for m in machines if m["name"].endswith("_targeted_post_purchase")
            ),
            event_queue_url=queue_url,
            local_file=env["STOREFLOWS_LOCAL_FILE"],
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def storeflows(stack):
    """storeflows(*ARGS, ok=True): the `storeflows` CLI as a subprocess, the way an operator runs
    it, against the test's stack (its local.json, never `make dev`'s)."""

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "STOREFLOWS_"))}
        env.update(
            PYTHONPATH=os.pathsep.join([str(ROOT / "layers" / "storeflows"), str(ROOT / "local")]),
            STOREFLOWS_LOCAL_FILE=stack.local_file,
        )
        result = subprocess.run(
            [sys.executable, "-m", "storeflows_cli", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (result.returncode == 0) == ok, (
            f"storeflows {' '.join(args)}: {result.returncode}\n{result.stdout}{result.stderr}"
        )
        return result

    return run


@pytest.fixture
def email() -> str:
    """A customer of their own for each test, so tests never see each other's mail."""
    return f"customer-{uuid.uuid4().hex[:10]}@example.com"


@pytest.fixture
def storage(stack):
    """The product's own storage package (storage.stores, storage.contacts, ...), pointed at
    the local stack's DynamoDB."""
    import importlib

    from storeflows import aws, config
    from storeflows import storage as package

    config.settings.cache_clear()
    aws.client.cache_clear()
    aws.dynamodb_table.cache_clear()
    for module in ("stores", "workflows", "messages", "contacts", "orders", "sends", "reports", "privacy", "coupons"):
        importlib.import_module(f"storeflows.storage.{module}")
    return package


@pytest.fixture
def store_with_workflow(stack, storage):
    """A store of its own with one published workflow and simple messages whose subject is
    the message id, so a test reads which message went out. `coupons` gives messages a
    coupon (message id -> records.Message.coupon); their body then shows "code: <code>"."""
    from storeflows.records import Message, MessageContent, Purpose, Sender, Store
    from storeflows.workflows import Workflow, WorkflowStatus

    def create(settings, purposes: dict[str, str], workflow_id: str = "wf", coupons: dict | None = None) -> str:
        store_id = f"shop-{uuid.uuid4().hex[:8]}"
        storage.stores.put_store(
            Store(
                store_id=store_id,
                name="Test Shop",
                webhook_secret=stack.webhook_secret,
                shopify_secret=stack.shopify_secret,
                unsubscribe_key=uuid.uuid4().hex,
            )
        )
        for message_id, purpose in purposes.items():
            coupon = (coupons or {}).get(message_id)
            block = "{% if coupon %} code: {{ coupon.code }}{% endif %}" if coupon else ""
            storage.messages.put_message(
                Message(
                    store_id=store_id,
                    message_id=message_id,
                    purpose=Purpose(purpose),
                    sender=Sender(name="Test Shop", address="shop@storeflows.test"),
                    variants={
                        "en": MessageContent(
                            subject=message_id,
                            html="<p>{{ contact.first_name }}" + block + "</p>",
                            text="{{ contact.first_name }}" + block,
                        )
                    },
                    coupon=coupon,
                )
            )
        storage.workflows.put_workflow(
            Workflow(store_id=store_id, workflow_id=workflow_id, status=WorkflowStatus.PUBLISHED, settings=settings)
        )
        return store_id

    return create
