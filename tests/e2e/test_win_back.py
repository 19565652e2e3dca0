"""The win-back template end to end with waits passed by the time scale (4 days a second):
the series after `after` without another purchase, a purchase meanwhile skipping the rest
while its own run starts the clock again, and `after: median` learning the store's interval
between a customer's orders (90 days until 20 were counted)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from storeflows.workflows.runs import run_name
from storeflows.workflows.templates.win_back import WinBackSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for, wait_for_run

pytestmark = pytest.mark.e2e

MESSAGES = {"miss-you": "marketing", "last-offer": "marketing"}
STEPS = [{"message": "miss-you"}, {"message": "last-offer", "wait": "8d"}]


def subjects(stack, email):
    return [m["subject"] for m in stack.outbox(email)]


def buy(stack, store, order_id, email, *, at: datetime | None = None):
    body = purchase(order_id, email)
    if at is not None:
        body["occurred_at"] = at.isoformat()
    assert post_event(stack.api_url, store, stack.webhook_secret, body).status_code == 202


def test_a_customer_silent_for_the_wait_gets_the_series_with_its_coupon(stack, store_with_workflow, email):
    store = store_with_workflow(
        WinBackSettings(after="20d", steps=STEPS),
        MESSAGES,
        coupons={"last-offer": {"type": "static", "code": "BACK15"}},
    )
    buy(stack, store, "1", email)
    machine = state_machine_arn("_win_back")
    assert wait_for_run(machine, run_name(store, "1", "wf"), timeout=40)["status"] == "SUCCEEDED"
    mails = stack.outbox(email)
    assert [m["subject"] for m in mails] == ["miss-you", "last-offer"]
    assert "code: BACK15" in mails[1]["text"]
    first, last = (datetime.fromisoformat(m["sent_at"]) for m in mails)
    # sent_at is to the second.
    assert (last - first).total_seconds() >= 8 * 86400 / stack.time_scale - 1, "the step's wait passed"


def test_a_purchase_during_the_wait_skips_the_old_series_and_starts_a_fresh_one(stack, store_with_workflow, email):
    store = store_with_workflow(WinBackSettings(after="12d", steps=STEPS), MESSAGES)
    buy(stack, store, "1", email)
    wait_for(lambda: stack.contact(email, store_id=store), what="the first order")
    buy(stack, store, "2", email)
    machine = state_machine_arn("_win_back")
    for order_id in ("1", "2"):
        assert wait_for_run(machine, run_name(store, order_id, "wf"), timeout=40)["status"] == "SUCCEEDED"
    assert subjects(stack, email) == ["miss-you", "last-offer"], "only the second order's series went out"
    sends = stack.contact(email, store_id=store)["sends"]
    skipped = [(s["subject"], s["message_id"], s.get("reason")) for s in sends]
    assert sorted(entry for entry in skipped if entry[2]) == [
        ("1", "last-offer", "bought_since"),
        ("1", "miss-you", "bought_since"),
    ]


def test_after_median_waits_90_days_until_20_repeat_intervals_then_the_stores_median(stack, store_with_workflow):
    store = store_with_workflow(WinBackSettings(after="median", steps=STEPS[:1]), MESSAGES)
    machine = state_machine_arn("_win_back")
    sfn = boto3.client("stepfunctions")

    def waited(order_id: str, email: str) -> int:
        execution = wait_for(
            lambda: next(
                (
                    e
                    for e in sfn.list_executions(stateMachineArn=machine)["executions"]
                    if e["name"] == run_name(store, order_id, "wf")
                ),
                None,
            ),
            what=f"the run of {order_id}",
        )
        started = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
        return started["win_back_after"]

    # 19 customers who came back after 10 days (and one after 30): too few to go by.
    long_ago = datetime.now(UTC) - timedelta(days=300)
    customers = [f"repeat-{n}-{uuid.uuid4().hex[:6]}@example.com" for n in range(20)]
    for n, customer in enumerate(customers[:19]):
        buy(stack, store, f"a{n}", customer, at=long_ago)
        wait_for(lambda c=customer: stack.contact(c, store_id=store), what="a first order")
        buy(stack, store, f"b{n}", customer, at=long_ago + timedelta(days=10 if n else 30))
    assert waited("b18", customers[18]) == 90 * 86400
    buy(stack, store, "a19", customers[19], at=long_ago)
    wait_for(lambda: stack.contact(customers[19], store_id=store), what="a first order")
    buy(stack, store, "b19", customers[19], at=long_ago + timedelta(days=10))
    assert waited("b19", customers[19]) == 10 * 86400, "the 20th interval: the median, 10 days"
