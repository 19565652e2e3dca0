"""The product catalogue against moto: Shopify's products/* and inventory_levels/update,
WooCommerce's product.*, the event API's `product` and `product_deleted`, each verified by
the ingest, queued and recorded by the dispatcher, which reports each variant's change once
however often it is delivered (storeflows.storage.products)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from storeflows.catalogue import CatalogueProduct
from storeflows.dispatch import dispatch_event
from storeflows.events import StoreEvent
from storeflows.intake.signatures import sign_hmac_sha256_base64, sign_standard_webhook
from storeflows.storage import products

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHOPIFY_PRODUCT = json.loads((FIXTURES / "shopify_products_update.json").read_text("utf-8"))
SHOPIFY_LEVEL = json.loads((FIXTURES / "shopify_inventory_levels_update.json").read_text("utf-8"))
WOO_PRODUCT = json.loads((FIXTURES / "woocommerce_product_updated.json").read_text("utf-8"))
_SHOPIFY = json.loads((FIXTURES / "shopify_orders_create.headers.json").read_text("utf-8"))["computed_headers"]
_WOO_FILE = json.loads((FIXTURES / "woocommerce_order_created.headers.json").read_text("utf-8"))
SMALL, MEDIUM = "642667041472713922", "757650484644203962"
SHIRT = "788032119674292922"
SMALL_ITEM = "271878346596884015"
AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def deliver(load_handler, demo_store, lambda_context, make_http_event, aws):
    """Posts one webhook to the ingest as its platform would, then dispatches what it queued:
    the ingest's answer and the dispatcher's outcomes."""
    handler = load_handler("ingest")

    def send(source: str, topic: str, payload: Any, delivery: str) -> tuple[int, list[dict[str, Any]]]:
        body = json.dumps(payload).encode()
        if source == "shopify":
            route, headers = (
                "/webhooks/shopify/{store_id}",
                {
                    **_SHOPIFY,
                    "X-Shopify-Topic": topic,
                    "X-Shopify-Event-Id": delivery,
                    "X-Shopify-Hmac-Sha256": sign_hmac_sha256_base64(demo_store.shopify_secret, body),
                },
            )
        elif source == "woocommerce":
            route, headers = (
                "/webhooks/woocommerce/{store_id}",
                {
                    **_WOO_FILE["computed_headers"],
                    "X-WC-Webhook-Topic": topic,
                    "X-WC-Webhook-Resource": "product",
                    "X-WC-Webhook-Delivery-ID": delivery,
                    "X-WC-Webhook-Signature": sign_hmac_sha256_base64(_WOO_FILE["computed_secret"], body),
                },
            )
        else:
            timestamp = int(time.time())
            route, headers = (
                "/events/{store_id}",
                {
                    "Content-Type": "application/json",
                    "Webhook-Id": delivery,
                    "Webhook-Timestamp": str(timestamp),
                    "Webhook-Signature": sign_standard_webhook(demo_store.webhook_secret, delivery, timestamp, body),
                },
            )
        event = make_http_event(
            "POST",
            route,
            route.replace("{store_id}", "demo"),
            headers=headers,
            body=body,
            path_parameters={"store_id": "demo"},
        )
        answer = handler.lambda_handler(event, lambda_context)
        outcomes = [dispatch_event(StoreEvent.model_validate(queued)) for queued in aws.queued_bodies()]
        return answer["statusCode"], outcomes

    return send


def changed(outcomes: list[dict[str, Any]]) -> list[tuple[str, Any, Any]]:
    """(variant, stock before, stock after) of each change the outcomes report."""
    return [
        (
            change["variant_id"],
            (change["before"] or {}).get("inventory_quantity"),
            change["after"]["inventory_quantity"],
        )
        for outcome in outcomes
        for change in outcome["catalogue_changes"]
    ]


# --- Shopify -------------------------------------------------------------------------------------------


def test_a_shopify_product_is_recorded_with_its_link_picture_and_prices(deliver):
    status, outcomes = deliver("shopify", "products/update", SHOPIFY_PRODUCT, "product-1")

    assert status == 202
    assert changed(outcomes) == [(SMALL, None, 75), (MEDIUM, None, 50)]
    product = products.get_product("demo", SHIRT)
    assert product is not None
    assert product.name == "Example T-Shirt" and product.category == "Shirts"
    # The store has no browser origins: the shop's myshopify.com domain from the webhook's header.
    assert product.url == "https://johns-apparel.myshopify.com/products/example-t-shirt"
    assert product.image_url is not None and product.image_url.startswith("https://cdn.shopify.com/")
    small = product.variant(SMALL)
    assert small is not None
    assert (small.sku, small.price, small.compare_at_price) == ("example-shirt-s", Decimal("19.99"), Decimal("24.99"))
    assert (small.inventory_quantity, small.available, small.inventory_item_id) == (75, True, SMALL_ITEM)
    assert products.find_by_sku("demo", "example-shirt-m") == (product, product.variant(MEDIUM))
    assert products.get_variant("demo", SMALL) == (product, small)


def test_the_same_shopify_product_update_delivered_twice_reports_its_changes_to_that_delivery_only(deliver):
    deliver("shopify", "products/update", SHOPIFY_PRODUCT, "product-1")
    cheaper = {**SHOPIFY_PRODUCT, "variants": [{**SHOPIFY_PRODUCT["variants"][0], "price": "14.99"}]}
    cheaper["variants"].append(SHOPIFY_PRODUCT["variants"][1])

    _, first = deliver("shopify", "products/update", cheaper, "product-2")
    _, again = deliver("shopify", "products/update", cheaper, "product-2")  # Shopify retries a delivery
    _, other_delivery = deliver("shopify", "products/update", cheaper, "product-3")  # or sends it twice

    [change] = first[0]["catalogue_changes"]
    assert (change["variant_id"], change["before"]["price"], change["after"]["price"]) == (SMALL, "19.99", "14.99")
    # A retry of the delivery reports its change again (had its alert run failed to start, the
    # retry starts it; runs are named by change, so none starts twice); another delivery of the
    # same state reports nothing.
    assert again[0]["catalogue_changes"] == first[0]["catalogue_changes"]
    assert other_delivery[0]["catalogue_changes"] == []


def test_stock_is_summed_over_locations_and_a_repeated_or_older_level_changes_nothing(deliver):
    deliver("shopify", "products/update", SHOPIFY_PRODUCT, "product-1")

    _, first = deliver("shopify", "inventory_levels/update", SHOPIFY_LEVEL, "level-1")
    _, repeated = deliver("shopify", "inventory_levels/update", SHOPIFY_LEVEL, "level-2")
    second_location = {**SHOPIFY_LEVEL, "location_id": 99, "available": 4}
    _, summed = deliver("shopify", "inventory_levels/update", second_location, "level-3")
    older = {**SHOPIFY_LEVEL, "available": 60, "updated_at": "2021-12-30T19:00:00-05:00"}
    _, stale = deliver("shopify", "inventory_levels/update", older, "level-4")

    # The first level known replaces the deprecated inventory_quantity the product carried.
    assert changed(first) == [(SMALL, 75, 6)]
    assert changed(repeated) == [] and changed(stale) == []
    assert changed(summed) == [(SMALL, 6, 10)]
    small = products.get_variant("demo", SMALL)
    assert small is not None and small[1].inventory_levels == {"24826418": 6, "99": 4}
    # A later products/update's deprecated quantity does not override the levels.
    _, update = deliver("shopify", "products/update", {**SHOPIFY_PRODUCT, "title": "Shirt"}, "product-2")
    assert changed(update) == []
    assert products.get_variant("demo", SMALL)[1].inventory_quantity == 10  # type: ignore[index]


def test_a_level_for_an_unknown_item_is_kept_until_its_product_arrives(deliver):
    _, early = deliver("shopify", "inventory_levels/update", {**SHOPIFY_LEVEL, "available": 0}, "level-1")
    assert early == [{"event_id": "shopify:level-1", "catalogue_changes": []}]

    _, outcomes = deliver("shopify", "products/update", SHOPIFY_PRODUCT, "product-1")

    assert changed(outcomes) == [(SMALL, None, 0), (MEDIUM, None, 50)]
    assert products.get_variant("demo", SMALL)[1].available is False  # type: ignore[index]
    # Back in stock: one change, from unavailable to available.
    _, restock = deliver(
        "shopify",
        "inventory_levels/update",
        {**SHOPIFY_LEVEL, "available": 3, "updated_at": "2022-01-01T00:00:00Z"},
        "level-2",
    )
    [change] = restock[0]["catalogue_changes"]
    assert (change["before"]["available"], change["after"]["available"]) == (False, True)


def test_a_deleted_shopify_product_is_forgotten_with_what_finds_it(deliver):
    deliver("shopify", "products/update", SHOPIFY_PRODUCT, "product-1")

    _, outcomes = deliver("shopify", "products/delete", {"id": int(SHIRT)}, "delete-1")
    _, again = deliver("shopify", "products/delete", {"id": int(SHIRT)}, "delete-1")

    assert outcomes[0]["product_deleted"] is True and again[0]["product_deleted"] is False
    assert products.get_product("demo", SHIRT) is None
    assert products.find_by_sku("demo", "example-shirt-s") is None
    assert products.get_variant("demo", SMALL) is None


def test_a_draft_shopify_product_is_not_available(deliver):
    _, outcomes = deliver("shopify", "products/create", {**SHOPIFY_PRODUCT, "status": "draft"}, "product-1")

    product = products.get_product("demo", SHIRT)
    assert product is not None and not any(variant.available for variant in product.variants)


# --- WooCommerce and the event API --------------------------------------------------------------------


def test_a_woocommerce_product_on_sale_has_its_regular_price_as_compare_at(deliver):
    status, outcomes = deliver("woocommerce", "product.created", WOO_PRODUCT, "woo-1")
    assert status == 202 and changed(outcomes) == [("794", None, None)]

    on_sale = {
        **WOO_PRODUCT,
        "sale_price": "17.99",
        "price": "17.99",
        "manage_stock": True,
        "stock_quantity": 0,
        "stock_status": "outofstock",
        "date_modified_gmt": "2017-03-24T10:00:00",
    }
    _, outcomes = deliver("woocommerce", "product.updated", on_sale, "woo-2")

    [change] = outcomes[0]["catalogue_changes"]
    assert change["before"] == {
        "price": "21.99",
        "compare_at_price": None,
        "currency": None,
        "inventory_quantity": None,
        "available": True,
    }
    assert change["after"] == {
        "price": "17.99",
        "compare_at_price": "21.99",
        "currency": None,
        "inventory_quantity": 0,
        "available": False,
    }
    product = products.get_product("demo", "794")
    assert product is not None
    assert (product.url, product.category) == ("https://example.com/product/premium-quality-19/", "Clothing")
    assert product.image_url == "https://example.com/wp-content/uploads/2017/03/T_2_front-4.jpg"
    # An older delivery arriving late changes nothing.
    _, late = deliver("woocommerce", "product.updated", WOO_PRODUCT, "woo-0")
    assert changed(late) == []

    _, deleted = deliver("woocommerce", "product.deleted", {"id": 794}, "woo-3")
    assert deleted[0]["product_deleted"] is True and products.get_product("demo", "794") is None


API_PRODUCT = {
    "type": "product",
    "product": {
        "product_id": "linen-shirt",
        "name": "Linen shirt",
        "url": "https://shop.example.com/products/linen-shirt",
        "image_url": "https://shop.example.com/images/linen-shirt.jpg",
        "currency": "eur",
        "category": "Shirts",
        "usage_cycle_days": 90,
        "related": ["linen-trousers"],
        "variants": [{"variant_id": "linen-shirt-m", "sku": "LS-M", "price": "59.00", "inventory_quantity": 4}],
    },
}


def test_an_api_product_without_stock_keeps_the_known_stock(deliver):
    status, outcomes = deliver("api", "", API_PRODUCT, "msg_p1")
    assert status == 202 and changed(outcomes) == [("linen-shirt-m", None, 4)]

    without_stock = json.loads(json.dumps(API_PRODUCT))
    del without_stock["product"]["variants"][0]["inventory_quantity"]
    without_stock["product"]["variants"][0]["price"] = "49.00"
    _, outcomes = deliver("api", "", without_stock, "msg_p2")

    [change] = outcomes[0]["catalogue_changes"]
    assert change["after"] == {
        "price": "49.00",
        "compare_at_price": None,
        "currency": "EUR",
        "inventory_quantity": 4,
        "available": True,
    }
    _, deleted = deliver("api", "", {"type": "product_deleted", "product_id": "linen-shirt"}, "msg_p3")
    assert deleted[0]["product_deleted"] is True


def test_a_malformed_api_product_is_refused_naming_the_field(
    load_handler, demo_store, lambda_context, make_http_event, aws
):
    from storeflows.errors import InvalidPayload
    from storeflows.intake.api import event_from_api

    bad = json.loads(json.dumps(API_PRODUCT))
    bad["product"]["variants"][0]["price"] = "-1"
    with pytest.raises(InvalidPayload, match=r"product\.variants\.0\.price"):
        event_from_api(bad)


# --- concurrency ---------------------------------------------------------------------------------------


def test_two_deliveries_racing_report_the_change_once(aws, monkeypatch):
    product = CatalogueProduct.model_validate(API_PRODUCT["product"])
    products.put_product("demo", product, at=AT)
    cheaper = product.model_copy(
        update={"variants": [product.variants[0].model_copy(update={"price": Decimal("39.00")})]}
    )
    real_write = products._write
    raced: list[Any] = []

    def write_after_the_other_delivery(store_id: str, written: CatalogueProduct, version: int, **kept: Any) -> bool:
        if not raced:
            # The other delivery of the same update reads and writes between this one's read
            # and its write.
            raced.append("started")
            raced.append(products.put_product(store_id, cheaper, at=AT))
        return real_write(store_id, written, version, **kept)

    monkeypatch.setattr(products, "_write", write_after_the_other_delivery)
    mine = products.put_product("demo", cheaper, at=AT)

    assert len(raced[1]) == 1 and mine == []
    assert products.get_product("demo", "linen-shirt").variants[0].price == Decimal("39.00")  # type: ignore[union-attr]


def test_products_are_listed_in_pages(aws):
    for number in range(5):
        products.put_product(
            "demo",
            CatalogueProduct.model_validate(
                {
                    **API_PRODUCT["product"],
                    "product_id": f"p{number}",
                    "variants": [{"variant_id": f"v{number}", "price": "1"}],
                }
            ),
            at=AT,
        )
    first, cursor = products.list_products("demo", limit=3)
    rest, end = products.list_products("demo", cursor=cursor, limit=3)
    assert [p.product_id for p in first + rest] == ["p0", "p1", "p2", "p3", "p4"] and end is None


# --- the catalogue in messages -------------------------------------------------------------------------


def _sell(sku: str, quantity: int) -> None:
    from storeflows.events.purchase import PurchaseEvent
    from storeflows.storage import orders

    orders.record_purchase(
        "demo",
        f"sale-{sku}",
        PurchaseEvent.model_validate(
            {
                "type": "purchase",
                "occurred_at": datetime.now(UTC).isoformat(),
                "order": {
                    "id": f"order-{sku}",
                    "total": "1",
                    "currency": "EUR",
                    "items": [{"sku": sku, "name": sku.title(), "quantity": quantity}],
                },
                "customer": {"email": "ana@example.com"},
            }
        ),
    )


def _context():
    from storeflows.events.subjects import SubjectView
    from storeflows.messaging.context import message_context
    from storeflows.records import Contact, Store

    return message_context(
        Store(store_id="demo", unsubscribe_key="k", name="Demo"),
        Contact(store_id="demo", email="ana@example.com"),
        SubjectView(),
        "https://example.test/unsubscribe",
    )


def test_bestsellers_show_the_catalogues_link_picture_and_prices_in_the_example_message(aws):
    from pathlib import Path as _Path

    from storeflows.admin.files import load_message_yaml
    from storeflows.messaging.rendering import render_message

    root = _Path(__file__).resolve().parents[2]
    products.put_product("demo", CatalogueProduct.model_validate(API_PRODUCT["product"]), at=AT)
    _sell("LS-M", 5)
    _sell("UNKNOWN-SKU", 2)

    best, unknown = _context()["bestsellers"]()
    assert (best["sku"], best["url"], best["price"], best["currency"]) == (
        "LS-M",
        "https://shop.example.com/products/linen-shirt",
        Decimal("59.00"),
        "EUR",
    )
    assert (unknown["sku"], unknown["url"], unknown["image_url"], unknown["price"]) == ("UNKNOWN-SKU", None, None, None)
    shirt = _context()["product"]("LS-M")
    assert (shirt["name"], shirt["available"], _context()["product"]("linen-shirt")["sku"]) == (
        "Linen shirt",
        True,
        "LS-M",
    )
    assert _context()["product"]("nothing") is None

    path = root / "examples" / "messages" / "care-cross-sell.yaml"
    message = load_message_yaml(path.read_text("utf-8"), base_dir=path.parent)
    rendered = render_message(message.variants["en"], _context())
    assert '<a href="https://shop.example.com/products/linen-shirt">Linen shirt</a>' in rendered.html
    assert '<img src="https://shop.example.com/images/linen-shirt.jpg" alt="Linen shirt"' in rendered.html
    assert "<strong>59.00 EUR</strong>" in rendered.html
    assert "- Linen shirt: 59.00 EUR https://shop.example.com/products/linen-shirt" in rendered.text
    # A product the catalogue does not know is named, without a picture or a price.
    assert "<td>Unknown-Sku</td>" in rendered.html


def test_the_example_message_shows_no_product_block_without_best_sellers(aws):
    from pathlib import Path as _Path

    from storeflows.admin.files import load_message_yaml
    from storeflows.messaging.rendering import render_message

    path = _Path(__file__).resolve().parents[2] / "examples" / "messages" / "care-cross-sell.yaml"
    message = load_message_yaml(path.read_text("utf-8"), base_dir=path.parent)
    rendered = render_message(message.variants["pl"], _context())
    assert "bestseller" not in rendered.html and "<table" not in rendered.html
    assert "bestseller" not in rendered.text


def test_an_api_product_for_a_shopify_product_keeps_its_stock_per_location(deliver):
    deliver("shopify", "products/update", SHOPIFY_PRODUCT, "product-1")
    deliver("shopify", "inventory_levels/update", SHOPIFY_LEVEL, "level-1")
    renamed = {
        "type": "product",
        "product": {
            "product_id": SHIRT,
            "name": "Example T-Shirt",
            "currency": "USD",
            "variants": [{"variant_id": SMALL, "sku": "example-shirt-s", "price": "19.99"}],
        },
    }

    _, outcomes = deliver("api", "", renamed, "msg_s1")
    later = {**SHOPIFY_LEVEL, "available": 9, "updated_at": "2022-01-01T00:00:00Z"}
    _, restocked = deliver("shopify", "inventory_levels/update", later, "level-2")

    assert [change["after"]["inventory_quantity"] for change in outcomes[0]["catalogue_changes"]] == [6]
    assert changed(restocked) == [(SMALL, 6, 9)]
