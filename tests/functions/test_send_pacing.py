"""Sending at SES's pace (storeflows.messaging.pacing, storage.pacer): the pacer's slots, its
horizon, its cost in DynamoDB writes, and the send step when it is full."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.responses import DynamoHandler
from test_send_handler import MARKETING, add_contact, send, send_records, send_step  # noqa: F401 - `send` is a fixture

from storeflows.errors import SendThrottled
from storeflows.messaging import pacing, ses
from storeflows.storage import dynamodb, keys
from storeflows_local.engine import _one_dynamodb_request_at_a_time

NOW = 1_800_000_000.0


@pytest.fixture
def rate(aws, monkeypatch):
    """A pacer at 20 emails a second."""
    monkeypatch.setenv("SES_SEND_RATE", "20")
    from storeflows import config

    config.settings.cache_clear()
    return 20


def pointer() -> float:
    return float(dynamodb.table().get_item(Key=keys.ses_pacer_key(), ConsistentRead=True)["Item"]["next_at"])


def set_pointer(value: float) -> None:
    dynamodb.table().put_item(Item={**keys.ses_pacer_key(), "next_at": Decimal(repr(value))})


def busiest_second(slots: list[float]) -> int:
    """The most slots in any window [t, t + 1 s)."""
    ordered = sorted(slots)
    return max(sum(1 for other in ordered[index:] if other < start + 1.0) for index, start in enumerate(ordered))


def test_concurrent_reservations_never_exceed_the_rate_in_any_second(rate):
    """Eight senders at once, each reserving as fast as it can: DynamoDB applies each
    conditional update alone (as the local stack makes moto do), the slots never crowd."""
    slots: list[float] = []
    refused = 0
    lock = threading.Lock()

    def sender() -> None:
        nonlocal refused
        for _ in range(25):
            got = pacing.reserve(NOW, horizon=60.0)
            with lock:
                if got is None:
                    refused += 1
                else:
                    slots.extend(got)

    with mock.patch.object(DynamoHandler, "call_action", _one_dynamodb_request_at_a_time(DynamoHandler.call_action)):
        threads = [threading.Thread(target=sender) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert len(slots) + refused == 200
    assert len(set(slots)) == len(slots), "two senders got the same slot"
    assert busiest_second(slots) <= rate
    # 60 s of horizon at 20 a second: 1,200 slots would fit, so every one was granted.
    assert refused == 0 and min(slots) == NOW and max(slots) == pytest.approx(NOW + 199 / rate, abs=1e-3)


def test_a_pointer_in_the_past_restarts_at_now(rate):
    set_pointer(NOW - 3600)  # the last send was an hour ago
    writes = pacing.writes

    assert pacing.reserve(NOW) == [NOW]
    assert pointer() == pytest.approx(NOW + 1 / rate)
    # This environment had seen no pointer: it guessed "idle" and was right, one write.
    assert pacing.writes - writes == 1


def test_a_reservation_costs_one_write_while_sends_queue(rate):
    pacing.reserve(NOW)
    writes = pacing.writes
    for _ in range(10):
        pacing.reserve(NOW)
    assert pacing.writes - writes == 10
    assert pointer() == pytest.approx(NOW + 11 / rate)


def test_a_wrong_guess_costs_a_second_write(rate):
    pacing.reserve(NOW)  # another environment's send: the pointer is ahead of NOW
    pacing.forget()  # this one has seen no pointer, and guesses "idle"
    assert pacing.reserve(NOW) == [pytest.approx(NOW + 1 / rate)]
    assert pacing.writes == 2


def test_nothing_is_reserved_beyond_the_horizon_and_then_dynamodb_is_not_asked(rate):
    granted = [pacing.reserve(NOW, horizon=2.0) for _ in range(45)]

    # Slots NOW, NOW + 0.05, ... NOW + 2.0 start within the horizon: 41 of them.
    assert [got is not None for got in granted] == [True] * 41 + [False] * 4
    assert pointer() == pytest.approx(NOW + 41 / rate)
    writes = pacing.writes
    assert pacing.surely_full(NOW, 2.0)
    assert pacing.reserve(NOW, horizon=2.0) is None
    assert pacing.writes == writes, "a pointer known to be beyond the horizon needs no request"
    # Time passes: the pointer comes within the horizon again.
    assert pacing.reserve(NOW + 1.0, horizon=2.0) == [pytest.approx(NOW + 41 / rate)]


def test_a_batch_takes_consecutive_slots_and_the_next_sender_follows(rate):
    batch = pacing.reserve(NOW, count=5)
    assert batch == [pytest.approx(NOW + index / rate) for index in range(5)]
    assert pacing.reserve(NOW) == [pytest.approx(NOW + 5 / rate)]
    with pytest.raises(ValueError):
        pacing.reserve(NOW, count=0)


def test_a_hot_pacer_item_throttles_the_send_instead_of_failing_it(rate, monkeypatch):
    from storeflows.storage import pacer

    def throttled(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "hot"}}, "UpdateItem")

    monkeypatch.setattr(pacer, "client", lambda service: mock.Mock(update_item=throttled))
    assert pacing.reserve(NOW) is None


def test_the_rate_is_a_share_of_the_accounts_and_read_once(aws, monkeypatch):
    monkeypatch.delenv("SES_SEND_RATE")
    from storeflows import config

    config.settings.cache_clear()
    account = mock.Mock(get_account=mock.Mock(return_value={"SendQuota": {"MaxSendRate": 14.0}}))
    monkeypatch.setattr(pacing, "client", lambda service: account)

    assert pacing.send_rate() == pytest.approx(12.6)
    assert pacing.send_rate() == pytest.approx(12.6)
    assert account.get_account.call_count == 1
    monkeypatch.setattr(pacing, "RATE_CACHE_SECONDS", 0.0)
    time.sleep(0.01)
    pacing.send_rate()
    assert account.get_account.call_count == 2, "read again once the cached rate is stale"


def test_a_full_pacer_throttles_the_step_before_it_decides_anything_and_it_sends_later_once(send, aws, rate):  # noqa: F811
    add_contact()
    set_pointer(time.time() + 3600)  # a burst holds the next hour

    with pytest.raises(SendThrottled):
        send(send_step(MARKETING, frequency_cap_seconds=86400))
    assert send_records() == [] and aws.sent_emails() == []
    cap = dynamodb.table().get_item(Key=keys.frequency_cap_key("demo", "ana@example.com", "targeted-post-purchase"))
    assert "Item" not in cap, "no frequency-cap slot held"

    set_pointer(time.time() - 1)  # the burst is over
    pacing.forget()  # a new environment (this one remembers the full pacer for an hour)
    first = send(send_step(MARKETING, frequency_cap_seconds=86400))
    again = send(send_step(MARKETING, frequency_cap_seconds=86400))  # Step Functions retried
    assert first["status"] == "sent" and again == first
    assert len(aws.sent_emails()) == 1


def test_ses_throttling_becomes_send_throttled_and_gives_the_claim_back(send, aws, monkeypatch):  # noqa: F811
    add_contact()
    real_client = ses.client

    class MaximumRateSES:
        def send_email(self, **_: Any) -> None:
            raise ClientError(
                {"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}}, "SendEmail"
            )

    monkeypatch.setattr(ses, "client", lambda service: MaximumRateSES() if service == "sesv2" else real_client(service))
    with pytest.raises(SendThrottled):
        send(send_step(MARKETING))
    assert send_records() == []

    monkeypatch.setattr(ses, "client", real_client)
    assert send(send_step(MARKETING))["status"] == "sent"
    assert len(aws.sent_emails()) == 1
