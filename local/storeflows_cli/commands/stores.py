"""`storeflows stores`: create a store with one platform's webhook secret, add another platform,
list the stores, rotate a secret (the old one stays accepted) and retire the old one, show or
set the revenue attribution windows and whether Shopify test orders count."""

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


def _secret_data(store_id: str, platform: str, secret: str) -> dict:
    return {"store": store_id, "platform": platform, "secret": secret, "webhook_url": _webhook_url(platform, store_id)}


def stores_add_platform(args) -> int:
    from storeflows.admin.stores import add_platform

    store, secret = add_platform(args.store, args.platform, secret=args.secret)
    emit(
        args,
        _secret_data(store.store_id, args.platform, secret),
        _secret_text("added a", store.store_id, args.platform, secret),
    )
    return 0


def stores_rotate_secret(args) -> int:
    from storeflows.admin.stores import rotate_secret

    rotation = rotate_secret(args.store, args.platform, secret=args.secret)
    store_id, platform = rotation.store.store_id, args.platform
    lines = [
        _secret_text("new", store_id, platform, rotation.secret),
        "the old secret is still accepted, so no webhook is refused while you switch: put the new one in the "
        f"store's {platform} settings, then stop accepting the old one with:",
        f"  storeflows stores retire-secret {store_id} --platform {platform}",
    ]
    if rotation.dropped_older:
        lines.append("(the secret before the old one, still accepted until now, no longer is)")
    emit(
        args,
        {**_secret_data(store_id, platform, rotation.secret), "old_secret_accepted": True},
        "\n".join(lines),
    )
    return 0


def stores_retire_secret(args) -> int:
    from storeflows.admin.stores import retire_secret

    store = retire_secret(args.store, args.platform)
    emit(
        args,
        {"store": store.store_id, "platform": args.platform, "old_secret_accepted": False},
        f"store {store.store_id}: the old {args.platform} secret is retired; requests signed with it are refused "
        "from now on (the current one is accepted)",
    )
    return 0


def stores_list(args) -> int:
    from storeflows.admin.stores import rotating_platforms, store_platforms
    from storeflows.storage import stores

    rows = [
        {
            "store": store.store_id,
            "name": store.name,
            "platforms": ", ".join(store_platforms(store)),
            "old_secret_accepted": ", ".join(rotating_platforms(store)) or None,
            "browser_key": store.browser.public_key if store.browser else None,
        }
        for store in sorted(stores.list_stores(), key=lambda store: store.store_id)
    ]
    emit(
        args,
        rows,
        table(
            rows,
            [
                ("store", "STORE"),
                ("name", "NAME"),
                ("platforms", "PLATFORMS"),
                ("old_secret_accepted", "OLD SECRET ACCEPTED (retire-secret)"),
                # Only once a store takes browser events (storeflows stores browser).
                *([("browser_key", "BROWSER KEY")] if any(row["browser_key"] for row in rows) else []),
            ],
        )
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


def stores_timezone(args) -> int:
    from storeflows.admin.stores import set_timezone

    store = set_timezone(args.store, args.set)
    emit(
        args,
        {"store": store.store_id, "timezone": store.timezone},
        f"store {store.store_id}: time zone {store.timezone} (contacts without a country are in it)",
    )
    return 0


def install_snippet(api: str, store_id: str, public_key: str, consent_required: bool) -> str:
    """The HTML a store puts on every page (README: The browser snippet and the Shopify pixel)."""
    api = api.rstrip("/")
    consent = "true" if consent_required else "false"
    return (
        "<script>\n"
        "  window.storeflows = window.storeflows || function () {"
        " (storeflows.q = storeflows.q || []).push(arguments); };\n"
        f"  storeflows('init', {{store: '{store_id}', key: '{public_key}', endpoint: '{api}',"
        f" consent_required: {consent}}});\n"
        "</script>\n"
        f'<script async src="{api}/sdk/storeflows.js"></script>'
    )


def stores_browser(args) -> int:
    from storeflows.admin.stores import set_browser

    store = set_browser(
        args.store,
        allow_origins=tuple(args.allow_origin or ()),
        remove_origins=tuple(args.remove_origin or ()),
        consent_required=args.consent_required,
        rotate_key=args.rotate_key,
    )
    browser = store.browser
    assert browser is not None  # set_browser gives the store one
    from storeflows.config import settings

    api = settings().public_api_url or "https://<ApiUrl>"
    snippet = install_snippet(api, store.store_id, browser.public_key, browser.consent_required)
    origins = ", ".join(browser.allowed_origins) or "none yet (add one with --allow-origin https://your-shop)"
    emit(
        args,
        {"store": store.store_id, **browser.model_dump(), "snippet": snippet},
        "\n".join(
            [
                f"store {store.store_id}: browser key {browser.public_key}",
                f"  allowed origins: {origins}",
                "  consent required: "
                + (
                    "yes (nothing is stored or sent until storeflows('consent', true))"
                    if browser.consent_required
                    else "no"
                ),
                "put this on every page:",
                snippet,
            ]
        ),
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
        "with `stores add-platform`.",
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
        "add-platform",
        stores_add_platform,
        "give a store another platform's webhook secret",
        "Gives the store a platform's first secret (generated unless --secret is given), printed\n"
        "once, with the webhook URL to set in the platform. Refused when the platform has one\n"
        "already: `stores rotate-secret` replaces it.",
    )
    sub.add_argument("store")
    sub.add_argument("--platform", choices=platforms, required=True)
    sub.add_argument("--secret", help="use this secret (Shopify: the app's signing secret) instead of a new one")
    sub = build.command(
        stores,
        "rotate-secret",
        stores_rotate_secret,
        "replace one platform's secret; the old one stays accepted until retired",
        "Replaces one platform's secret, printed once. The old secret stays accepted too, so\n"
        "nothing is refused while the store's side switches: put the new one in the platform's\n"
        "webhook settings, then `stores retire-secret`. One old secret is kept: rotating again\n"
        "before retiring drops the oldest. After a leak, retire the old one at once.",
    )
    sub.add_argument("store")
    sub.add_argument("--platform", choices=platforms, required=True)
    sub.add_argument("--secret", help="use this secret instead of a new one")
    sub = build.command(
        stores,
        "retire-secret",
        stores_retire_secret,
        "stop accepting a platform's secret from before its last rotation",
        "Requests signed with the secret a platform had before its last rotation are refused\n"
        "from now on; only the current one is accepted.",
    )
    sub.add_argument("store")
    sub.add_argument("--platform", choices=platforms, required=True)
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
        "browser",
        stores_browser,
        "show or set what the store's pages may send (browser key, origins, consent)",
        "The browser snippet and the Shopify pixel send to POST /collect/STORE with the store's\n"
        "public browser key (pk_…, made by the first call; not a secret) from an allowed origin\n"
        "(scheme and host, e.g. https://shop.example.com; links in Storeflows emails to these\n"
        "origins carry the contact token). Consent is required by default: the snippet stores\n"
        "and sends nothing until the page calls storeflows('consent', true). --rotate-key makes\n"
        "a new key (pages with the old one are refused at once). Prints the HTML to install.",
    )
    sub.add_argument("store")
    sub.add_argument(
        "--allow-origin", action="append", metavar="ORIGIN", help="allow pages of this origin (repeatable)"
    )
    sub.add_argument(
        "--remove-origin", action="append", metavar="ORIGIN", help="stop allowing this origin (repeatable)"
    )
    sub.add_argument(
        "--consent-required",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="wait for the visitor's consent before storing or sending anything (default: yes)",
    )
    sub.add_argument("--rotate-key", action="store_true", help="replace the browser key")
    sub = build.command(
        stores,
        "timezone",
        stores_timezone,
        "show or set the store's time zone",
        "The store's IANA time zone (default UTC). A contact's birthday email goes at the\n"
        "workflow's hour in their country's zone; a contact without a country is in the store's,\n"
        "and so is one in a country of several zones if the store's is one of them.\n"
        "Without --set: show it.",
    )
    sub.add_argument("store")
    sub.add_argument("--set", metavar="ZONE", help="e.g. Europe/Warsaw, America/New_York")
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
