"""The fewest AWS calls a purchase and each workflow step need, keeping the product's
guarantees: a webhook is verified and acknowledged only once queued; a purchase is recorded
once; consent is re-read and every decision recorded at send time; no email goes out twice.

Derivation, one call per thing that must happen, and reads of one moment from one table
counted as one call (a BatchGetItem can fetch them together):

intake, per purchase
  ingest    1 read of the store (its signing secret and attribution windows) + 1 SQS SendMessage
  dispatch  1 TransactWriteItems (order item + profile, only if the order is new, and a check
              that the address was never erased)
            + 1 consistent read of the contact, for the touch the purchase is attributed to
              (the transaction cannot return it; an order that is attributed adds its own
              TransactWriteItems, the order stamped once with its report row: the bench
              clicks nothing, so none is)
            + 1 Query of the store's workflows
            + 1 UpdateItem of consent, when the order carries it (conditional on being newer,
              so it cannot join the transaction: a failed condition would cancel the order)
            + 1 UpdateItem per SKU for the best-seller counters (inside the transaction each
              would cost 2 write units instead of 1)
            + for an order of 2 products or more, 1 UpdateItem per product (at most 20) for
              the bought-together counts, and 2 batch reads of the catalogue when a line
              names only its SKU (storage.purchase_stats)
            + for a returning buyer (the contact read says), 1 Query of their earlier orders
              and 1 UpdateItem per SKU they bought before, for the repeat intervals
per workflow run
  start     1 StartExecution
  DynamoDB task (tag, score, series marker, delivery check)   1 call, the integration itself
  segment check   1 Lambda Invoke + 1 consistent read of the contact
  send step       1 Lambda Invoke + 1 consistent read (store, message, contact and the
                  step's decision record, if a retried attempt left one, together)
                  + 1 read of the sender profile the message names (known only once the
                  message is read; changing a profile changes every later send)
                  + 1 conditional write claiming the send (never twice) + 1 SES SendEmail
                  + 1 write of the decision, completing the claim; a send skipped for
                  consent, unsubscribe or suppression needs only its record (conditional:
                  the first decision of a step stands), which is one TransactWriteItems with
                  its report row's skipped counter; a frequency-capped workflow adds 1
                  conditional write of the contact's last send
per email, engagement
  each SES event  1 SNS Publish (SES's, billed to the topic's owner) + 1 TransactWriteItems
                  (the email's flag and its report row's counter, once: the tracking function
                  is invoked by SNS, not by a call of ours)

Nothing else: a redelivered event is made harmless by the order's conditional write, the
conditional consent update and the deterministic run names, so the dispatcher keeps no
idempotency record of its own; the send step's claim is its decision record."""

from __future__ import annotations

import json
from typing import Any

INGEST = 2
DISPATCH = 3  # the transaction, the contact read for attribution, the workflows query
CONSENT_UPDATE = 1
PER_SKU = 1
PER_PAIRED_PRODUCT = 1
CATALOGUE_LOOKUP = 2  # find_many: the SKUs' links, then their products
MAX_PAIRED_PRODUCTS = 20
REPEAT_QUERY = 1
PER_REPEATED_SKU = 1
START_EXECUTION = 1
DYNAMODB_TASK = 1
SEGMENT_CHECK = 2
SEND_SENT = 6
SEND_SKIPPED = 3  # invoke, read, record
SENDER_PROFILE = 1
FREQUENCY_CAP = 1
ENGAGEMENT_EVENT = 2
# Skips decided before the sender profile is read: the contact may not receive the message,
# or the order it is about was cancelled.
_SKIPPED_BEFORE_THE_SENDER = {
    "no_marketing_consent",
    "unsubscribed",
    "suppressed",
    "unknown_contact",
    "order_cancelled",
}

SEGMENTS_FUNCTION = "EvaluateSegmentsFunction"
SEND_FUNCTION = "SendMessageFunction"


def intake(
    *,
    skus: int,
    carries_consent: bool,
    products: int = 1,
    sku_only_lines: bool = False,
    returning: bool = False,
    repeated_skus: int = 0,
) -> int:
    paired = 0
    if products >= 2:
        paired = PER_PAIRED_PRODUCT * min(products, MAX_PAIRED_PRODUCTS) + (CATALOGUE_LOOKUP if sku_only_lines else 0)
    repeats = REPEAT_QUERY + PER_REPEATED_SKU * repeated_skus if returning else 0
    return INGEST + DISPATCH + (CONSENT_UPDATE if carries_consent else 0) + PER_SKU * skus + paired + repeats


def send_step(payload: dict[str, Any], answer: dict[str, Any]) -> int:
    sent = answer["status"] == "sent"
    if not sent and answer.get("reason") in _SKIPPED_BEFORE_THE_SENDER:
        return SEND_SKIPPED
    # The cap's write happens once the contact may receive the message at all.
    capped = payload["run"].get("frequency_cap_seconds", 0) > 0
    return (SEND_SENT if sent else SEND_SKIPPED + SENDER_PROFILE) + (FREQUENCY_CAP if capped else 0)


def run(dynamodb_tasks: int, lambda_tasks: list[tuple[str, str, Any]]) -> int:
    """A run's minimum, for the path it took (its tasks and the send steps' outcomes)."""
    calls = START_EXECUTION + DYNAMODB_TASK * dynamodb_tasks
    for function, payload, answer in lambda_tasks:
        if function == SEGMENTS_FUNCTION:
            calls += SEGMENT_CHECK
        elif function == SEND_FUNCTION:
            calls += send_step(json.loads(payload), answer)
        else:
            raise ValueError(f"no minimum stated for a step of {function}")
    return calls
