"""A restock to many at SES's pace, end to end: a local SES that refuses more than 20 emails a
second (STOREFLOWS_LOCAL_SES_RATE). 2,000 contacts asked to be told: one run tells them all,
each once, none failed, never faster than the rate, those who asked first first. Then a
restock that sells out while its alerts go out: once it is sold out nothing more is sent."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import requests
from conftest import local_stack

from storeflows.messaging.batches import PAGE_SIZE, SENDERS
from storeflows.records import Message, MessageContent, Purpose, Sender, Store
from storeflows.workflows import Workflow, WorkflowStatus
from storeflows.workflows.templates.back_in_stock import BackInStockSettings
from storeflows_local.signing import post_event
from storeflows_local.waiting import state_machine_arn, wait_for

pytestmark = pytest.mark.e2e

SES_RATE = 20
ASKED = 2000


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with local_stack(tmp_path_factory, STOREFLOWS_LOCAL_SES_RATE=str(SES_RATE)) as started:
        yield started


@pytest.fixture
def restock_store(stack, storage) -> str:
    store_id = f"restock-{uuid.uuid4().hex[:8]}"
    storage.stores.put_store(
        Store(store_id=store_id, webhook_secret=stack.webhook_secret, unsubscribe_key=uuid.uuid4().hex)
    )
    storage.messages.put_message(
        Message(
            store_id=store_id,
            message_id="back",
            purpose=Purpose.TRANSACTIONAL,
            sender=Sender(name="Shop", address="shop@storeflows.test"),
            variants={"en": MessageContent(subject="back", html="<p>It is back</p>", text="It is back")},
        )
    )
    storage.workflows.put_workflow(
        Workflow(
            store_id=store_id,
            workflow_id="restock",
            status=WorkflowStatus.PUBLISHED,
            settings=BackInStockSettings(requested_message="back"),
        )
    )
    return store_id


def put_product(stack, store: str, product_id: str, stock: int) -> None:
    body = {
        "type": "product",
        "product": {
            "product_id": product_id,
            "name": "Venise dress",
            "currency": "EUR",
            "variants": [{"variant_id": f"{product_id}-m", "price": "100.00", "inventory_quantity": stock}],
        },
    }
    assert post_event(stack.api_url, store, stack.webhook_secret, body).status_code == 202
    from storeflows.storage import products

    wait_for(
        lambda: (found := products.get_product(store, product_id)) and found.variants[0].inventory_quantity == stock,
        what=f"{product_id} at {stock} in stock",
    )


def ask(store: str, product_id: str, emails: list[str]) -> None:
    """Each asked, a millisecond apart, in this order (written as the dispatcher writes a
    request: the profile, then the request; the API's path is tested elsewhere)."""
    from storeflows.storage import contacts, interest

    first = datetime.now(UTC) - timedelta(hours=1)

    def one(index: int) -> None:
        contacts.start_profile(store, emails[index])
        assert interest.record_request(
            store,
            emails[index],
            product_id=product_id,
            variant_id=f"{product_id}-m",
            at=first + timedelta(milliseconds=index),
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, range(len(emails))))


def busiest_second(moments: list[float]) -> int:
    ordered = sorted(moments)
    return max(sum(1 for other in ordered[index:] if other < start + 1.0) for index, start in enumerate(ordered))


def alert_runs(store: str) -> list[dict]:
    sfn = boto3.client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn("_back_in_stock"))
    return [run for page in pages for run in page["executions"] if run["name"].startswith(store)]


def sent_to(stack, emails: list[str]) -> list[dict]:
    """What the local SES accepted for these addresses, in the order it did (the whole outbox
    is parsed: read once a test has ended, not polled)."""
    wanted = set(emails)
    everything = requests.get(f"{stack.api_url}/_local/outbox", timeout=120).json()
    return [mail for mail in everything if mail["to"] in wanted]


def told(store: str, product_id: str, asked: int) -> int:
    """How many of those who asked were told so far: a told request leaves the index (one Query)."""
    from storeflows.storage import interest

    open_requests, cursor, pages = 0, None, True
    while pages:
        found, cursor = interest.interested_in(
            store,
            product_id=product_id,
            kinds=["requested"],
            since=datetime.now(UTC) - timedelta(days=1),
            cursor=cursor,
            limit=1000,
        )
        open_requests += len(found)
        pages = cursor is not None
    return asked - open_requests


def test_a_restock_for_2000_who_asked_tells_each_once_at_the_ses_rate(stack, storage, restock_store):
    store, product_id = restock_store, "dress"
    put_product(stack, store, product_id, 0)
    emails = [f"c{index:04d}-{store}@example.com" for index in range(ASKED)]
    ask(store, product_id, emails)

    started = time.monotonic()
    put_product(stack, store, product_id, 1000)

    # Polled gently: the probe must not slow the stack it measures.
    wait_for(
        lambda: (runs := alert_runs(store)) and runs[0]["status"] != "RUNNING" and runs,
        timeout=ASKED / SES_RATE * 2,
        interval=5.0,
        what="the restock's run",
    )
    wall = time.monotonic() - started
    ((run),) = alert_runs(store)
    assert run["status"] == "SUCCEEDED"
    sent = sent_to(stack, emails)
    assert Counter(mail["to"] for mail in sent) == dict.fromkeys(emails, 1), "each told once"
    accepted = {mail["to"]: datetime.fromisoformat(mail["accepted_at"]).timestamp() for mail in sent}
    assert busiest_second(list(accepted.values())) <= SES_RATE
    in_order = sorted(emails, key=lambda email: accepted[email])
    # Those who asked first are told first, within a page (100): the few emails in flight go in
    # any order, and a page paused by SES (Throttling) is read again, its rest after them.
    assert all(abs(in_order.index(email) - index) < PAGE_SIZE for index, email in enumerate(emails))
    print(f"\n{ASKED} alerts: all sent in {wall:.1f} s ({ASKED / wall:.1f} a second) by one run")


def test_a_restock_selling_out_while_its_alerts_go_out_sends_nothing_more(stack, storage, restock_store):
    store, product_id = restock_store, "scarf"
    put_product(stack, store, product_id, 0)
    emails = [f"s{index:03d}-{store}@example.com" for index in range(300)]
    ask(store, product_id, emails)
    put_product(stack, store, product_id, 200)

    wait_for(lambda: told(store, product_id, len(emails)) >= 40, timeout=30, interval=0.2, what="the first 40 alerts")
    put_product(stack, store, product_id, 0)
    told_when_sold_out = told(store, product_id, len(emails))

    wait_for(lambda: (runs := alert_runs(store)) and runs[0]["status"] != "RUNNING", timeout=30, what="the run")
    ((run),) = alert_runs(store)
    assert run["status"] == "SUCCEEDED"
    sent = sent_to(stack, emails)
    # The stock is re-read before each email: at most those in flight then go.
    assert told_when_sold_out <= len(sent) <= told_when_sold_out + SENDERS
    assert len(sent) < len(emails)
    assert sorted(mail["to"] for mail in sent) == emails[: len(sent)], "the first who asked, none twice"
    time.sleep(2)
    assert len(sent_to(stack, emails)) == len(sent), "nothing after the run ended"
