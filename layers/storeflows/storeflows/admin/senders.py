"""Sender profiles: saved, listed with the messages naming each, deleted once no message names
them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from storeflows.admin.errors import AdminError, InvalidDefinition
from storeflows.admin.messages import sender_problems
from storeflows.admin.stores import require_store
from storeflows.records import Message, SenderProfile
from storeflows.storage import messages


def apply_sender(profile: SenderProfile) -> tuple[SenderProfile, list[str]]:
    """Saves the sender profile; returns it with the ids of the messages naming it (each of
    their later sends comes from it, also in runs in flight)."""
    require_store(profile.store_id)
    problems = sender_problems(profile, "address")
    if problems:
        raise InvalidDefinition(f"sender {profile.sender_id}", problems)
    messages.put_sender(profile)
    return profile, _named_by(messages.list_messages(profile.store_id), profile.sender_id)


def delete_sender(store_id: str, sender_id: str) -> None:
    """Deletes a sender profile no message names: a message naming a missing profile would
    fail every send of it (UnknownSender), so one still in use is refused, with its users."""
    require_store(store_id)
    users = _named_by(messages.list_messages(store_id), sender_id)
    if users:
        raise AdminError(
            f"sender {sender_id} is named by messages {', '.join(users)} of store {store_id}: point them "
            f"at another sender first (storeflows messages apply FILE.yaml)"
        )
    if not messages.delete_sender(store_id, sender_id):
        raise AdminError(f"store {store_id} has no sender profile {sender_id}")


def list_senders(store_id: str) -> list[dict[str, Any]]:
    """The store's sender profiles and the messages naming each."""
    require_store(store_id)
    store_messages = messages.list_messages(store_id)
    return [
        {
            "store": store_id,
            "sender": profile.sender_id,
            "name": profile.name,
            "address": profile.address,
            "reply_to": profile.reply_to,
            "used_by": _named_by(store_messages, profile.sender_id),
        }
        for profile in sorted(messages.list_senders(store_id), key=lambda profile: profile.sender_id)
    ]


def _named_by(messages: Iterable[Message], sender_id: str) -> list[str]:
    return sorted(message.message_id for message in messages if message.sender == sender_id)
