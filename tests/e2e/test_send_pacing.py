"""Sending at SES's pace, end to end: a local SES that refuses more than 20 emails a second
(STOREFLOWS_LOCAL_SES_RATE, SES's own Throttling error) and a burst of 300 sends at once. The
SES pacer spreads them out: all sent, none failed, none twice, no second over the rate."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal

import boto3
import pytest
from conftest import local_stack

from storeflows.workflows.runs import run_name
from storeflows.workflows.templates.order_value import OrderValueSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for

pytestmark = pytest.mark.e2e

SES_RATE = 20
WORKFLOWS = ("thanks-a", "thanks-b", "thanks-c")  # each thanks at once for every purchase
PURCHASES = 100  # x 3 workflows: 300 sends at once
HELD_SECONDS = 6


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with local_stack(tmp_path_factory, STOREFLOWS_LOCAL_SES_RATE=str(SES_RATE)) as started:
        yield started


@pytest.fixture
def thanking_store(stack, storage) -> str:
    from storeflows.records import Message, MessageContent, Purpose, Sender, Store
    from storeflows.workflows import Workflow, WorkflowStatus

    store_id = f"pace-{uuid.uuid4().hex[:8]}"
    storage.stores.put_store(
        Store(store_id=store_id, webhook_secret=stack.webhook_secret, unsubscribe_key=uuid.uuid4().hex)
    )
    for workflow_id in WORKFLOWS:
        storage.messages.put_message(
            Message(
                store_id=store_id,
                message_id=workflow_id,
                purpose=Purpose.TRANSACTIONAL,
                sender=Sender(name="Shop", address="shop@storeflows.test"),
                variants={"en": MessageContent(subject=workflow_id, html="<p>Thank you</p>", text="Thank you")},
            )
        )
        storage.workflows.put_workflow(
            Workflow(
                store_id=store_id,
                workflow_id=workflow_id,
                status=WorkflowStatus.PUBLISHED,
                settings=OrderValueSettings(tiers=[{"min_total": "0", "message": workflow_id}]),
            )
        )
    return store_id


def busiest_second(moments: list[float]) -> int:
    """The most moments in any window [t, t + 1 s)."""
    ordered = sorted(moments)
    return max(sum(1 for other in ordered[index:] if other < start + 1.0) for index, start in enumerate(ordered))


def test_a_burst_beyond_the_ses_rate_is_all_sent_once_and_never_faster(stack, storage, thanking_store):
    store = thanking_store
    customers = [f"pace-{store}-{number}@example.com" for number in range(PURCHASES)]
    # The account's next HELD_SECONDS are taken (an earlier burst): every run reaches its send
    # step while the pacer is full, so the 300 sends meet there at once, whatever this
    # machine's speed of starting runs.
    held_until = time.time() + HELD_SECONDS
    storage.dynamodb.table().put_item(Item={**storage.keys.ses_pacer_key(), "next_at": Decimal(f"{held_until:.6f}")})
    started = time.monotonic()

    def buy(number: int) -> int:
        order = purchase(f"P-{number}", customers[number], total="25.00", language="en")
        return post_event(stack.api_url, store, stack.webhook_secret, order).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(buy, range(PURCHASES))) == {202}

    sfn = boto3.client("stepfunctions")
    machine = state_machine_arn("_order_value")
    runs = [
        machine.replace(":stateMachine:", ":execution:") + f":{run_name(store, f'P-{number}', workflow_id)}"
        for number in range(PURCHASES)
        for workflow_id in WORKFLOWS
    ]

    def ended(status: str) -> int:
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine, statusFilter=status)
        return sum(len(page["executions"]) for page in pages)

    # Polled gently: this test measures the stack's pace, the probe must not slow it down.
    wait_for(lambda: ended("SUCCEEDED") + ended("FAILED") >= len(runs), timeout=55, interval=1.0, what="300 runs")
    wall = time.monotonic() - started
    statuses = Counter(sfn.describe_execution(executionArn=run)["status"] for run in runs)
    assert statuses == {"SUCCEEDED": len(runs)}

    # Every customer got each workflow's thanks exactly once.
    sent = [mail for mail in stack.outbox(None) if mail["to"] in set(customers)]
    assert Counter((mail["to"], mail["subject"]) for mail in sent) == {
        (customer, workflow_id): 1 for customer in customers for workflow_id in WORKFLOWS
    }
    accepted = sorted(datetime.fromisoformat(mail["accepted_at"]).timestamp() for mail in sent)
    busiest = busiest_second(accepted)
    assert busiest <= SES_RATE
    assert accepted[0] >= held_until - 0.01, "nothing went out in the time the pacer had given away"
    # Held back by SendThrottled retries (Step Functions waited), not by failing runs.
    retried = sum(
        any(
            event.get("taskFailedEventDetails", {}).get("error") == "SendThrottled"
            for event in sfn.get_execution_history(executionArn=run, maxResults=1000)["events"]
        )
        for run in runs
    )
    assert retried > 0  # how many depends on how fast this machine starts runs
    print(
        f"\n300 sends: busiest second {busiest}, {retried} runs retried, all sent {wall:.1f} s after the "
        f"first purchase, {accepted[-1] - accepted[0]:.1f} s from the first email to the last"
    )
