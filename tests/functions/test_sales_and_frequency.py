"""Best sellers from purchase events, and the atomic "not more often than" slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storeflows.events.purchase import PurchaseEvent
from storeflows.storage import contacts, orders, sends

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def buy(order_id: str, at: datetime, *items: tuple[str, int]) -> None:
    orders.record_purchase(
        "demo",
        f"e{order_id}",
        PurchaseEvent.model_validate(
            {
                "type": "purchase",
                "occurred_at": at.isoformat(),
                "order": {
                    "id": order_id,
                    "total": "1",
                    "currency": "EUR",
                    "items": [{"sku": sku, "name": sku.title(), "quantity": quantity} for sku, quantity in items],
                },
                "customer": {"email": "ana@example.com"},
            }
        ),
    )


def test_best_sellers_rank_units_over_the_window_and_leave_out_given_skus(aws):
    buy("1", NOW, ("MUG", 3), ("TEE", 1))
    buy("2", NOW - timedelta(days=2), ("TEE", 4))
    buy("3", NOW - timedelta(days=40), ("CAP", 50))
    ranking = orders.best_sellers("demo", days=30, count=5, today=NOW)
    assert [(p["sku"], p["units"]) for p in ranking] == [("TEE", 5), ("MUG", 3)], "CAP sold outside the window"
    assert [p["sku"] for p in orders.best_sellers("demo", days=30, count=5, excluding={"TEE"}, today=NOW)] == ["MUG"]
    assert [p["sku"] for p in orders.best_sellers("demo", days=60, count=1, today=NOW)] == ["CAP"]


def test_a_redelivered_order_is_counted_once(aws):
    buy("1", NOW, ("MUG", 3))
    buy("1", NOW, ("MUG", 3))
    assert orders.best_sellers("demo", days=1, count=1, today=NOW)[0]["units"] == 3


def test_an_order_of_thousands_of_products_counts_its_most_bought_ones(aws):
    """One write per product: the largest order the intake takes must not run the dispatcher
    into its timeout; lines of one product add up."""
    lines = [(f"P{n:04}", 1) for n in range(3000)] + [("MUG", 2), ("MUG", 5)]
    buy("1", NOW, *lines)
    ranking = orders.best_sellers("demo", days=1, count=100, today=NOW)
    assert len(ranking) == orders.MAX_PRODUCTS_COUNTED_PER_ORDER
    assert ranking[0] == {"sku": "MUG", "name": "Mug", "units": 7}


def test_the_send_slot_admits_one_send_per_period_and_keeps_a_retried_send(aws):
    assert sends.claim_send_slot("demo", "ana@example.com", "wf", "wf#1#Send", 7 * 86400)
    assert not sends.claim_send_slot("demo", "ana@example.com", "wf", "wf#2#Send", 7 * 86400)
    assert sends.claim_send_slot("demo", "ana@example.com", "wf", "wf#1#Send", 7 * 86400), "a retry keeps its slot"
    assert sends.claim_send_slot("demo", "ana@example.com", "other-wf", "other-wf#2#Send", 7 * 86400), (
        "each workflow has its own cap"
    )


def test_a_released_slot_is_free_again_unless_another_send_took_it_meanwhile(aws):
    first = sends.claim_send_slot("demo", "ana@example.com", "wf", "wf#1#Send", 7 * 86400)
    sends.release_send_slot(first)
    assert sends.claim_send_slot("demo", "ana@example.com", "wf", "wf#2#Send", 7 * 86400), "free again"
    sends.release_send_slot(first)  # the slot is the second send's now
    assert not sends.claim_send_slot("demo", "ana@example.com", "wf", "wf#3#Send", 7 * 86400)


def test_bestsellers_in_a_template_have_the_fields_the_reference_names(aws):
    from storeflows.events.subjects import SubjectView
    from storeflows.messaging.sending import message_context
    from storeflows.records import Contact, Store
    from storeflows_cli.reference_words import CONTEXT

    buy("1", datetime.now(UTC), ("MUG", 3))
    context = message_context(
        Store(store_id="demo", unsubscribe_key="k"),
        Contact(store_id="demo", email="a@example.com"),
        SubjectView(),
        None,
    )
    (product,) = context["bestsellers"]()
    assert set(product) == set(CONTEXT["bestsellers"][1])


def order_of(email: str, order_id: str, at: datetime, total: str = "10") -> None:
    orders.record_purchase(
        "demo",
        f"e{order_id}",
        PurchaseEvent.model_validate(
            {
                "type": "purchase",
                "occurred_at": at.isoformat(),
                "order": {"id": order_id, "total": total, "currency": "EUR"},
                "customer": {"email": email},
            }
        ),
    )


def test_each_order_keeps_the_totals_before_it_and_the_store_counts_repeat_intervals(aws):
    assert orders.median_repeat_interval("demo") == (None, 0)
    order_of("ana@example.com", "1", NOW, "100")
    order_of("ana@example.com", "2", NOW + timedelta(days=10), "50")
    order_of("ana@example.com", "2", NOW + timedelta(days=10), "50")  # a redelivery counts nothing
    order_of("ana@example.com", "3", NOW + timedelta(days=40, hours=23), "5")
    order_of("bea@example.com", "4", NOW + timedelta(days=3))
    order_of("bea@example.com", "5", NOW + timedelta(days=15))
    # An older order arriving late is no interval (it came before the one on record).
    order_of("bea@example.com", "0", NOW)
    second = orders.order_record("demo", "ana@example.com", "2")
    third = orders.order_record("demo", "ana@example.com", "3")
    assert (second["orders_count_before"], second["total_spent_before"]) == (1, 100)
    assert (third["orders_count_before"], third["total_spent_before"]) == (2, 150)
    assert third["previous_order_at"] == second["occurred_at"]
    bea = contacts.get_contact("demo", "bea@example.com")
    assert bea is not None and bea.last_order_at == NOW + timedelta(days=15), "the late older order is not the last"
    assert bea.orders_count == 3
    # Intervals of 10, 30 (whole days) and 12 days: the median is 12.
    assert orders.median_repeat_interval("demo") == (12, 3)
