"""Engagement, attribution and the report, end to end: purchases send emails, SES's events
(published by the local stack through the configuration set's SNS topic) are counted, opens
and clicks earn later purchases, unsubscribes, bounces and complaints are counted and
suppress, and the report adds it all up."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import requests

from storeflows.workflows.runs import run_name
from storeflows.workflows.templates.order_value import OrderValueSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for, wait_for_run

pytestmark = pytest.mark.e2e

WORKFLOW, MESSAGE = "wf", "thanks"


@pytest.fixture
def shop(stack, store_with_workflow):
    """A store whose one workflow thanks every buyer at once with one marketing message."""
    return store_with_workflow(
        OrderValueSettings(tiers=[{"min_total": "0", "message": MESSAGE}]), {MESSAGE: "marketing"}
    )


def buy(stack, store: str, email: str, order_id: str, *, total: str = "40.00", days_from_now: float = 0) -> None:
    body = purchase(order_id, email, total=total, language="en-GB")
    body["occurred_at"] = (datetime.now(UTC) + timedelta(days=days_from_now)).isoformat()
    assert post_event(stack.api_url, store, stack.webhook_secret, body).status_code == 202
    wait_for_run(state_machine_arn("_order_value"), run_name(store, order_id, WORKFLOW))


def emailed(stack, email: str, count: int = 1) -> list[dict]:
    return wait_for(
        lambda: (lambda sent: sent if len(sent) >= count else None)(stack.outbox(email)),
        what=f"{count} email(s) to {email}",
    )


def simulate(stack, email: dict, kind: str) -> None:
    response = requests.post(f"{stack.api_url}/_local/ses/{email['id']}/{kind}", timeout=10)
    assert response.status_code == 202, response.text


def report(stack, store: str) -> dict:
    today = date.today().isoformat()
    response = requests.get(f"{stack.api_url}/reports/{store}", params={"from": today, "to": today}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def settled(stack, store: str, **expected: int) -> dict:
    """The report once its counters have reached `expected` (SES events arrive asynchronously)."""
    return wait_for(
        lambda: (lambda body: body if all(body["total"][name] >= value for name, value in expected.items()) else None)(
            report(stack, store)
        ),
        what=f"report counters {expected}",
    )


def test_a_scripted_scenario_adds_up_to_an_exact_report(stack, shop, storage):
    run = uuid.uuid4().hex[:8]
    ana, bruno, carla = (f"{name}-{run}@example.com" for name in ("ana", "bruno", "carla"))
    bouncing, complaining = f"bounce+{run}@simulator.amazonses.com", f"complaint+{run}@simulator.amazonses.com"

    # Ana opens (twice) and clicks her thank-you, then buys again two days later: ordered.
    buy(stack, shop, ana, "A-1", total="40.00")
    (first,) = emailed(stack, ana)
    simulate(stack, first, "open")
    simulate(stack, first, "open")
    simulate(stack, first, "click")
    wait_for(lambda: storage.contacts.get_contact(shop, ana).last_click, what="Ana's click")
    buy(stack, shop, ana, "A-2", total="59.90", days_from_now=2)

    # Bruno clicks without an open (images blocked), buys again six days later: too late.
    buy(stack, shop, bruno, "B-1")
    (bruno_first,) = emailed(stack, bruno)
    simulate(stack, bruno_first, "click")
    wait_for(lambda: storage.contacts.get_contact(shop, bruno).last_click, what="Bruno's click")
    buy(stack, shop, bruno, "B-2", total="120.00", days_from_now=6)

    # Carla unsubscribes with the one-click link of her email, twice.
    buy(stack, shop, carla, "C-1")
    (carla_email,) = emailed(stack, carla)
    link = carla_email["headers"]["List-Unsubscribe"].strip("<>")
    for _ in range(2):
        assert requests.post(link, data={"List-Unsubscribe": "One-Click"}, timeout=10).status_code == 200

    # The mailbox simulator: one address bounces, one complains; then both buy again.
    buy(stack, shop, bouncing, "X-1")
    buy(stack, shop, complaining, "Y-1")
    settled(stack, shop, bounced=1, complained=1)
    buy(stack, shop, bouncing, "X-2")
    buy(stack, shop, complaining, "Y-2")

    body = settled(stack, shop, sent=7, delivered=6, opened=2, clicked=2)
    (row,) = body["rows"]
    assert (row["workflow"], row["message"]) == (WORKFLOW, MESSAGE)
    figures = {
        name: row[name]
        for name in (
            "sent",
            "delivered",
            "opened",
            "clicked",
            "ordered",
            "unsubscribed",
            "bounced",
            "complained",
            "soft_bounced",
            "rejected",
        )
    }
    assert figures == {
        "sent": 7,
        "delivered": 6,
        "opened": 2,
        "clicked": 2,
        "ordered": 1,
        "unsubscribed": 1,
        "bounced": 1,
        "complained": 1,
        "soft_bounced": 0,
        "rejected": 0,
    }
    assert row["revenue"] == {"EUR": "59.90"}
    # The suppressed contacts' later purchases sent nothing: skipped, with the reason.
    assert row["skipped"] == 2
    assert {reason: count for reason, count in row["skipped_by_reason"].items() if count} == {"suppressed": 2}
    assert (row["ctr"], row["open_rate"], row["click_to_open"]) == (0.3333, 0.3333, 1.0)
    assert body["total"]["sent"] == 7

    # Bounces and complaints suppress in our own records; the later purchases sent nothing.
    assert storage.contacts.get_contact(shop, bouncing).suppressed_reason == "bounce"
    assert storage.contacts.get_contact(shop, complaining).suppressed_reason == "complaint"
    assert len(stack.outbox(bouncing)) == len(stack.outbox(complaining)) == 1
    skipped = [send for send in stack.contact(complaining, shop)["sends"] if send["status"] == "skipped"]
    assert [(send["subject"], send["reason"]) for send in skipped] == [("Y-2", "suppressed")]
    assert storage.contacts.get_contact(shop, carla).unsubscribed_at is not None


def test_the_report_api_refuses_bad_ranges_and_unknown_stores(stack, shop):
    bad = requests.get(f"{stack.api_url}/reports/{shop}", params={"from": "2026-13-01"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_payload"
    backwards = requests.get(
        f"{stack.api_url}/reports/{shop}", params={"from": "2026-12-02", "to": "2026-12-01"}, timeout=10
    )
    assert backwards.status_code == 400 and "after" in backwards.json()["detail"]
    assert requests.get(f"{stack.api_url}/reports/no-such-shop", timeout=10).status_code == 404
