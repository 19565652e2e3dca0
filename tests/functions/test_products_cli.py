"""`storeflows products import | list | show` in-process, with moto as the target: a CSV
catalogue imported (good rows written, bad ones refused with their line numbers and nothing
written for their product, the same file twice changing nothing), and what `show` prints."""

from __future__ import annotations

import json

import pytest

from storeflows.admin.stores import create_store
from storeflows.storage import products

CATALOGUE = """\
product_id,variant_id,sku,name,title,url,image_url,price,compare_at_price,currency,inventory_quantity,available,category,usage_cycle_days,related
linen-shirt,linen-shirt-m,LS-M,Linen shirt,M,https://shop.example.com/p/linen-shirt,https://shop.example.com/i/ls.jpg,59.00,79.00,EUR,4,,Shirts,,linen-trousers|belt
linen-shirt,linen-shirt-l,LS-L,Linen shirt,L,https://shop.example.com/p/linen-shirt,https://shop.example.com/i/ls.jpg,59.00,79.00,EUR,0,,Shirts,,linen-trousers|belt
coffee,,COFFEE-1KG,Coffee beans 1 kg,,https://shop.example.com/p/coffee,,24.50,,EUR,,true,Coffee,30,
"""


@pytest.fixture
def cli(aws, monkeypatch, tmp_path):
    from storeflows_cli import cli as cli_module

    create_store("shop-1", "api", name="Shop One")
    monkeypatch.setenv("STOREFLOWS_LOCAL_FILE", str(tmp_path / "no-stack.json"))
    monkeypatch.setattr(cli_module, "use_target", lambda args: None)
    return cli_module.main


def test_a_csv_catalogue_is_imported_once_and_shown(cli, capsys, tmp_path):
    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_text(CATALOGUE, "utf-8")

    assert cli(["products", "import", str(catalogue), "--store", "shop-1"]) == 0
    assert capsys.readouterr().out == (
        "store shop-1: 2 product(s), 3 variant(s) read; 2 product(s) changed, 3 variant change(s)\n"
    )
    assert cli(["products", "import", str(catalogue), "--store", "shop-1", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["products_changed"], again["changes"], again["refused"]) == (0, [], [])

    shirt = products.get_product("shop-1", "linen-shirt")
    assert shirt is not None and shirt.related == ["linen-trousers", "belt"]
    # A tracked variant without stock is unavailable; an untracked one is as the row says.
    assert [(v.inventory_quantity, v.available) for v in shirt.variants] == [(4, True), (0, False)]
    coffee = products.find_by_sku("shop-1", "COFFEE-1KG")
    assert coffee is not None and coffee[1].variant_id == "coffee" and coffee[0].usage_cycle_days == 30

    assert cli(["products", "show", "shop-1", "linen-shirt"]) == 0
    shown = capsys.readouterr().out
    assert "product linen-shirt of store shop-1: Linen shirt" in shown
    assert "  url: https://shop.example.com/p/linen-shirt" in shown
    [medium] = [line for line in shown.splitlines() if line.startswith("linen-shirt-m")]
    assert medium.split() == ["linen-shirt-m", "LS-M", "M", "59.00", "79.00", "4", "-", "yes"]
    assert cli(["products", "list", "shop-1"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split() == ["PRODUCT", "NAME", "VARIANTS", "AVAILABLE", "FROM", "CURRENCY", "IN", "STOCK"]
    assert [line.split()[0] for line in listed[1:]] == ["coffee", "linen-shirt"]


def test_bad_rows_are_refused_with_their_line_and_their_product_is_not_written(cli, capsys, tmp_path):
    catalogue = tmp_path / "catalogue.csv"
    rows = CATALOGUE.splitlines()
    rows[2] = rows[2].replace(",59.00,", ",fifty,")  # line 3: the shirt's second variant
    catalogue.write_text("\n".join([*rows, "tea,,TEA,,,,,5.00,,EUR,,,,,"]) + "\n", "utf-8")

    assert cli(["products", "import", str(catalogue), "--store", "shop-1"]) == 1
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert out[0] == f"{catalogue}:2: not written: product linen-shirt has a refused row"
    assert out[1].startswith(f"{catalogue}:3: price: ")
    assert out[2].startswith(f"{catalogue}:5: name: ")
    assert out[-1].endswith("1 product(s) changed, 1 variant change(s); 3 row(s) refused")
    assert "3 row(s) of" in captured.err
    assert products.get_product("shop-1", "linen-shirt") is None and products.get_product("shop-1", "tea") is None
    assert products.get_product("shop-1", "coffee") is not None


def test_a_file_with_an_unknown_column_is_refused_whole(cli, capsys, tmp_path):
    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_text("product_id,name,price,colour\nx,X,1,red\n", "utf-8")

    assert cli(["products", "import", str(catalogue), "--store", "shop-1"]) == 1
    assert "unknown column(s) colour" in capsys.readouterr().err
    assert products.get_product("shop-1", "x") is None


def test_showing_an_unknown_product_says_so(cli, capsys):
    assert cli(["products", "show", "shop-1", "nope"]) == 1
    assert capsys.readouterr().err == "storeflows: error: store shop-1 has no product 'nope'\n"
    assert cli(["products", "list", "shop-1"]) == 0
    assert "has no products" in capsys.readouterr().out


def test_a_restock_imported_from_a_csv_starts_its_back_in_stock_alert(cli, capsys, tmp_path):
    """A catalogue file is a source of changes as a webhook is: the restock of the sold-out L
    starts the store's back-in-stock run (run by the state machine: not here)."""
    from storeflows.storage import workflows
    from storeflows.workflows import Workflow, WorkflowStatus

    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_text(CATALOGUE, "utf-8")
    assert cli(["products", "import", str(catalogue), "--store", "shop-1"]) == 0
    workflows.put_workflow(
        Workflow(
            store_id="shop-1",
            workflow_id="restock",
            status=WorkflowStatus.PUBLISHED,
            settings={"template": "back_in_stock", "requested_message": "back"},
        )
    )
    capsys.readouterr()
    restocked = tmp_path / "restocked.csv"
    restocked.write_text(CATALOGUE.replace(",EUR,0,,Shirts,", ",EUR,6,,Shirts,"), "utf-8")

    assert cli(["products", "import", str(restocked), "--store", "shop-1", "--json"]) == 0
    imported = json.loads(capsys.readouterr().out)
    assert [change["variant_id"] for change in imported["changes"]] == ["linen-shirt-l"]
    assert imported["alert_runs_started"] == ["restock"]
