"""Engagement and report counters: each sent email's SES events counted once
(EMAIL#<ses id>), and the per-day report rows of each workflow and message (REPORT#<store>):
what the emails sent that day achieved, and the sends skipped that day by reason."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key

from storeflows.storage import dynamodb as db
from storeflows.storage import keys

# How long an email's engagement flags are kept: SES reports opens and clicks for as long as
# the email is read, but a year covers nearly all of them. The report counters stay.
EMAIL_TRACKING_TTL_DAYS = 400


def count_email_event(
    *,
    store_id: str,
    workflow_id: str,
    message_id: str,
    sent_on: str,
    ses_message_id: str,
    flag: str,
    at: datetime,
    counter: str,
) -> bool:
    """Counts one kind of SES event at most once per email: sets the email's `flag` (say
    opened_at) and adds one to its report row's `counter` (opened) in one transaction.
    False when this email's event was counted already (a redelivery, a second open)."""
    expires = int(db.now().timestamp()) + EMAIL_TRACKING_TTL_DAYS * 86400
    tracking = {
        "Update": {
            "TableName": db.table_name(),
            "Key": db.serialize(keys.email_tracking_key(ses_message_id)),
            "UpdateExpression": "SET #flag = :at, ses_message_id = :ses_id, store_id = :store, "
            "workflow_id = :workflow, message_id = :message, sent_on = :sent_on, #ttl = :expires",
            "ConditionExpression": "attribute_not_exists(#flag)",
            "ExpressionAttributeNames": {"#flag": flag, "#ttl": keys.EXPIRES_AT},
            "ExpressionAttributeValues": db.serialize(
                {
                    ":at": db.utc_iso(at),
                    ":ses_id": ses_message_id,
                    ":store": store_id,
                    ":workflow": workflow_id,
                    ":message": message_id,
                    ":sent_on": sent_on,
                    ":expires": expires,
                }
            ),
        }
    }
    return not db.failed_items([tracking, count_in_report(store_id, sent_on, workflow_id, message_id, {counter: 1})])


def email_engagement(ses_message_ids: list[str]) -> dict[str, dict[str, Any]]:
    """What is known of these emails since they were sent (delivered_at, opened_at,
    clicked_at, ...), by SES message id."""
    found = db.read_together([keys.email_tracking_key(ses_id) for ses_id in ses_message_ids])
    return {item["ses_message_id"]: db.without_keys(item) for item in found.values()}


REVENUE_PREFIX = "revenue_"  # one counter per currency: revenue_EUR, revenue_PLN
SKIPPED_PREFIX = "skipped_"  # one counter per skip reason: skipped_frequency_cap, skipped_unsubscribed


def skipped_counter(reason: str) -> str:
    """The report row's counter of the sends skipped for `reason` (records.SKIP_REASONS)."""
    return f"{SKIPPED_PREFIX}{reason}"


def count_in_report(
    store_id: str, sent_on: str, workflow_id: str, message_id: str, counters: dict[str, int | Decimal]
) -> dict[str, Any]:
    """The transaction item that adds `counters` to one report row (created on first use)."""
    names = {f"#c{index}": name for index, name in enumerate(counters)}
    values: dict[str, Any] = {f":c{index}": value for index, value in enumerate(counters.values())}
    values.update({":store": store_id, ":workflow": workflow_id, ":message": message_id, ":day": sent_on})
    return {
        "Update": {
            "TableName": db.table_name(),
            "Key": db.serialize(keys.report_key(store_id, sent_on, workflow_id, message_id)),
            "UpdateExpression": "ADD "
            + ", ".join(f"{name} {name.replace('#', ':')}" for name in names)
            + " SET store_id = :store, workflow_id = :workflow, message_id = :message, sent_on = :day",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": db.serialize(values),
        }
    }


def report_rows(store_id: str, first_day: str, last_day: str) -> list[dict[str, Any]]:
    """Every report row (one per day, workflow and message) of the emails sent from first_day
    to last_day (yyyy-mm-dd, both included): one Query, a page per 1 MB."""
    low, high = keys.report_range(first_day, last_day)
    condition = Key("pk").eq(keys.report_pk(store_id)) & Key("sk").between(low, high)
    return [db.without_keys(item) for page in db.query_pages(condition) for item in page]
