"""SES engagement events: what happened to each email after it was sent.

The configuration set publishes every event type to an SNS topic; the tracking function
hands each SNS message here. The tags every email carries (messaging.ses) are read back from
each event (`sent_email`), so an event maps back to its store, workflow, message, report day
and contact.

Counting is idempotent and order-independent: each kind of event counts at most once per
email (storage.reports.count_email_event sets the email's flag and adds to its report row in one
transaction), so SNS redeliveries and SES's at-least-once publishing change nothing, and an
Open that arrives before its Delivery still counts. Opens and clicks are unique per email.
A click also counts as an open when no open was seen (mail clients that block images send no
open), so click-to-open stays at most 100 %. Events of emails this stack did not send (no
Storeflows tags), of test sends, and of event types this code does not know are ignored
without error.

The silence index (storage.silence, the sunset's) is fed here too: a Delivery counted for the
first time adds to the contact's emails received, and a click or an open not made by a mail
privacy proxy is an engagement that moves the contact to that day."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from storeflows.messaging.ses import (
    CONTACT_TAG,
    MESSAGE_TAG,
    SENT_ON_TAG,
    STORE_TAG,
    TEST_TAG,
    WORKFLOW_TAG,
    contact_fingerprint,
)
from storeflows.messaging.unsubscribe import unsubscribe_from_email
from storeflows.observability import MetricUnit, logger, metrics
from storeflows.records import Touch
from storeflows.storage import contacts, reports, silence

# Event type -> (the email's flag, the report counter it adds to).
_COUNTED = {
    "Send": ("sent_at", "sent"),
    "Delivery": ("delivered_at", "delivered"),
    "Open": ("opened_at", "opened"),
    "Click": ("clicked_at", "clicked"),
    "Complaint": ("complained_at", "complained"),
    "Reject": ("rejected_at", "rejected"),
    "Rendering Failure": ("rendering_failed_at", "rendering_failed"),
    "DeliveryDelay": ("delayed_at", "delivery_delayed"),
}
# Only a permanent bounce means the address does not work; transient ones (a full mailbox)
# and undetermined ones are counted apart and suppress nothing.
_HARD_BOUNCE = ("bounced_at", "bounced")
_SOFT_BOUNCE = ("soft_bounced_at", "soft_bounced")
# Apple Mail Privacy Protection fetches every image of every email it receives, read or not,
# through Apple's proxies, whose requests name no browser or mail client: the bare user agent
# below. Such an open says nothing of the contact, so it is no engagement (the sunset's
# silence); attribution's own switch for it is the store's Attribution.count_opens.
_PRIVACY_PROXY_USER_AGENTS = frozenset({"Mozilla/5.0"})


def by_privacy_proxy(open_details: dict[str, Any] | None) -> bool:
    """Whether an SES Open came from a mail privacy proxy rather than a person."""
    return str((open_details or {}).get("userAgent", "")).strip() in _PRIVACY_PROXY_USER_AGENTS


@dataclass(frozen=True)
class SentEmail:
    """One email Storeflows sent, as its SES events identify it."""

    store_id: str
    workflow_id: str
    message_id: str
    sent_on: str
    email: str
    ses_message_id: str


class _Mail(BaseModel):
    messageId: str
    timestamp: datetime  # when the email was sent
    destination: list[str] = []
    tags: dict[str, list[str]] = {}


class _Event(BaseModel):
    """The fields this module reads; SES sends many more."""

    eventType: str
    mail: _Mail
    bounce: dict[str, Any] | None = None
    complaint: dict[str, Any] | None = None
    open: dict[str, Any] | None = None
    click: dict[str, Any] | None = None
    delivery: dict[str, Any] | None = None
    deliveryDelay: dict[str, Any] | None = None
    subscription: dict[str, Any] | None = None


def record_ses_notification(message: str) -> dict[str, Any]:
    """One SES event, as the JSON text SNS delivers in Records[].Sns.Message."""
    try:
        event = _Event.model_validate(json.loads(message))
    except (ValueError, ValidationError):
        # Retrying cannot fix a malformed record: say so and drop it.
        logger.warning("not an SES event record; ignored")
        return _ignored("malformed")
    sent = sent_email(event.mail)
    outcome = _ignored("not_a_storeflows_email") if sent is None else _record(event, sent)
    ids = (
        {}
        if sent is None
        else {"store_id": sent.store_id, "workflow_id": sent.workflow_id, "message_id": sent.message_id}
    )
    logger.info(
        "SES event", extra={**ids, "ses_message_id": event.mail.messageId, "event_type": event.eventType, **outcome}
    )
    return {"event_type": event.eventType, **outcome}


def sent_email(mail: _Mail) -> SentEmail | None:
    """The Storeflows email an event is about, from its tags; None for any other email (sent
    by something else, a test send, or tags that do not match the recipient)."""
    tags = {name: values[0] for name, values in mail.tags.items() if values}
    if TEST_TAG in tags or not all(
        tags.get(name) for name in (STORE_TAG, WORKFLOW_TAG, MESSAGE_TAG, SENT_ON_TAG, CONTACT_TAG)
    ):
        return None
    try:
        date.fromisoformat(tags[SENT_ON_TAG])
    except ValueError:
        return None
    recipient = next(
        (address for address in mail.destination if contact_fingerprint(address) == tags[CONTACT_TAG]), None
    )
    if recipient is None:
        return None
    return SentEmail(
        store_id=tags[STORE_TAG],
        workflow_id=tags[WORKFLOW_TAG],
        message_id=tags[MESSAGE_TAG],
        sent_on=tags[SENT_ON_TAG],
        email=recipient.strip().lower(),
        ses_message_id=mail.messageId,
    )


def _record(event: _Event, sent: SentEmail) -> dict[str, Any]:
    kind = event.eventType
    if kind == "Subscription":
        return _subscription(event, sent)
    if kind == "Bounce":
        hard = (event.bounce or {}).get("bounceType") == "Permanent"
        flag, counter = _HARD_BOUNCE if hard else _SOFT_BOUNCE
    elif kind in _COUNTED:
        flag, counter = _COUNTED[kind]
    else:
        return _ignored("unknown_event_type")
    at = _timestamp(event, kind)
    counted = _count(sent, flag, counter, at)
    outcome: dict[str, Any] = {"status": "counted" if counted else "duplicate", "counter": counter}
    if kind == "Click":
        _count(sent, *_COUNTED["Open"], at)
    if kind == "Delivery" and counted:
        silence.note_delivery(sent.store_id, sent.email, at)
    if kind == "Click" or (kind == "Open" and not by_privacy_proxy(event.open)):
        silence.note_engagement(sent.store_id, sent.email, at)
    if kind in ("Open", "Click"):
        # Every open and click (not only the first) may be the last touch before a purchase.
        touch = Touch(
            at=at,
            workflow_id=sent.workflow_id,
            message_id=sent.message_id,
            sent_on=sent.sent_on,
            ses_message_id=sent.ses_message_id,
        )
        contacts.record_touch(sent.store_id, sent.email, kind.lower(), touch)
    if counter in ("bounced", "complained"):
        reason = "bounce" if counter == "bounced" else "complaint"
        if contacts.suppress_contact(sent.store_id, sent.email, reason, at):
            outcome["suppressed"] = reason
            logger.info(
                "contact suppressed",
                extra={"store_id": sent.store_id, "reason": reason, "ses_message_id": sent.ses_message_id},
            )
            metrics.add_metric(name="ContactsSuppressed", unit=MetricUnit.Count, value=1)
    return outcome


def _count(sent: SentEmail, flag: str, counter: str, at: datetime) -> bool:
    counted = reports.count_email_event(
        store_id=sent.store_id,
        workflow_id=sent.workflow_id,
        message_id=sent.message_id,
        sent_on=sent.sent_on,
        ses_message_id=sent.ses_message_id,
        flag=flag,
        at=at,
        counter=counter,
    )
    return counted


def _subscription(event: _Event, sent: SentEmail) -> dict[str, Any]:
    """SES's own subscription management (contact lists): an "unsubscribe all" is an
    unsubscribe like our one-click link."""
    preferences = (event.subscription or {}).get("newTopicPreferences") or {}
    if preferences.get("unsubscribeAll") is not True:
        return _ignored("no_unsubscribe")
    changed = unsubscribe_from_email(
        sent.store_id,
        sent.email,
        sent.message_id,
        at=_timestamp(event, "Subscription"),
        counted_for=(sent.workflow_id, sent.sent_on),
    )
    return {"status": "unsubscribed" if changed else "duplicate", "counter": "unsubscribed"}


_TIMESTAMP_FIELD = {
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Open": "open",
    "Click": "click",
    "Delivery": "delivery",
    "DeliveryDelay": "deliveryDelay",
    "Subscription": "subscription",
}


def _timestamp(event: _Event, kind: str) -> datetime:
    """When it happened: the event's own timestamp where SES gives one, else the send time
    (Send, Reject and Rendering Failure carry only that)."""
    body = getattr(event, _TIMESTAMP_FIELD[kind]) if kind in _TIMESTAMP_FIELD else None
    raw = (body or {}).get("timestamp")
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            pass
    return event.mail.timestamp


def _ignored(reason: str) -> dict[str, Any]:
    return {"status": "ignored", "reason": reason}
