"""Thank-you & upsell and replenishment end to end, waits passed by the time scale (four
days a second): the catalogue comes in as `product` events, purchases as the store posts
them, and what a test reads is the email each customer got.

Upsell: a purchase of a product whose catalogue entry names related products gets them
recommended (never the product bought, never one out of stock); without related products,
those the store's customers bought with it. Replenishment: a 30-day product bought twice is
reminded 60 days later with a Shopify reorder link; bought again before, that order's
reminder is skipped; a product without a cycle is reminded after the interval the store's
repeat buyers show."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from storeflows.workflows.runs import run_name
from storeflows.workflows.templates.replenishment import ReplenishmentSettings
from storeflows.workflows.templates.thank_you_upsell import ThankYouUpsellSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for, wait_for_run, wait_until_quiet

pytestmark = pytest.mark.e2e

SHOP = "https://shop.example.com"
LISTING = "{% for p in recommendations %}[{{ p.name }} {{ p.price|money(p.currency) }} {{ p.url }}]{% endfor %}"
REORDER = "[{{ reorder.name }} x{{ reorder.quantity }} {{ reorder.url }} order {{ order.id }} due {{ reorder.due_on }}]"


def post(stack, store: str, payload: dict) -> None:
    assert post_event(stack.api_url, store, stack.webhook_secret, payload).status_code == 202


def catalogue(stack, storage, store: str, *products: dict) -> None:
    from storeflows.storage import products as catalogue_store

    for product in products:
        post(stack, store, {"type": "product", "product": product})
    wait_for(lambda: all(catalogue_store.get_product(store, p["product_id"]) for p in products), what="the catalogue")


def product(product_id: str, *, in_stock: int = 10, **extra) -> dict:
    return {
        "product_id": product_id,
        "name": product_id.replace("-", " ").title(),
        "url": f"{SHOP}/products/{product_id}",
        "image_url": f"{SHOP}/img/{product_id}.jpg",
        "currency": "EUR",
        "variants": [
            {
                "variant_id": f"{product_id}-v",
                "sku": product_id.upper(),
                "price": "20.00",
                "inventory_quantity": in_stock,
            }
        ],
        **extra,
    }


def line(product_id: str, quantity: int = 1) -> dict:
    return {"sku": product_id.upper(), "product_id": product_id, "name": product_id, "quantity": quantity}


def with_message(storage, store: str, message_id: str, body: str) -> None:
    from storeflows.records import Message, MessageContent, Purpose, Sender

    storage.messages.put_message(
        Message(
            store_id=store,
            message_id=message_id,
            purpose=Purpose.MARKETING,
            sender=Sender(name="Test Shop", address="shop@storeflows.test"),
            variants={"en": MessageContent(subject=message_id, html=f"<p>{body}</p>", text=body)},
        )
    )


def texts(stack, email: str) -> list[str]:
    return [message["text"] for message in stack.outbox(email)]


def skipped(stack, store: str, email: str) -> list[tuple[str, str]]:
    contact = stack.contact(email, store_id=store) or {"sends": []}
    return [(send["subject"], send["reason"]) for send in contact["sends"] if send["status"] == "skipped"]


# --- thank-you & upsell ---------------------------------------------------------------------------


@pytest.fixture
def upsell_store(stack, store_with_workflow, storage):
    def create(**settings) -> str:
        store = store_with_workflow(ThankYouUpsellSettings(message="thanks", **settings), {})
        with_message(storage, store, "thanks", "Thank you! " + LISTING)
        return store

    return create


def test_the_related_products_of_what_was_bought_are_recommended_never_it_nor_one_sold_out(
    stack, storage, upsell_store, email
):
    store = upsell_store()
    catalogue(
        stack,
        storage,
        store,
        product("lamp-a", related=["shade-b", "lamp-a", "bulb-sold-out", "stand-c"]),
        product("shade-b"),
        product("stand-c"),
        product("bulb-sold-out", in_stock=0),
    )
    post(stack, store, purchase("1", email, items=[line("lamp-a")]))
    [text] = wait_for(lambda: texts(stack, email), what="the thank-you")
    assert text.strip() == (
        f"Thank you! [Shade B 20.00 EUR {SHOP}/products/shade-b][Stand C 20.00 EUR {SHOP}/products/stand-c]"
    )


def test_without_related_products_those_bought_together_in_the_store_are_recommended(
    stack, storage, upsell_store, email
):
    store = upsell_store()
    catalogue(stack, storage, store, product("tent"), product("mat"), product("stove"), product("lantern"))
    other = f"other-{uuid.uuid4().hex[:8]}@example.com"
    post(stack, store, purchase("1", other, items=[line("tent"), line("mat"), line("stove")]))
    post(stack, store, purchase("2", f"x-{other}", items=[line("tent"), line("mat")]))
    wait_for(lambda: texts(stack, other) and texts(stack, f"x-{other}"), what="the earlier orders' thanks")
    post(stack, store, purchase("3", email, items=[line("tent")]))
    [text] = wait_for(lambda: texts(stack, email), what="the thank-you")
    assert "[Mat 20.00 EUR" in text and "[Stove 20.00 EUR" in text
    assert text.index("[Mat") < text.index("[Stove"), "bought with the tent twice, then once"
    assert "Tent" not in text and "Lantern" not in text, "never what was bought; never bought with it"


def test_with_nothing_to_recommend_the_thanks_goes_or_is_skipped_as_set(stack, storage, upsell_store, email):
    sending, skipping = upsell_store(), upsell_store(when_nothing_to_recommend="skip")
    for store in (sending, skipping):
        catalogue(stack, storage, store, product("alone"))
    post(stack, sending, purchase("1", email, items=[line("alone")]))
    assert wait_for(lambda: texts(stack, email), what="the thank-you")[0].strip() == "Thank you!"
    other = f"skip-{email}"
    post(stack, skipping, purchase("1", other, items=[line("alone")]))
    wait_for_run(state_machine_arn("_thank_you_upsell"), run_name(skipping, "1", "wf"))
    assert texts(stack, other) == []
    assert skipped(stack, skipping, other) == [("1", "nothing_to_recommend")]


# --- replenishment ---------------------------------------------------------------------------------


@pytest.fixture
def reorder_store(stack, store_with_workflow, storage):
    store = store_with_workflow(ReplenishmentSettings(reminder_message="reorder"), {})
    with_message(storage, store, "reorder", REORDER)
    return store


def test_a_30_day_product_bought_twice_is_reminded_60_days_later_with_a_reorder_link(
    stack, storage, reorder_store, email
):
    catalogue(stack, storage, reorder_store, product("vitamins", usage_cycle_days=30))
    bought_at = time.monotonic()
    post(stack, reorder_store, purchase("1", email, items=[line("vitamins", 2)]))
    # 60 days are 15 s here: nothing at 50 days, the reminder soon after 60.
    time.sleep(50 * 86400 / stack.time_scale)
    assert texts(stack, email) == [], "not before the product runs out"
    [text] = wait_for(lambda: texts(stack, email), timeout=20, what="the reminder")
    elapsed_days = (time.monotonic() - bought_at) * stack.time_scale / 86400
    # Not before day 60; late by a few seconds at most on a loaded machine (a second is 4 days).
    assert 59 <= elapsed_days <= 80
    # The day it runs out is counted from the purchase as recorded (real time), not the scaled clock.
    due = (datetime.now(UTC) + timedelta(days=60)).date()
    assert text.strip() in {
        f"[Vitamins x2 {SHOP}/cart/vitamins-v:2 order 1 due {day}]" for day in (due - timedelta(days=1), due)
    }


def test_bought_again_before_it_runs_out_that_orders_reminder_is_skipped(stack, storage, reorder_store, email):
    catalogue(stack, storage, reorder_store, product("filters", usage_cycle_days=20))
    post(stack, reorder_store, purchase("1", email, items=[line("filters")]))
    wait_for(lambda: stack.contact(email, store_id=reorder_store), what="the first order")
    post(stack, reorder_store, purchase("2", email, items=[line("filters")]))
    machine = state_machine_arn("_replenishment")
    for order in ("1", "2"):
        assert wait_for_run(machine, run_name(reorder_store, f"reorder:{order}:FILTERS", "wf"))["status"] == "SUCCEEDED"
    [text] = texts(stack, email)
    assert "order 2" in text, "only the latest order's reminder goes"
    assert skipped(stack, reorder_store, email) == [("reorder:1:FILTERS", "reordered")]


def test_without_a_cycle_the_store_s_repeat_interval_times_the_reminder(stack, storage, reorder_store, email):
    catalogue(stack, storage, reorder_store, product("beans"), product("mug"))
    now = datetime.now(UTC)
    # Ten repeat buyers, each 20 days between a bag and the next: the median is 20 days a bag.
    for n in range(10):
        buyer = f"repeat-{n}-{email}"
        for index, days_ago in enumerate((41, 21)):
            order = {**purchase(f"{n}-{index}", buyer, items=[line("beans")])}
            order["occurred_at"] = (now - timedelta(days=days_ago, hours=n)).isoformat()
            post(stack, reorder_store, order)
    wait_for(
        lambda: (
            (
                item := storage.dynamodb.table()
                .get_item(Key=storage.keys.sku_repeat_intervals_key(reorder_store, "BEANS"))
                .get("Item")
            )
            and item["n"] == 10
        ),
        what="the ten repeat intervals",
    )
    post(stack, reorder_store, purchase("1", email, items=[line("beans"), line("mug")]))
    # 20 days are 5 s: the beans are reminded; the mug (no cycle, no repeats) never is.
    [text] = wait_for(lambda: texts(stack, email), timeout=12, what="the reminder")
    assert text.strip().startswith(f"[Beans x1 {SHOP}/cart/beans-v:1 order 1")
    wait_until_quiet(stack.event_queue_url, state_machine_arn("_replenishment"))
    assert len(texts(stack, email)) == 1


def test_a_cancelled_order_or_an_erased_contact_stops_the_waiting_reminders(
    stack, storage, reorder_store, storeflows, email
):
    catalogue(
        stack, storage, reorder_store, product("soap", usage_cycle_days=200), product("oil", usage_cycle_days=200)
    )
    erased = f"erased-{email}"
    post(stack, reorder_store, purchase("1", email, items=[line("soap"), line("oil")]))
    post(stack, reorder_store, purchase("2", erased, items=[line("soap")]))
    machine = state_machine_arn("_replenishment")
    sfn = boto3.client("stepfunctions")

    def status(order: str, sku: str) -> str | None:
        arn = (
            machine.replace(":stateMachine:", ":execution:")
            + ":"
            + run_name(reorder_store, f"reorder:{order}:{sku}", "wf")
        )
        try:
            return sfn.describe_execution(executionArn=arn)["status"]
        except sfn.exceptions.ExecutionDoesNotExist:
            return None

    wait_for(lambda: status("1", "SOAP") == status("1", "OIL") == status("2", "SOAP") == "RUNNING", what="the runs")
    post(stack, reorder_store, {"type": "cancelled", "order": {"id": "1"}, "customer": {"email": email}})
    wait_for(lambda: status("1", "SOAP") == status("1", "OIL") == "ABORTED", what="the cancelled order's reminders")
    report = json.loads(storeflows("contacts", "delete", reorder_store, erased, "--yes", "--json").stdout)
    assert report["runs_stopped"] == [{"workflow_id": "wf", "subject": "reorder:2:SOAP"}]
    assert status("2", "SOAP") == "ABORTED"
