"""`storeflows stores`: create a store with one platform's webhook secret, list the stores,
rotate a secret, show or set the revenue attribution windows and whether Shopify test orders
count."""

from __future__ import annotations

import argparse

from storeflows_cli.commands import Build
from storeflows_cli.output import emit, table


def _webhook_url(platform: str, store_id: str) -> str | None:
    from storeflows.config import settings

    api = settings().public_api_url
    if not api:
        return None
    path = {
        "api": f"/events/{store_id}",
        "shopify": f"/webhooks/shopify/{store_id}",
        "woocommerce": f"/webhooks/woocommerce/{store_id}",
    }[platform]
    return api.rstrip("/") + path


def _secret_text(verb: str, store_id: str, platform: str, secret: str) -> str:
    url = _webhook_url(platform, store_id)
    return "\n".join(
        line
        for line in (
            f"store {store_id}: {verb} {platform} secret (shown once; keep it in the store's {platform} settings):",
            f"  {secret}",
            f"webhook URL: {url}" if url else "",
        )
        if line
    )


def stores_create(args) -> int:
    from storeflows.admin.stores import create_store

    store, secret = create_store(args.store, args.platform, secret=args.secret, name=args.name or "")
    emit(
        args,
        {
            "store": store.store_id,
            "platform": args.platform,
            "secret": secret,
            "webhook_url": _webhook_url(args.platform, store.store_id),
        },
        _secret_text("created with a", store.store_id, args.platform, secret),
    )
    return 0


def stores_rotate_secret(args) -> int:
    from storeflows.admin.stores import rotate_secret

    store, secret = rotate_secret(args.store, args.platform, secret=args.secret)
    text = _secret_text("new", store.store_id, args.platform, secret)
    emit(
        args,
        {
            "store": store.store_id,
            "platform": args.platform,
            "secret": secret,
            "webhook_url": _webhook_url(args.platform, store.store_id),
        },
        text + "\nrequests signed with the old secret are refused from now on: update the store now",
    )
    return 0


def stores_list(args) -> int:
    from storeflows.admin.stores import store_platforms
    from storeflows.storage import stores

    rows = [
        {"store": store.store_id, "name": store.name, "platforms": ", ".join(store_platforms(store))}
        for store in sorted(stores.list_stores(), key=lambda store: store.store_id)
    ]
    emit(
        args,
        rows,
        table(rows, [("store", "STORE"), ("name", "NAME"), ("platforms", "PLATFORMS")])
        if rows
        else "no stores yet: storeflows stores create <id> --platform ...",
    )
    return 0


def stores_attribution(args) -> int:
    from storeflows.admin.stores import set_attribution

    store = set_attribution(
        args.store, click_window=args.click_window, open_window=args.open_window, count_opens=args.opens
    )
    windows = store.attribution
    emit(
        args,
        {"store": store.store_id, **windows.model_dump()},
        f"store {store.store_id}: a purchase is ordered revenue of the email the contact last clicked within "
        f"{_duration(windows.click_window)}"
        + (
            f" or opened within {_duration(windows.open_window)}" if windows.count_opens else " (opens are not counted)"
        ),
    )
    return 0


def stores_shopify(args) -> int:
    from storeflows.admin.stores import set_shopify_orders

    store = set_shopify_orders(args.store, count_test_orders=args.test_orders)
    counted = store.shopify.count_test_orders
    emit(
        args,
        {"store": store.store_id, **store.shopify.model_dump()},
        f"store {store.store_id}: Shopify test orders (test: true) "
        + ("count as purchases" if counted else "are acknowledged and ignored"),
    )
    return 0


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def register(groups: argparse._SubParsersAction, build: Build) -> None:
    stores = build.group(groups, "stores", "stores and their webhook secrets")
    platforms = ["shopify", "api", "woocommerce"]
    sub = build.command(
        stores,
        "create",
        stores_create,
        "create a store with one platform's webhook secret",
        "Creates a store with one platform's webhook secret (generated unless --secret is given:\n"
        "whsec_… for the event API, random text for Shopify and WooCommerce) and its own\n"
        "unsubscribe signing key. The secret is printed once. Add another platform's secret\n"
        "with `stores rotate-secret`.",
    )
    sub.add_argument("store", help="store id: lower-case letters, digits and -")
    sub.add_argument(
        "--platform",
        choices=platforms,
        required=True,
        help="api: Storeflows' event API; shopify, woocommerce: their order webhooks",
    )
    sub.add_argument("--secret", help="use this secret (Shopify: the app's signing secret) instead of a new one")
    sub.add_argument("--name", help="the store's name, as messages show it ({{ store.name }})")
    build.command(
        stores,
        "list",
        stores_list,
        "list the stores and which platforms have a secret",
        "Lists every store (a scan of the table) and which platforms have a secret; never the secrets.",
    )
    sub = build.command(
        stores,
        "rotate-secret",
        stores_rotate_secret,
        "set or replace one platform's secret",
        "Sets or replaces one platform's secret of a store, printed once. Requests signed with\n"
        "the old secret are refused from then on: update the store's webhook settings at once.",
    )
    sub.add_argument("store")
    sub.add_argument("--platform", choices=platforms, required=True)
    sub.add_argument("--secret", help="use this secret instead of a new one")
    sub = build.command(
        stores,
        "attribution",
        stores_attribution,
        "show or set the revenue attribution windows",
        "A purchase counts as ordered (with its revenue) for the Storeflows email the contact last\n"
        "clicked within the click window, or opened within the open window; the last touch wins\n"
        "and each order counts once. Defaults: 5d and 5d. --no-opens counts clicks only (mail\n"
        "privacy proxies such as Apple Mail open every email). Without options: show them.",
    )
    sub.add_argument("store")
    sub.add_argument("--click-window", metavar="DURATION", help="e.g. 5d, 12h")
    sub.add_argument("--open-window", metavar="DURATION", help="e.g. 5d, 12h")
    sub.add_argument(
        "--opens", action=argparse.BooleanOptionalAction, default=None, help="count opens too (--no-opens: clicks only)"
    )
    sub = build.command(
        stores,
        "shopify",
        stores_shopify,
        "show or set whether Shopify test orders count",
        "Shopify marks orders placed through a test payment gateway (and its own sample webhook)\n"
        "test: true. They count as purchases by default, so a new store can try its workflows\n"
        "with them; --no-test-orders acknowledges and ignores them (a live store whose staff\n"
        "place test orders). Without options: show the setting.",
    )
    sub.add_argument("store")
    sub.add_argument(
        "--test-orders",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="count test orders (--no-test-orders: ignore them)",
    )
