"""Messages and the sender profiles they name (STORE#<store>/MESSAGE#…, SENDER#…)."""

from __future__ import annotations

from boto3.dynamodb.conditions import Key

from storeflows.errors import UnknownMessage, UnknownSender
from storeflows.records import Message, Sender, SenderProfile
from storeflows.storage import dynamodb as db
from storeflows.storage import keys


def put_message(message: Message) -> None:
    item = message.model_dump(mode="json")
    db.table().put_item(Item={**keys.message_key(message.store_id, message.message_id), **item})


def get_message(store_id: str, message_id: str) -> Message:
    item = db.table().get_item(Key=keys.message_key(store_id, message_id)).get("Item")
    if item is None:
        raise UnknownMessage(f"store {store_id} has no message {message_id}")
    return Message.model_validate(db.without_keys(item))


def list_messages(store_id: str) -> list[Message]:
    condition = Key("pk").eq(keys.store_pk(store_id)) & Key("sk").begins_with(keys.MESSAGE_PREFIX)
    return [Message.model_validate(db.without_keys(item)) for page in db.query_pages(condition) for item in page]


def put_sender(profile: SenderProfile) -> None:
    item = db.drop_none(profile.model_dump(mode="json"))
    db.table().put_item(Item={**keys.sender_key(profile.store_id, profile.sender_id), **item})


def get_sender(store_id: str, sender_id: str) -> SenderProfile | None:
    item = db.table().get_item(Key=keys.sender_key(store_id, sender_id), ConsistentRead=True).get("Item")
    return SenderProfile.model_validate(db.without_keys(item)) if item else None


def delete_sender(store_id: str, sender_id: str) -> bool:
    """False when the store has no such profile."""
    return (
        db.if_condition_holds(
            db.table().delete_item, Key=keys.sender_key(store_id, sender_id), ConditionExpression="attribute_exists(pk)"
        )
        is not None
    )


def list_senders(store_id: str) -> list[SenderProfile]:
    condition = Key("pk").eq(keys.store_pk(store_id)) & Key("sk").begins_with(keys.SENDER_PREFIX)
    return [SenderProfile.model_validate(db.without_keys(item)) for page in db.query_pages(condition) for item in page]


def message_sender(message: Message) -> Sender:
    """Who the message is from: its inline sender, or its sender profile as it is now."""
    if isinstance(message.sender, Sender):
        return message.sender
    profile = get_sender(message.store_id, message.sender)
    if profile is None:
        raise UnknownSender(
            f"message {message.message_id} names sender profile {message.sender}, "
            f"which store {message.store_id} does not have"
        )
    return Sender.model_validate(profile.model_dump(include=set(Sender.model_fields)))


def delete_message(store_id: str, message_id: str) -> bool:
    """False when the store has no such message."""
    return (
        db.if_condition_holds(
            db.table().delete_item,
            Key=keys.message_key(store_id, message_id),
            ConditionExpression="attribute_exists(pk)",
        )
        is not None
    )
