"""Double opt-in (storeflows.signups): a `subscription_requested` sends the address a
confirmation email with a signed, expiring link (the address never in it), at most one per
10 minutes, none to a suppressed or already subscribed address; the confirmation page
(functions/confirm_subscription) shows a button on GET and changes nothing, queues the
`subscribed` event on POST (the same event however often), and answers a bad link with its
4xx page, writing nothing."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from storeflows import dispatch, privacy, signups
from storeflows.admin.errors import InvalidDefinition
from storeflows.admin.messages import apply_message
from storeflows.events import StoreEvent
from storeflows.events.subscription_request import SubscriptionRequestedEvent
from storeflows.messaging.mail import parse_mime_message
from storeflows.records import Message, MessageContent, Purpose
from storeflows.storage import contacts, keys, stores

EMAIL = "ana@example.com"


def request(email: str = EMAIL, event_id: str | None = None, **customer: Any) -> dict[str, Any]:
    body = SubscriptionRequestedEvent(
        type="subscription_requested",
        customer={"email": email, **customer},
        consent_text="Yes, send me news and offers by email.",
        source="popup",
    )
    event = StoreEvent(
        store_id="demo",
        event_id=event_id or f"browser:{uuid.uuid4().hex}",
        source="browser",
        received_at=datetime.now(UTC),
        event=body,
    )
    return dispatch.dispatch_event(event)


def emails(aws) -> list[dict[str, Any]]:
    return [parse_mime_message(sent.raw_data) | {"to": sent.destinations} for sent in aws.sent_emails()]


def link_token(mail: dict[str, Any]) -> str:
    (token,) = set(re.findall(r"/subscriptions/confirm\?token=([A-Za-z0-9_.-]+)", mail["text"]))
    return token


@pytest.fixture
def confirm_page(load_handler, lambda_context, make_http_event, demo_store):
    app = load_handler("confirm_subscription")

    def invoke(method: str, token: str | None) -> dict[str, Any]:
        event = make_http_event(
            method,
            "/subscriptions/confirm",
            "/subscriptions/confirm",
            query=None if token is None else {"token": token},
        )
        return app.lambda_handler(event, lambda_context)

    return invoke


def test_a_request_sends_a_localised_confirmation_whose_link_hides_the_address(aws, demo_store):
    outcome = request(first_name="Ana", language="pl-PL")
    assert outcome["confirmation"] == "sent"
    (mail,) = emails(aws)
    assert set(mail["to"]) == {EMAIL}
    assert mail["subject"] == "Potwierdź subskrypcję Demo Store"
    assert "Dzień dobry Ana" in mail["text"]
    assert "List-Unsubscribe" not in mail["headers"], "transactional: asks for consent, offers nothing"
    token = link_token(mail)
    assert token in mail["html"]
    assert EMAIL not in token and "ana" not in base64.urlsafe_b64decode(token.split(".")[0] + "==").decode()
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert payload["x"] - datetime.now(UTC).timestamp() == pytest.approx(7 * 86400, abs=60)
    # Nothing subscribed yet, and nothing on the event queue.
    assert contacts.get_contact("demo", EMAIL) is None
    assert aws.queued_bodies() == []


def test_a_second_request_within_ten_minutes_sends_nothing_and_a_redelivery_nothing_again(aws, demo_store):
    event_id = "browser:first"
    assert request(event_id=event_id)["confirmation"] == "sent"
    assert request()["confirmation"] == "too_soon"
    assert request(event_id=event_id)["confirmation"] == "already_sent"
    assert len(aws.sent_emails()) == 1
    assert request("other@example.com")["confirmation"] == "sent", "the limit is per address"


def test_suppressed_and_already_subscribed_addresses_get_no_confirmation(aws, demo_store):
    at = datetime.now(UTC)
    contacts.start_profile("demo", "bounced@example.com")
    contacts.suppress_contact("demo", "bounced@example.com", "bounce", at)
    assert request("bounced@example.com")["confirmation"] == "suppressed"
    contacts.record_consent("demo", EMAIL, marketing=True, source="api", at=at)
    assert request(EMAIL)["confirmation"] == "already_subscribed"
    # An address erased after a complaint keeps it: still no email.
    contacts.start_profile("demo", "complained@example.com")
    contacts.suppress_contact("demo", "complained@example.com", "complaint", at)
    privacy.erase_contact("demo", "complained@example.com", via="test")
    assert request("complained@example.com")["confirmation"] == "suppressed"
    assert aws.sent_emails() == []


def test_get_shows_the_button_and_changes_nothing_post_queues_one_subscribed_event(aws, demo_store, confirm_page):
    request(first_name="Ana", language="pl-PL")
    token = link_token(emails(aws)[0])
    shown = confirm_page("GET", token)
    assert shown["statusCode"] == 200
    assert "Demo Store" in shown["body"] and 'lang="pl"' in shown["body"]
    assert '<form method="post"' in shown["body"] and "Tak, zapisz mnie" in shown["body"]
    assert aws.queued_bodies() == []
    first, second = confirm_page("POST", token), confirm_page("POST", token)
    assert first["statusCode"] == second["statusCode"] == 200
    assert "Subskrypcja potwierdzona" in first["body"]
    queued = aws.queued_bodies()
    assert len(queued) == 2 and queued[0] == queued[1], "the same event: recorded once, one run"
    subscribed = queued[0]
    assert subscribed["event"] == {
        "type": "subscribed",
        "occurred_at": subscribed["event"]["occurred_at"],
        "customer": {"email": EMAIL, "first_name": "Ana", "language": "pl-PL"},
        "consent_text": "Yes, send me news and offers by email.",
        "source": "popup",
    }
    assert subscribed["event_id"].startswith("signup:")
    assert confirm_page("GET", token)["body"].count("Subskrypcja potwierdzona") == 1, "GET after: already done"


def _tampered(token: str) -> str:
    body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["x"] += 86400 * 365
    forged = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{forged}.{signature}"


@pytest.mark.parametrize(
    ("make", "status", "words"),
    [
        (lambda key, good: signups.make_token(key, "demo", "r" * 24, 1_700_000_000), 410, "expired"),
        (lambda key, good: _tampered(good), 400, "altered"),
        (lambda key, good: signups.make_token(key, "demo", "unknown-request-id", 4_000_000_000), 404, "no longer"),
        (lambda key, good: signups.make_token("another-key", "demo", "r" * 24, 4_000_000_000), 400, "altered"),
        (lambda key, good: "not-a-token", 400, "malformed"),
        (lambda key, good: "", 400, "malformed"),
    ],
    ids=["expired", "tampered", "unknown", "foreign-key", "malformed", "missing"],
)
def test_a_bad_link_gets_its_4xx_page_and_writes_nothing(aws, demo_store, confirm_page, make, status, words):
    request()
    good = link_token(emails(aws)[0])
    before = aws.table().scan()["Items"]
    for method in ("GET", "POST"):
        answer = confirm_page(method, make(demo_store.unsubscribe_key, good))
        assert answer["statusCode"] == status, (method, answer["body"])
        assert words in answer["body"]
    assert aws.queued_bodies() == []
    assert aws.table().scan()["Items"] == before


def test_the_stores_own_confirmation_replaces_the_built_in_one_and_is_checked_when_saved(aws, demo_store):
    def message(purpose: Purpose, text: str) -> Message:
        return Message(
            store_id="demo",
            message_id="subscription-confirmation",
            purpose=purpose,
            sender="shop-team",
            variants={"en": MessageContent(subject="Join {{ store.name }}", html=f"<p>{text}</p>", text=text)},
        )

    with pytest.raises(InvalidDefinition, match="must be transactional"):
        apply_message(message(Purpose.MARKETING, "{{ confirm_url }} {{ unsubscribe_url }}"))
    with pytest.raises(InvalidDefinition, match="nobody could confirm"):
        apply_message(message(Purpose.TRANSACTIONAL, "Welcome!"))
    apply_message(message(Purpose.TRANSACTIONAL, "Click {{ confirm_url }} within {{ confirm_days }} days"))
    request()
    (mail,) = emails(aws)
    assert mail["subject"] == "Join Demo Store"
    assert "within 7 days" in mail["text"] and link_token(mail)


def test_an_erasure_deletes_the_waiting_request(aws, demo_store, confirm_page):
    request()
    token = link_token(emails(aws)[0])
    privacy.erase_contact("demo", EMAIL, via="test")
    assert aws.items(keys.contact_pk("demo", EMAIL)) == []
    assert [item for item in aws.table().scan()["Items"] if item["pk"].startswith("SIGNUPREQUEST#")] == []
    assert confirm_page("POST", token)["statusCode"] == 404
    assert aws.queued_bodies() == []


def test_a_store_without_any_sender_sends_nothing(aws, demo_store):
    from storeflows.storage import messages

    for profile in messages.list_senders("demo"):
        messages.delete_sender("demo", profile.sender_id)
    assert stores.get_store("demo") is not None
    assert request()["confirmation"] == "no_sender"
    assert aws.sent_emails() == []
