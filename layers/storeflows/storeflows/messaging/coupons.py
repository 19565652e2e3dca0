"""Dynamic coupon pools: unique codes imported from a CSV file, each handed out at most once.

A message carries either a static coupon (one code for everyone, nothing stored here) or a
dynamic one naming a pool (records.DynamicCoupon). A pool is three kinds of items
(storage.coupons): its counters, its codes by index, and the claim of each send.

Handing out is one conditional counter update (`ADD claimed :1` only while `claimed < size`),
which DynamoDB applies atomically per item: concurrent claims get distinct indexes, and
never more than `size` of them. An import writes its codes first and raises `size` last, so
a claim never reaches an index without a code. A code can be lost (counted as claimed, sent
to no one) when a send crashes between the counter update and the claim record, never sent
twice.

Metrics (namespace Storeflows, dimension service): CouponPoolLow for every claim that leaves
the pool at or below its low-stock threshold (and for every claim that finds it empty), and
CouponPoolExhausted for every claim that finds it empty. Logs carry store and pool ids only,
never codes or emails."""

from __future__ import annotations

import csv
import io
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from storeflows.errors import StoreflowsError
from storeflows.observability import MetricUnit, logger, metrics
from storeflows.records import COUPON_POOL_ID_PATTERN, MAX_COUPON_CODE_LENGTH, is_store_id
from storeflows.storage import coupons as pools
from storeflows.storage import keys

MAX_POOL_SIZE = 10**keys.COUPON_INDEX_DIGITS


class CouponImportError(StoreflowsError):
    """The CSV file or the pool cannot take this import (the detail says why)."""


class UnknownCouponPool(StoreflowsError):
    """A message hands out codes from a pool that was never imported. A configuration error:
    the send fails (and the run with it) rather than silently sending without a coupon."""


class CouponPoolCorrupted(StoreflowsError):
    """A claimed index has no code: the pool's items were edited by hand."""


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped_duplicates: int  # repeated in the file, or already in the pool
    size: int  # codes in the pool after the import (claimed ones included)
    delimiter: str | None = ","  # what separated the file's columns (None for rows already read)


# --- import -----------------------------------------------------------------------------------


def import_codes(
    store_id: str,
    pool_id: str,
    source: str | Iterable[Mapping[str, str | None]],
    column: str,
    low_stock_threshold: int | None = None,
) -> ImportResult:
    """Appends the codes of one CSV column to the pool (creating it on first import).

    `source` is the CSV text (with a header row) or rows already read (csv.DictReader).
    Codes are stripped; blanks are ignored; a code repeated in the file or already in the
    pool is skipped, so importing the same file twice adds nothing. `low_stock_threshold`
    (codes left at which CouponPoolLow starts) defaults to a tenth of the pool on its first
    import and is kept by later imports unless given."""
    _check_ids(store_id, pool_id)
    if low_stock_threshold is not None and low_stock_threshold < 0:
        raise CouponImportError("low_stock_threshold must be 0 or more")
    codes, repeated, delimiter = _read_codes(source, column)

    token = uuid.uuid4().hex
    pool = pools.start_import(store_id, pool_id, token)
    if pool is None:
        raise CouponImportError(f"another import into pool {pool_id} is running; try again once it has finished")
    try:
        start = int(pool["size"])
        existing = pools.codes_in_pool(store_id, pool_id, start)
        new = [code for code in codes if code not in existing]
        size = start + len(new)
        if size > MAX_POOL_SIZE:
            raise CouponImportError(f"a pool holds at most {MAX_POOL_SIZE} codes; this import would make {size}")
        pools.put_codes(store_id, pool_id, start, new)
        if low_stock_threshold is None and "low_stock_threshold" not in pool and size:
            low_stock_threshold = max(1, math.ceil(size / 10))
        if not pools.finish_import(store_id, pool_id, token, size, low_stock_threshold):
            raise CouponImportError(
                f"the import into pool {pool_id} took longer than {pools.IMPORT_LEASE} and lost its "
                "hold; import the file again (codes already in the pool are skipped)"
            )
    except BaseException:
        pools.release_import(store_id, pool_id, token)
        raise
    logger.info(
        "coupon codes imported",
        extra={"store_id": store_id, "coupon_pool": pool_id, "added": len(new), "pool_size": size},
    )
    return ImportResult(
        added=len(new), skipped_duplicates=repeated + len(codes) - len(new), size=size, delimiter=delimiter
    )


def _check_ids(store_id: str, pool_id: str) -> None:
    if not is_store_id(store_id):
        raise CouponImportError(f"{store_id!r} is not a store id")
    if not COUPON_POOL_ID_PATTERN.fullmatch(pool_id):
        raise CouponImportError(
            f"{pool_id!r} is not a pool id (letters, digits, '-' and '_', up to 64, starting with a letter or digit)"
        )


# What separates the columns of a CSV file: commas, or semicolons where the comma is the decimal
# mark (spreadsheets in most of Europe save "CSV" so), or tabs.
DELIMITERS = (",", ";", "\t")
_SEPARATOR_HINT = re.compile(r"^sep=(.)\r?\n")  # Excel's first line naming the delimiter


def csv_rows(text: str, column: str | None = None) -> tuple[csv.DictReader, str]:
    """A CSV file's rows by its header and the delimiter found: Excel's `sep=;` line if the file
    starts with one, else the delimiter whose header has `column`, else the one that splits
    the header into the most columns (a comma when they tie). A UTF-8 byte order mark is
    dropped."""
    text = text.removeprefix("\ufeff")
    hint = _SEPARATOR_HINT.match(text)
    if hint:
        return csv.DictReader(io.StringIO(text[hint.end() :], newline=""), delimiter=hint.group(1)), hint.group(1)
    header = text.splitlines()[0] if text else ""
    headers = {delimiter: next(csv.reader([header], delimiter=delimiter), []) for delimiter in DELIMITERS}
    with_column = [
        delimiter
        for delimiter, names in headers.items()
        if column is not None and column.strip() in (name.strip() for name in names)
    ]
    delimiter = with_column[0] if with_column else max(DELIMITERS, key=lambda candidate: len(headers[candidate]))
    return csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter), delimiter


def _read_codes(source: str | Iterable[Mapping[str, str | None]], column: str) -> tuple[list[str], int, str | None]:
    """The column's distinct non-blank codes in file order, how many repeats were dropped, and
    the file's delimiter."""
    delimiter: str | None = None
    if isinstance(source, str):
        reader, delimiter = csv_rows(source, column)
        if not reader.fieldnames:
            raise CouponImportError("the CSV file is empty: it needs a header row naming its columns")
        available = list(reader.fieldnames)
        rows: Iterable[Mapping[str, str | None]] = reader
    else:
        rows = list(source)
        available = list(rows[0]) if rows else []
    field = _find_column(column, available)
    codes: list[str] = []
    seen: set[str] = set()
    repeated = 0
    for line, row in enumerate(rows, start=2):
        code = (row.get(field) or "").strip()
        if not code:
            continue
        if len(code) > MAX_COUPON_CODE_LENGTH:
            raise CouponImportError(
                f"row {line}: the code is longer than {MAX_COUPON_CODE_LENGTH} characters "
                f"(is {column!r} the right column?)"
            )
        if code in seen:
            repeated += 1
            continue
        seen.add(code)
        codes.append(code)
    return codes, repeated, delimiter


def _find_column(column: str, available: list[str]) -> str:
    if column in available:
        return column
    for name in available:  # spreadsheets like to pad headers
        if name is not None and name.strip() == column.strip():
            return name
    listed = ", ".join(repr(name) for name in available if name is not None) or "none"
    raise CouponImportError(f"the CSV file has no column {column!r}; its columns: {listed}")


# --- claims -------------------------------------------------------------------------------------


def claim_code(store_id: str, pool_id: str, claim_key: str) -> str | None:
    """Hands out the pool's next code for one send, or None when the pool is exhausted.

    `claim_key` names the send ("<workflow>#<subject>#<step>#<email>"): claiming again with the
    same key returns the same code, so a retried send never uses up a second one. Safe to
    call concurrently. Raises UnknownCouponPool when the pool was never imported."""
    earlier = pools.earlier_claim(store_id, pool_id, claim_key)
    if earlier is not None:
        return earlier
    pool = pools.take_next_index(store_id, pool_id)
    if pool is None:
        if pools.pool_stock(store_id, pool_id) is None:
            raise UnknownCouponPool(f"store {store_id} has no coupon pool {pool_id}")
        logger.warning("coupon pool exhausted", extra={"store_id": store_id, "coupon_pool": pool_id})
        metrics.add_metric(name="CouponPoolExhausted", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="CouponPoolLow", unit=MetricUnit.Count, value=1)
        return None
    index = int(pool["claimed"]) - 1
    code = pools.code_at(store_id, pool_id, index)
    if code is None:
        raise CouponPoolCorrupted(f"coupon pool {pool_id} of store {store_id} has no code at index {index}")
    code, ours = pools.record_claim(store_id, pool_id, claim_key, code, index)
    if not ours:
        logger.warning(
            "concurrent claim for one send; one code left unused",
            extra={"store_id": store_id, "coupon_pool": pool_id, "index": index},
        )
    metrics.add_metric(name="CouponCodesClaimed", unit=MetricUnit.Count, value=1)
    remaining = int(pool["size"]) - int(pool["claimed"])
    if remaining <= int(pool.get("low_stock_threshold", 0)):
        logger.warning("coupon pool low", extra={"store_id": store_id, "coupon_pool": pool_id, "remaining": remaining})
        metrics.add_metric(name="CouponPoolLow", unit=MetricUnit.Count, value=1)
    return code
