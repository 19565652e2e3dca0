"""`storeflows coupons`: import codes into a pool, list the pools, show the codes left."""

from __future__ import annotations

import argparse

from storeflows_cli.commands import Build
from storeflows_cli.output import CliError, emit, plain, read, table

_DELIMITER_NAMES = {";": "semicolons", "\t": "tabs", "|": "bars"}


def coupons_import(args) -> int:
    from storeflows.admin.stores import require_store
    from storeflows.messaging import coupons
    from storeflows.storage import coupons as pools

    require_store(args.store)
    result = coupons.import_codes(
        args.store, args.pool, read(args.file), args.column, low_stock_threshold=args.low_stock
    )
    stock = pools.pool_stock(args.store, args.pool)
    data = {"store": args.store, "pool": args.pool, **plain(result), "stock": plain(stock)}
    text = (
        f"pool {args.pool} of store {args.store}: {result.added} code(s) added, "
        f"{result.skipped_duplicates} duplicate(s) skipped, {result.size} in the pool"
    )
    if stock is not None:
        text += f"; {stock.remaining} left, low-stock alarm at {stock.low_stock_threshold} left"
    if result.delimiter not in (None, ","):
        text += f" (columns separated by {_DELIMITER_NAMES.get(result.delimiter, repr(result.delimiter))})"
    emit(args, data, text)
    return 0


def coupons_list(args) -> int:
    from storeflows.admin.stores import require_store
    from storeflows.records import DynamicCoupon
    from storeflows.storage import coupons as pools
    from storeflows.storage import messages

    require_store(args.store)
    users: dict[str, list[str]] = {}
    for message in messages.list_messages(args.store):
        if isinstance(message.coupon, DynamicCoupon):
            users.setdefault(message.coupon.pool, []).append(message.message_id)
    found = pools.list_pools(args.store)
    # A pool a message names but nobody imported: every send of that message fails.
    rows = [
        {
            "store": args.store,
            "pool": pool_id,
            **(
                plain(found[pool_id])
                if pool_id in found
                else dict.fromkeys(("size", "claimed", "remaining", "low_stock_threshold"), None)
            ),
            "used_by": sorted(users.get(pool_id, [])),
        }
        for pool_id in sorted(set(found) | set(users))
    ]
    text = (
        table(
            [
                {
                    **row,
                    "remaining": row["remaining"] if row["size"] is not None else "not imported",
                    "used_by": ", ".join(row["used_by"]) or None,
                }
                for row in rows
            ],
            [
                ("pool", "POOL"),
                ("size", "CODES"),
                ("claimed", "HANDED OUT"),
                ("remaining", "LEFT"),
                ("low_stock_threshold", "LOW-STOCK ALARM AT"),
                ("used_by", "MESSAGES"),
            ],
        )
        if rows
        else f"store {args.store} has no coupon pools (storeflows coupons import STORE POOL FILE.csv --column C)"
    )
    emit(args, rows, text)
    return 0


def coupons_stock(args) -> int:
    from storeflows.admin.stores import require_store
    from storeflows.storage import coupons as pools

    require_store(args.store)
    stock = pools.pool_stock(args.store, args.pool)
    if stock is None:
        raise CliError(
            f"store {args.store} has no coupon pool {args.pool!r} (import codes with: storeflows coupons import)"
        )
    emit(
        args,
        {"store": args.store, "pool": args.pool, **plain(stock)},
        f"pool {args.pool} of store {args.store}: {stock.remaining} of {stock.size} code(s) left "
        f"({stock.claimed} handed out; low-stock alarm at {stock.low_stock_threshold} left)",
    )
    return 0


def register(groups: argparse._SubParsersAction, build: Build) -> None:
    coupons = build.group(groups, "coupons", "coupon code pools for dynamic coupons")
    sub = build.command(
        coupons,
        "import",
        coupons_import,
        "import codes from a CSV column into a pool",
        "Adds the codes of one CSV column to the pool (created on first import). Columns may be\n"
        "separated by commas, semicolons (spreadsheets where the comma is the decimal mark) or\n"
        "tabs: the header naming --column decides. Blank cells, codes repeated in the file and\n"
        "codes already in the pool are skipped, so importing a file twice adds nothing.",
    )
    sub.add_argument("store")
    sub.add_argument("pool")
    sub.add_argument("file", metavar="FILE.csv")
    sub.add_argument("--column", required=True, metavar="NAME", help="the CSV column holding the codes")
    sub.add_argument(
        "--low-stock",
        type=int,
        metavar="N",
        help="raise the low-stock alarm at N codes left (default: a tenth of the first import)",
    )
    sub = build.command(
        coupons, "list", coupons_list, "the store's pools: codes, handed out, left, and the messages using each"
    )
    sub.add_argument("store")
    sub = build.command(coupons, "stock", coupons_stock, "codes left in a pool")
    sub.add_argument("store")
    sub.add_argument("pool")
