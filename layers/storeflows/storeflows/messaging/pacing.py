"""Sending at SES's pace: every email of the stack takes a slot from one shared pacer first.

SES refuses sends above the account's maximum send rate. A burst (a restock alert to 20,000
contacts, the morning's birthdays, 2,000 purchases at once) would otherwise exhaust the send
step's retries. The pacer is GCRA (virtual scheduling) on one DynamoDB item
(storeflows.storage.pacer): it holds the next free send time; a reservation of n emails takes
the slots max(now, next), +1/rate, ... and moves the pointer n/rate further, in one
conditional update (two when this environment guessed wrong whether the pointer is ahead).
Slots are 1/rate apart, so no second ever holds more than `rate` sends, however many Lambda
environments send at once.

A reservation is taken only when its first slot is within a short horizon: the sender sleeps
until its slot and sends. Further ahead, nothing is reserved (`reserve` answers None) and the
workflow's send step raises SendThrottled: Step Functions retries it later with jittered
backoff (README "Sending at SES's pace" has the retry budget and what a long burst costs). The
pointer only moves forward, so an environment that saw it beyond the horizon knows, without
asking DynamoDB, that nothing can be reserved before then (`surely_full`).

The rate: SesSendRate (SES_SEND_RATE) when set, else RATE_SHARE of the account's SES
`GetAccount` SendQuota.MaxSendRate, so other senders of the account keep some. It is read
once per execution environment and again after RATE_CACHE_SECONDS (SES raises quotas on its
own: a raise takes effect within that time).

A batch sender (one invocation sending to many contacts, e.g. a restock alert) paces itself
with the same pacer, a few slots at a time:

    slots = pacing.reserve(time.time(), count=len(batch), horizon=5.0)
    if slots is None:
        ...  # the pacer is full for now: hand the batch back for a later attempt
    for slot, recipient in zip(slots, batch):
        pacing.wait_for(slot)
        ...  # send to recipient

A slot reserved and then not used (the send was skipped after all) is lost: the pacer runs
1/rate of a second behind for it, and nothing else."""

from __future__ import annotations

import threading
import time

from storeflows.aws import client
from storeflows.config import settings
from storeflows.storage import pacer

RATE_SHARE = 0.9
RATE_CACHE_SECONDS = 600.0
# A workflow send sleeps at most this long in its Lambda for its slot; beyond, it is retried.
HORIZON_SECONDS = 2.0

_lock = threading.Lock()
_rate: tuple[float, float] | None = None  # (emails per second, when read: monotonic seconds)
_pointer = 0.0  # the furthest pacer pointer this environment has seen (it never moves back)
writes = 0  # pacer writes this environment made (the bench and tests read it)


def send_rate() -> float:
    """Emails per second all of the stack's sends together may use."""
    global _rate
    override = settings().ses_send_rate
    if override:
        return override
    with _lock:
        if _rate is None or time.monotonic() - _rate[1] > RATE_CACHE_SECONDS:
            quota = client("sesv2").get_account()["SendQuota"]
            _rate = (float(quota["MaxSendRate"]) * RATE_SHARE, time.monotonic())
        return _rate[0]


def surely_full(now: float, horizon: float = HORIZON_SECONDS) -> bool:
    """True when this environment already knows no slot is free within the horizon (no
    DynamoDB request)."""
    return _pointer > now + horizon


def reserve(now: float, count: int = 1, horizon: float = HORIZON_SECONDS) -> list[float] | None:
    """`count` consecutive send times (epoch seconds, the first at most `horizon` after `now`),
    or None: nothing reserved, the pacer is full for longer than that."""
    global _pointer, writes
    if count < 1:
        raise ValueError("reserve at least one slot")
    if surely_full(now, horizon):
        return None
    interval = 1.0 / send_rate()
    taken = pacer.take(now, interval * count, now + horizon, pointer_ahead=_pointer >= now)
    with _lock:
        writes += taken.writes
        if taken.pointer is not None:
            _pointer = max(_pointer, taken.pointer)
    if taken.first is None:
        return None
    return [taken.first + index * interval for index in range(count)]


def wait_for(slot: float) -> None:
    """Sleeps until the slot's time (at once when it has come)."""
    delay = slot - time.time()
    if delay > 0:
        time.sleep(delay)


def forget() -> None:
    """Back to a fresh execution environment's knowledge: no rate read, no pointer seen (tests
    that move between moto accounts in one process)."""
    global _rate, _pointer, writes
    with _lock:
        _rate, _pointer, writes = None, 0.0, 0
