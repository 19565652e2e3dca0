"""UnsubscribeFunction (functions/unsubscribe/app.py): GET shows a page and changes nothing
(mail scanners follow links); POST, the RFC 8058 one-click, unsubscribes from marketing."""

from __future__ import annotations

import html
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from storeflows import reports
from storeflows.events.purchase import PurchaseEvent
from storeflows.messaging.mail import parse_mime_message
from storeflows.messaging.unsubscribe_links import UnsubscribeRequest, make_unsubscribe_token
from storeflows.storage import contacts, orders
from storeflows_local.signing import purchase

EMAIL = "ana@example.com"
MESSAGE_ID = "second-purchase-thanks"


@pytest.fixture
def contact(demo_store) -> str:
    event = PurchaseEvent.model_validate(purchase("A-1001", EMAIL, accepts_marketing=True))
    assert orders.record_purchase("demo", "api:seed", event)
    return EMAIL


@pytest.fixture
def token(demo_store) -> str:
    return make_unsubscribe_token(
        demo_store.unsubscribe_key, UnsubscribeRequest(store_id="demo", email=EMAIL, message_id=MESSAGE_ID)
    )


@pytest.fixture
def unsubscribe(load_handler, demo_store, lambda_context, make_http_event):
    app = load_handler("unsubscribe")

    def invoke(
        method: str, token: str | None, *, one_click_body: bool = False, multipart: bool = False
    ) -> dict[str, Any]:
        headers, body = {"user-agent": "pytest"}, None
        if one_click_body:  # what a mailbox provider POSTs (RFC 8058 section 3.2)
            headers["content-type"] = "application/x-www-form-urlencoded"
            body = b"List-Unsubscribe=One-Click"
        if multipart:  # the same field as multipart/form-data, which RFC 8058 allows too
            headers["content-type"] = "multipart/form-data; boundary=sf"
            body = b'--sf\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--sf--\r\n'
        event = make_http_event(
            method,
            "/unsubscribe",
            "/unsubscribe",
            headers=headers,
            body=body,
            query=None if token is None else {"token": token},
        )
        return app.lambda_handler(event, lambda_context)

    return invoke


def unsubscribed_at(email: str = EMAIL):
    contact = contacts.get_contact("demo", email)
    assert contact is not None
    return contact.unsubscribed_at


def answer(response: dict[str, Any]) -> tuple[int, str, dict[str, str]]:
    """What a caller can observe: status, body and headers (cookies, redirects)."""
    return response["statusCode"], response["body"], {k.lower(): v for k, v in (response.get("headers") or {}).items()}


def test_get_shows_a_confirmation_page_and_changes_nothing(unsubscribe, contact, token):
    response = unsubscribe("GET", token)

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"].startswith("text/html")
    assert '<form method="post"' in response["body"]
    assert f'action="?token={html.escape(token)}"' in response["body"]
    # The button posts the RFC 8058 body, as a mailbox provider would.
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in response["body"]
    assert unsubscribed_at() is None


def test_post_unsubscribes_the_contact(unsubscribe, contact, token):
    response = unsubscribe("POST", token, one_click_body=True)

    assert response["statusCode"] == 200
    assert "You are unsubscribed" in response["body"]
    assert unsubscribed_at() is not None
    profile = next(item for item in contacts.contact_history("demo", EMAIL) if item["sk"] == "PROFILE")
    assert profile["unsubscribed_via"] == MESSAGE_ID


def test_post_from_the_page_button_without_a_body_unsubscribes_too(unsubscribe, contact, token):
    assert unsubscribe("POST", token)["statusCode"] == 200
    assert unsubscribed_at() is not None


def _flip_last(text: str) -> str:
    return text[:-1] + ("A" if text[-1] != "A" else "B")


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(_flip_last, id="signature-changed"),
        pytest.param(
            lambda t: make_unsubscribe_token("another-stores-key", UnsubscribeRequest("demo", EMAIL, MESSAGE_ID)),
            id="signed-with-another-key",
        ),
        pytest.param(
            lambda t: make_unsubscribe_token("another-stores-key", UnsubscribeRequest("elsewhere", EMAIL, "m")),
            id="unknown-store",
        ),
        pytest.param(lambda t: t.split(".")[0], id="no-signature"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(lambda t: None, id="missing"),
    ],
)
def test_post_with_a_bad_token_answers_as_for_a_stranger_and_changes_nothing(
    unsubscribe, contact, token, tamper, demo_store
):
    stranger = make_unsubscribe_token(
        demo_store.unsubscribe_key, UnsubscribeRequest("demo", "eve@example.com", MESSAGE_ID)
    )

    response = unsubscribe("POST", tamper(token), one_click_body=True)

    assert answer(response) == answer(unsubscribe("POST", stranger, one_click_body=True))
    assert unsubscribed_at() is None


def test_a_valid_and_a_stranger_link_get_the_same_answer(unsubscribe, contact, token, demo_store):
    stranger = make_unsubscribe_token(
        demo_store.unsubscribe_key, UnsubscribeRequest("demo", "eve@example.com", MESSAGE_ID)
    )

    valid, foreign = unsubscribe("POST", token, one_click_body=True), unsubscribe("POST", stranger, one_click_body=True)

    assert answer(valid) == answer(foreign)
    status, _, headers = answer(valid)
    assert status == 200  # no redirect: mailbox providers do not follow one
    assert "set-cookie" not in headers and "location" not in headers
    assert valid.get("cookies") in (None, [])
    assert unsubscribed_at() is not None


def test_a_multipart_one_click_post_unsubscribes(unsubscribe, contact, token):
    assert unsubscribe("POST", token, multipart=True)["statusCode"] == 200
    assert unsubscribed_at() is not None


def test_get_with_a_bad_token_shows_the_same_page_and_changes_nothing(unsubscribe, contact, token):
    page = unsubscribe("GET", _flip_last(token))

    assert page["statusCode"] == 200
    assert "<form" in page["body"]
    assert unsubscribed_at() is None


def test_post_with_a_token_for_another_contact_leaves_this_one_alone(unsubscribe, contact, demo_store):
    other = make_unsubscribe_token(
        demo_store.unsubscribe_key, UnsubscribeRequest("demo", "eve@example.com", MESSAGE_ID)
    )

    assert unsubscribe("POST", other)["statusCode"] == 200  # nothing to tell a stranger
    assert unsubscribed_at() is None
    assert contacts.get_contact("demo", "eve@example.com") is None  # no contact invented


def test_second_post_keeps_the_first_unsubscribe_time(unsubscribe, contact, token):
    unsubscribe("POST", token, one_click_body=True)
    first = unsubscribed_at()

    response = unsubscribe("POST", token, one_click_body=True)

    assert response["statusCode"] == 200
    assert first is not None
    assert unsubscribed_at() == first


def test_link_in_a_sent_marketing_email_stops_further_marketing(
    load_handler, unsubscribe, contact, aws, lambda_context
):
    """The whole loop: the List-Unsubscribe URL of a real send, POSTed, blocks the next send."""
    send = load_handler("send_message").lambda_handler
    step = {
        "run": {
            "store_id": "demo",
            "workflow_id": "targeted-post-purchase",
            "email": EMAIL,
            "subject": {"type": "order", "order_id": "A-1001"},
        },
        "message_id": MESSAGE_ID,
    }
    assert send({**step, "step": "SendSecondPurchaseThanks"}, lambda_context)["status"] == "sent"
    (sent,) = aws.sent_emails()
    link = parse_mime_message(sent.raw_data)["headers"]["List-Unsubscribe"].strip("<>")
    (token,) = parse_qs(urlsplit(link).query)["token"]

    assert unsubscribe("POST", token, one_click_body=True)["statusCode"] == 200

    assert send({**step, "step": "SendRepeatPurchaseThanks"}, lambda_context) == {
        "status": "skipped",
        "reason": "unsubscribed",
    }
    assert len(aws.sent_emails()) == 1
    # The unsubscribe is counted once, in the report row of the email it came from.
    (row,) = reports.build_report("demo", date.today(), date.today()).rows
    assert (row.workflow_id, row.message_id, row.counts["unsubscribed"]) == ("targeted-post-purchase", MESSAGE_ID, 1)
    assert unsubscribe("POST", token, one_click_body=True)["statusCode"] == 200
    assert reports.build_report("demo", date.today(), date.today()).total.counts["unsubscribed"] == 1


def test_an_unsubscribe_without_an_email_on_record_is_kept_but_counted_nowhere(unsubscribe, contact, token):
    assert unsubscribe("POST", token, one_click_body=True)["statusCode"] == 200

    assert unsubscribed_at() is not None
    assert reports.build_report("demo", date.today(), date.today()).rows == []
