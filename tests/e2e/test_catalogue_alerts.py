"""The catalogue alerts end to end, waits passed by the time scale: a Shopify restock delivered
twice tells each who asked once; a restock of two tells those who asked two at a time, wave
after wave in the order they asked; a 20 % price cut tells the recent viewers who did not buy, with the old and
the new price, and a price back up before the send tells nobody; low stock tells who carted,
once per cooldown."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from decimal import Decimal

import pytest

from storeflows.records import Message, MessageContent, Purpose, Sender
from storeflows.workflows.templates.back_in_stock import BackInStockSettings
from storeflows.workflows.templates.low_stock import LowStockSettings
from storeflows.workflows.templates.price_drop import PriceDropSettings
from storeflows_local.signing import post_event, post_shopify, purchase
from storeflows_local.waiting import state_machine_arn, wait_for, wait_until_quiet

pytestmark = pytest.mark.e2e

FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures"
SHOWN = (
    "{{ variant.name }} {{ variant.price|money(variant.currency or '') }}"
    "{% if variant.price_seen %} was {{ variant.price_seen|money(variant.currency or '') }}{% endif %}"
    " stock {{ variant.stock }}"
)


def post(stack, store: str, payload: dict) -> None:
    assert post_event(stack.api_url, store, stack.webhook_secret, payload).status_code == 202


def alert_store(store_with_workflow, storage, settings, messages: dict[str, str]) -> str:
    """A store whose messages show the variant: subject "<message id>", text as SHOWN."""
    store = store_with_workflow(settings, messages)
    for message_id, purpose in messages.items():
        storage.messages.put_message(
            Message(
                store_id=store,
                message_id=message_id,
                purpose=Purpose(purpose),
                sender=Sender(name="Test Shop", address="shop@storeflows.test"),
                variants={"en": MessageContent(subject=message_id, html=f"<p>{SHOWN}</p>", text=SHOWN)},
            )
        )
    return store


def product(product_id: str, stock: int, price: str = "100.00") -> dict:
    return {
        "type": "product",
        "product": {
            "product_id": product_id,
            "name": "Venise dress",
            "url": "https://shop.example.com/products/venise",
            "currency": "EUR",
            "variants": [
                {"variant_id": f"{product_id}-m", "sku": f"{product_id}-M", "price": price, "inventory_quantity": stock}
            ],
        },
    }


def recorded(storage, store: str, product_id: str, probe) -> None:
    from storeflows.storage import products

    wait_for(
        lambda: (found := products.get_product(store, product_id)) and probe(found.variants[0]),
        what=f"product {product_id} as the test wrote it",
    )


def interested(stack, store: str, kind: str, email: str, product_id: str, price: str = "100.00") -> None:
    body = {"product_id": product_id, "variant_id": f"{product_id}-m", "price": price, "currency": "EUR"}
    post(stack, store, {"type": kind, "customer": {"email": email}, "product": body})


def consented(stack, store: str, email: str) -> None:
    post(stack, store, {"type": "consent", "marketing": True, "source": "test", "customer": {"email": email}})


def unique(prefix: str) -> str:
    return f"{prefix}-{random.randrange(10**9)}"


def addresses(count: int) -> list[str]:
    run = random.randrange(10**6)
    return [f"c{index}-{run}@example.com" for index in range(count)]


def quiet(stack, template: str) -> None:
    wait_until_quiet(stack.event_queue_url, state_machine_arn(f"_{template}"), timeout=30)


def test_a_shopify_restock_delivered_twice_tells_each_who_asked_once(stack, store_with_workflow, storage):
    store = alert_store(
        store_with_workflow, storage, BackInStockSettings(requested_message="back"), {"back": "transactional"}
    )
    product_id, variant_id, item_id = (str(random.randrange(10**12, 10**13)) for _ in range(3))
    shopify = json.loads((FIXTURES / "shopify_products_update.json").read_text("utf-8"))
    shopify["id"] = int(product_id)
    shopify["variants"] = [
        {**shopify["variants"][0], "id": int(variant_id), "inventory_item_id": int(item_id), "inventory_quantity": 0}
    ]
    body = json.dumps(shopify).encode()
    assert post_shopify(stack.api_url, store, stack.shopify_secret, body, topic="products/update").status_code == 202
    recorded(storage, store, product_id, lambda variant: variant.inventory_quantity == 0)
    first, second = addresses(2)
    for email in (first, second):
        post(
            stack,
            store,
            {
                "type": "back_in_stock_requested",
                "customer": {"email": email},
                "product": {"product_id": product_id, "variant_id": variant_id},
            },
        )
    wait_for(lambda: stack.contact(second, store), what="the second request")

    level = json.dumps(
        {"inventory_item_id": int(item_id), "location_id": 1, "available": 6, "updated_at": "2026-11-20T10:00:00Z"}
    ).encode()
    for _ in range(2):
        answer = post_shopify(stack.api_url, store, stack.shopify_secret, level, topic="inventory_levels/update")
        assert answer.status_code == 202

    wait_for(lambda: stack.outbox(second), what="the alert to the second who asked")
    quiet(stack, "back_in_stock")
    assert [mail["subject"] for mail in stack.outbox(first)] == ["back"]
    assert [mail["subject"] for mail in stack.outbox(second)] == ["back"]
    assert "stock 6" in stack.outbox(first)[0]["text"]


def test_a_restock_of_two_tells_those_who_asked_two_at_a_time_in_the_order_they_asked(
    stack, store_with_workflow, storage
):
    settings = BackInStockSettings(requested_message="back", wave_size=1, wave_interval=86400)
    store = alert_store(store_with_workflow, storage, settings, {"back": "transactional"})
    product_id = unique("p")
    post(stack, store, product(product_id, 0))
    recorded(storage, store, product_id, lambda variant: variant.inventory_quantity == 0)
    askers = addresses(5)
    for email in askers:
        post(
            stack,
            store,
            {
                "type": "back_in_stock_requested",
                "customer": {"email": email},
                "product": {"product_id": product_id, "variant_id": f"{product_id}-m"},
            },
        )
        wait_for(lambda email=email: stack.contact(email, store), what=f"{email}'s request")

    post(stack, store, product(product_id, 2))

    wait_for(lambda: stack.outbox(askers[-1]), what="the last wave")
    quiet(stack, "back_in_stock")
    told = sorted(askers, key=lambda email: stack.outbox(email)[0]["accepted_at"])
    # Two a wave (two in stock), the waves in the order they asked (within a wave, both at once).
    assert [set(told[:2]), set(told[2:4]), told[4:]] == [set(askers[:2]), set(askers[2:4]), askers[4:]]
    assert all(len(stack.outbox(email)) == 1 for email in askers)
    (run,) = _runs(store, "back_in_stock")
    waits = [name for name in run if name == "WaitForNextWave"]
    assert len(waits) == 2, "2 + 2 + 1: two waits between three waves"


def _runs(store: str, template: str) -> list[list[str]]:
    """The states each of the store's runs of the template entered."""
    import boto3

    sfn = boto3.client("stepfunctions")
    found = []
    for execution in sfn.list_executions(stateMachineArn=state_machine_arn(f"_{template}"))["executions"]:
        if not execution["name"].startswith(store):
            continue
        events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        found.append([e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")])
    return found


def test_a_20_percent_price_cut_tells_recent_viewers_who_did_not_buy_with_the_old_and_new_price(
    stack, store_with_workflow, storage
):
    store = alert_store(store_with_workflow, storage, PriceDropSettings(alert_message="drop"), {"drop": "marketing"})
    product_id = unique("p")
    post(stack, store, product(product_id, 8, "100.00"))
    recorded(storage, store, product_id, lambda variant: variant.price == Decimal("100.00"))
    viewer, buyer, carter, silent = addresses(4)
    for email in (viewer, buyer, carter):
        consented(stack, store, email)
    post(stack, store, {"type": "consent", "marketing": False, "source": "test", "customer": {"email": silent}})
    for email in (viewer, buyer, silent):
        interested(stack, store, "product_viewed", email, product_id)
    cart = {
        "token": unique("k"),
        "total": "100.00",
        "currency": "EUR",
        "items": [
            {
                "product_id": product_id,
                "variant_id": f"{product_id}-m",
                "name": "Venise dress",
                "price": "100.00",
                "currency": "EUR",
                "quantity": 1,
            }
        ],
    }
    post(stack, store, {"type": "cart_updated", "customer": {"email": carter}, "cart": cart})
    item = {
        "product_id": product_id,
        "sku": f"{product_id}-M",
        "name": "Venise dress",
        "quantity": 1,
        "price": "100.00",
    }
    post(stack, store, purchase(unique("o"), buyer, total="100.00", items=[item]))
    wait_for(lambda: (contact := stack.contact(buyer, store)) and contact.get("orders_count"), what="the purchase")
    for email in (viewer, silent, carter):
        wait_for(lambda email=email: stack.contact(email, store), what=f"{email}'s interest")

    post(stack, store, product(product_id, 8, "80.00"))

    wait_for(lambda: stack.outbox(viewer) and stack.outbox(carter), what="the price drop emails")
    quiet(stack, "price_drop")
    (mail,) = stack.outbox(viewer)
    assert mail["subject"] == "drop"
    assert "Venise dress 80.00 EUR was 100.00 EUR" in mail["text"]
    assert len(stack.outbox(carter)) == 1
    assert stack.outbox(buyer) == [] and stack.outbox(silent) == []
    reasons = {
        email: [send.get("reason") for send in stack.contact(email, store)["sends"]] for email in (buyer, silent)
    }
    assert reasons == {buyer: ["bought_since"], silent: ["no_marketing_consent"]}


def test_a_price_back_up_before_the_send_tells_nobody(stack, store_with_workflow, storage):
    from storeflows.messaging import pacing

    store = alert_store(store_with_workflow, storage, PriceDropSettings(alert_message="drop"), {"drop": "marketing"})
    product_id = unique("p")
    post(stack, store, product(product_id, 8, "100.00"))
    recorded(storage, store, product_id, lambda variant: variant.price == Decimal("100.00"))
    (viewer,) = addresses(1)
    consented(stack, store, viewer)
    interested(stack, store, "product_viewed", viewer, product_id)
    wait_for(lambda: stack.contact(viewer, store), what="the view")
    # Another burst holds SES's next 6 seconds (the stack's pacer): the alert waits for it.
    pacing.forget()
    assert pacing.reserve(time.time(), count=int(pacing.send_rate() * 6), horizon=1.0)

    post(stack, store, product(product_id, 8, "80.00"))
    # The run reached the viewer while the price was down, and waits for SES meanwhile.
    wait_for(
        lambda: any("WaitForSesPace" in states for states in _runs(store, "price_drop")),
        timeout=6,
        what="the price drop's run waiting for SES",
    )
    post(stack, store, product(product_id, 8, "100.00"))
    recorded(storage, store, product_id, lambda variant: variant.price == Decimal("100.00"))

    quiet(stack, "price_drop")
    assert stack.outbox(viewer) == []
    (states,) = _runs(store, "price_drop")
    assert states[-1] == "AlertsDone"
    assert "sends" not in (stack.contact(viewer, store) or {}) or not stack.contact(viewer, store)["sends"]


def test_low_stock_tells_who_carted_once_per_cooldown(stack, store_with_workflow, storage):
    store = alert_store(store_with_workflow, storage, LowStockSettings(alert_message="few"), {"few": "marketing"})
    product_id = unique("p")
    post(stack, store, product(product_id, 10))
    recorded(storage, store, product_id, lambda variant: variant.inventory_quantity == 10)
    (carter,) = addresses(1)
    consented(stack, store, carter)
    cart = {
        "token": unique("k"),
        "total": "100.00",
        "currency": "EUR",
        "items": [
            {
                "product_id": product_id,
                "variant_id": f"{product_id}-m",
                "name": "Venise dress",
                "price": "100.00",
                "currency": "EUR",
                "quantity": 1,
            }
        ],
    }
    post(stack, store, {"type": "cart_updated", "customer": {"email": carter}, "cart": cart})
    wait_for(lambda: stack.contact(carter, store), what="the cart")

    post(stack, store, product(product_id, 4))
    (mail,) = wait_for(lambda: stack.outbox(carter), what="the low stock email")
    assert "stock 4" in mail["text"]
    post(stack, store, product(product_id, 12))
    post(stack, store, product(product_id, 3))
    recorded(storage, store, product_id, lambda variant: variant.inventory_quantity == 3)

    quiet(stack, "low_stock")
    assert len(stack.outbox(carter)) == 1
    assert Counter(send.get("reason") for send in stack.contact(carter, store)["sends"]) == {None: 1, "cooldown": 1}
