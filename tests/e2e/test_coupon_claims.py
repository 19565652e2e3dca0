"""Dynamic coupons end to end: concurrent claims against the local stack's DynamoDB, and a
purchase whose workflow message carries a code from an imported pool."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from storeflows.dispatch import run_name
from storeflows.workflows import ConsentConfirmationSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for_run

pytestmark = pytest.mark.e2e

ROUNDS = 3  # each: 50 claims racing for 20 codes


@pytest.fixture
def coupons(repository):
    """storeflows.coupons pointed at the local stack (the `repository` fixture resets the
    cached clients)."""
    from storeflows import coupons as module

    yield module
    drop_metrics()


def drop_metrics() -> None:
    """Claims here count metrics that no Lambda wrapper publishes; Powertools would flush
    them itself at 100 values, and fail without a namespace in this process."""
    from storeflows.observability import metrics

    metrics.clear_metrics()


def test_fifty_concurrent_claims_on_twenty_codes_hand_out_each_code_exactly_once(stack, coupons):
    for _ in range(ROUNDS):
        store, pool = f"shop-{uuid.uuid4().hex[:8]}", "race"
        codes = [f"RACE-{uuid.uuid4().hex[:6]}-{n:02d}" for n in range(20)]
        assert coupons.import_codes(store, pool, "code\n" + "\n".join(codes), column="code").size == 20
        assert coupons.pool_stock(store, pool).remaining == 20  # also creates the shared client before the threads
        start = threading.Barrier(50)
        drop_metrics()

        def claim(number: int) -> str | None:
            start.wait(timeout=30)
            return coupons.claim_code(store, pool, f"wf#order-{number}#SendThanks#customer-{number}@example.com")

        with ThreadPoolExecutor(max_workers=50) as threads:
            claimed = list(threads.map(claim, range(50)))

        handed_out = [code for code in claimed if code is not None]
        assert len(handed_out) == 20 and sorted(handed_out) == sorted(codes), "every code, each exactly once"
        assert claimed.count(None) == 30, "the other 30 find the pool exhausted"
        assert coupons.pool_stock(store, pool) == coupons.PoolStock(size=20, claimed=20, remaining=0,
                                                                    low_stock_threshold=2)


def test_a_purchase_gets_its_own_code_in_the_email(stack, store_with_workflow, coupons, email):
    store = store_with_workflow(
        ConsentConfirmationSettings(eu_consented_message="welcome", eu_without_consent_message="confirmation",
                                    outside_eu_message="confirmation"),
        {"welcome": "marketing", "confirmation": "transactional"},
        coupons={"welcome": {"type": "dynamic", "pool": "welcome", "when_exhausted": "skip_message"}},
    )
    coupons.import_codes(store, "welcome", "id,voucher\n1,WELCOME-AAA\n2,WELCOME-BBB\n", column="voucher")

    for order_id, buyer in (("1", email), ("2", "second-" + email)):
        answer = post_event(stack.api_url, store, stack.webhook_secret,
                            purchase(order_id, buyer, country="PL", accepts_marketing=True))
        assert answer.status_code == 202, answer.text
        execution = wait_for_run(state_machine_arn("ConsentConfirmationStateMachine"), run_name(store, order_id, "wf"))
        assert execution["status"] == "SUCCEEDED"

    (first,) = stack.outbox(email)
    (second,) = stack.outbox("second-" + email)
    assert first["subject"] == "welcome" and "code: WELCOME-AAA" in first["html"] and "code: WELCOME-AAA" in first["text"]
    assert "code: WELCOME-BBB" in second["text"]
    assert coupons.pool_stock(store, "welcome").remaining == 0
