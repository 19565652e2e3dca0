"""Browse, search and site abandonment end to end: storefront events over the event API,
sessions ended by silence (the stack's session timeout, 2 s), the session check's delayed
queue message, one run per session and the email it sends (send_after scaled like every Wait)."""

from __future__ import annotations

import time
import uuid

import boto3
import pytest

from storeflows.workflows.runs import run_name_prefix
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for

pytestmark = pytest.mark.e2e

MESSAGES = {
    "browse-reminder": (
        "Still thinking it over?",
        "{% for p in session.products %}<p>{{ p.name }} {{ p.price }} {{ p.url }}</p>{% endfor %}",
    ),
    "search-reminder": (
        "About your search",
        "<p>{{ session.search.query }}</p>{% for p in session.search.results %}<p>{{ p.name }}</p>{% endfor %}",
    ),
    "site-reminder": ("Come back", "<p>{{ session.pages }} pages</p>"),
}
# Past the session timeout, the check's delay and the scaled hour before the send.
EMAIL_SECONDS = 15


@pytest.fixture
def session_store(stack, storage):
    """A store with all three session workflows published, and a consenting contact."""
    from storeflows.records import Message, MessageContent, Purpose, Sender, Store
    from storeflows.workflows import Workflow, WorkflowStatus

    store_id = f"browse-{uuid.uuid4().hex[:8]}"
    storage.stores.put_store(
        Store(store_id=store_id, webhook_secret=stack.webhook_secret, unsubscribe_key=uuid.uuid4().hex)
    )
    for message_id, (subject, html) in MESSAGES.items():
        storage.messages.put_message(
            Message(
                store_id=store_id,
                message_id=message_id,
                purpose=Purpose.MARKETING,
                sender=Sender(name="Shop", address="shop@storeflows.test"),
                variants={"en": MessageContent(subject=subject, html=html + "{{ unsubscribe_url }}", text="x")},
            )
        )
    for kind in ("browse", "search", "site"):
        storage.workflows.put_workflow(
            Workflow(
                store_id=store_id,
                workflow_id=kind,
                status=WorkflowStatus.PUBLISHED,
                settings={"template": f"{kind}_abandonment", "message": f"{kind}-reminder", "send_after": "1h"},
            )
        )
    return store_id


def send(stack, store_id: str, payload: dict) -> None:
    assert post_event(stack.api_url, store_id, stack.webhook_secret, payload).status_code == 202


def consent(stack, store_id: str, email: str) -> None:
    send(stack, store_id, {"type": "consent", "marketing": True, "source": "test", "customer": {"email": email}})


def product(product_id: str, name: str) -> dict:
    return {
        "product_id": product_id,
        "name": name,
        "price": "49.90",
        "currency": "EUR",
        "url": f"https://shop.example.com/products/{product_id}",
        "image_url": f"https://shop.example.com/img/{product_id}.jpg",
    }


def viewed(who: dict, product_id: str, name: str) -> dict:
    return {"type": "product_viewed", **who, "product": product(product_id, name)}


def one_email(stack, email: str) -> dict:
    emails = wait_for(lambda: stack.outbox(email), timeout=EMAIL_SECONDS, what=f"an email to {email}")
    # Nothing else follows (another session check, a second template's run).
    time.sleep(3)
    emails = stack.outbox(email)
    assert len(emails) == 1, [m["subject"] for m in emails]
    return emails[0]


def executions(store_id: str, kind: str) -> list[str]:
    prefix = run_name_prefix(store_id, kind)
    listed = boto3.client("stepfunctions").list_executions(stateMachineArn=state_machine_arn(f"_{kind}_abandonment"))
    return [e["name"] for e in listed["executions"] if e["name"].startswith(prefix)]


def test_three_product_views_then_silence_send_one_browse_email_listing_them(stack, session_store, email):
    consent(stack, session_store, email)
    who = {"customer": {"email": email}}
    for product_id, name in [
        ("p-1", "Venise dress"),
        ("p-2", "Linen shirt"),
        ("p-3", "Straw hat"),
        ("p-1", "Venise dress"),
    ]:
        send(stack, session_store, viewed(who, product_id, name))
    message = one_email(stack, email)
    assert message["subject"] == "Still thinking it over?"
    html = message["html"]
    # The latest first, each product once, with its price and link.
    assert html.index("Straw hat") < html.index("Linen shirt")
    assert html.count("Venise dress") == 1 and "49.90" in html
    assert "https://shop.example.com/products/p-2" in html
    assert executions(session_store, "browse") and not executions(session_store, "site")


def test_a_purchase_after_the_views_sends_nothing_and_says_why(stack, session_store, email):
    consent(stack, session_store, email)
    send(stack, session_store, viewed({"customer": {"email": email}}, "p-1", "Venise dress"))
    send(stack, session_store, purchase("1001", email))

    def decision() -> list[dict]:
        return [s for s in (stack.contact(email, session_store) or {}).get("sends", []) if s.get("status") == "skipped"]

    skipped = wait_for(decision, timeout=EMAIL_SECONDS, what="the browse run's decision")
    assert [s["reason"] for s in skipped] == ["bought_since"]
    assert stack.outbox(email) == []


def test_a_search_without_a_click_sends_the_query_and_its_results(stack, session_store, email):
    consent(stack, session_store, email)
    # Another shopper's views are how the store learns what its products look like.
    other = {"customer": {"email": f"other-{email}"}}
    send(stack, session_store, viewed(other, "p-7", "Linen dress"))
    send(stack, session_store, viewed(other, "p-8", "Linen trousers"))
    send(stack, session_store, {"type": "page_viewed", "customer": {"email": email}})
    send(
        stack,
        session_store,
        {
            "type": "search",
            "customer": {"email": email},
            "query": "linen",
            "result_product_ids": ["p-7", "p-8"],
            "result_clicked": False,
        },
    )
    message = one_email(stack, email)
    assert message["subject"] == "About your search"
    assert "linen" in message["html"] and "Linen dress" in message["html"] and "Linen trousers" in message["html"]


def test_a_visit_without_a_product_view_sends_the_site_email(stack, session_store, email):
    consent(stack, session_store, email)
    for page in ("about", "shipping"):
        send(
            stack,
            session_store,
            {
                "type": "page_viewed",
                "customer": {"email": email},
                "page": {"url": f"https://shop.example.com/pages/{page}"},
            },
        )
    message = one_email(stack, email)
    assert message["subject"] == "Come back" and "2 pages" in message["html"]


def test_many_page_views_make_one_run_and_no_execution_per_view(stack, session_store, email):
    consent(stack, session_store, email)
    for _ in range(15):
        send(stack, session_store, {"type": "page_viewed", "customer": {"email": email}})
    assert not executions(session_store, "site"), "a page view started an execution"
    message = one_email(stack, email)
    assert "15 pages" in message["html"]
    assert len(executions(session_store, "site")) == 1
    assert not executions(session_store, "browse") and not executions(session_store, "search")


def test_a_visitor_identified_after_browsing_gets_the_browse_email(stack, session_store, email):
    consent(stack, session_store, email)
    visitor = {"visitor_id": f"v_{uuid.uuid4().hex[:12]}"}
    send(stack, session_store, viewed(visitor, "p-4", "Silk scarf"))
    send(stack, session_store, viewed(visitor, "p-5", "Leather belt"))
    send(stack, session_store, {"type": "identify", **visitor, "customer": {"email": email}})
    message = one_email(stack, email)
    assert "Silk scarf" in message["html"] and "Leather belt" in message["html"]


def test_a_cart_after_the_views_starts_no_run(stack, session_store, email, storage):
    from datetime import UTC, datetime

    from storeflows import sessions

    consent(stack, session_store, email)
    send(stack, session_store, viewed({"customer": {"email": email}}, "p-1", "Venise dress"))
    # What the cart's recorder does for every cart_updated of the contact.
    sessions.note_cart(session_store, email, datetime.now(UTC))

    def decided() -> str | None:
        item = storage.sessions.current(session_store, email)
        return item.get("decided") if item else None

    assert wait_for(decided, timeout=EMAIL_SECONDS, what="the session's decision") == "none"
    assert stack.outbox(email) == [] and not executions(session_store, "browse")
