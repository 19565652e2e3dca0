"""The contact token in links of Storeflows emails to the store's own site: the send step adds
it (only to the store's origins), and it leads back to the contact, and to nobody else."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from storeflows.messaging import contact_links
from storeflows.messaging.mail import parse_mime_message
from storeflows.messaging.rendering import RenderedMessage
from storeflows.records import MessageContent
from storeflows.storage import browser, messages, stores

SHOP = "https://shop.example.com"
EMAIL = "ana@example.com"
TOKEN = re.compile(r"sf_t=([A-Za-z0-9_.\-]+)")


def test_only_links_to_the_stores_origins_get_the_token_and_their_query_is_kept():
    rendered = RenderedMessage(
        subject="s",
        html=(
            f'<a href="{SHOP}/products/venise?utm_source=email&amp;size=M#reviews">Venise</a> '
            f'<a href="{SHOP}">Shop</a> <a href="https://other.example/x">Elsewhere</a> '
            f'<a href="{SHOP}.evil.example/">Look-alike</a>'
        ),
        text=f"See {SHOP}/sale. Or https://other.example/x",
    )
    marked = contact_links.with_contact_token(rendered, frozenset({SHOP}), "REF.1.MAC")
    assert f'href="{SHOP}/products/venise?utm_source=email&amp;size=M&amp;sf_t=REF.1.MAC#reviews"' in marked.html
    assert f'href="{SHOP}/?sf_t=REF.1.MAC"' in marked.html
    assert 'href="https://other.example/x"' in marked.html
    assert f'href="{SHOP}.evil.example/"' in marked.html
    assert marked.text == f"See {SHOP}/sale?sf_t=REF.1.MAC. Or https://other.example/x"
    # Marking twice replaces the token rather than adding a second one.
    again = contact_links.with_contact_token(marked, frozenset({SHOP}), "NEW.2.MAC")
    assert again.text.count("sf_t=") == 1 and "NEW.2.MAC" in again.text


@pytest.fixture
def send(load_handler, demo_store, lambda_context):
    from storeflows.admin.stores import set_browser

    set_browser(demo_store.store_id, allow_origins=(SHOP,))
    app = load_handler("send_message")

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        return app.lambda_handler(event, lambda_context)

    return invoke


def test_an_emails_store_links_lead_back_to_its_contact_and_never_show_the_address(send, aws):
    from storeflows.events.purchase import PurchaseEvent
    from storeflows.storage import orders
    from storeflows_local.signing import purchase

    assert orders.record_purchase("demo", "api:seed", PurchaseEvent.model_validate(purchase("A-1", EMAIL)))
    message = messages.get_message("demo", "first-purchase-thanks")
    assert message is not None
    messages.put_message(
        message.model_copy(
            update={
                "variants": {
                    "en": MessageContent(
                        subject="Thanks", html=f'<a href="{SHOP}/account">Your account</a>', text=f"{SHOP}/account"
                    )
                }
            }
        )
    )
    step = {
        "run": {
            "store_id": "demo",
            "workflow_id": "targeted-post-purchase",
            "email": EMAIL,
            "subject": {"type": "order", "order_id": "A-1"},
            "frequency_cap_seconds": 0,
        },
        "message_id": "first-purchase-thanks",
        "step": "SendFirstPurchaseThanks",
    }
    assert send(step)["status"] == "sent"

    (sent,) = aws.sent_emails()
    mail = parse_mime_message(sent.raw_data)
    html_token = TOKEN.search(mail["html"])
    text_token = TOKEN.search(mail["text"])
    assert html_token and text_token and html_token.group(1) == text_token.group(1)
    token = html_token.group(1)
    assert "ana" not in token.lower() and "example" not in token.lower()
    store = stores.get_store("demo")
    assert store is not None
    verified = contact_links.verify_token(store, token, now=datetime.now(UTC))
    assert verified is not None
    assert browser.contact_of_link("demo", verified.ref) == EMAIL
