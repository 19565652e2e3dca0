"""Part 2 of the bench: a store's visitors browsing, posted to `POST /collect/{store}` as the
browser snippet sends them, and the runs their sessions, carts and checkouts start.

The store (BROWSING_STORE, on the same local stack as part 1) has the five example
workflows of examples/workflows that start on storefront events published, with their
example messages: browse, site and search abandonment (one run per ended session at most),
cart and checkout abandonment (one run per cart or checkout). Its browser settings are
made with `storeflows.admin.stores.set_browser` (consent required, the default, so every
batch says `"consent": true`).

Each visitor has one session (planned from a seed, `plan`): about 5 pages, each one
request to /collect as the snippet makes it on a page load: the `page_viewed` that `init`
sends, plus the page's own event (a `product_viewed` on a product page, a
`category_viewed` on a collection page, a `search` on a search results page). A share of
the visitors are known customers who log in (an `identify` with the first page, and a
`consent` event sent before the bench, through the event API, as their earlier sign-up);
the others stay anonymous (their events are kept for 30 days and never reach a contact).
Some add to the cart (`cart_updated`), and some identified ones start a checkout
(`checkout_started`), most after a cart, a few straight from a product page ("buy now").
A session ends after the stack's session timeout (SESSION_TIMEOUT_SECONDS of silence); the
pages of a session are posted one after another, so a session lasts well under it.

Then the recoveries (part 3): for a share of the checkouts whose run sent a reminder, a
purchase through the event API naming the checkout (and its cart), once that run ended."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BROWSING_STORE = "bench-shop"
ORIGIN = "https://shop.bench.example"
TEMPLATES = (
    "browse_abandonment",
    "site_abandonment",
    "search_abandonment",
    "cart_abandonment",
    "checkout_abandonment",
)
# The stack's session timeout for the bench, in real seconds (30 minutes in AWS): long
# enough for a session's pages posted back to back, short enough not to lengthen the bench.
SESSION_TIMEOUT_SECONDS = 3

# The mix (assumptions, not measurements).
PAGES_PER_SESSION = (1, 2, 3, 4, 5, 5, 6, 7, 8, 9)  # 5.0 on average
PAGE_KINDS = {"product": 35, "category": 20, "search": 10, "other": 35}
IDENTIFIED_SHARE = 0.3  # logged-in customers (consenting contacts); the rest stay anonymous
CART_SHARE = 0.15  # sessions with a product page that add it to the cart
CHECKOUT_AFTER_CART_SHARE = 0.5  # identified carting sessions that go on to the checkout
BUY_NOW_SHARE = 0.05  # identified sessions with a product page that check out without a cart
RESULT_CLICKED_SHARE = 0.5
# Of the checkouts whose run sent a reminder, the share whose customer then buys. The cost
# per recovered checkout does not depend on it: it only decides how many are measured.
BUYS_AFTER_REMINDER_SHARE = 0.5

CATALOGUE = [
    {"product_id": f"p-{n}", "name": name, "price": price, "category": category}
    for n, (name, price, category) in enumerate(
        [
            ("Venise dress", "129.90", "dresses"),
            ("Linen dress", "99.00", "dresses"),
            ("Wrap dress", "119.00", "dresses"),
            ("Silk scarf", "35.50", "accessories"),
            ("Straw hat", "29.00", "accessories"),
            ("Leather belt", "45.00", "accessories"),
            ("Leather tote", "240.00", "bags"),
            ("Canvas bag", "59.00", "bags"),
            ("Suede loafer", "89.00", "shoes"),
            ("Linen sneaker", "79.00", "shoes"),
        ],
        start=1,
    )
]
CATEGORIES = sorted({product["category"] for product in CATALOGUE})
QUERIES = ["linen dress", "summer hat", "leather bag", "loafers", "silk"]


@dataclass
class Page:
    kind: str  # product, category, search, other
    events: list[dict[str, Any]]


@dataclass
class Session:
    visitor_id: str
    email: str | None  # identified: the customer who logs in
    pages: list[Page]
    cart_token: str | None = None
    checkout_token: str | None = None
    checkout_items: list[dict[str, Any]] = field(default_factory=list)
    buys_after_reminder: bool = False

    @property
    def page_views(self) -> int:
        return len(self.pages)


def plan(sessions: int, seed: int) -> list[Session]:
    """The visitors' sessions, the same for the same seed. Event ids and times are made when
    a page is posted (`batch`), as the snippet makes them."""
    rng = random.Random(seed)
    planned = []
    kinds, weights = zip(*PAGE_KINDS.items(), strict=True)
    for index in range(sessions):
        identified = rng.random() < IDENTIFIED_SHARE
        session = Session(
            visitor_id=f"v_bench{index:05d}{rng.getrandbits(32):08x}",
            email=f"visitor-{index:05d}@bench.example" if identified else None,
            pages=[],
        )
        carted = rng.random() < CART_SHARE
        checks_out = identified and (
            (carted and rng.random() < CHECKOUT_AFTER_CART_SHARE) or (not carted and rng.random() < BUY_NOW_SHARE)
        )
        session.buys_after_reminder = checks_out and rng.random() < BUYS_AFTER_REMINDER_SHARE
        for number in range(rng.choice(PAGES_PER_SESSION)):
            kind = rng.choices(kinds, weights)[0]
            url = f"{ORIGIN}/" if number == 0 and kind == "other" else f"{ORIGIN}/pages/{kind}-{number}"
            events: list[dict[str, Any]] = [{"type": "page_viewed", "page": {"url": url, "title": kind}}]
            if number == 0 and session.email:
                events.append({"type": "identify", "customer": {"email": session.email}})
            if kind == "product":
                product = rng.choice(CATALOGUE)
                events[0]["page"]["url"] = _product_url(product)
                events.append({"type": "product_viewed", "product": _product(product)})
                if carted and session.cart_token is None:
                    session.cart_token = f"cart-{index:05d}"
                    session.checkout_items = [_item(product)]
                    events.append(
                        {
                            "type": "cart_updated",
                            "cart": {
                                "token": session.cart_token,
                                "total": product["price"],
                                "currency": "EUR",
                                "items": session.checkout_items,
                            },
                        }
                    )
                elif checks_out and not carted and not session.checkout_items:
                    session.checkout_items = [_item(product)]
            elif kind == "category":
                category = rng.choice(CATEGORIES)
                events.append(
                    {
                        "type": "category_viewed",
                        "category": {"category_id": category, "name": category.title(), "url": _category_url(category)},
                    }
                )
            elif kind == "search":
                results = rng.sample(CATALOGUE, 3)
                events.append(
                    {
                        "type": "search",
                        "query": rng.choice(QUERIES),
                        "result_product_ids": [product["product_id"] for product in results],
                        "result_clicked": rng.random() < RESULT_CLICKED_SHARE,
                    }
                )
            session.pages.append(Page(kind, events))
        if checks_out and session.checkout_items:
            session.checkout_token = f"checkout-{index:05d}"
            session.pages[-1].events.append(
                {
                    "type": "checkout_started",
                    "checkout": {
                        "token": session.checkout_token,
                        "total": _total(session.checkout_items),
                        "currency": "EUR",
                        "recovery_url": f"{ORIGIN}/checkouts/{session.checkout_token}/recover",
                        "items": session.checkout_items,
                    },
                }
            )
        else:
            session.buys_after_reminder = False
        planned.append(session)
    return planned


def mix(sessions: list[Session]) -> dict[str, int]:
    """What the plan holds: sessions, page views, events by type, identified visitors."""
    events = Counter(event["type"] for session in sessions for page in session.pages for event in page.events)
    return {
        "sessions": len(sessions),
        "page_views": sum(session.page_views for session in sessions),
        "identified_sessions": sum(1 for session in sessions if session.email),
        "events": sum(events.values()),
        **{f"events_{name}": count for name, count in sorted(events.items())},
    }


def batch(public_key: str, session: Session, page: Page) -> dict[str, Any]:
    """One page's request body, as storeflows.js builds it (ids and times made now)."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "key": public_key,
        "visitor_id": session.visitor_id,
        "consent": True,
        "events": [{**event, "id": uuid.uuid4().hex[:24], "occurred_at": now} for event in page.events],
    }


def post_page(api_url: str, public_key: str, session: Session, page: Page) -> None:
    body = batch(public_key, session, page)
    answer = requests.post(
        f"{api_url}/collect/{BROWSING_STORE}",
        data=json.dumps(body),
        headers={"content-type": "text/plain", "origin": ORIGIN},
        timeout=30,
    )
    if answer.status_code != 202 or answer.json()["dropped"]:
        raise RuntimeError(f"collect for {session.visitor_id}: {answer.status_code} {answer.text}")


def purchase_body(session: Session, order_id: str) -> dict[str, Any]:
    """The order a recovered checkout became, as the store's event API sends it."""
    from storeflows_local.signing import purchase

    assert session.email is not None and session.checkout_token is not None
    total = _total(session.checkout_items)
    body = purchase(
        order_id,
        session.email,
        total=total,
        items=[
            {"sku": item["sku"], "name": item["name"], "quantity": item["quantity"], "price": item["price"]}
            for item in session.checkout_items
        ],
    )
    body["order"]["checkout_token"] = session.checkout_token
    if session.cart_token:
        body["order"]["cart_token"] = session.cart_token
    return body


def set_up_store() -> str:
    """The browsing store with its example workflows and messages published; returns its
    browser key."""
    from storeflows.admin import messages as admin_messages
    from storeflows.admin import stores as admin_stores
    from storeflows.admin import workflows as admin_workflows
    from storeflows.admin.files import load_message_yaml, load_workflow_yaml
    from storeflows.storage import messages
    from storeflows_local.demo_store import demo_sender_profile

    admin_stores.create_store(BROWSING_STORE, "api", name="Bench Shop")
    messages.put_sender(demo_sender_profile(BROWSING_STORE))
    workflows = [
        load_workflow_yaml((EXAMPLES / "workflows" / f"{name}.yaml").read_text(), store=BROWSING_STORE)
        for name in TEMPLATES
    ]
    message_ids = {
        value
        for workflow in workflows
        for name, value in workflow.settings.model_dump().items()
        if name.endswith("message") and value
    }
    for message_id in sorted(message_ids):
        path = EXAMPLES / "messages" / f"{message_id}.yaml"
        admin_messages.apply_message(load_message_yaml(path.read_text(), base_dir=path.parent, store=BROWSING_STORE))
    for workflow in workflows:
        admin_workflows.apply_workflow(workflow)
        admin_workflows.publish_workflow(BROWSING_STORE, workflow.workflow_id)
    browser = admin_stores.set_browser(BROWSING_STORE, allow_origins=(ORIGIN,)).browser
    assert browser is not None and browser.consent_required
    return browser.public_key


def _product(product: dict[str, str]) -> dict[str, Any]:
    return {
        "product_id": product["product_id"],
        "name": product["name"],
        "price": product["price"],
        "currency": "EUR",
        "url": _product_url(product),
        "image_url": f"{ORIGIN}/img/{product['product_id']}.jpg",
    }


def _item(product: dict[str, str]) -> dict[str, Any]:
    return {
        "product_id": product["product_id"],
        "sku": product["product_id"].upper(),
        "name": product["name"],
        "price": product["price"],
        "quantity": 1,
        "url": _product_url(product),
        "image_url": f"{ORIGIN}/img/{product['product_id']}.jpg",
    }


def _total(items: list[dict[str, Any]]) -> str:
    from decimal import Decimal

    return str(sum(Decimal(item["price"]) * item["quantity"] for item in items))


def _product_url(product: dict[str, str]) -> str:
    return f"{ORIGIN}/products/{product['product_id']}"


def _category_url(category: str) -> str:
    return f"{ORIGIN}/collections/{category}"
