"""`storeflows products import`: the catalogue from a CSV file, one row per variant (the
columns are COLUMNS; the README's "Product catalogue" says what each holds).

A product's rows give all its variants: the product is upserted whole, with the product's
fields from its first row. A row that is wrong is refused with its line number, and its
product is not written at all (writing it without that variant would drop the variant);
every other product is. Importing the same file again writes nothing and reports no change
(storeflows.storage.products compares before writing)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from storeflows import fanout
from storeflows.catalogue import CatalogueProduct, VariantChange
from storeflows.events.common import describe_validation_error
from storeflows.observability import logger
from storeflows.storage import dynamodb as db
from storeflows.storage import products

COLUMNS = (
    "product_id",
    "variant_id",
    "sku",
    "name",
    "title",
    "url",
    "image_url",
    "price",
    "compare_at_price",
    "currency",
    "inventory_quantity",
    "available",
    "category",
    "usage_cycle_days",
    "related",
)
REQUIRED_COLUMNS = ("product_id", "name", "price")
_PRODUCT_FIELDS = ("name", "url", "image_url", "currency", "category", "usage_cycle_days", "related")
_VARIANT_FIELDS = ("variant_id", "sku", "title", "price", "compare_at_price", "inventory_quantity", "available")
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}
MAX_ROWS = 50_000


@dataclass
class CatalogueImport:
    products_read: int = 0
    variants_read: int = 0
    products_changed: int = 0
    changes: list[VariantChange] = field(default_factory=list)
    # The catalogue alert runs its changes started (a restock, a price cut, as a webhook's would).
    alert_runs_started: list[str] = field(default_factory=list)
    # (line number in the file, why): rows refused, and rows not written for them.
    refused: list[tuple[int, str]] = field(default_factory=list)


class CatalogueFileError(ValueError):
    """The file as a whole is unusable (no header, a column missing or unknown)."""


def import_catalogue(store_id: str, text: str) -> CatalogueImport:
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    header = [name.strip() for name in reader.fieldnames or []]
    if not header:
        raise CatalogueFileError("the file is empty: its first line names the columns")
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise CatalogueFileError(f"unknown column(s) {', '.join(unknown)}; the columns are {', '.join(COLUMNS)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise CatalogueFileError(f"missing column(s) {', '.join(missing)}")
    reader.fieldnames = header

    result = CatalogueImport()
    rows: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    bad_products: set[str] = set()
    for number, row in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            raise CatalogueFileError(f"more than {MAX_ROWS} rows: split the file")
        cells = {name: (value or "").strip() for name, value in row.items() if name is not None}
        if None in row:
            result.refused.append((number, "more cells than columns"))
            bad_products.add(cells.get("product_id", ""))
            continue
        try:
            parsed = _row(cells)
        except (ValueError, ValidationError) as err:
            reason = describe_validation_error(err) if isinstance(err, ValidationError) else str(err)
            result.refused.append((number, reason.replace("variants.0.", "")))
            bad_products.add(cells.get("product_id", ""))
            continue
        rows.setdefault(parsed["product_id"], []).append((number, parsed))

    at = db.now()
    for product_id, product_rows in rows.items():
        result.products_read += 1
        result.variants_read += len(product_rows)
        if product_id in bad_products:
            result.refused += [
                (number, f"not written: product {product_id} has a refused row") for number, _ in product_rows
            ]
            continue
        first = product_rows[0][1]
        try:
            product = CatalogueProduct.model_validate(
                {**first, "variants": [parsed["variants"][0] for _, parsed in product_rows]}
            )
        except ValidationError as err:
            result.refused += [(number, describe_validation_error(err)) for number, _ in product_rows]
            continue
        source = f"import:{db.utc_iso(at)}"
        changes = products.put_product(store_id, product, at=at, by=source)
        result.changes += changes
        result.alert_runs_started += fanout.start_alerts(store_id, source, changes)
        result.products_changed += bool(changes)
    result.refused.sort()
    logger.info(
        "catalogue imported",
        extra={
            "store_id": store_id,
            "products_read": result.products_read,
            "products_changed": result.products_changed,
            "variant_changes": len(result.changes),
            "rows_refused": len(result.refused),
        },
    )
    return result


def _row(cells: dict[str, str]) -> dict[str, Any]:
    """One row as a product with one variant, checked as the catalogue checks any product."""
    present = {name: value for name, value in cells.items() if value != ""}
    variant: dict[str, Any] = {name: present[name] for name in _VARIANT_FIELDS if name in present}
    variant.setdefault("variant_id", present.get("product_id", ""))
    if "available" in variant:
        variant["available"] = _yes_no(variant["available"])
    product: dict[str, Any] = {name: present[name] for name in ("product_id", *_PRODUCT_FIELDS) if name in present}
    if "related" in product:
        product["related"] = [part.strip() for part in product["related"].split("|") if part.strip()]
    # Checked now, so a mistake names its row; the product of all its rows is checked again.
    CatalogueProduct.model_validate({**product, "variants": [variant]})
    return {**product, "variants": [variant]}


def _yes_no(value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"available: {value[:20]!r} is not true or false")
