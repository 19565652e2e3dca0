"""Abandoned checkouts and carts end to end, through the real ingest with signed Shopify
requests: the reminders with the checkout's items and recovery link, none once it is bought,
one run for a cart that keeps changing (its wait counted from the last change), the cooldown
across carts, and the bad payloads refused naming the field."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from storeflows.records import Message, MessageContent, Purpose, Sender
from storeflows.workflows.runs import run_name
from storeflows.workflows.templates.abandonment import CartAbandonmentSettings, CheckoutAbandonmentSettings
from storeflows_local.signing import post_event, post_shopify
from storeflows_local.waiting import state_machine_arn, wait_for, wait_for_run

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CHECKOUT = json.loads((FIXTURES / "shopify_checkouts_create.json").read_text())
CART = json.loads((FIXTURES / "shopify_carts_update.json").read_text())
ORDER = json.loads((FIXTURES / "shopify_orders_create.json").read_text())


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def checkout(email: str, token: str, **changes) -> bytes:
    """Shopify's sample checkout (two iPod Nanos) of `email`, who ticked the marketing box,
    updated now."""
    body = {**CHECKOUT, "email": email, "token": token, "buyer_accepts_marketing": True, "updated_at": now_iso()}
    body["abandoned_checkout_url"] = f"https://shop.example/checkouts/{token}/recover?key=k"
    return json.dumps({**body, **changes}).encode()


def cart(token: str, quantity: int = 3) -> bytes:
    """Shopify's sample cart (T-shirts, `quantity` of them), updated now."""
    items = [{**CART["line_items"][0], "quantity": quantity, "line_price": f"{19.99 * quantity:.2f}"}]
    return json.dumps({**CART, "id": token, "token": token, "line_items": items, "updated_at": now_iso()}).encode()


def paid_order(email: str, checkout_token: str) -> bytes:
    body = {**ORDER, "id": 9001, "email": email, "contact_email": email, "financial_status": "paid"}
    body.update(cancelled_at=None, cancel_reason=None, checkout_token=checkout_token)
    return json.dumps(body).encode()


def shopify(stack, store: str, topic: str, body: bytes) -> None:
    answer = post_shopify(stack.api_url, store, stack.shopify_secret, body, topic=topic)
    assert answer.status_code == 202, answer.text


@pytest.fixture
def abandonment_store(stack, store_with_workflow, storage):
    """A store with one abandonment workflow whose messages show the checkout or cart."""

    def create(settings, kind: str) -> str:
        store = store_with_workflow(settings, {})
        for message_id in ("reminder", "last-call"):
            storage.messages.put_message(
                Message(
                    store_id=store,
                    message_id=message_id,
                    purpose=Purpose.MARKETING,
                    sender=Sender(name="Test Shop", address="shop@storeflows.test"),
                    variants={
                        "en": MessageContent(
                            subject=message_id,
                            html="<p>{{ unsubscribe_url }}</p>",
                            text=(
                                f"{{% for item in {kind}.items %}}{{{{ item.name }}}} x{{{{ item.quantity }}}}; "
                                f"{{% endfor %}}total {{{{ {kind}.total }}}} {{{{ {kind}.currency }}}} "
                                f"link {{{{ {kind}.recovery_url or '' }}}} {{{{ unsubscribe_url }}}}"
                            ),
                        )
                    },
                )
            )
        return store

    return create


def subjects(stack, email: str) -> list[str]:
    return [m["subject"] for m in stack.outbox(email)]


def test_an_abandoned_checkout_gets_both_reminders_with_its_items_and_recovery_link(stack, abandonment_store, email):
    store = abandonment_store(
        CheckoutAbandonmentSettings(
            first_reminder_message="reminder",
            first_reminder_after="2d",
            second_reminder_message="last-call",
            second_reminder_after="4d",
        ),
        "checkout",
    )
    token = uuid.uuid4().hex
    sent_at = time.monotonic()
    shopify(stack, store, "checkouts/create", checkout(email, token))

    mails = wait_for(lambda: (m := stack.outbox(email)) and len(m) == 2 and m, what="both reminders")
    assert time.monotonic() - sent_at >= 4 * 86400 / stack.time_scale, "the second waits 4 days (scaled)"
    assert [m["subject"] for m in mails] == ["reminder", "last-call"]
    text = mails[0]["text"]
    assert "IPod Nano - 8GB x1; IPod Nano - 8GB x1;" in text
    assert "total 398.00 USD" in text
    assert f"link https://shop.example/checkouts/{token}/recover?key=k" in text
    run = wait_for_run(state_machine_arn("_checkout_abandonment"), run_name(store, f"checkout:{token}", "wf"))
    assert run["status"] == "SUCCEEDED"


def test_a_checkout_followed_by_its_order_gets_no_reminder(stack, abandonment_store, email):
    # A wait long enough (7.5 s at the tests' scale) that the order's stop always comes first,
    # however busy the machine: with a short one the run's own check may find the order
    # first, and then it ends SUCCEEDED, the reminder skipped (bought_since).
    store = abandonment_store(
        CheckoutAbandonmentSettings(first_reminder_message="reminder", first_reminder_after="30d"), "checkout"
    )
    token = uuid.uuid4().hex
    shopify(stack, store, "checkouts/create", checkout(email, token))
    shopify(stack, store, "orders/create", paid_order(email, token))

    run = wait_for_run(state_machine_arn("_checkout_abandonment"), run_name(store, f"checkout:{token}", "wf"))
    assert run["status"] == "ABORTED", "the order stopped the run at once"
    time.sleep(1)
    assert subjects(stack, email) == []


def test_a_completed_checkout_ends_its_run_before_the_reminder(stack, abandonment_store, email):
    store = abandonment_store(
        CheckoutAbandonmentSettings(first_reminder_message="reminder", first_reminder_after="2d"), "checkout"
    )
    token = uuid.uuid4().hex
    shopify(stack, store, "checkouts/create", checkout(email, token))
    shopify(stack, store, "checkouts/update", checkout(email, token, completed_at=now_iso()))

    run = wait_for_run(state_machine_arn("_checkout_abandonment"), run_name(store, f"checkout:{token}", "wf"))
    assert run["status"] == "SUCCEEDED"
    assert subjects(stack, email) == []
    contact = stack.contact(email, store_id=store)
    assert contact is not None


def link_cart(stack, store: str, email: str, token: str) -> str:
    """The browser's word, through the event API: this visitor (the contact) has this cart."""
    visitor = f"v{uuid.uuid4().hex[:12]}"
    for payload in (
        {"type": "consent", "customer": {"email": email}, "marketing": True, "source": "signup-form"},
        {"type": "cart_updated", "customer": {"email": email}, "visitor_id": visitor, "cart": {"token": token}},
    ):
        answer = post_event(stack.api_url, store, stack.webhook_secret, payload)
        assert answer.status_code == 202, answer.text
    return visitor


def test_a_cart_updated_five_times_has_one_run_waiting_from_the_last_update(stack, abandonment_store, email):
    store = abandonment_store(
        CartAbandonmentSettings(first_reminder_message="reminder", first_reminder_after="2d"), "cart"
    )
    token = uuid.uuid4().hex
    link_cart(stack, store, email, token)
    for quantity in range(1, 6):
        shopify(stack, store, "carts/update", cart(token, quantity))
        last_update = time.monotonic()
        time.sleep(0.15)

    mails = wait_for(lambda: stack.outbox(email), what="the cart reminder")
    assert time.monotonic() - last_update >= 2 * 86400 / stack.time_scale, "counted from the last update"
    assert [m["subject"] for m in mails] == ["reminder"]
    assert "Example T-Shirt - x5;" in mails[0]["text"], "the cart as last updated"
    assert "total 99.95 USD" in mails[0]["text"]
    machine = state_machine_arn("_cart_abandonment")
    wait_for_run(machine, run_name(store, f"cart:{token}", "wf"))
    time.sleep(0.5)
    assert subjects(stack, email) == ["reminder"], "one run, one reminder"


def test_the_cooldown_holds_back_a_second_cart_of_the_same_contact(stack, abandonment_store, email, storage):
    store = abandonment_store(
        CartAbandonmentSettings(first_reminder_message="reminder", first_reminder_after="1d", cooldown="30d"), "cart"
    )
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    link_cart(stack, store, email, first)
    shopify(stack, store, "carts/update", cart(first))
    wait_for(lambda: subjects(stack, email) == ["reminder"], what="the first cart's reminder")

    link_cart(stack, store, email, second)
    shopify(stack, store, "carts/update", cart(second))
    run = wait_for_run(state_machine_arn("_cart_abandonment"), run_name(store, f"cart:{second}", "wf"))
    assert run["status"] == "SUCCEEDED"
    assert subjects(stack, email) == ["reminder"], "the second cart is within the cooldown"
    decisions = [
        item
        for item in storage.contacts.contact_history(store, email)
        if item["sk"].startswith("SEND#") and f"cart:{second}" in item["sk"]
    ]
    assert [(d["status"], d["reason"]) for d in decisions] == [("skipped", "cooldown")]


def test_a_checkout_or_cart_missing_a_field_is_refused_naming_it(stack, abandonment_store, email):
    store = abandonment_store(CheckoutAbandonmentSettings(first_reminder_message="reminder"), "checkout")
    body = json.loads(checkout(email, "t1"))
    del body["token"]
    answer = post_shopify(
        stack.api_url, store, stack.shopify_secret, json.dumps(body).encode(), topic="checkouts/create"
    )
    assert answer.status_code == 400
    assert "checkout.token" in answer.text
    bad_cart = json.loads(cart("c1"))
    bad_cart["line_items"][0]["quantity"] = 0
    answer = post_shopify(
        stack.api_url, store, stack.shopify_secret, json.dumps(bad_cart).encode(), topic="carts/update"
    )
    assert answer.status_code == 400
    assert "cart.items.0.quantity" in answer.text


def test_the_order_a_reminder_brought_back_is_its_revenue_in_the_report(stack, abandonment_store, email):
    """Recovered revenue is attributed as for every other email: the reminder clicked, then
    the checkout bought, counts as ordered with the order's total."""
    store = abandonment_store(
        CheckoutAbandonmentSettings(first_reminder_message="reminder", first_reminder_after="2d"), "checkout"
    )
    token = uuid.uuid4().hex
    shopify(stack, store, "checkouts/create", checkout(email, token))
    [reminder] = wait_for(lambda: stack.outbox(email), what="the reminder")
    clicked = requests.post(f"{stack.api_url}/_local/ses/{reminder['id']}/click", timeout=10)
    assert clicked.status_code == 202, clicked.text
    wait_for(lambda: (stack.contact(email, store_id=store) or {}).get("last_click"), what="the click recorded")

    # Bought after the click (the sample order's own dates are from 2008).
    order = {**json.loads(paid_order(email, token)), "created_at": now_iso(), "processed_at": now_iso()}
    shopify(stack, store, "orders/create", json.dumps(order).encode())

    today = datetime.now(UTC).date().isoformat()

    def reminder_row() -> dict | None:
        answer = requests.get(f"{stack.api_url}/reports/{store}", params={"from": today, "to": today}, timeout=10)
        rows = [row for row in answer.json()["rows"] if row["message"] == "reminder" and row["ordered"]]
        return rows[0] if rows else None

    row = wait_for(reminder_row, what="the recovered order in the report")
    assert (row["workflow"], row["sent"], row["clicked"], row["ordered"]) == ("wf", 1, 1, 1)
    assert row["revenue"] == {ORDER["currency"]: ORDER["total_price"]}
