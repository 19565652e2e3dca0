"""The checks before a workflow is published: what would stop it from working, in words a
marketer understands. Domain rules, used by the admin CLI's validate and publish."""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from typing import Any, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel

from storeflows.fields import MessageId
from storeflows.messaging.checks import check_rendering
from storeflows.records import DynamicCoupon, Message, Purpose, SenderProfile, Store
from storeflows.storage import coupons as pools
from storeflows.workflows import Workflow

# Every run carries its workflow's settings in its input, and Step Functions refuses inputs
# over 256 KB: a quarter of that leaves room for the rest, and for any real settings.
MAX_SETTINGS_BYTES = 64 * 1024


def message_references(model: BaseModel, path: str = "settings") -> list[tuple[str, str]]:
    """Every (field path, message id) a settings model refers to: each field typed
    MessageId, however deep (tiers.0.message), found from the type hints."""
    found: list[tuple[str, str]] = []
    hints = get_type_hints(type(model), include_extras=True)
    for name in type(model).model_fields:
        found += _references_in(getattr(model, name), hints.get(name), f"{path}.{name}")
    return found


def _references_in(value: Any, hint: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(value, BaseModel):
        return message_references(value, path)
    if isinstance(value, str):
        return [(path, value)] if _is_message_id(hint) else []
    if isinstance(value, (list, tuple)):
        inner = (get_args(hint) or [None])[0]
        return [ref for index, item in enumerate(value) for ref in _references_in(item, inner, f"{path}.{index}")]
    if isinstance(value, dict):
        inner = get_args(hint)[1] if len(get_args(hint)) == 2 else None
        return [ref for key, item in value.items() for ref in _references_in(item, inner, f"{path}.{key}")]
    return []


def _is_message_id(hint: Any) -> bool:
    if hint == MessageId:
        return True
    return get_origin(hint) in (Union, types.UnionType) and any(arg == MessageId for arg in get_args(hint))


def validate_for_publish(
    workflow: Workflow,
    messages_of_store: Mapping[str, Message] | Iterable[Message],
    senders_of_store: Iterable[SenderProfile] = (),
    store: Store | None = None,
) -> list[str]:
    """What stops this workflow from working; empty when it can be published."""
    messages = (
        dict(messages_of_store)
        if isinstance(messages_of_store, Mapping)
        else {message.message_id: message for message in messages_of_store}
    )
    senders = {profile.sender_id for profile in senders_of_store}
    store_id, settings = workflow.store_id, workflow.settings
    # Messages are rendered with the store's name; without the store, with its id.
    store = store or Store(store_id=store_id, unsubscribe_key="")
    problems = []
    checked: set[str] = set()
    for path, message_id in message_references(settings):
        message = messages.get(message_id)
        if message is None:
            problems.append(f"{path}: no message {message_id!r} in store {store_id}")
            continue
        reason = settings.transactional_only.get(path.removeprefix("settings."))
        if reason and message.purpose is not Purpose.TRANSACTIONAL:
            problems.append(
                f"{path}: message {message_id!r} is {message.purpose.value}; {reason} (make it transactional)"
            )
        if message_id in checked:
            continue
        checked.add(message_id)
        if message.default_language not in message.variants:
            problems.append(
                f"{path}: message {message_id!r} has no variant in its fallback language {message.default_language!r}"
            )
        if isinstance(message.sender, str) and message.sender not in senders:
            problems.append(
                f"{path}: message {message_id!r} is sent from sender profile {message.sender!r}, which store "
                f"{store_id} does not have (storeflows senders apply FILE.yaml)"
            )
        problems += _coupon_problems(store_id, path, message)
        # Saved before the check existed, or saved for another kind of run than this one's.
        render = check_rendering(store, message, type(settings).sample_subjects())
        problems += [f"{path}: message {message_id!r}: {line}" for line in render.problems]
    problems += [line if line.startswith("settings") else f"settings.{line}" for line in settings.problems()]
    size = len(settings.model_dump_json().encode())
    if size > MAX_SETTINGS_BYTES:
        problems.append(f"settings: {size} bytes; at most {MAX_SETTINGS_BYTES} (every run carries them in its input)")
    return problems


def _coupon_problems(store_id: str, path: str, message: Message) -> list[str]:
    """A message handing out dynamic coupons needs codes left in its pool."""
    if not isinstance(message.coupon, DynamicCoupon):
        return []
    pool = message.coupon.pool
    stock = pools.pool_stock(store_id, pool)
    if stock is None:
        return [
            f"{path}: message {message.message_id!r} hands out codes from coupon pool {pool!r}, which does not "
            f"exist (storeflows coupons import {store_id} {pool} FILE.csv --column NAME)"
        ]
    if stock.remaining == 0:
        return [
            f"{path}: message {message.message_id!r} hands out codes from coupon pool {pool!r}, which has none left"
        ]
    return []
