"""Dynamic coupons end to end: 50 sends racing for 20 codes through the stack's send function,
and workflow runs whose pool runs out, each behaviour as configured."""

from __future__ import annotations

import json
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import boto3
import pytest
import requests

from storeflows.storage import coupons as pools
from storeflows.workflows.runs import run_name
from storeflows.workflows.templates.consent_confirmation import ConsentConfirmationSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for_run

pytestmark = pytest.mark.e2e

CODE = re.compile(r"code: (\S+)")
SETTINGS = ConsentConfirmationSettings(
    eu_consented_message="welcome", eu_without_consent_message="confirmation", outside_eu_message="confirmation"
)


@pytest.fixture
def coupons(storage):
    """storeflows.messaging.coupons pointed at the local stack (the `storage` fixture resets the
    cached clients), for imports and stock; the stack's send function claims the codes."""
    from storeflows.messaging import coupons as module

    return module


def sent_codes(mails: list[dict]) -> list[str]:
    return [match.group(1) for mail in mails for match in [CODE.search(mail["text"])] if match]


def test_fifty_concurrent_sends_on_twenty_codes_hand_out_each_code_once_and_the_rest_as_configured(
    stack, store_with_workflow, storage, coupons
):
    # Two messages draw on one pool: half the racers get one that is sent without the coupon
    # when the pool has run out, half one that is skipped then.
    store = store_with_workflow(
        SETTINGS,
        {"welcome": "transactional", "confirmation": "transactional"},
        coupons={
            "welcome": {"type": "dynamic", "pool": "race", "when_exhausted": "send_without_coupon"},
            "confirmation": {"type": "dynamic", "pool": "race", "when_exhausted": "skip_message"},
        },
    )
    codes = [f"RACE-{uuid.uuid4().hex[:6]}-{n:02d}" for n in range(20)]
    assert coupons.import_codes(store, "race", "code\n" + "\n".join(codes), column="code").size == 20
    racers = {
        f"racer-{n:02d}-{uuid.uuid4().hex[:6]}@example.com": "welcome" if n % 2 else "confirmation" for n in range(50)
    }
    for racer in racers:  # a profile each: the send step re-reads the contact
        storage.contacts.record_consent(store, racer, marketing=False, source="test", at=datetime.now(UTC))
    send_function = boto3.client("lambda")  # one client, shared by the threads (clients are thread-safe)
    start = threading.Barrier(len(racers))

    def send(racer: str) -> dict:
        """The send step of a run, as the state machine invokes it."""
        start.wait(timeout=30)
        order = {"id": racer.split("@")[0], "total": "10.00", "currency": "EUR", "items": []}
        response = send_function.invoke(
            FunctionName="SendMessageFunction",
            Payload=json.dumps(
                {
                    "run": {
                        "store_id": store,
                        "workflow_id": "wf",
                        "email": racer,
                        "subject": {"type": "order", "order_id": order["id"]},
                    },
                    "message_id": racers[racer],
                    "step": "Send",
                }
            ),
        )
        assert "FunctionError" not in response, response["Payload"].read()
        return json.loads(response["Payload"].read())

    with ThreadPoolExecutor(max_workers=len(racers)) as threads:
        results = dict(zip(racers, threads.map(send, racers), strict=True))

    mails = {
        mail["to"]: mail
        for mail in requests.get(f"{stack.api_url}/_local/outbox", timeout=10).json()
        if mail["to"] in racers
    }
    assert sorted(sent_codes(list(mails.values()))) == sorted(codes), "every code, each exactly once"
    assert pools.pool_stock(store, "race").remaining == 0
    without_code = [racer for racer in racers if racer not in mails or not sent_codes([mails[racer]])]
    assert len(without_code) == 30
    for racer in without_code:
        if racers[racer] == "welcome":
            assert results[racer]["status"] == "sent" and racer in mails, "send_without_coupon: sent without a code"
        else:
            assert results[racer] == {"status": "skipped", "reason": "coupon_pool_exhausted"} and racer not in mails


def test_a_run_whose_pool_ran_out_sends_without_the_coupon_or_skips_as_configured(
    stack, store_with_workflow, coupons, email
):
    store = store_with_workflow(
        SETTINGS,
        {"welcome": "marketing", "confirmation": "transactional"},
        coupons={
            "welcome": {"type": "dynamic", "pool": "welcome", "when_exhausted": "skip_message"},
            "confirmation": {"type": "dynamic", "pool": "thanks", "when_exhausted": "send_without_coupon"},
        },
    )
    coupons.import_codes(store, "welcome", "id,voucher\n1,WELCOME-AAA\n", column="voucher")
    coupons.import_codes(store, "thanks", "code\nTHANKS-1\n", column="code")
    buyers = {order_id: f"{order_id}-{email}" for order_id in ("eu-1", "eu-2", "us-1", "us-2")}
    machine = state_machine_arn("_consent_confirmation")

    for first_or_second in ("1", "2"):  # the first buyer of each pool takes its only code
        for region, country in (("eu", "PL"), ("us", "US")):
            order_id = f"{region}-{first_or_second}"
            answer = post_event(
                stack.api_url,
                store,
                stack.webhook_secret,
                purchase(order_id, buyers[order_id], country=country, accepts_marketing=True),
            )
            assert answer.status_code == 202, answer.text
        for region in ("eu", "us"):
            execution = wait_for_run(machine, run_name(store, f"{region}-{first_or_second}", "wf"))
            assert execution["status"] == "SUCCEEDED"

    (welcome,) = stack.outbox(buyers["eu-1"])
    assert (
        welcome["subject"] == "welcome"
        and "code: WELCOME-AAA" in welcome["html"]
        and "code: WELCOME-AAA" in welcome["text"]
    )
    assert stack.outbox(buyers["eu-2"]) == [], "skip_message: no code left, no message"
    (skipped,) = stack.contact(buyers["eu-2"], store_id=store)["sends"]
    assert (skipped["status"], skipped["reason"]) == ("skipped", "coupon_pool_exhausted")
    assert [sent_codes(stack.outbox(buyers[order_id])) for order_id in ("us-1", "us-2")] == [["THANKS-1"], []]
    assert [m["subject"] for m in stack.outbox(buyers["us-2"])] == ["confirmation"], "send_without_coupon: sent anyway"
