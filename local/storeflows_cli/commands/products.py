"""`storeflows products`: import the catalogue from a CSV file, list a store's products, show
one with its variants (price, compare-at price, stock, availability)."""

from __future__ import annotations

import argparse

from storeflows_cli.commands import Build
from storeflows_cli.output import CliError, Problems, emit, plain, read, table


def products_import(args) -> int:
    from storeflows.admin.products import CatalogueFileError, import_catalogue
    from storeflows.admin.stores import require_store

    require_store(args.store)
    try:
        result = import_catalogue(args.store, read(args.file))
    except CatalogueFileError as err:
        raise CliError(f"{args.file}: {err}") from None
    refused = [f"{args.file}:{line}: {reason}" for line, reason in result.refused]
    summary = (
        f"store {args.store}: {result.products_read} product(s), {result.variants_read} variant(s) read; "
        f"{result.products_changed} product(s) changed, {len(result.changes)} variant change(s)"
        + (f"; {len(result.alert_runs_started)} catalogue alert run(s) started" if result.alert_runs_started else "")
        + (f"; {len(refused)} row(s) refused" if refused else "")
    )
    data = {
        "store": args.store,
        "products_read": result.products_read,
        "variants_read": result.variants_read,
        "products_changed": result.products_changed,
        "changes": [plain(change) for change in result.changes],
        "alert_runs_started": result.alert_runs_started,
        "refused": [{"line": line, "reason": reason} for line, reason in result.refused],
    }
    emit(args, data, "\n".join([*refused, summary]))
    if refused:
        raise Problems(f"{len(refused)} row(s) of {args.file} refused (see above); the other products were imported")
    return 0


def _stock(quantity: int | None) -> str:
    return "not tracked" if quantity is None else str(quantity)


def products_list(args) -> int:
    from storeflows.admin.stores import require_store
    from storeflows.storage import products

    require_store(args.store)
    found, cursor = [], None
    while True:
        page, cursor = products.list_products(args.store, cursor=cursor, limit=200)
        found += page
        if cursor is None:
            break
    rows = [
        {
            "product_id": product.product_id,
            "name": product.name,
            "variants": len(product.variants),
            "price": min(variant.price for variant in product.variants),
            "currency": product.currency,
            "in_stock": sum(variant.inventory_quantity or 0 for variant in product.variants),
            "available": sum(variant.available for variant in product.variants),
        }
        for product in found
    ]
    text = (
        table(
            rows,
            [
                ("product_id", "PRODUCT"),
                ("name", "NAME"),
                ("variants", "VARIANTS"),
                ("available", "AVAILABLE"),
                ("price", "FROM"),
                ("currency", "CURRENCY"),
                ("in_stock", "IN STOCK"),
            ],
        )
        if rows
        else f"store {args.store} has no products (storeflows products import catalogue.csv --store {args.store})"
    )
    emit(args, [{**row, "price": str(row["price"])} for row in rows], text)
    return 0


def products_show(args) -> int:
    from storeflows.admin.stores import require_store
    from storeflows.storage import products

    require_store(args.store)
    product = products.get_product(args.store, args.product_id)
    if product is None:
        raise CliError(f"store {args.store} has no product {args.product_id!r}")
    lines = [
        f"product {product.product_id} of store {args.store}: {product.name}",
        *(
            f"  {label}: {value}"
            for label, value in (
                ("url", product.url),
                ("image", product.image_url),
                ("category", product.category),
                ("currency", product.currency),
                ("usage cycle", f"{product.usage_cycle_days} days" if product.usage_cycle_days else None),
                ("related", ", ".join(product.related) or None),
                ("updated", product.updated_at.isoformat() if product.updated_at else None),
            )
            if value
        ),
        "",
        table(
            [
                {
                    "variant_id": variant.variant_id,
                    "sku": variant.sku,
                    "title": variant.title,
                    "price": variant.price,
                    "compare_at_price": variant.compare_at_price,
                    "stock": _stock(variant.inventory_quantity),
                    "locations": ", ".join(f"{where}: {level}" for where, level in variant.inventory_levels.items())
                    or None,
                    "available": "yes" if variant.available else "no",
                }
                for variant in product.variants
            ],
            [
                ("variant_id", "VARIANT"),
                ("sku", "SKU"),
                ("title", "TITLE"),
                ("price", "PRICE"),
                ("compare_at_price", "COMPARE AT"),
                ("stock", "STOCK"),
                ("locations", "BY LOCATION"),
                ("available", "AVAILABLE"),
            ],
        ),
    ]
    emit(args, {"store": args.store, **plain(product)}, "\n".join(lines))
    return 0


def register(groups: argparse._SubParsersAction, build: Build) -> None:
    products = build.group(groups, "products", "the store's product catalogue")
    sub = build.command(
        products,
        "import",
        products_import,
        "import products from a CSV file, one row per variant",
        "Upserts each product of the file with all its variants (a product's rows list them all).\n"
        "A wrong row is refused with its line number and its product is not written; the other\n"
        "products are. Importing the same file twice changes nothing. Columns: see the README's\n"
        '"Product catalogue".',
    )
    sub.add_argument("file", metavar="FILE.csv")
    sub.add_argument("--store", required=True, help="the store the products are of")
    sub = build.command(products, "list", products_list, "the store's products")
    sub.add_argument("store")
    sub = build.command(
        products, "show", products_show, "one product: its variants' price, compare-at price, stock, availability"
    )
    sub.add_argument("store")
    sub.add_argument("product_id")
