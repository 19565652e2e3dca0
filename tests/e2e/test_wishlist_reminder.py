"""The wishlist reminder end to end, waits passed by the time scale: a product put on the
wishlist and not bought is reminded of 7 days later (its name, price, picture and link); one
taken off again, or bought, is not, and with nothing left no email goes."""

from __future__ import annotations

import time

import pytest

from storeflows.workflows.templates.wishlist_reminder import WishlistReminderSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for, wait_until_quiet

pytestmark = pytest.mark.e2e

DRESS = {
    "product_id": "p-1",
    "sku": "VENISE-DRESS",
    "name": "Venise dress",
    "price": "129.90",
    "currency": "EUR",
    "url": "https://shop.example.com/products/venise",
    "image_url": "https://shop.example.com/img/venise.jpg",
}
BAG = {"product_id": "p-2", "sku": "BAG-1", "name": "Linen bag", "price": "39.00", "currency": "EUR"}


@pytest.fixture
def wishlist_store(stack, store_with_workflow, storage):
    from storeflows.records import Message, MessageContent, Purpose, Sender

    store = store_with_workflow(WishlistReminderSettings(reminder_message="wishlist"), {})
    listing = (
        "{% for item in wishlist.items %}"
        "[{{ item.name }} {{ item.price|money(item.currency) }} {{ item.url }} {{ item.image_url }}]"
        "{% endfor %}"
    )
    storage.messages.put_message(
        Message(
            store_id=store,
            message_id="wishlist",
            purpose=Purpose.MARKETING,
            sender=Sender(name="Test Shop", address="shop@storeflows.test"),
            variants={"en": MessageContent(subject="Your wishlist", html=f"<p>{listing}</p>", text=listing)},
        )
    )
    return store


def post(stack, store: str, payload: dict) -> None:
    assert post_event(stack.api_url, store, stack.webhook_secret, payload).status_code == 202


def wishlist(kind: str, email: str, product: dict) -> dict:
    return {"type": f"wishlist_{kind}", "customer": {"email": email}, "product": product}


def consented(stack, store: str, email: str) -> None:
    post(stack, store, {"type": "consent", "marketing": True, "source": "test", "customer": {"email": email}})


def decisions(stack, store: str, email: str) -> list[dict]:
    return (stack.contact(email, store_id=store) or {}).get("sends") or []


def test_a_product_not_bought_is_reminded_of_after_seven_days(stack, wishlist_store, email):
    consented(stack, wishlist_store, email)
    added = time.monotonic()
    post(stack, wishlist_store, wishlist("added", email, DRESS))
    post(stack, wishlist_store, wishlist("added", email, BAG))
    post(stack, wishlist_store, wishlist("removed", email, BAG))
    (mail,) = wait_for(lambda: stack.outbox(email), timeout=15, what="the wishlist reminder")
    assert time.monotonic() - added >= 0.9 * 7 * 86400 / stack.time_scale, "not before the 7 days"
    assert mail["subject"] == "Your wishlist"
    assert mail["text"].strip() == (
        "[Venise dress 129.90 EUR https://shop.example.com/products/venise https://shop.example.com/img/venise.jpg]"
    )
    wait_until_quiet(stack.event_queue_url, state_machine_arn("_wishlist_reminder"), timeout=30)
    assert len(stack.outbox(email)) == 1, "one reminder for three changes"


def test_a_product_removed_or_bought_is_not_reminded_of(stack, wishlist_store, email):
    consented(stack, wishlist_store, email)
    post(stack, wishlist_store, wishlist("added", email, DRESS))
    post(stack, wishlist_store, wishlist("added", email, BAG))
    post(stack, wishlist_store, wishlist("removed", email, BAG))
    post(stack, wishlist_store, purchase("1", email, items=[{**DRESS, "quantity": 1}]))
    skipped = wait_for(lambda: decisions(stack, wishlist_store, email), timeout=15, what="the reminder's decision")
    assert [(send["status"], send.get("reason")) for send in skipped] == [("skipped", "nothing_to_remind")]
    wait_until_quiet(stack.event_queue_url, state_machine_arn("_wishlist_reminder"), timeout=30)
    assert stack.outbox(email) == []
