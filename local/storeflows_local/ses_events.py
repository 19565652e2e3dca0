"""What SES does after a send, for the local stack: event publishing.

moto's SES accepts an email and keeps it; it publishes no events. Here every email sent
through a configuration set that has an event destination in template.yaml produces the
records SES would publish (same JSON shape as AWS's published samples, tags included), sent
with a real SNS Publish to the destination topic created from the template; SNS then
invokes the subscribed function (see stack.py).

Right after a send: Send, then Delivery — or what SES's mailbox simulator answers for its
addresses (bounce@, complaint@, suppressionlist@simulator.amazonses.com, with or without a
+label). Opens, clicks, later bounces and complaints happen when a developer or a test
asks: `simulate()` (the /_local/ses/... routes of the gateway)."""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_string, policy
from typing import Any

import boto3

from storeflows_local.template import ACCOUNT_ID, REGION

log = logging.getLogger("storeflows.local")

# CloudFormation's MatchingEventTypes -> the eventType SES writes in the record.
EVENT_TYPES = {
    "send": "Send",
    "delivery": "Delivery",
    "open": "Open",
    "click": "Click",
    "bounce": "Bounce",
    "complaint": "Complaint",
    "reject": "Reject",
    "renderingFailure": "Rendering Failure",
    "deliveryDelay": "DeliveryDelay",
    "subscription": "Subscription",
}
SIMULATOR_DOMAIN = "simulator.amazonses.com"
# The thread that publishes, as SES would (the bench counts its SNS publishes: AWS bills them).
PUBLISHER_THREAD = "ses-events"


@dataclass(frozen=True)
class Destination:
    topic_arn: str
    event_types: frozenset[str]  # as in records: "Send", "Rendering Failure", ...


@dataclass
class SentMail:
    """The `mail` object of every record about one email."""

    record: dict[str, Any]
    configuration_set: str
    recipient: str = field(default="")


class SesEventPublisher:
    def __init__(self, destinations: dict[str, list[Destination]]):
        self.destinations = destinations  # configuration set name -> its event destinations
        self._mails: dict[str, SentMail] = {}
        self._queue: queue.Queue[tuple[str, str, dict[str, Any]] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._publish_forever, name=PUBLISHER_THREAD, daemon=True)
        self._worker.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=5)

    # --- SES ---------------------------------------------------------------------------------

    def sent(self, request: dict[str, Any], message_id: str) -> None:
        """An email moto's SES accepted (the SendEmail request and its MessageId)."""
        configuration_set = request.get("ConfigurationSetName")
        if not configuration_set or configuration_set not in self.destinations:
            return
        recipients = [*request.get("Destination", {}).get("ToAddresses", [])]
        mail = SentMail(
            _mail_record(request, message_id, recipients, configuration_set),
            configuration_set,
            recipients[0] if recipients else "",
        )
        self._mails[message_id] = mail
        self._emit(mail, "Send", {"send": {}})
        local, _, domain = mail.recipient.lower().partition("@")
        mailbox = local.split("+", 1)[0]
        if domain == SIMULATOR_DOMAIN and mailbox in ("bounce", "suppressionlist"):
            self._emit(
                mail,
                "Bounce",
                _bounce(mail, "Permanent", "OnAccountSuppressionList" if mailbox == "suppressionlist" else "General"),
            )
            return
        self._emit(
            mail,
            "Delivery",
            {
                "delivery": {
                    "timestamp": _now(),
                    "processingTimeMillis": 512,
                    "recipients": [mail.recipient],
                    "smtpResponse": "250 2.6.0 Message received",
                    "reportingMTA": "a8-70.smtp-out.amazonses.com",
                }
            },
        )
        if domain == SIMULATOR_DOMAIN and mailbox == "complaint":
            self._emit(mail, "Complaint", _complaint(mail))

    def simulate(self, message_id: str, kind: str, *, link: str | None = None, bounce_type: str = "Permanent") -> bool:
        """What a recipient (or their mailbox) does later: open, proxy_open (a mail privacy
        proxy's), click, bounce, complaint.
        False when no such email was sent through an event destination."""
        mail = self._mails.get(message_id)
        if mail is None:
            return False
        user_agent = "Mozilla/5.0 (Storeflows local stack)"
        details: dict[str, Callable[[], tuple[str, dict[str, Any]]]] = {
            "open": lambda: (
                "Open",
                {"open": {"ipAddress": "192.0.2.1", "timestamp": _now(), "userAgent": user_agent}},
            ),
            # Apple Mail Privacy Protection's fetch: Apple's proxy, a bare user agent.
            "proxy_open": lambda: (
                "Open",
                {"open": {"ipAddress": "17.58.0.1", "timestamp": _now(), "userAgent": "Mozilla/5.0"}},
            ),
            "click": lambda: (
                "Click",
                {
                    "click": {
                        "ipAddress": "192.0.2.1",
                        "timestamp": _now(),
                        "userAgent": user_agent,
                        "link": link or "https://storeflows.test/",
                        "linkTags": {},
                    }
                },
            ),
            "bounce": lambda: ("Bounce", _bounce(mail, bounce_type, "General")),
            "complaint": lambda: ("Complaint", _complaint(mail)),
        }
        if kind not in details:
            raise ValueError(f"unknown engagement {kind!r}; one of {', '.join(details)}")
        event_type, body = details[kind]()
        self._emit(mail, event_type, body)
        return True

    # --- publishing ---------------------------------------------------------------------------

    def _emit(self, mail: SentMail, event_type: str, body: dict[str, Any]) -> None:
        record = {"eventType": event_type, "mail": mail.record, **body}
        for destination in self.destinations[mail.configuration_set]:
            if event_type in destination.event_types:
                self._queue.put((destination.topic_arn, event_type, record))

    def _publish_forever(self) -> None:
        # One client for this thread; events go out in the order SES produced them.
        sns = boto3.client("sns", region_name=REGION)
        while (item := self._queue.get()) is not None:
            topic_arn, event_type, record = item
            try:
                sns.publish(TopicArn=topic_arn, Message=json.dumps(record))
            except Exception:  # noqa: BLE001 - the server is going away at shutdown
                log.exception("publishing the SES %s event failed", event_type)


def _mail_record(
    request: dict[str, Any], message_id: str, recipients: list[str], configuration_set: str
) -> dict[str, Any]:
    raw = base64.b64decode(request.get("Content", {}).get("Raw", {}).get("Data", "")).decode("utf-8", "replace")
    headers = message_from_string(raw, policy=policy.default) if raw else None
    source = request.get("FromEmailAddress", "")
    tags: dict[str, list[str]] = {
        "ses:operation": ["SendEmail"],
        "ses:configuration-set": [configuration_set],
        "ses:source-ip": ["192.0.2.0"],
        "ses:from-domain": [source.rpartition("@")[2]],
        "ses:caller-identity": ["storeflows-local"],
    }
    for tag in request.get("EmailTags", []):
        tags[tag["Name"]] = [tag["Value"]]
    return {
        "timestamp": _now(),
        "source": source,
        "sourceArn": f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/{source.rpartition('@')[2]}",
        "sendingAccountId": ACCOUNT_ID,
        "messageId": message_id,
        "destination": recipients,
        "headersTruncated": False,
        "commonHeaders": {
            "from": [str(headers.get("From", ""))] if headers else [source],
            "to": recipients,
            "messageId": message_id,
            "subject": str(headers.get("Subject", "")) if headers else "",
        },
        "tags": tags,
    }


def _bounce(mail: SentMail, bounce_type: str, sub_type: str) -> dict[str, Any]:
    status = "5.1.1" if bounce_type == "Permanent" else "4.2.2"
    return {
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": sub_type,
            "timestamp": _now(),
            "feedbackId": f"local-{mail.record['messageId']}-{bounce_type.lower()}",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
            "bouncedRecipients": [
                {
                    "emailAddress": mail.recipient,
                    "action": "failed",
                    "status": status,
                    "diagnosticCode": f"smtp; {status} simulated by the local stack",
                }
            ],
        }
    }


def _complaint(mail: SentMail) -> dict[str, Any]:
    return {
        "complaint": {
            "timestamp": _now(),
            "feedbackId": f"local-{mail.record['messageId']}-complaint",
            "complaintFeedbackType": "abuse",
            "complainedRecipients": [{"emailAddress": mail.recipient}],
            "userAgent": "Storeflows local stack",
            "arrivalDate": _now(),
        }
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
