"""Template 4, post-purchase by order value (seed 002), end to end."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from storeflows.workflows.runs import run_name
from storeflows.workflows.templates.order_value import OrderValueSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for, wait_for_run, wait_until_quiet

pytestmark = pytest.mark.e2e

TIERS = [
    {"min_total": "0", "max_total": "200", "message": "small"},
    {"min_total": "200", "max_total": "500", "message": "medium"},
    {"min_total": "500", "max_total": "1000", "message": "large"},
    {"min_total": "1000", "message": "vip"},
]
BLOCKS = (
    "<h2>You bought</h2>{% for item in order['items'] %}<p>{{ item.name }}</p>{% endfor %}"
    "<h2>Best sellers</h2>{% for product in bestsellers(3) %}<p>best:{{ product.name }}</p>{% endfor %}"
)


@pytest.fixture
def value_store(stack, storage):
    from storeflows.records import Message, MessageContent, Purpose, Sender, Store
    from storeflows.workflows import Workflow, WorkflowStatus

    def create(**settings) -> str:
        import uuid

        store_id = f"value-{uuid.uuid4().hex[:8]}"
        storage.stores.put_store(
            Store(store_id=store_id, webhook_secret=stack.webhook_secret, unsubscribe_key=uuid.uuid4().hex)
        )
        for tier in ("small", "medium", "large", "vip"):
            storage.messages.put_message(
                Message(
                    store_id=store_id,
                    message_id=tier,
                    purpose=Purpose.MARKETING,
                    sender=Sender(name="Shop", address="shop@storeflows.test"),
                    default_language="en",
                    variants={
                        "en": MessageContent(subject=f"{tier}: thank you", html=BLOCKS, text="thanks"),
                        "pl": MessageContent(subject=f"{tier}: dziękujemy", html=BLOCKS, text="dzięki"),
                    },
                )
            )
        storage.workflows.put_workflow(
            Workflow(
                store_id=store_id,
                workflow_id="wf",
                status=WorkflowStatus.PUBLISHED,
                settings=OrderValueSettings(tiers=TIERS, **settings),
            )
        )
        return store_id

    return create


def subjects(stack, email):
    return [m["subject"] for m in stack.outbox(email)]


@pytest.mark.parametrize(
    ("total", "tier"),
    [("19.99", "small"), ("200.00", "medium"), ("999.99", "large"), ("1000", "vip"), ("25000.00", "vip")],
)
def test_each_value_tier_gets_its_own_message(stack, value_store, email, total, tier):
    store = value_store()
    post_event(stack.api_url, store, stack.webhook_secret, purchase("1", email, total=total, language="en-US"))
    wait_for_run(state_machine_arn("_order_value"), run_name(store, "1", "wf"))
    assert subjects(stack, email) == [f"{tier}: thank you"]


def test_the_language_variant_follows_the_browser_language_with_a_fallback(stack, value_store, email):
    store = value_store()
    post_event(stack.api_url, store, stack.webhook_secret, purchase("1", email, language="pl-PL", country="DE"))
    post_event(stack.api_url, store, stack.webhook_secret, purchase("2", "x" + email, language="it-IT", country="PL"))
    wait_for_run(state_machine_arn("_order_value"), run_name(store, "1", "wf"))
    wait_for_run(state_machine_arn("_order_value"), run_name(store, "2", "wf"))
    assert subjects(stack, email) == ["small: dziękujemy"], "Polish browser in Germany reads Polish"
    assert subjects(stack, "x" + email) == ["small: thank you"], "no Italian variant: the English fallback"


def test_the_delay_after_purchase_holds_the_message_back(stack, value_store, email):
    store = value_store(delay_after_purchase="12d")
    started = time.monotonic()
    post_event(stack.api_url, store, stack.webhook_secret, purchase("1", email, language="en"))
    wait_for_run(state_machine_arn("_order_value"), run_name(store, "1", "wf"))
    assert time.monotonic() - started >= 2.5, "12 days at four days per second"
    assert subjects(stack, email) == ["small: thank you"]


def test_not_more_often_than_lets_one_of_two_simultaneous_purchases_through(stack, value_store, email):
    store = value_store(not_more_often_than="7d")
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda order_id: post_event(stack.api_url, store, stack.webhook_secret, purchase(order_id, email)),
                ["1", "2"],
            )
        )
    assert [a.status_code for a in answers] == [202, 202]
    for order_id in ("1", "2"):
        wait_for_run(state_machine_arn("_order_value"), run_name(store, order_id, "wf"))
    assert len(stack.outbox(email)) == 1
    reasons = [s.get("reason") for s in stack.contact(email, store_id=store)["sends"]]
    assert sorted(reasons, key=str) == [None, "frequency_cap"], "one sent, one skipped by the cap"


def test_purchased_and_bestsellers_blocks(stack, value_store, email):
    store = value_store()
    shopper = "other-" + email
    popular = [
        {"sku": "MUG", "name": "Mug", "quantity": 5, "price": "5"},
        {"sku": "TEE", "name": "Tee", "quantity": 2, "price": "10"},
        {"sku": "CAP", "name": "Cap", "quantity": 1, "price": "10"},
    ]
    post_event(stack.api_url, store, stack.webhook_secret, purchase("0", shopper, items=popular, total="55.00"))
    wait_for_run(state_machine_arn("_order_value"), run_name(store, "0", "wf"))
    post_event(
        stack.api_url,
        store,
        stack.webhook_secret,
        purchase("1", email, items=[{"sku": "MUG", "name": "Mug", "quantity": 1, "price": "5"}], total="5.00"),
    )
    wait_for_run(state_machine_arn("_order_value"), run_name(store, "1", "wf"))
    html = stack.outbox(email)[0]["html"]
    assert "<p>Mug</p>" in html, "PURCHASED: what this customer just bought"
    assert "best:Tee" in html and "best:Cap" in html
    assert "best:Mug" not in html, "BESTSELLERS leaves out what the customer just bought"
    assert html.index("best:Tee") < html.index("best:Cap"), "best first"


def test_an_order_in_a_gap_between_tiers_starts_no_run(stack, storage, value_store, email):
    from storeflows.workflows import Workflow, WorkflowStatus

    store = value_store()
    storage.workflows.put_workflow(
        Workflow(
            store_id=store,
            workflow_id="wf",
            status=WorkflowStatus.PUBLISHED,
            settings=OrderValueSettings(tiers=[{"min_total": "100", "message": "vip"}]),
        )
    )
    post_event(stack.api_url, store, stack.webhook_secret, purchase("1", email, total="50.00"))
    wait_for(lambda: stack.contact(email, store_id=store), what="the purchase to be recorded")
    wait_until_quiet(stack.event_queue_url, state_machine_arn("_order_value"))
    assert stack.outbox(email) == []
