"""The one way Storeflows hands an email to SES, and the tags every email carries.

Workflow sends and test sends both go through `send_raw`, with the stack's configuration set
(whose event destination reports every email's events back, storeflows.engagement). The tags
map each event back to its store, workflow, message, report day and contact; the engagement
module reads them with the names defined here."""

from __future__ import annotations

import hashlib
import re
from datetime import date

from botocore.exceptions import ClientError

from storeflows.aws import client
from storeflows.config import require
from storeflows.errors import SendThrottled

# Tag names (SES allows [A-Za-z0-9_-] in names and values).
STORE_TAG, WORKFLOW_TAG, MESSAGE_TAG, STEP_TAG = "store_id", "workflow_id", "message_id", "step"
SENT_ON_TAG = "sent_on"  # the report day: every event of the email counts in that day's row
CONTACT_TAG = "contact"  # a fingerprint of the address: tags never carry an address
TEST_TAG = "test"  # `storeflows messages test-send`: never counted

# SES answers these when the account's sending rate or quota is exceeded: worth retrying.
# "Throttling" is SES's own "Maximum sending rate exceeded." (the pacer keeps below it; another
# sender of the account may not).
_THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "LimitExceededException", "ThrottlingException", "Throttling"}
)
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def contact_fingerprint(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:32]


def message_tags(
    *, store_id: str, workflow_id: str, message_id: str, step: str, sent_on: date, email: str
) -> list[dict[str, str]]:
    """The EmailTags of one workflow email. Store, workflow and message ids are tag-safe by
    their patterns; a step is a state name, made safe here."""
    return [
        {"Name": STORE_TAG, "Value": store_id},
        {"Name": WORKFLOW_TAG, "Value": workflow_id},
        {"Name": MESSAGE_TAG, "Value": message_id},
        {"Name": STEP_TAG, "Value": _TAG_UNSAFE.sub("_", step)[:256]},
        {"Name": SENT_ON_TAG, "Value": sent_on.isoformat()},
        {"Name": CONTACT_TAG, "Value": contact_fingerprint(email)},
    ]


def tags_of_test_send(*, store_id: str, message_id: str) -> list[dict[str, str]]:
    """The EmailTags of a test send: its events are recognised, and counted nowhere."""
    return [
        {"Name": STORE_TAG, "Value": store_id},
        {"Name": MESSAGE_TAG, "Value": message_id},
        {"Name": TEST_TAG, "Value": "true"},
    ]


def send_raw(raw: bytes, *, sender: str, recipient: str, tags: list[dict[str, str]]) -> str:
    """Hands a MIME message to SES; its SES message id. Raises SendThrottled when SES refuses
    for the account's rate or quota (a later attempt may succeed)."""
    try:
        response = client("sesv2").send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": [recipient]},
            Content={"Raw": {"Data": raw}},
            ConfigurationSetName=require("ses_configuration_set"),
            # Tags come back on every SES event (delivery, open, click, bounce).
            EmailTags=tags,
        )
    except ClientError as err:
        if err.response["Error"]["Code"] in _THROTTLING_CODES:
            raise SendThrottled(err.response["Error"]["Code"]) from err
        raise
    return str(response["MessageId"])
