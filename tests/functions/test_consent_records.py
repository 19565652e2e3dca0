"""Consent: the newest statement wins, whatever order orders and consent events arrive in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from storeflows.events.purchase import PurchaseEvent
from storeflows.storage import contacts, orders

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def order(order_id: str, at: datetime, accepts_marketing: bool) -> PurchaseEvent:
    return PurchaseEvent.model_validate(
        {
            "type": "purchase",
            "occurred_at": at.isoformat(),
            "order": {"id": order_id, "total": "10.00", "currency": "EUR"},
            "customer": {"email": "ana@example.com", "accepts_marketing": accepts_marketing},
        }
    )


def consent():
    return contacts.get_contact("demo", "ana@example.com").consent


def test_an_older_order_processed_late_does_not_restore_withdrawn_consent(aws):
    orders.record_purchase("demo", "e2", order("2", T0 + timedelta(days=1), accepts_marketing=False))
    orders.record_purchase("demo", "e1", order("1", T0, accepts_marketing=True))
    assert consent().marketing is False
    assert consent().source == "order:2"


def test_a_newer_consent_event_overrides_an_order_and_an_older_one_does_not(aws):
    orders.record_purchase("demo", "e1", order("1", T0, accepts_marketing=False))
    assert contacts.record_consent("demo", "ana@example.com", marketing=True, source="form", at=T0 + timedelta(hours=1))
    assert consent().marketing is True
    assert not contacts.record_consent(
        "demo", "ana@example.com", marketing=False, source="old import", at=T0 - timedelta(days=30)
    )
    assert consent().marketing is True and consent().source == "form"


def test_timestamps_with_other_offsets_compare_by_the_instant(aws):
    warsaw = timezone(timedelta(hours=1))
    contacts.record_consent(
        "demo", "ana@example.com", marketing=True, source="a", at=datetime(2026, 11, 20, 11, 30, tzinfo=warsaw)
    )
    # 10:45 UTC is later than 11:30+01:00 (10:30 UTC), though its wall-clock reading is earlier.
    assert contacts.record_consent(
        "demo", "ana@example.com", marketing=False, source="b", at=datetime(2026, 11, 20, 10, 45, tzinfo=UTC)
    )
    assert consent().source == "b"


def test_a_consent_event_for_an_unknown_customer_creates_the_contact(aws):
    contacts.record_consent("demo", "new@example.com", marketing=True, source="newsletter form", at=T0)
    contact = contacts.get_contact("demo", "new@example.com")
    assert contact.consent.marketing is True and contact.orders_count == 0


def unsubscribe(at: datetime) -> None:
    assert contacts.unsubscribe_contact("demo", "ana@example.com", via_message="newsletter", at=at)


def unsubscribed_at():
    return contacts.get_contact("demo", "ana@example.com").unsubscribed_at


def test_a_newer_explicit_consent_statement_re_subscribes(aws):
    orders.record_purchase("demo", "e1", order("1", T0, accepts_marketing=True))
    unsubscribe(T0 + timedelta(days=1))

    assert contacts.record_consent(
        "demo",
        "ana@example.com",
        marketing=True,
        source="preference centre",
        at=T0 + timedelta(days=2),
        lifts_unsubscribe=True,
    )

    assert unsubscribed_at() is None
    assert consent().marketing is True


def test_an_order_checkbox_never_re_subscribes(aws):
    """A store keeps its own "accepts marketing" flag, which knows nothing of our unsubscribe
    link: a later order saying yes must not undo the unsubscribe."""
    orders.record_purchase("demo", "e1", order("1", T0, accepts_marketing=True))
    unsubscribe(T0 + timedelta(days=1))

    orders.record_purchase("demo", "e2", order("2", T0 + timedelta(days=2), accepts_marketing=True))

    assert unsubscribed_at() is not None


def test_a_consent_statement_older_than_the_unsubscribe_changes_nothing(aws):
    orders.record_purchase("demo", "e1", order("1", T0, accepts_marketing=False))
    unsubscribe(T0 + timedelta(days=3))

    contacts.record_consent(
        "demo", "ana@example.com", marketing=True, source="import", at=T0 + timedelta(days=2), lifts_unsubscribe=True
    )

    assert unsubscribed_at() is not None
