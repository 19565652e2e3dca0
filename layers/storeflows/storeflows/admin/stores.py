"""Stores and their secrets: one per platform (the event API, Shopify, WooCommerce), each shown
once when it is made. A store starts with one platform's secret and adds others; a rotation
keeps the secret it replaces accepted until the operator retires it, so the store's side can
switch over without a refused webhook. The revenue attribution windows; whether Shopify test
orders count; what the store's pages may send to POST /collect (public key, origins, consent)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import ValidationError

from storeflows.admin.errors import AdminError
from storeflows.admin.files import _store_id_problems, validation_problems
from storeflows.fields import WRITTEN
from storeflows.intake.signatures import generate_standard_webhooks_secret, sign_standard_webhook
from storeflows.messaging.unsubscribe_links import generate_unsubscribe_key
from storeflows.records import Attribution, BrowserSettings, ShopifyOrders, Store, is_store_id
from storeflows.storage import stores
from storeflows.timezones import is_zone


def require_store(store_id: str) -> Store:
    store = stores.get_store(store_id) if is_store_id(store_id) else None
    if store is None:
        raise AdminError(f"no store {store_id!r} (create it with: storeflows stores create {store_id} --platform ...)")
    return store


PLATFORM_SECRET_FIELDS = {"shopify": "shopify_secret", "api": "webhook_secret", "woocommerce": "woocommerce_secret"}


def _secret_field(platform: str) -> str:
    field = PLATFORM_SECRET_FIELDS.get(platform)
    if field is None:
        raise AdminError(f"unknown platform {platform!r}; one of: {', '.join(PLATFORM_SECRET_FIELDS)}")
    return field


def _platform_secret(platform: str, secret: str | None) -> str:
    if secret is None:
        return generate_standard_webhooks_secret() if platform == "api" else secrets.token_urlsafe(32)
    if not secret or any(ch.isspace() for ch in secret):
        raise AdminError("the secret must not be empty or contain spaces")
    if platform == "api":
        try:
            sign_standard_webhook(secret, "msg_check", 0, b"")
        except ValueError:
            raise AdminError(
                "an event API secret is whsec_ followed by base64 (omit --secret to generate one)"
            ) from None
    return secret


def store_platforms(store: Store) -> list[str]:
    return [platform for platform, field in PLATFORM_SECRET_FIELDS.items() if getattr(store, field)]


def rotating_platforms(store: Store) -> list[str]:
    """The platforms whose secret before the last rotation is still accepted."""
    return [platform for platform, field in PLATFORM_SECRET_FIELDS.items() if store.previous_secret(field)]


def create_store(store_id: str, platform: str, *, secret: str | None = None, name: str = "") -> tuple[Store, str]:
    """A new store with one platform's secret (generated unless given) and its own
    unsubscribe signing key. Returns the store and the secret, to be shown once."""
    problems = _store_id_problems(store_id)
    if problems:
        raise AdminError(problems[0])
    field = _secret_field(platform)
    value = _platform_secret(platform, secret)
    store = Store(store_id=store_id, name=name, unsubscribe_key=generate_unsubscribe_key(), **{field: value})
    if not stores.create_store(store):
        raise AdminError(
            f"store {store_id} exists (add another platform's secret with: storeflows stores add-platform "
            f"{store_id} --platform ...)"
        )
    return store, value


def add_platform(store_id: str, platform: str, *, secret: str | None = None) -> tuple[Store, str]:
    """Gives the store a platform's first secret (generated unless given); returns the store
    and the secret, to be shown once. Refused when the platform has one: rotate it instead."""
    field = _secret_field(platform)
    store = require_store(store_id)
    if getattr(store, field):
        raise AdminError(
            f"store {store_id} has a {platform} secret already (replace it with: storeflows stores rotate-secret "
            f"{store_id} --platform {platform})"
        )
    value = _platform_secret(platform, secret)
    updated = stores.add_store_secret(store_id, field, value)
    if updated is None:
        raise AdminError(f"store {store_id} changed meanwhile (removed, or given a {platform} secret): check it")
    return updated, value


@dataclass(frozen=True)
class Rotation:
    store: Store
    secret: str  # the new one, to be shown once
    # The rotation before this one had not been retired: the secret it kept accepted no longer is.
    dropped_older: bool


def rotate_secret(store_id: str, platform: str, *, secret: str | None = None) -> Rotation:
    """Replaces one platform's secret. The one it replaces stays accepted (requests signed
    with either verify) until retire_secret, so the store's side can be switched at leisure;
    only one old secret is kept, so a second rotation before retiring drops the oldest."""
    field = _secret_field(platform)
    store = require_store(store_id)
    current = getattr(store, field)
    if not current:
        raise AdminError(
            f"store {store_id} has no {platform} secret to rotate (add one with: storeflows stores add-platform "
            f"{store_id} --platform {platform})"
        )
    value = _platform_secret(platform, secret)
    if value == current:
        raise AdminError(f"that is the {platform} secret already: give a new one, or omit --secret to generate one")
    updated = stores.rotate_store_secret(store_id, field, value, current=current)
    if updated is None:
        raise AdminError(f"store {store_id} changed meanwhile (another rotation?): check it and try again")
    return Rotation(updated, value, dropped_older=bool(store.previous_secret(field)))


def retire_secret(store_id: str, platform: str) -> Store:
    """Stops accepting the secret a platform had before its last rotation."""
    field = _secret_field(platform)
    require_store(store_id)
    updated = stores.retire_store_secret(store_id, field)
    if updated is None:
        raise AdminError(f"store {store_id} has no old {platform} secret to retire (only the current one is accepted)")
    return updated


def set_attribution(
    store_id: str, *, click_window: str | None = None, open_window: str | None = None, count_opens: bool | None = None
) -> Store:
    """Changes the store's revenue attribution windows (those given); returns the store with
    the windows now in force. Purchases accepted from now on use them."""
    store = require_store(store_id)
    changes = {
        name: value
        for name, value in (("click_window", click_window), ("open_window", open_window), ("count_opens", count_opens))
        if value is not None
    }
    if not changes:
        return store
    try:
        # As written on the command line: a window needs its unit (fields.WRITTEN).
        written = Attribution.model_validate(changes, context=WRITTEN)
    except ValidationError as err:
        raise AdminError("; ".join(validation_problems(err))) from None
    attribution = store.attribution.model_copy(update={name: getattr(written, name) for name in changes})
    stores.set_store_attribution(store_id, attribution)
    return store.model_copy(update={"attribution": attribution})


def set_shopify_orders(store_id: str, *, count_test_orders: bool | None = None) -> Store:
    """Whether the store's Shopify test orders count as purchases (when given); returns the
    store with the setting now in force. Webhooks accepted from now on follow it."""
    store = require_store(store_id)
    if count_test_orders is None:
        return store
    shopify = ShopifyOrders(count_test_orders=count_test_orders)
    stores.set_store_shopify_orders(store_id, shopify)
    return store.model_copy(update={"shopify": shopify})


def set_timezone(store_id: str, timezone: str | None = None) -> Store:
    """The store's time zone (when given: an IANA name, e.g. Europe/Warsaw); returns the store
    with it in force. Its contacts without a country get their birthday email at the
    workflow's hour of this zone (storeflows.timezones)."""
    store = require_store(store_id)
    if timezone is None:
        return store
    if not is_zone(timezone):
        raise AdminError(f"{timezone!r} is not a time zone like Europe/Warsaw or America/New_York")
    stores.set_store_timezone(store_id, timezone)
    return store.model_copy(update={"timezone": timezone})


PUBLIC_KEY_PREFIX = "pk_"


def generate_public_key() -> str:
    """The store's browser key: not a secret (every visitor's browser sends it), but unguessable,
    so the endpoint can tell a page the store set up from a guess at its store id."""
    return PUBLIC_KEY_PREFIX + secrets.token_urlsafe(18)


def web_origin(value: str) -> str:
    """An origin as browsers send it in the Origin header: scheme://host[:port], lower-case,
    no path; "null" is what a sandboxed frame (it may be a Shopify pixel's) sends."""
    text = value.strip()
    if text == "null":
        return text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise AdminError(f"{value!r} is not an origin like https://shop.example.com") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise AdminError(f"{value!r} is not an origin like https://shop.example.com (scheme and host, no path)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise AdminError(f"{value!r} is not an origin like https://shop.example.com (no query, user or fragment)")
    default_port = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default_port) else "")


def set_browser(
    store_id: str,
    *,
    allow_origins: tuple[str, ...] = (),
    remove_origins: tuple[str, ...] = (),
    consent_required: bool | None = None,
    rotate_key: bool = False,
) -> Store:
    """What the store's pages may send to POST /collect: the first call gives the store its
    public key; origins are added and removed; the consent requirement set (on by default);
    `rotate_key` replaces the key (pages naming the old one are refused at once). Returns the
    store as it is now."""
    store = require_store(store_id)
    current = store.browser or BrowserSettings(public_key=generate_public_key())
    added = [web_origin(origin) for origin in allow_origins]
    removed = {web_origin(origin) for origin in remove_origins}
    origins = [origin for origin in dict.fromkeys([*current.allowed_origins, *added]) if origin not in removed]
    browser = BrowserSettings(
        public_key=generate_public_key() if rotate_key else current.public_key,
        allowed_origins=origins,
        consent_required=current.consent_required if consent_required is None else consent_required,
    )
    if browser != store.browser:
        stores.set_store_browser(store_id, browser)
    return store.model_copy(update={"browser": browser})
