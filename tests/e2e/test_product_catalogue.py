"""The product catalogue end to end: a product update through each source (Shopify's
products/update and inventory_levels/update, WooCommerce's product.updated, the event API's
`product`, a CSV import) shows in `storeflows products show`, as an operator sees it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from storeflows_local.signing import post_event, post_shopify, post_woocommerce
from storeflows_local.waiting import wait_for

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _variant_line(shown: str, variant_id: str) -> list[str]:
    [line] = [line for line in shown.splitlines() if line.startswith(f"{variant_id} ")]
    return line.split()


def _shown_once(storeflows, storage, product_id: str, probe) -> str:
    """`products show` once the dispatcher has recorded what `probe` waits for."""
    from storeflows.storage import products

    wait_for(lambda: probe(products.get_product("demo", product_id)), what=f"product {product_id} recorded")
    return storeflows("products", "show", "demo", product_id).stdout


def test_shopify_products_and_their_stock_per_location_show_in_products_show(stack, storage, storeflows):
    product_id, variant_id, item_id = (str(random.randrange(10**12, 10**13)) for _ in range(3))
    product = json.loads((FIXTURES / "shopify_products_update.json").read_text("utf-8"))
    product["id"] = int(product_id)
    product["variants"] = [{**product["variants"][0], "id": int(variant_id), "inventory_item_id": int(item_id)}]
    body = json.dumps(product).encode()
    assert post_shopify(stack.api_url, "demo", stack.shopify_secret, body, topic="products/update").status_code == 202

    shown = _shown_once(storeflows, storage, product_id, lambda found: found)
    assert f"product {product_id} of store demo: Example T-Shirt" in shown
    assert "  url: https://demo.myshopify.com/products/example-t-shirt" in shown
    assert _variant_line(shown, variant_id)[3:] == ["19.99", "24.99", "75", "-", "yes"]

    # Two locations: 0 here, 2 there; the same level delivered twice changes nothing.
    for location, available in ((1, 0), (2, 2), (2, 2)):
        level = {"inventory_item_id": int(item_id), "location_id": location, "available": available}
        level["updated_at"] = "2026-11-20T10:00:00Z"
        answer = post_shopify(
            stack.api_url, "demo", stack.shopify_secret, json.dumps(level).encode(), topic="inventory_levels/update"
        )
        assert answer.status_code == 202
    shown = _shown_once(
        storeflows, storage, product_id, lambda found: found.variants[0].inventory_levels == {"1": 0, "2": 2}
    )
    assert _variant_line(shown, variant_id)[3:] == ["19.99", "24.99", "2", "1:", "0,", "2:", "2", "yes"]


def test_a_woocommerce_product_update_shows_in_products_show(stack, storage, storeflows):
    product_id = str(random.randrange(10**6, 10**9))
    product = json.loads((FIXTURES / "woocommerce_product_updated.json").read_text("utf-8"))
    product.update(id=int(product_id), sale_price="17.99", price="17.99", manage_stock=True, stock_quantity=5)
    answer = post_woocommerce(
        stack.api_url, "demo", stack.woocommerce_secret, json.dumps(product).encode(), topic="product.updated"
    )
    assert answer.status_code == 202, answer.text

    shown = _shown_once(storeflows, storage, product_id, lambda found: found)
    assert f"product {product_id} of store demo: Premium Quality" in shown
    assert "  url: https://example.com/product/premium-quality-19/" in shown
    assert _variant_line(shown, product_id)[3:] == ["17.99", "21.99", "5", "-", "yes"]


def test_an_event_api_product_update_shows_in_products_show(stack, storage, storeflows):
    product_id = f"api-{random.randrange(10**9)}"
    product = {
        "product_id": product_id,
        "name": "Linen shirt",
        "url": "https://shop.example.com/products/linen-shirt",
        "currency": "EUR",
        "variants": [
            {"variant_id": f"{product_id}-m", "sku": f"{product_id}-M", "price": "59.00", "inventory_quantity": 0}
        ],
    }
    assert (
        post_event(stack.api_url, "demo", stack.webhook_secret, {"type": "product", "product": product}).status_code
        == 202
    )
    _shown_once(storeflows, storage, product_id, lambda found: found)

    cut = {
        **product,
        "variants": [
            {**product["variants"][0], "price": "49.00", "compare_at_price": "59.00", "inventory_quantity": 8}
        ],
    }
    assert (
        post_event(stack.api_url, "demo", stack.webhook_secret, {"type": "product", "product": cut}).status_code == 202
    )
    shown = _shown_once(storeflows, storage, product_id, lambda found: found.variants[0].inventory_quantity == 8)
    assert _variant_line(shown, f"{product_id}-m")[1:] == [f"{product_id}-M", "-", "49.00", "59.00", "8", "-", "yes"]


def test_a_csv_import_shows_in_products_show_and_a_second_import_changes_nothing(stack, storeflows, tmp_path):
    product_id = f"csv-{random.randrange(10**9)}"
    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_text(
        "product_id,variant_id,sku,name,price,compare_at_price,currency,inventory_quantity\n"
        f"{product_id},{product_id}-1,{product_id}-SKU,Coffee beans,24.50,29.00,EUR,12\n",
        "utf-8",
    )

    first = storeflows("products", "import", str(catalogue), "--store", "demo").stdout
    again = storeflows("products", "import", str(catalogue), "--store", "demo").stdout

    assert first == "store demo: 1 product(s), 1 variant(s) read; 1 product(s) changed, 1 variant change(s)\n"
    assert again == "store demo: 1 product(s), 1 variant(s) read; 0 product(s) changed, 0 variant change(s)\n"
    shown = storeflows("products", "show", "demo", product_id).stdout
    assert _variant_line(shown, f"{product_id}-1")[1:] == [f"{product_id}-SKU", "-", "24.50", "29.00", "12", "-", "yes"]
    assert product_id in storeflows("products", "list", "demo").stdout
