"""Interest in products (storeflows.interest, storage.interest) through the dispatcher: what
each storefront event records, the audience a restock or price flow reads (by kind, window,
variant, paged, requests oldest first), the price seen, back-in-stock requests and their cap
for unproven addresses, and erasure and export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from storeflows import dispatch, interest, privacy
from storeflows.events import EventBody, StoreEvent
from storeflows.storage import interest as store
from storeflows.storage import keys, visitors

ANA = "ana@example.com"
BEA = "bea@example.com"
VISITOR = "v_8f3a2c91d4"
_bodies: TypeAdapter[Any] = TypeAdapter(EventBody)
NOW = datetime.now(UTC).replace(microsecond=0)


def deliver(
    event_id: str, body: dict[str, Any], *, at: datetime = NOW, source: str = "api", proof: str | None = None
) -> dict[str, Any]:
    return dispatch.dispatch_event(
        StoreEvent(
            store_id="demo",
            event_id=event_id,
            source=source,
            received_at=NOW,
            event=_bodies.validate_python({"occurred_at": at.isoformat(), **body}),
            identity_proof=proof,
        )
    )


def view(email: str, product: dict[str, Any]) -> dict[str, Any]:
    return {"type": "product_viewed", "customer": {"email": email}, "product": product}


def request(email: str, product_id: str = "p-1", variant_id: str | None = "v-1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "back_in_stock_requested",
        "customer": {"email": email},
        "product": {"product_id": product_id, "variant_id": variant_id, "sku": "DRESS-S", "name": "Venise dress"},
        **extra,
    }


def audience(kinds: tuple[str, ...], *, variant_id: str | None = None, since: datetime | None = None) -> list[Any]:
    found, cursor = store.interested_in(
        "demo",
        product_id="p-1",
        variant_id=variant_id,
        kinds=kinds,  # type: ignore[arg-type]
        since=since or NOW - timedelta(days=30),
    )
    assert cursor is None
    return [(item.kind, item.email, item.variant_id, item.price) for item in found]


DRESS = {"product_id": "p-1", "variant_id": "v-1", "name": "Venise dress", "price": "129.90", "currency": "eur"}


def test_each_storefront_event_records_its_products_with_the_price_seen(aws, demo_store):
    deliver("api:1", view(ANA, DRESS))
    cart = {"token": "c-1", "currency": "EUR", "items": [{**DRESS, "currency": None}, {"sku": "NO-ID"}]}
    deliver("api:2", {"type": "cart_updated", "customer": {"email": BEA}, "cart": cart})
    checkout = {"token": "k-1", "items": [{"product_id": "p-1", "variant_id": "v-2", "price": "99"}]}
    deliver("api:3", {"type": "checkout_started", "customer": {"email": ANA}, "checkout": checkout})
    deliver("api:4", {"type": "wishlist_added", "customer": {"email": BEA}, "product": {"product_id": "p-1"}})
    deliver("api:5", view(BEA, {"sku": "NO-ID", "name": "named by its SKU only"}))

    assert audience(("viewed", "carted", "checkout", "wishlisted")) == [
        ("viewed", ANA, "v-1", Decimal("129.90")),
        ("carted", BEA, "v-1", Decimal("129.90")),
        ("checkout", ANA, "v-2", Decimal("99")),
        ("wishlisted", BEA, None, None),
    ]
    assert audience(("viewed", "carted", "checkout"), variant_id="v-2") == [("checkout", ANA, "v-2", Decimal("99"))]
    seen = store.price_seen("demo", BEA, product_id="p-1", variant_id="v-1")
    assert seen is not None and (seen.kind, seen.price, seen.currency) == ("carted", Decimal("129.90"), "EUR")
    # A product named by no id is never restocked or repriced: nothing recorded.
    interest_items = [item["sk"] for item in aws.items(keys.contact_pk("demo", BEA)) if "INTEREST#" in item["sk"]]
    assert interest_items == ["INTEREST#carted#p-1#v-1", "INTEREST#wishlisted#p-1#"]


def test_a_repeat_view_moves_the_time_and_price_and_a_late_one_changes_nothing(aws, demo_store):
    deliver("api:1", view(ANA, DRESS), at=NOW - timedelta(days=10))
    deliver("api:2", view(ANA, {**DRESS, "price": "99.00"}), at=NOW - timedelta(days=1))
    deliver("api:3", view(ANA, {**DRESS, "price": "150.00"}), at=NOW - timedelta(days=5))  # kept from before
    (item,) = [item for item in aws.items(keys.contact_pk("demo", ANA)) if item["sk"].startswith("INTEREST#")]
    assert item["sk"] == "INTEREST#viewed#p-1#v-1" and item["price"] == Decimal("99.00")
    seen = store.price_seen("demo", ANA, product_id="p-1", variant_id="v-1")
    assert seen is not None and seen.at == NOW - timedelta(days=1) and seen.price == Decimal("99.00")
    # Within 7 days it counts; within 12 hours it does not.
    assert audience(("viewed",), since=NOW - timedelta(days=7)) == [("viewed", ANA, "v-1", Decimal("99.00"))]
    assert audience(("viewed",), since=NOW - timedelta(hours=12)) == []


def test_an_expired_item_still_in_the_table_is_no_audience(aws, demo_store, monkeypatch):
    deliver("api:1", view(ANA, DRESS), at=NOW - timedelta(days=29))
    # DynamoDB's TTL deletes within about two days: the item is there, past its expiry.
    monkeypatch.setattr(store.db, "now", lambda: NOW + timedelta(days=2))
    assert audience(("viewed",), since=NOW - timedelta(days=60)) == []
    assert store.price_seen("demo", ANA, product_id="p-1", variant_id="v-1") is None


def test_paging_over_many_contacts_returns_each_once_oldest_first(aws, demo_store):
    contacts = [f"c{n:03d}@example.com" for n in range(260)]
    for n, email in enumerate(contacts):
        assert store.record_request(
            "demo", email, product_id="p-1", variant_id="v-1", at=NOW - timedelta(days=80, minutes=-n)
        )
    # Other variants' and other kinds' items in the same partition are left out.
    store.record_request("demo", ANA, product_id="p-1", variant_id="v-2", at=NOW - timedelta(days=85))
    store.record_interest(
        "demo", BEA, product_id="p-1", variant_id="v-1", kind="viewed", at=NOW, price=None, currency=None
    )
    pages, cursor, seen = 0, None, []
    while True:
        found, cursor = store.interested_in(
            "demo",
            product_id="p-1",
            variant_id="v-1",
            kinds=("requested",),
            since=NOW - timedelta(days=90),
            cursor=cursor,
            limit=100,
        )
        pages += 1
        assert len(found) <= 100
        seen.extend(item.email for item in found)
        if cursor is None:
            break
    assert seen == contacts and pages == 3


def test_a_request_keeps_its_first_place_until_fulfilled(aws, demo_store):
    first = deliver("api:1", request(BEA), at=NOW - timedelta(days=3))
    assert first["back_in_stock_request"] == "recorded"
    deliver("api:2", request(ANA), at=NOW - timedelta(days=2))
    assert deliver("api:3", request(BEA), at=NOW)["back_in_stock_request"] == "already_asked"
    assert [email for _, email, _, _ in audience(("requested",), variant_id="v-1")] == [BEA, ANA]

    assert store.fulfil_request("demo", BEA, product_id="p-1", variant_id="v-1", at=NOW)
    assert not store.fulfil_request("demo", BEA, product_id="p-1", variant_id="v-1", at=NOW)
    assert [email for _, email, _, _ in audience(("requested",))] == [ANA]
    # The old request delivered again is not a new one; asking again after the alert is.
    assert deliver("api:1", request(BEA), at=NOW - timedelta(days=3))["back_in_stock_request"] == "already_asked"
    assert deliver("api:4", request(BEA), at=NOW + timedelta(minutes=1))["back_in_stock_request"] == "recorded"
    assert [email for _, email, _, _ in audience(("requested",))] == [ANA, BEA]


def test_a_request_must_name_the_catalogue_product(aws, demo_store):
    with pytest.raises(ValidationError, match="product_id"):
        _bodies.validate_python(
            {"type": "back_in_stock_requested", "customer": {"email": ANA}, "product": {"sku": "S"}}
        )
    with pytest.raises(ValidationError, match="customer"):
        _bodies.validate_python({"type": "back_in_stock_requested", "visitor_id": VISITOR, "product": DRESS})


def test_an_unproven_address_holds_a_few_requests_the_stores_word_any(aws, demo_store):
    for n in range(interest.MAX_CLAIMED_REQUESTS):
        outcome = deliver(f"b:{n}", request(ANA, f"p-{n}", visitor_id=VISITOR), source="browser", proof="claimed")
        assert outcome["back_in_stock_request"] == "recorded"
    over = deliver("b:x", request(ANA, "p-x", visitor_id=VISITOR), source="browser", proof="claimed")
    assert over["back_in_stock_request"] == "too_many_unproven"
    # Asking again for one already asked for is not one more.
    again = deliver("b:y", request(ANA, "p-0", visitor_id=VISITOR), source="browser", proof="claimed")
    assert again["back_in_stock_request"] == "already_asked"
    assert deliver("api:1", request(ANA, "p-x"))["back_in_stock_request"] == "recorded"
    # A visitor a Storeflows email's link proved to be the address is not capped either.
    visitors.identify("demo", "v_linkedvisitor", ANA, proof="email_link", at=NOW)
    proven = deliver("b:z", request(ANA, "p-y", visitor_id="v_linkedvisitor"), source="browser", proof="claimed")
    assert proven["back_in_stock_request"] == "recorded"
    proofs = {item.product_id: item.proof for item in store.open_requests("demo", ANA)}
    assert proofs["p-0"] == "claimed" and proofs["p-x"] == "store" and proofs["p-y"] == "email_link"
    # The typed address identified nobody: the visitor's browsing is not Ana's.
    assert visitors.known_email("demo", VISITOR) is None


def test_erasure_deletes_interest_and_the_export_shows_it(aws, demo_store):
    deliver("api:1", view(ANA, DRESS))
    deliver("api:2", request(ANA))
    exported = privacy.export_contact("demo", ANA)["records"]["interest"]
    assert {(record["kind"], record["product_id"], record.get("price")) for record in exported} == {
        ("viewed", "p-1", "129.90"),
        ("requested", "p-1", None),
    }
    privacy.erase_contact("demo", ANA, via="test")
    assert audience(("viewed", "requested")) == []
    assert not [item for item in aws.items(keys.contact_pk("demo", ANA)) if item["sk"].startswith("INTEREST#")]


def test_a_repeat_within_the_hour_at_the_same_price_writes_nothing_a_new_price_does(aws, demo_store):
    deliver("api:1", view(ANA, DRESS), at=NOW - timedelta(minutes=30))
    assert not interest.record_products(
        _event("api:2"), _bodies.validate_python(view(ANA, DRESS)), ANA, "viewed", [_product(DRESS)]
    )
    cheaper = {**DRESS, "price": "99.00"}
    assert interest.record_products(
        _event("api:3"), _bodies.validate_python(view(ANA, cheaper)), ANA, "viewed", [_product(cheaper)]
    )
    seen = store.price_seen("demo", ANA, product_id="p-1", variant_id="v-1")
    assert seen is not None and seen.price == Decimal("99.00") and seen.at == NOW


def _event(event_id: str) -> StoreEvent:
    return StoreEvent.model_validate(
        {"store_id": "demo", "event_id": event_id, "source": "api", "received_at": NOW, "event": view(ANA, DRESS)}
    )


def _product(fields: dict[str, Any]) -> Any:
    from storeflows.events.common import Product

    return Product.model_validate(fields)
