"""Whose storefront event it is (storeflows.storefront, storage.visitors), through the
dispatcher against moto: an unknown visitor's events are kept until the visitor is identified,
then handed to the contact; a page's claim never takes over a visitor the store identified;
an erasure of the contact deletes the visitor too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter

from storeflows import dispatch, privacy
from storeflows.events import EventBody, StoreEvent
from storeflows.storage import contacts, keys, visitors

VISITOR = "v_8f3a2c91d4"
ANA = "ana@example.com"
EVE = "eve@example.com"
_bodies: TypeAdapter[Any] = TypeAdapter(EventBody)


def deliver(event_id: str, body: dict[str, Any], *, source: str = "api", proof: str | None = None) -> dict[str, Any]:
    return dispatch.dispatch_event(
        StoreEvent(
            store_id="demo",
            event_id=event_id,
            source=source,  # type: ignore[arg-type]
            received_at=datetime.now(UTC),
            event=_bodies.validate_python(body),
            identity_proof=proof,  # type: ignore[arg-type]
        )
    )


def product_view(visitor: str = VISITOR, **customer: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "product_viewed",
        "occurred_at": "2026-12-01T10:00:00Z",
        "product": {"product_id": "p-1", "name": "Linen dress", "price": "89.00", "currency": "EUR"},
        "visitor_id": visitor,
    }
    if customer:
        body["customer"] = customer
    return body


def identify(email: str, visitor: str = VISITOR) -> dict[str, Any]:
    return {"type": "identify", "visitor_id": visitor, "customer": {"email": email}}


def test_an_unknown_visitors_events_wait_for_the_visitor_to_be_identified(aws):
    assert deliver("browser:1", product_view(), source="browser") == {
        "event_id": "browser:1",
        "kept_until_identified": True,
    }
    assert len(visitors.pending_events("demo", VISITOR)) == 1
    assert contacts.get_contact("demo", ANA) is None

    outcome = deliver("api:2", identify(ANA))

    assert outcome["identified"] is True and outcome["earlier_events"] == 1
    assert visitors.known_email("demo", VISITOR) == ANA
    assert visitors.pending_events("demo", VISITOR) == []  # handed over, not kept twice
    assert contacts.get_contact("demo", ANA) is not None
    # Later events of the visitor are the contact's at once.
    later = deliver("browser:3", product_view(), source="browser")
    assert later["event_id"] == "browser:3" and "kept_until_identified" not in later
    assert visitors.pending_events("demo", VISITOR) == []


def test_an_event_naming_an_email_and_a_visitor_identifies_the_visitor(aws):
    deliver("browser:1", product_view(), source="browser")

    outcome = deliver("api:2", product_view(email=ANA))

    assert outcome["identified"] is True and outcome["earlier_events"] == 1
    assert visitors.known_email("demo", VISITOR) == ANA
    # Once linked, the same pair costs no identification again.
    assert "identified" not in deliver("api:3", product_view(email=ANA))


def test_a_pages_claim_cannot_take_over_a_visitor_the_store_identified(aws):
    deliver("api:1", identify(ANA))

    outcome = deliver("browser:2", identify(EVE), source="browser", proof="claimed")

    assert outcome["identified"] is False
    assert visitors.known_email("demo", VISITOR) == ANA
    assert contacts.get_contact("demo", EVE) is None
    # The signed link of a Storeflows email is stronger than a claim, weaker than the store.
    assert deliver("browser:3", identify(EVE), source="browser", proof="email_link")["identified"] is False
    deliver("browser:4", identify(EVE, visitor="v_otherbrowser1"), source="browser", proof="claimed")
    assert deliver("browser:5", identify(ANA, visitor="v_otherbrowser1"), source="browser", proof="email_link")[
        "identified"
    ]
    assert visitors.known_email("demo", "v_otherbrowser1") == ANA


def test_an_erasure_deletes_the_visitors_identity_and_kept_events(aws):
    deliver("api:1", identify(ANA))
    deliver("browser:2", product_view(), source="browser")

    erasure = privacy.erase_contact("demo", ANA, via="test")

    assert erasure.items_erased["visitor"] == 1
    assert erasure.items_erased["visitor_data"] >= 1
    assert aws.items(visitors.visitor_pk("demo", VISITOR)) == []
    assert aws.items(keys.contact_pk("demo", ANA)) == []


def test_a_subscription_is_consent_kept_with_its_wording(aws):
    deliver(
        "api:1",
        {
            "type": "subscribed",
            "customer": {"email": ANA},
            "consent_text": "Yes, send me news and offers by email.",
            "source": "footer_form",
        },
    )

    contact = contacts.get_contact("demo", ANA)
    assert contact is not None and contact.consent is not None and contact.consent.marketing is True
    [statement] = [item for item in aws.items(keys.contact_pk("demo", ANA)) if item["sk"].startswith("CONSENT#")]
    assert statement["wording"] == "Yes, send me news and offers by email."
    assert statement["source"] == "footer_form"


def test_a_pages_claim_for_a_visitor_the_store_identified_counts_for_that_contact_not_the_claimed_one(aws):
    deliver("api:1", identify(ANA))

    viewed_now = product_view(email=EVE) | {"occurred_at": datetime.now(UTC).isoformat()}
    outcome = deliver("browser:2", viewed_now, source="browser", proof="claimed")

    assert outcome["identified"] is False
    assert contacts.get_contact("demo", EVE) is None
    # The view is Ana's (it goes on her session), the visitor being hers by the store's word.
    assert [item["sk"] for item in aws.items(keys.contact_pk("demo", ANA)) if item["sk"].startswith("VIEWED#")]
