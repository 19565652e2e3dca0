"""Contacts and their consent: the profile, the consent history, opens and clicks,
unsubscribes and suppressions, and the whole partition (CONTACT#<store>#<email>) for exports
and erasure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from storeflows.errors import StoreflowsError
from storeflows.records import Contact, Touch
from storeflows.storage import dynamodb as db
from storeflows.storage import keys, privacy, reports


class ContactErasedMeanwhile(StoreflowsError):
    """The contact's profile was erased between two writes of one event; the event is retried."""


def get_contact(store_id: str, email: str) -> Contact | None:
    item = db.table().get_item(Key=keys.contact_key(store_id, email), ConsistentRead=True).get("Item")
    return Contact.model_validate(db.without_keys(item)) if item else None


def contact_history(store_id: str, email: str) -> list[dict[str, Any]]:
    """Every item of a contact's partition (profile, orders, sends, consent history, and any
    kind added later), in sort-key order: what an export shows and an erasure deletes."""
    pages = db.pages(
        "query", KeyConditionExpression=Key("pk").eq(keys.contact_pk(store_id, email)), ConsistentRead=True
    )
    return [item for page in pages for item in page]


def record_consent(
    store_id: str,
    email: str,
    *,
    marketing: bool,
    source: str,
    at: datetime,
    lifts_unsubscribe: bool = False,
    history: bool = True,
    wording: str | None = None,
) -> bool:
    """Sets the contact's marketing consent unless a newer record is already there, so the
    newest statement wins whatever order orders and consent events arrive in. Returns
    False when this record was older and changed nothing. Every statement, applied or not,
    is kept in the contact's consent history as a CONSENT# item (what was stated, when,
    where), unless `history` is False: an order's checkbox is kept on its ORDER# item.

    `lifts_unsubscribe`: an explicit "yes" (a consent event, not the checkbox state an order
    carries) made after the contact unsubscribed re-subscribes them. `wording`: the words the
    person agreed to, kept with the history item (the proof of consent)."""
    statement: dict[str, Any] = {"marketing": marketing, "source": source, "updated_at": db.utc_iso(at)}
    applied = _apply_consent(store_id, email, statement)
    if applied is None:
        start_profile(store_id, email)
        applied = _apply_consent(store_id, email, statement)
    if applied is None:
        raise ContactErasedMeanwhile(f"a contact of store {store_id} was erased while its consent was recorded")
    if history:
        _keep_consent_statement(store_id, email, statement, applied=applied, wording=wording)
    if applied and marketing and lifts_unsubscribe:
        _lift_unsubscribe(store_id, email, statement["updated_at"])
    return applied


def _apply_consent(store_id: str, email: str, statement: dict[str, Any]) -> bool | None:
    """True: applied; False: a newer statement is on record; None: the contact has no profile."""
    try:
        db.table().update_item(
            Key=keys.contact_key(store_id, email),
            UpdateExpression="SET consent = :consent, updated_at = :now",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(consent) OR consent.updated_at < :at)",
            ExpressionAttributeValues={
                ":consent": statement,
                ":now": db.utc_iso(db.now()),
                ":at": statement["updated_at"],
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as err:
        if db.condition_failed(err):
            return False if "Item" in err.response else None
        raise
    return True


def _lift_unsubscribe(store_id: str, email: str, at_iso: str) -> None:
    # Changes nothing when the contact is not unsubscribed, or unsubscribed later than this.
    db.if_condition_holds(
        db.table().update_item,
        Key=keys.contact_key(store_id, email),
        UpdateExpression="REMOVE unsubscribed_at, unsubscribed_via, unsubscribed_reason",
        ConditionExpression="unsubscribed_at < :at",
        ExpressionAttributeValues={":at": at_iso},
    )


def _keep_consent_statement(
    store_id: str, email: str, statement: dict[str, Any], *, applied: bool, wording: str | None
) -> None:
    """The first delivery of a statement is what the history keeps (a redelivery changes nothing)."""
    db.if_condition_holds(
        db.table().put_item,
        Item={
            **keys.consent_statement_key(store_id, email, statement["updated_at"], statement["source"]),
            "marketing": statement["marketing"],
            "source": statement["source"],
            "stated_at": statement["updated_at"],
            "received_at": db.utc_iso(db.now()),
            "applied": applied,
            **({"wording": wording} if wording else {}),
        },
        ConditionExpression="attribute_not_exists(pk)",
    )


def start_profile(store_id: str, email: str) -> None:
    """Creates the profile of a contact's first event. An address erased before starts from
    what its erasure kept (records.Suppression.profile_fields): its old unsubscribe or
    suppression, and no marketing consent as of the erasure. Only events of contacts without
    a profile come here, so known contacts never pay for the lookup."""
    now = db.utc_iso(db.now())
    suppression = privacy.get_suppression(store_id, email)
    # Changes nothing when another event of the same contact started it first.
    db.if_condition_holds(
        db.table().put_item,
        Item={
            **keys.contact_key(store_id, email),
            "store_id": store_id,
            "email": email,
            "created_at": now,
            "updated_at": now,
            **(suppression.profile_fields() if suppression else {}),
        },
        ConditionExpression="attribute_not_exists(pk)",
    )


def fill_in_profile(store_id: str, email: str, *, first_name: str | None, language: str | None) -> None:
    """Sets the first name and language a sign-up gave where the profile has none yet (an
    order's are newer and win), so the welcome series greets and speaks as the form did."""
    given = db.drop_none({"first_name": first_name, "language": language})
    if not given:
        return
    db.if_condition_holds(
        db.table().update_item,
        Key=keys.contact_key(store_id, email),
        UpdateExpression="SET " + ", ".join(f"#{name} = if_not_exists(#{name}, :{name})" for name in given),
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={f"#{name}": name for name in given},
        ExpressionAttributeValues={f":{name}": value for name, value in given.items()},
    )


def record_touch(store_id: str, email: str, kind: str, touch: Touch) -> bool:
    """Keeps the contact's latest open or click (`kind`: "open" or "click"), whatever order
    SES delivers them in. False when a later one is on record or there is no such contact."""
    attribute = {"open": "last_open", "click": "last_click"}[kind]
    return (
        db.if_condition_holds(
            db.table().update_item,
            Key=keys.contact_key(store_id, email),
            UpdateExpression="SET #touch = :touch",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(#touch) OR #touch.#at < :at)",
            ExpressionAttributeNames={"#touch": attribute, "#at": "at"},
            ExpressionAttributeValues={
                ":touch": {**touch.model_dump(mode="json"), "at": db.utc_iso(touch.at)},
                ":at": db.utc_iso(touch.at),
            },
        )
        is not None
    )


def unsubscribe_contact(
    store_id: str,
    email: str,
    *,
    via_message: str,
    at: datetime,
    counted_for: tuple[str, str] | None = None,
    reason: str | None = None,
) -> bool:
    """Unsubscribes an existing contact from marketing. True only the first time (a repeated
    one-click POST changes nothing); False too when there is no such contact (a link for a
    contact that was since erased: it is kept on the erasure's suppression record, so a later
    profile for the address starts unsubscribed). `counted_for` (workflow, sent on) is the
    report row of the email they unsubscribed from: its unsubscribed counter goes up in the
    same transaction, so an unsubscribe is counted exactly once. `reason`: why, when the
    contact did not ask ("sunset"), kept on the profile and counted as `<reason>_unsubscribed`
    in that row instead."""
    reason_set = ", unsubscribed_reason = :reason" if reason else ""
    items = [
        {
            "Update": {
                "TableName": db.table_name(),
                "Key": db.serialize(keys.contact_key(store_id, email)),
                "UpdateExpression": "SET unsubscribed_at = :at, unsubscribed_via = :message" + reason_set,
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(unsubscribed_at)",
                "ExpressionAttributeValues": db.serialize(
                    {":at": db.utc_iso(at), ":message": via_message, **({":reason": reason} if reason else {})}
                ),
            }
        }
    ]
    if counted_for is not None:
        workflow_id, sent_on = counted_for
        counter = f"{reason}_unsubscribed" if reason else "unsubscribed"
        items.append(reports.count_in_report(store_id, sent_on, workflow_id, via_message, {counter: 1}))
    if db.failed_items(items):
        privacy.block_erased_address(store_id, email, unsubscribed_at=db.utc_iso(at))
        return False
    return True


def suppress_contact(store_id: str, email: str, reason: str, at: datetime) -> bool:
    """Stops every email to the contact (a hard bounce or a complaint). True the first time;
    for an erased address the suppression record keeps it instead."""
    if (
        db.if_condition_holds(
            db.table().update_item,
            Key=keys.contact_key(store_id, email),
            UpdateExpression="SET suppressed_reason = :reason, suppressed_at = :at",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(suppressed_reason)",
            ExpressionAttributeValues={":reason": reason, ":at": db.utc_iso(at)},
        )
        is not None
    ):
        return True
    privacy.block_erased_address(store_id, email, suppressed_reason=reason)
    return False


def delete_contact(store_id: str, email: str) -> list[str]:
    """Deletes every item of the contact's partition, the profile last (an erasure cut short
    leaves the contact findable, and erasing again finishes it). Returns their sort keys."""
    sort_keys = [item["sk"] for item in contact_history(store_id, email)]
    partition = keys.contact_pk(store_id, email)
    with db.table().batch_writer() as batch:
        for sort_key in sort_keys:
            if sort_key != keys.PROFILE_SK:
                batch.delete_item(Key={"pk": partition, "sk": sort_key})
    db.table().delete_item(Key=keys.contact_key(store_id, email))
    return sort_keys


def scan_contacts(store_id: str):
    """Every contact profile of a store, page by page. A Scan of the whole table (filtered on
    CONTACT#<store># and PROFILE): it reads, and is billed for, every item of every store;
    for exports, never on a hot path."""
    condition = Attr("pk").begins_with(keys.contact_pk(store_id, "")) & Attr("sk").eq(keys.PROFILE_SK)
    for page in db.scan_pages(condition):
        yield from (Contact.model_validate(db.without_keys(item)) for item in page)
