"""The review request end to end with waits passed by the time scale (4 days a second): a
reported delivery, then `after`, with a review link per product; no delivery reported, the
request `after` the purchase; a cancelled order, nothing."""

from __future__ import annotations

from datetime import datetime

import pytest

from storeflows.records import Message, MessageContent, Purpose, Sender
from storeflows.workflows.runs import run_name
from storeflows.workflows.templates.review_request import ReviewRequestSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for, wait_for_run, wait_until_quiet

pytestmark = pytest.mark.e2e

ITEMS = [
    {"sku": "VENISE-DRESS", "product_id": "venise", "name": "Venise dress", "quantity": 1, "price": "129.90"},
    {"sku": "SILK-SCARF", "product_id": "silk scarf", "name": "Silk scarf", "quantity": 1, "price": "35.50"},
    {"name": "Gift wrap", "quantity": 1, "price": "2.00"},
]
PATTERN = "https://shop.example/products/{product_id}/reviews?order={order_id}"


def settings(**overrides) -> ReviewRequestSettings:
    return ReviewRequestSettings(
        **{"message": "review", "review_url": PATTERN, "after": "8d", "delivery_timeout": "12d", "check_every": "1d"}
        | overrides
    )


@pytest.fixture
def review_store(stack, store_with_workflow, storage):
    def create(**overrides) -> str:
        store = store_with_workflow(settings(**overrides), {"review": "marketing"})
        storage.messages.put_message(
            Message(
                store_id=store,
                message_id="review",
                purpose=Purpose.MARKETING,
                sender=Sender(name="Test Shop", address="shop@storeflows.test"),
                variants={
                    "en": MessageContent(
                        subject="review",
                        html="<p>x</p>",
                        text="{% for item in order.items %}{{ item.name }}: {{ item.review_url or 'no link' }}\n"
                        "{% endfor %}{{ unsubscribe_url }}",
                    )
                },
            )
        )
        return store

    return create


def post(stack, store, body):
    assert post_event(stack.api_url, store, stack.webhook_secret, body).status_code == 202


def test_a_delivered_order_gets_a_review_link_per_product_after_the_wait(stack, review_store, email):
    store = review_store(delivery_timeout="40d")
    post(stack, store, purchase("A/1", email, items=ITEMS))
    wait_for(lambda: stack.contact(email, store_id=store), what="the order")
    post(stack, store, {"type": "delivered", "order": {"id": "A/1"}, "customer": {"email": email}})
    delivered = datetime.now().astimezone()
    execution = wait_for_run(state_machine_arn("_review_request"), run_name(store, "A/1", "wf"), timeout=20)
    assert execution["status"] == "SUCCEEDED"
    [mail] = stack.outbox(email)
    assert mail["text"].splitlines()[:3] == [
        "Venise dress: https://shop.example/products/venise/reviews?order=A%2F1",
        "Silk scarf: https://shop.example/products/silk%20scarf/reviews?order=A%2F1",
        "Gift wrap: no link",
    ]
    # 8 days after the delivery (2 s), long before the 40-day timeout (10 s); sent_at is to the second.
    waited = (datetime.fromisoformat(mail["sent_at"]) - delivered).total_seconds()
    assert 8 * 86400 / stack.time_scale - 1 <= waited < 20 * 86400 / stack.time_scale


def test_without_a_delivery_report_the_request_goes_after_the_purchase(stack, review_store, email):
    store = review_store(after="16d", delivery_timeout="4d")
    post(stack, store, purchase("1", email, items=ITEMS[:1]))
    bought = datetime.now().astimezone()
    execution = wait_for_run(state_machine_arn("_review_request"), run_name(store, "1", "wf"), timeout=20)
    assert execution["status"] == "SUCCEEDED"
    [mail] = stack.outbox(email)
    waited = (datetime.fromisoformat(mail["sent_at"]) - bought).total_seconds()
    # 16 days (4 s), not 4 + 16 (5 s); sent_at is to the second.
    assert 16 * 86400 / stack.time_scale - 1 <= waited < 19 * 86400 / stack.time_scale


def test_a_cancelled_order_gets_no_review_request(stack, review_store, email):
    store = review_store()
    post(stack, store, purchase("1", email, items=ITEMS[:1]))
    wait_for(lambda: stack.contact(email, store_id=store), what="the order")
    post(stack, store, {"type": "cancelled", "order": {"id": "1"}, "customer": {"email": email}})
    execution = wait_for_run(state_machine_arn("_review_request"), run_name(store, "1", "wf"), timeout=20)
    assert execution["status"] == "ABORTED", "the cancellation stopped the run"
    wait_until_quiet(stack.event_queue_url, state_machine_arn("_review_request"))
    assert stack.outbox(email) == []
