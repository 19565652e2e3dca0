"""What the thank-you upsell and replenishment flows learn from a store's orders and read from
its catalogue, against moto: bought-together counts (bounded writes per order, one read per
product), the recommendations (related first, never what was bought, only what is available),
the repeat intervals behind a learned usage cycle, when each SKU's reminder is due and what
it shows at the send (the reorder link, or why it is skipped)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from storeflows import recommendations, replenishment
from storeflows.catalogue import CatalogueProduct
from storeflows.dispatch import dispatch_event
from storeflows.events import StoreEvent
from storeflows.events.common import Order
from storeflows.events.purchase import PurchaseEvent
from storeflows.events.subjects import ReorderSubject
from storeflows.records import Store
from storeflows.storage import keys, orders, products, purchase_stats

STORE = "demo"
AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SHOP = "https://shop.example.com"


def product(product_id: str, *, related=(), cycle=None, available=True, price="10.00", sku=None) -> None:
    products.put_product(
        STORE,
        CatalogueProduct.model_validate(
            {
                "product_id": product_id,
                "name": product_id.title(),
                "url": f"{SHOP}/products/{product_id}",
                "image_url": f"{SHOP}/img/{product_id}.jpg",
                "currency": "EUR",
                "usage_cycle_days": cycle,
                "related": list(related),
                "variants": [
                    {
                        "variant_id": f"{product_id}-v1",
                        "sku": sku or product_id.upper(),
                        "price": price,
                        "inventory_quantity": 5 if available else 0,
                    }
                ],
            }
        ),
        at=AT,
    )


def order(order_id: str, *lines: tuple[str, int], **extra: Any) -> Order:
    return Order.model_validate(
        {
            "id": order_id,
            "total": "10",
            "currency": "EUR",
            "items": [{"sku": sku, "name": sku.title(), "quantity": quantity} for sku, quantity in lines],
            **extra,
        }
    )


def buy(order_id: str, email: str, at: datetime, *lines: tuple[str, int]) -> None:
    """A purchase through the dispatcher, as the queue hands it over (it keeps the statistics)."""
    purchase = PurchaseEvent(type="purchase", occurred_at=at, order=order(order_id, *lines), customer={"email": email})
    dispatch_event(StoreEvent(store_id=STORE, event_id=f"api:{order_id}", source="api", received_at=at, event=purchase))


def recommended(order_: Order, count: int = 4) -> list[str]:
    return [shown["product_id"] for shown in recommendations.complementary_products(STORE, order_, count)]


def test_related_products_come_first_never_what_was_bought_nor_what_is_unavailable(aws):
    product("a", related=["b", "a", "gone", "c", "sold-out", "d"])
    product("b", price="24.90")
    product("c")
    product("d")
    product("sold-out", available=False)
    assert recommended(order("1", ("A", 1), ("D", 1))) == ["b", "c"], "d was bought, gone is unknown"
    assert recommended(order("1", ("A", 1)), count=2) == ["b", "c"]
    [shown] = recommendations.complementary_products(STORE, order("1", ("A", 1)), 1)
    assert shown == {
        "product_id": "b",
        "sku": "B",
        "name": "B",
        "url": f"{SHOP}/products/b",
        "image_url": f"{SHOP}/img/b.jpg",
        "price": Decimal("24.90"),
        "compare_at_price": None,
        "currency": "EUR",
        "available": True,
    }


def test_without_related_products_those_most_often_bought_together_fill_in(aws):
    for name in ("mug", "tea", "spoon", "tray", "lid"):
        product(name)
    product("mug", related=["lid"])  # one related product: the other places from the orders
    buy("1", "ana@example.com", AT, ("MUG", 1), ("TEA", 1), ("SPOON", 1))
    buy("2", "bob@example.com", AT, ("MUG", 1), ("TEA", 2))
    buy("3", "cy@example.com", AT, ("TRAY", 1), ("MUG", 1))
    buy("4", "dee@example.com", AT, ("TEA", 1), ("TRAY", 1))
    buy("5", "eve@example.com", AT, ("TEA", 1), ("TRAY", 1))
    assert purchase_stats.bought_with(STORE, ["mug"]) == {"tea": 2, "spoon": 1, "tray": 1}
    assert recommended(order("9", ("MUG", 1))) == ["lid", "tea", "spoon", "tray"]
    assert recommended(order("9", ("MUG", 1), ("TEA", 1))) == ["lid", "tray", "spoon"], "summed over the order"
    assert recommended(order("9", ("SPOON", 1))) == ["mug", "tea"]


def test_one_order_costs_a_bounded_number_of_writes_and_counts_hold_no_contact(aws, monkeypatch):
    writes = []
    update_item = purchase_stats.db.table().update_item
    table = purchase_stats.db.table()
    monkeypatch.setattr(purchase_stats.db, "table", lambda: table)
    monkeypatch.setattr(table, "update_item", lambda **kwargs: writes.append(kwargs) or update_item(**kwargs))
    products_bought = [f"p{n:02}" for n in range(30)]
    purchase_stats.count_bought_together(STORE, products_bought)
    assert len(writes) == purchase_stats.MAX_PRODUCTS_PAIRED_PER_ORDER == 20, "one UpdateItem per product, 20 at most"
    purchase_stats.count_bought_together(STORE, ["only-one"])
    assert len(writes) == 20, "a one-product order pairs nothing"
    item = aws.table().get_item(Key=keys.bought_with_key(STORE, "p00"))["Item"]
    assert len([name for name in item if name.startswith("with:")]) == 19
    assert {name for name in item if not name.startswith("with:")} == {"pk", "sk"}, "no contact, no order"


def test_repeat_intervals_give_a_median_once_enough_are_known(aws):
    product("tea")  # no usage cycle
    for n in range(4):
        email = f"c{n}@example.com"
        buy(f"{n}-1", email, AT, ("TEA", 1))
        buy(f"{n}-2", email, AT + timedelta(days=20 + 2 * n), ("TEA", 2))  # 20, 22, 24, 26 days per unit
        buy(f"{n}-3", email, AT + timedelta(days=20 + 2 * n + 40), ("TEA", 1))  # 40 days for 2 units: 20
    assert purchase_stats.repeat_interval_days(STORE, "TEA", at_least=9) is None, "8 known"
    assert purchase_stats.repeat_interval_days(STORE, "TEA", at_least=8) == 20.0
    assert purchase_stats.median_of_histogram({20: 1, 26: 1}) == 23.0


def test_a_split_order_on_the_same_day_is_no_repeat(aws):
    buy("1", "ana@example.com", AT, ("TEA", 1))
    buy("2", "ana@example.com", AT + timedelta(hours=2), ("TEA", 1))
    assert aws.table().get_item(Key=keys.sku_repeat_intervals_key(STORE, "TEA")).get("Item") is None


def test_each_sku_with_a_cycle_is_due_cycle_times_quantity_after_the_purchase(aws):
    product("vitamins", cycle=30, sku="VIT-30")
    product("shampoo", cycle=45)
    product("mug")  # no cycle, nothing learned: no reminder
    due = replenishment.reminders_for(
        STORE,
        order("7", ("VIT-30", 1), ("SHAMPOO", 1), ("MUG", 1), ("VIT-30", 1)),
        occurred_at=AT,
        remind_before=3 * 86400,
        min_repeats=10,
    )
    assert [(d.sku, d.quantity, d.due_at, d.remind_at, d.variant_id) for d in due] == [
        ("VIT-30", 2, AT + timedelta(days=60), AT + timedelta(days=57), "vitamins-v1"),
        ("SHAMPOO", 1, AT + timedelta(days=45), AT + timedelta(days=42), "shampoo-v1"),
    ]
    assert due[0].key == "reorder:7:VIT-30"


def test_a_learned_interval_stands_in_for_a_missing_cycle(aws, monkeypatch):
    monkeypatch.setattr(purchase_stats, "repeat_interval_days", lambda store, sku, at_least: 25.0)
    [due] = replenishment.reminders_for(STORE, order("7", ("TEA", 2)), occurred_at=AT, remind_before=0, min_repeats=10)
    assert due.due_at == AT + timedelta(days=50) and due.variant_id is None
    assert (
        replenishment.reminders_for(STORE, order("7", ("TEA", 2)), occurred_at=AT, remind_before=0, min_repeats=0) == []
    )


@pytest.mark.parametrize(
    ("shopify_secret", "link"),
    [("shpss_x", f"{SHOP}/cart/vitamins-v1:2"), (None, f"{SHOP}/products/vitamins")],
)
def test_the_reminder_shows_the_reorder_link_for_the_store(aws, shopify_secret, link):
    product("vitamins", cycle=30, sku="VIT-30")
    buy("7", "ana@example.com", AT, ("VIT-30", 2))
    record = orders_record("7")
    store = Store(store_id=STORE, unsubscribe_key="k", shopify_secret=shopify_secret)
    view = replenishment.view_at_send(store, "ana@example.com", reorder_subject(), record)
    assert view.skip_reason is None
    assert view.context["reorder"] == {
        "sku": "VIT-30",
        "name": "Vitamins",
        "quantity": 2,
        "url": link,
        "product_url": f"{SHOP}/products/vitamins",
        "image_url": f"{SHOP}/img/vitamins.jpg",
        "price": Decimal("10.00"),
        "currency": "EUR",
        "due_on": "2027-01-19",
    }
    assert view.context["order"]["id"] == "7"


def test_a_reorder_or_an_unavailable_variant_skips_the_reminder(aws):
    product("vitamins", cycle=30, sku="VIT-30")
    store = Store(store_id=STORE, unsubscribe_key="k")
    buy("7", "ana@example.com", AT, ("VIT-30", 2))
    buy("8", "ana@example.com", AT + timedelta(days=3), ("MUG", 1))
    assert (
        replenishment.view_at_send(store, "ana@example.com", reorder_subject(), orders_record("7")).skip_reason is None
    )
    product("vitamins", cycle=30, sku="VIT-30", available=False)
    view = replenishment.view_at_send(store, "ana@example.com", reorder_subject(), orders_record("7"))
    assert view.skip_reason == "product_unavailable"
    buy("9", "ana@example.com", AT + timedelta(days=40), ("VIT-30", 1))
    view = replenishment.view_at_send(store, "ana@example.com", reorder_subject(), orders_record("7"))
    assert view.skip_reason == "reordered"


def orders_record(order_id: str) -> dict[str, Any]:
    return orders.db.table().get_item(Key=keys.order_key(STORE, "ana@example.com", order_id))["Item"]


def reorder_subject() -> ReorderSubject:
    due = AT + timedelta(days=60)
    return ReorderSubject(
        order_id="7",
        sku="VIT-30",
        quantity=2,
        product_id="vitamins",
        variant_id="vitamins-v1",
        due_at=due,
        remind_at=due,
    )


def test_an_order_of_many_skus_starts_reminders_for_its_most_bought_ones(aws):
    for n in range(60):
        product(f"p{n:02}", cycle=30)
    lines = [(f"P{n:02}", 1) for n in range(60)] + [("P59", 4)]
    due = replenishment.reminders_for(STORE, order("7", *lines), occurred_at=AT, remind_before=0, min_repeats=0)
    assert len(due) == replenishment.MAX_REMINDERS_PER_ORDER == 50
    assert (due[0].sku, due[0].quantity) == ("P59", 5)


def test_a_trigger_naming_skus_starts_reminders_for_those_lines_only(aws):
    from storeflows.events.subjects import OrderSubject
    from storeflows.workflows.templates.replenishment import ReplenishmentSettings

    product("vitamins", cycle=30, sku="VIT-30")
    product("shampoo", cycle=45)
    purchase = PurchaseEvent(
        type="purchase",
        occurred_at=AT,
        order=order("7", ("VIT-30", 1), ("SHAMPOO", 1)),
        customer={"email": "ana@example.com"},
    )
    event = StoreEvent(store_id=STORE, event_id="api:7", source="api", received_at=AT, event=purchase)
    settings = ReplenishmentSettings(reminder_message="reorder", trigger={"skus": ["SHAMPOO"]})
    assert [s.key for s in settings.run_subjects(event, "ana@example.com", OrderSubject(order_id="7"))] == [
        "reorder:7:SHAMPOO"
    ]
    everything = ReplenishmentSettings(reminder_message="reorder")
    assert len(everything.run_subjects(event, "ana@example.com", OrderSubject(order_id="7"))) == 2
