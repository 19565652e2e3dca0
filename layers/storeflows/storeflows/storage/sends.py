"""Sends: what a send step reads before it decides, its decision record (its claim while
it sends), the "not more often than" slot, and the runs a contact is inside right now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from storeflows.records import Contact, Message, Store, is_store_id
from storeflows.storage import dynamodb as db
from storeflows.storage import keys, reports


@dataclass(frozen=True)
class SendContext:
    """What one send step reads before it decides; None where the item does not exist."""

    store: Store | None
    message: Message | None
    contact: Contact | None
    # The step's decision record, when an earlier attempt of it left one.
    decision: dict[str, Any] | None
    # The item of what the run is about (an ORDER#), when the subject has one.
    subject: dict[str, Any] | None = None


def get_send_context(
    store_id: str,
    message_id: str,
    email: str,
    decision_key: dict[str, str],
    subject_key: dict[str, str] | None = None,
) -> SendContext:
    """What a send needs, read together: the store (name, unsubscribe key), the message, the
    contact, the send's decision record, if an earlier attempt left one, and the item of
    what the run is about (an order) when it has one, all strongly consistent (a consent or
    a message edited since the run started counts). One BatchGetItem instead of five reads."""
    if not is_store_id(store_id):
        return SendContext(None, None, None, None)
    wanted = [
        keys.store_key(store_id),
        keys.message_key(store_id, message_id),
        keys.contact_key(store_id, email),
        decision_key,
        *([subject_key] if subject_key else []),
    ]
    found = db.read_together(wanted)
    store, message, contact, decision, *subject = (found.get((key["pk"], key["sk"])) for key in wanted)
    return SendContext(
        Store.model_validate(db.without_keys(store)) if store else None,
        Message.model_validate(db.without_keys(message)) if message else None,
        Contact.model_validate(db.without_keys(contact)) if contact else None,
        db.without_keys(decision) if decision else None,
        subject[0] if subject else None,
    )


@dataclass(frozen=True)
class SendSlot:
    """A claimed "not more often than" slot of one workflow and contact, with what it held
    before (None: it was free), so release_send_slot can put that back."""

    store_id: str
    email: str
    workflow_id: str
    send_key: str
    previous_sent_at: int | None
    previous_send: str | None


def claim_send_slot(
    store_id: str, email: str, workflow_id: str, send_key: str, min_interval_seconds: int
) -> SendSlot | None:
    """ "Not more often than once per <interval>" for one workflow and contact, atomically:
    of two purchases in the same second only one gets the slot. A retry of the same send
    (same send_key) keeps its slot. None when the slot is taken."""
    now = int(db.now().timestamp())
    response = db.if_condition_holds(
        db.table().update_item,
        Key=keys.frequency_cap_key(store_id, email, workflow_id),
        UpdateExpression="SET last_sent_at = :now, last_send = :send",
        ConditionExpression="attribute_not_exists(last_sent_at) OR last_sent_at <= :cutoff OR last_send = :send",
        ExpressionAttributeValues={":now": now, ":cutoff": now - min_interval_seconds, ":send": send_key},
        ReturnValues="UPDATED_OLD",
    )
    if response is None:
        return None
    previous = response.get("Attributes", {})
    return SendSlot(
        store_id,
        email,
        workflow_id,
        send_key,
        int(previous["last_sent_at"]) if "last_sent_at" in previous else None,
        previous.get("last_send"),
    )


def release_send_slot(slot: SendSlot) -> None:
    """Gives back a slot that its send claimed and then did not use (it sent nothing),
    putting back what the slot held before, so the skip holds back none of the workflow's
    later messages. Changes nothing once the slot is another send's."""
    key = keys.frequency_cap_key(slot.store_id, slot.email, slot.workflow_id)
    if slot.previous_sent_at is None:
        db.if_condition_holds(
            db.table().delete_item,
            Key=key,
            ConditionExpression="last_send = :send",
            ExpressionAttributeValues={":send": slot.send_key},
        )
    else:
        db.if_condition_holds(
            db.table().update_item,
            Key=key,
            UpdateExpression="SET last_sent_at = :previous_at, last_send = :previous_send",
            ConditionExpression="last_send = :send",
            ExpressionAttributeValues={
                ":previous_at": slot.previous_sent_at,
                ":previous_send": slot.previous_send,
                ":send": slot.send_key,
            },
        )


# A send decision record's status while its email is being sent: the claim that makes a
# second attempt of the same step send nothing.
SENDING = "sending"


_WHILE_SENDING = {
    "ConditionExpression": "#status = :sending",
    "ExpressionAttributeNames": {"#status": "status"},
    "ExpressionAttributeValues": {":sending": SENDING},
}


def claim_send(decision_key: dict[str, str], *, message_id: str, attempt_ends_at: datetime) -> bool:
    """Claims one send just before SES is called: its decision record, written with status
    "sending" only where no decision exists yet. False when one does (another attempt of the
    same step got there first). `attempt_ends_at` is when this attempt is certain to have
    ended (its Lambda timeout): a claim older than that belongs to an attempt that died."""
    return (
        db.if_condition_holds(
            db.table().put_item,
            Item={
                **decision_key,
                "message_id": message_id,
                "status": SENDING,
                "attempt_ends_at": db.utc_iso(attempt_ends_at),
                "decided_at": db.utc_iso(db.now()),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        is not None
    )


def release_send_claim(decision_key: dict[str, str]) -> None:
    """Gives the claim back when the attempt failed before SES took the email, so a retry
    may send it."""
    db.if_condition_holds(db.table().delete_item, Key=decision_key, **_WHILE_SENDING)


def record_send_decision(
    decision_key: dict[str, str],
    *,
    workflow_id: str,
    subject: str,
    step: str,
    message_id: str,
    status: str,
    reason: str | None = None,
    ses_message_id: str | None = None,
    language: str | None = None,
    coupon_code: str | None = None,
    sent_on: str | None = None,
    completes_claim: bool = False,
) -> bool:
    """The per-contact record of every send decision: what went out (with the coupon code it
    carried, if any), or why it did not. The first decision of a step stands: a skip is
    written only where there is no decision yet, and a send completes its own claim. False
    when the record was not written for that reason."""
    condition = _WHILE_SENDING if completes_claim else {"ConditionExpression": "attribute_not_exists(pk)"}
    return (
        db.if_condition_holds(
            db.table().put_item,
            Item={
                **decision_key,
                **db.drop_none(
                    {
                        "workflow_id": workflow_id,
                        "subject": subject,
                        "step": step,
                        "message_id": message_id,
                        "status": status,
                        "reason": reason,
                        "ses_message_id": ses_message_id,
                        "language": language,
                        "coupon_code": coupon_code,
                        "sent_on": sent_on,
                        "decided_at": db.utc_iso(db.now()),
                    }
                ),
            },
            **condition,
        )
        is not None
    )


def record_skip(
    decision_key: dict[str, str],
    *,
    store_id: str,
    workflow_id: str,
    subject: str,
    step: str,
    message_id: str,
    reason: str,
    completes_claim: bool = False,
) -> bool:
    """A skipped send's decision record and its report counter (skipped_<reason> in the row
    of the day it was decided, workflow and message), in one TransactWriteItems: the counter
    costs no call of its own and counts each step at most once, since the record is written
    only where there is no decision yet (or completes the step's own claim). False when the
    record was not written for that reason (another attempt decided first)."""
    decided = db.now()
    day = decided.date().isoformat()
    condition: dict[str, Any] = (
        {
            "ConditionExpression": "#status = :sending",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": db.serialize({":sending": SENDING}),
        }
        if completes_claim
        else {"ConditionExpression": "attribute_not_exists(pk)"}
    )
    record = {
        **decision_key,
        "workflow_id": workflow_id,
        "subject": subject,
        "step": step,
        "message_id": message_id,
        "status": "skipped",
        "reason": reason,
        "report_day": day,
        "decided_at": db.utc_iso(decided),
    }
    transaction = [
        {"Put": {"TableName": db.table_name(), "Item": db.serialize(record), **condition}},
        reports.count_in_report(store_id, day, workflow_id, message_id, {reports.skipped_counter(reason): 1}),
    ]
    return not db.failed_items(transaction)


def latest_email_sent(store_id: str, email: str, message_id: str) -> dict[str, Any] | None:
    """The contact's most recent send decision that sent `message_id` (its workflow and
    report day), or None."""
    condition = Key("pk").eq(keys.contact_pk(store_id, email)) & Key("sk").begins_with(keys.SEND_PREFIX)
    sent = [
        item
        for page in db.pages(
            "query",
            KeyConditionExpression=condition,
            ConsistentRead=True,
            FilterExpression=Attr("message_id").eq(message_id) & Attr("status").eq("sent"),
        )
        for item in page
    ]
    return max(sent, key=lambda item: item.get("decided_at", ""), default=None)


def active_runs(store_id: str, email: str) -> list[dict[str, str | None]]:
    """The workflow runs the contact is inside right now (workflow ids and subject keys)."""
    response = db.table().query(
        KeyConditionExpression=Key("pk").eq(keys.contact_pk(store_id, email))
        & Key("sk").begins_with(keys.ACTIVE_PREFIX),
        ConsistentRead=True,
    )
    return [{"workflow_id": item["workflow_id"], "subject": run_subject_key(item)} for item in response["Items"]]


def leave_run(store_id: str, email: str, workflow_id: str, subject_key: str) -> None:
    """The contact is no longer inside this run: what a run's own last step does (the care
    series' LeaveCareSeries), for a run stopped before it got there."""
    db.table().delete_item(Key=keys.active_run_key(store_id, email, workflow_id, subject_key))


def run_subject_key(item: dict[str, Any]) -> str | None:
    """The subject key of the run an item of a contact names (its `subject`; `order_id` on
    items written before runs had subjects, and on ORDER# items), or None."""
    return item.get("subject") or item.get("order_id")
