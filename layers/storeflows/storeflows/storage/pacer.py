"""The SES pacer's one item (keys.ses_pacer_key): `next_at`, the first send time no one holds
yet, in epoch seconds (GCRA's "theoretical arrival time"). storeflows.messaging.pacing owns the
policy; this module owns the two conditional updates that move the pointer.

- The pointer is ahead of now (sends are queueing): `next_at += span` if now <= next_at <=
  latest. The old value is the first slot.
- The pointer is in the past, or the item does not exist yet (idle): `next_at = now + span` if
  next_at < now. The first slot is now.

The caller guesses which one applies from the pointer it saw last; a wrong guess returns the
pointer (ReturnValuesOnConditionCheckFailure) and the other update follows: one write per
reservation, two after a wrong guess, three at most when another sender moved the pointer in
between. The pointer only ever moves forward."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from botocore.exceptions import ClientError

from storeflows.aws import client
from storeflows.storage import dynamodb as db
from storeflows.storage import keys

# DynamoDB's answers when one item gets more writes than it takes (about 1,000 a second):
# the sends wanting a slot are more than any send rate SES grants, so they wait like any other.
_HOT_ITEM_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})
_MICROSECOND = Decimal("0.000001")


@dataclass(frozen=True)
class Taken:
    """What one reservation found: its first slot (None: nothing reserved) and the pointer as
    it was seen (None: not seen), which the caller keeps for its next guess."""

    first: float | None
    pointer: float | None
    writes: int


def take(now: float, span: float, latest: float, *, pointer_ahead: bool) -> Taken:
    """Reserves `span` seconds of send time starting at max(now, next_at), provided that start
    is at the latest `latest`."""
    writes = 0
    for _ in range(3):
        writes += 1
        try:
            if pointer_ahead:
                moved, seen = _advance(now, span, latest)
            else:
                moved, seen = _restart(now, span)
        except ClientError as err:
            if err.response["Error"]["Code"] in _HOT_ITEM_CODES:
                return Taken(None, None, writes)
            raise
        if moved:
            first = seen if pointer_ahead and seen is not None else now
            return Taken(first, first + span, writes)
        if seen is not None and seen > latest:
            return Taken(None, seen, writes)
        pointer_ahead = seen is not None and seen >= now
    return Taken(None, None, writes)


def _number(value: float, rounding: str = "ROUND_HALF_EVEN") -> Decimal:
    return Decimal(repr(value)).quantize(_MICROSECOND, rounding=rounding)


def _advance(now: float, span: float, latest: float) -> tuple[bool, float | None]:
    """(moved, next_at before): moved when now <= next_at <= latest; else next_at as it is."""
    return _update(
        UpdateExpression="SET next_at = next_at + :span",
        ConditionExpression="next_at BETWEEN :now AND :latest",
        ExpressionAttributeValues=db.serialize(
            # The span rounded up: rounded down, slots would creep closer than the rate allows.
            {":span": _number(span, ROUND_CEILING), ":now": _number(now), ":latest": _number(latest)}
        ),
        ReturnValues="UPDATED_OLD",
    )


def _restart(now: float, span: float) -> tuple[bool, float | None]:
    """(moved, None) when next_at < now or has no value yet; else (False, next_at as it is)."""
    return _update(
        UpdateExpression="SET next_at = :next",
        ConditionExpression="attribute_not_exists(next_at) OR next_at < :now",
        ExpressionAttributeValues=db.serialize({":next": _number(now + span, ROUND_CEILING), ":now": _number(now)}),
        ReturnValues="NONE",
    )


def _update(**arguments: object) -> tuple[bool, float | None]:
    try:
        answer = client("dynamodb").update_item(
            TableName=db.table_name(),
            Key=db.serialize(keys.ses_pacer_key()),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
            **arguments,
        )
    except ClientError as err:
        if not db.condition_failed(err):
            raise
        item = db.deserialize(err.response.get("Item") or {})
        return False, float(item["next_at"]) if "next_at" in item else None
    old = db.deserialize(answer.get("Attributes") or {})
    return True, float(old["next_at"]) if "next_at" in old else None
