"""Data protection (storeflows.privacy) against moto: what an export of a contact contains,
what an erasure stops, deletes and keeps, and what a later purchase by an erased address
may receive."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from storeflows import privacy
from storeflows.events.common import Customer
from storeflows.events.privacy import DataRequest
from storeflows.events.purchase import PurchaseEvent
from storeflows.messaging import unsubscribe as subscriptions
from storeflows.messaging.unsubscribe_links import UnsubscribeRequest, make_unsubscribe_token
from storeflows.records import Purpose
from storeflows.storage import contacts, dynamodb, keys, orders, reports, sends
from storeflows.storage import privacy as privacy_store
from storeflows.workflows import runs
from storeflows.workflows.runs import run_name

ANA = "ana@example.com"
NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    """The storage clock, fixed at NOW; move it with clock.now = ..."""

    class Clock:
        now = NOW

    monkeypatch.setattr(dynamodb, "now", lambda: Clock.now)
    return Clock


def purchase(
    order_id: str, *, email: str = ANA, consent: bool | None = True, occurred_at: str = "2026-11-20T10:00:00Z"
) -> PurchaseEvent:
    return PurchaseEvent.model_validate(
        {
            "type": "purchase",
            "occurred_at": occurred_at,
            "order": {
                "id": order_id,
                "total": "129.90",
                "currency": "EUR",
                "items": [{"sku": "DRESS", "name": "Venise dress", "quantity": 1, "price": "129.90"}],
            },
            "customer": {"email": email, "first_name": "Ana", "language": "pl-PL", "accepts_marketing": consent},
        }
    )


def unsubscribe(demo_store, email: str = ANA) -> bool:
    """The one-click link of a marketing email, followed."""
    return subscriptions.unsubscribe(
        make_unsubscribe_token(
            demo_store.unsubscribe_key, UnsubscribeRequest(store_id="demo", email=email, message_id="care-tips")
        )
    )


def everything_in_the_table(aws) -> list[dict]:
    return aws.table().scan(ConsistentRead=True)["Items"]


def test_an_export_holds_every_item_of_the_contact_grouped_by_kind(aws, clock, demo_store):
    orders.record_purchase("demo", "e1", purchase("1001"))
    contacts.record_consent(
        "demo", ANA, marketing=False, source="preference centre", at=datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
    )
    sends.record_send_decision(
        keys.send_log_key("demo", ANA, "wf", "1001", "thanks"),
        workflow_id="wf",
        subject="1001",
        step="thanks",
        message_id="thanks",
        status="sent",
        ses_message_id="ses-1",
        language="pl",
    )
    # What SES reported of that email, kept outside the partition under its SES id.
    opened = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    for flag, counter in (("delivered_at", "delivered"), ("opened_at", "opened")):
        assert reports.count_email_event(
            store_id="demo",
            workflow_id="wf",
            message_id="thanks",
            sent_on="2026-11-21",
            ses_message_id="ses-1",
            flag=flag,
            at=opened,
            counter=counter,
        )
    # A kind of item this module has never heard of (added by a later change).
    aws.table().put_item(Item={"pk": keys.contact_pk("demo", ANA), "sk": "LOYALTY#2026", "tier": "gold"})
    orders.record_purchase("demo", "e2", purchase("2001", email="bea@example.com"))

    export = privacy.export_contact("demo", ANA)

    assert export == {
        "store_id": "demo",
        "email": ANA,
        "exported_at": "2026-11-21T08:00:00.000000+00:00",
        "profile": {
            "store_id": "demo",
            "email": ANA,
            "first_name": "Ana",
            "language": "pl-PL",
            "created_at": "2026-11-21T08:00:00.000000+00:00",
            "updated_at": "2026-11-21T08:00:00.000000+00:00",
            "first_order_at": "2026-11-20T10:00:00.000000+00:00",
            "last_order_at": "2026-11-20T10:00:00.000000+00:00",
            "orders_count": 1,
            "total_spent": "129.90",
            "score": 0,
            "consent": {
                "marketing": False,
                "source": "preference centre",
                "updated_at": "2026-11-21T07:00:00.000000+00:00",
            },
        },
        "records": {
            # The order's checkbox is on the order; consent events are CONSENT# items.
            "consent": [
                {
                    "sk": "CONSENT#2026-11-21T07:00:00.000000+00:00#preference centre",
                    "marketing": False,
                    "source": "preference centre",
                    "stated_at": "2026-11-21T07:00:00.000000+00:00",
                    "received_at": "2026-11-21T08:00:00.000000+00:00",
                    "applied": True,
                },
            ],
            "loyalty": [{"sk": "LOYALTY#2026", "tier": "gold"}],
            "order": [
                {
                    "sk": "ORDER#1001",
                    "order_id": "1001",
                    "event_id": "e1",
                    "total": "129.90",
                    "currency": "EUR",
                    "occurred_at": "2026-11-20T10:00:00.000000+00:00",
                    "marketing_consent": True,
                    "items": [{"sku": "DRESS", "name": "Venise dress", "quantity": 1, "price": "129.90"}],
                    # The contact's totals before this order (their first).
                    "orders_count_before": 0,
                    "total_spent_before": 0,
                }
            ],
            "send": [
                {
                    "sk": "SEND#wf#1001#thanks",
                    "workflow_id": "wf",
                    "subject": "1001",
                    "step": "thanks",
                    "message_id": "thanks",
                    "status": "sent",
                    "ses_message_id": "ses-1",
                    "language": "pl",
                    "decided_at": "2026-11-21T08:00:00.000000+00:00",
                    "engagement": {
                        "delivered_at": "2026-11-21T09:00:00.000000+00:00",
                        "opened_at": "2026-11-21T09:00:00.000000+00:00",
                    },
                }
            ],
        },
        "suppression": None,
        "data_requests": [],
    }
    assert json.loads(json.dumps(export)) == export, "plain JSON: no Decimal, no set"


def test_the_consent_history_keeps_every_statement_applied_or_not_once(aws, clock, demo_store):
    def state(marketing: bool, hour: int, source: str) -> bool:
        return contacts.record_consent(
            "demo", ANA, marketing=marketing, source=source, at=datetime(2026, 11, 21, hour, tzinfo=UTC)
        )

    assert state(True, 9, "newsletter form") is True
    assert state(False, 8, "import") is False, "older than the statement on record"
    assert state(True, 9, "newsletter form") is False, "a redelivery"

    history = privacy.export_contact("demo", ANA)["records"]["consent"]
    assert [(item["stated_at"][:13], item["source"], item["marketing"], item["applied"]) for item in history] == [
        ("2026-11-21T08", "import", False, False),
        ("2026-11-21T09", "newsletter form", True, True),
    ]
    assert contacts.get_contact("demo", ANA).consent.source == "newsletter form"


@pytest.fixture
def ana_inside_a_run(aws, clock, demo_store):
    """Ana bought twice; the run for order 1001 is still running, the one for 1002 has ended.
    Bea, another customer, is inside a run of her own."""
    sfn = boto3.client("stepfunctions")
    for email, order_id in ((ANA, "1001"), (ANA, "1002"), ("bea@example.com", "2001")):
        orders.record_purchase("demo", f"e-{order_id}", purchase(order_id, email=email))
        sfn.start_execution(
            stateMachineArn=aws.state_machine_arn, input="{}", name=run_name("demo", order_id, demo_store.workflow_id)
        )
    sfn.stop_execution(executionArn=execution("1002", aws, demo_store))
    aws.table().put_item(
        Item={
            **keys.active_run_key("demo", ANA, demo_store.workflow_id, "1001"),
            "workflow_id": demo_store.workflow_id,
            "subject": "1001",
        }
    )
    return sfn


def execution(order_id: str, aws, demo_store) -> str:
    return runs.execution_arn(aws.state_machine_arn, run_name("demo", order_id, demo_store.workflow_id))


def test_an_erasure_stops_the_contacts_runs_and_leaves_no_address_behind(aws, ana_inside_a_run, demo_store):
    sfn = ana_inside_a_run
    assert unsubscribe(demo_store)
    privacy.record_data_request(
        "demo", DataRequest(type="data_request", request_id="9999", customer=Customer(email=ANA)), source="shopify:ev-1"
    )

    erasure = privacy.erase_contact("demo", ANA, via="storeflows contacts delete")

    assert erasure.runs_stopped == [{"workflow_id": demo_store.workflow_id, "subject": "1001"}]
    assert sfn.describe_execution(executionArn=execution("1001", aws, demo_store))["status"] == "ABORTED"
    assert sfn.describe_execution(executionArn=execution("2001", aws, demo_store))["status"] == "RUNNING", "Bea's run"
    assert erasure.items_erased == {"active": 1, "order": 2, "profile": 1}
    assert erasure.data_requests_erased == 1
    assert aws.items(keys.contact_pk("demo", ANA)) == []
    assert contacts.get_contact("demo", "bea@example.com").orders_count == 1
    assert "ana@" not in json.dumps(everything_in_the_table(aws), default=str), "the address is gone everywhere"
    (kept,) = aws.items("SUPPRESSION#demo")
    assert kept["sk"] == f"ADDRESS#{keys.email_digest(ANA)}"
    assert set(kept) == {"pk", "sk", "erased_at", "erased_via", "unsubscribed_at"}
    assert kept["erased_via"] == "storeflows contacts delete"


def test_an_erasure_finds_runs_by_the_subject_its_items_name_not_only_by_order(aws, clock, demo_store):
    """A run about something else than an order (here an event) leaves its subject on the
    contact's items (a send decision): the erasure stops that run too."""
    orders.record_purchase("demo", "e1", purchase("1001"))
    subject = "event:api:consent-1"
    sends.record_send_decision(
        keys.send_log_key("demo", ANA, demo_store.workflow_id, subject, "SendWelcome"),
        workflow_id=demo_store.workflow_id,
        subject=subject,
        step="SendWelcome",
        message_id="welcome",
        status="skipped",
        reason="no_marketing_consent",
    )
    sfn = boto3.client("stepfunctions")
    name = run_name("demo", subject, demo_store.workflow_id)
    sfn.start_execution(stateMachineArn=aws.state_machine_arn, input="{}", name=name)

    erasure = privacy.erase_contact("demo", ANA, via="test")

    assert erasure.runs_stopped == [{"workflow_id": demo_store.workflow_id, "subject": subject}]
    assert sfn.describe_execution(executionArn=runs.execution_arn(aws.state_machine_arn, name))["status"] == "ABORTED"


def test_an_address_unsubscribed_before_its_erasure_stays_unsubscribed_when_it_buys_again(aws, clock, demo_store):
    orders.record_purchase("demo", "e1", purchase("1001"))
    unsubscribe(demo_store)
    privacy.erase_contact("demo", ANA, via="test")
    clock.now = NOW + timedelta(days=30)

    assert orders.record_purchase("demo", "e2", purchase("1002", occurred_at="2026-12-21T10:00:00Z"))

    contact = contacts.get_contact("demo", ANA)
    assert contact.orders_count == 1 and contact.consent.marketing is True
    assert contact.may_receive(Purpose.MARKETING) == (False, "unsubscribed")
    assert contact.may_receive(Purpose.TRANSACTIONAL) == (True, None)


def test_after_an_erasure_only_consent_stated_later_allows_marketing(aws, clock, demo_store):
    orders.record_purchase("demo", "e1", purchase("1001"))
    privacy.erase_contact("demo", ANA, via="test")
    clock.now = NOW + timedelta(hours=1)

    # A late redelivery of the old order: its consent predates the erasure.
    orders.record_purchase("demo", "e1", purchase("1001"))
    assert contacts.get_contact("demo", ANA).may_receive(Purpose.MARKETING) == (False, "no_marketing_consent")
    assert contacts.get_contact("demo", ANA).consent.source == "erasure"

    orders.record_purchase("demo", "e3", purchase("1003", occurred_at="2026-11-21T08:30:00Z"))
    assert contacts.get_contact("demo", ANA).may_receive(Purpose.MARKETING) == (True, None)


def test_a_consent_event_is_a_new_contacts_first_event_too(aws, clock, demo_store):
    orders.record_purchase("demo", "e1", purchase("1001"))
    unsubscribe(demo_store)
    privacy.erase_contact("demo", ANA, via="test")

    assert contacts.record_consent("demo", ANA, marketing=True, source="newsletter form", at=NOW + timedelta(days=1))

    contact = contacts.get_contact("demo", ANA)
    assert contact.consent.marketing is True
    assert contact.may_receive(Purpose.MARKETING) == (False, "unsubscribed")


def test_an_unsubscribe_link_used_after_the_erasure_is_kept_for_the_address(aws, clock, demo_store):
    orders.record_purchase("demo", "e1", purchase("1001"))
    privacy.erase_contact("demo", ANA, via="test")

    assert unsubscribe(demo_store) is False, "no contact to mark"
    assert aws.items(keys.contact_pk("demo", ANA)) == [], "and none created"
    orders.record_purchase("demo", "e2", purchase("1002", occurred_at="2026-11-22T10:00:00Z"))
    assert contacts.get_contact("demo", ANA).may_receive(Purpose.MARKETING) == (False, "unsubscribed")


def test_erasing_again_deletes_what_arrived_since_and_keeps_the_first_unsubscribe(aws, clock, demo_store):
    orders.record_purchase("demo", "e1", purchase("1001"))
    unsubscribe(demo_store)
    first = privacy.erase_contact("demo", ANA, via="test").suppression
    clock.now = NOW + timedelta(days=2)
    orders.record_purchase("demo", "e2", purchase("1002", occurred_at="2026-11-23T10:00:00Z"))

    again = privacy.erase_contact("demo", ANA, via="shopify:ev-2")

    assert again.items_erased == {"order": 1, "profile": 1}
    assert again.suppression.unsubscribed_at == first.unsubscribed_at
    assert (again.suppression.erased_via, again.suppression.erased_at[:10]) == ("shopify:ev-2", "2026-11-23")
    assert privacy_store.get_suppression("demo", ANA) == again.suppression


def test_erasing_a_contact_never_seen_changes_nothing(aws, demo_store):
    before = everything_in_the_table(aws)

    erasure = privacy.erase_contact("demo", "nobody@example.com", via="test")

    assert (erasure.items_count, erasure.runs_stopped, erasure.suppression) == (0, [], None)
    assert everything_in_the_table(aws) == before


def test_a_send_for_an_erased_contact_writes_nothing(aws, clock, demo_store):
    from storeflows.events.subjects import OrderSubject
    from storeflows.messaging.requests import SendRequest, SendRun
    from storeflows.messaging.sending import send_workflow_message

    orders.record_purchase("demo", "e1", purchase("1001"))
    privacy.erase_contact("demo", ANA, via="test")

    run = SendRun(
        store_id="demo",
        workflow_id="wf",
        email=ANA,
        subject=OrderSubject(order_id="1001"),
    )
    result = send_workflow_message(
        SendRequest(run=run, step="thanks", message_id="first-purchase-thanks"),
        attempt_ends_at=datetime.now(UTC) + timedelta(minutes=1),
    )

    assert result == {"status": "skipped", "reason": "unknown_contact"}
    assert aws.items(keys.contact_pk("demo", ANA)) == []
    assert aws.sent_emails() == []


def test_a_data_request_is_answered_with_the_export_made_then(aws, clock, demo_store):
    request = DataRequest(
        type="data_request",
        request_id="9999",
        customer=Customer(email=ANA),
        platform_customer_id="191167",
        orders_requested=["1001"],
    )
    assert privacy.record_data_request("demo", request, source="shopify:ev-1") is True
    assert privacy.record_data_request("demo", request, source="shopify:ev-1") is False, "kept once"
    orders.record_purchase("demo", "e1", purchase("1001"))

    kept, export = privacy.data_request_export("demo", "9999")

    assert (kept.email, kept.platform_customer_id, kept.orders_requested) == (ANA, "191167", ["1001"])
    assert [order["order_id"] for order in export["records"]["order"]] == ["1001"], "what is held now"
    assert export["data_requests"] == [
        {
            "request_id": "9999",
            "source": "shopify:ev-1",
            "received_at": "2026-11-21T08:00:00.000000+00:00",
            "platform_customer_id": "191167",
            "orders_requested": ["1001"],
        }
    ]
    assert privacy.data_request_export("demo", "nope") is None
