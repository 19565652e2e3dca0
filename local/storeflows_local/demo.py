"""make demo [TEMPLATE=<name>|all]: scripted purchases against the local stack, then what
happened.

Purchases go through the signed event API exactly as a store would post them. Each waits
for its workflow run to end before the next, as real purchases days apart would; Wait
states pass at the stack's time scale. Some customers click the email a purchase brought
(as SES would report it), so their next purchase is attributed to it; each scenario ends
with its store's email report. The default is the targeted post-purchase follow-up on the
`demo` store (customer A buys three times, customer B once); every other template runs on
a store of its own, `demo-<template>`. The seven before-purchase templates (checkouts, carts,
sessions, sign-ups, wishlists) are stories of their own: storeflows_local.demo_storefront."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import requests

from storeflows import config, reports, sessions
from storeflows.events.purchase import PurchaseEvent
from storeflows.events.subjects import VipSubject, describe_key
from storeflows.messaging.unsubscribe_links import generate_unsubscribe_key
from storeflows.records import Message, MessageContent, Purpose, Store
from storeflows.storage import contacts, messages, products, stores, workflows
from storeflows.workflows import Workflow, WorkflowStatus, runs
from storeflows.workflows.templates.care_series import CareSeriesSettings
from storeflows.workflows.templates.consent_confirmation import ConsentConfirmationSettings
from storeflows.workflows.templates.order_value import OrderValueSettings
from storeflows.workflows.templates.purchase_follow_up import PurchaseFollowUpSettings
from storeflows.workflows.templates.replenishment import ReplenishmentSettings
from storeflows.workflows.templates.review_request import ReviewRequestSettings
from storeflows.workflows.templates.thank_you_upsell import ThankYouUpsellSettings
from storeflows.workflows.templates.usage_tips import UsageTipsSettings
from storeflows.workflows.templates.vip import VipSettings
from storeflows.workflows.templates.win_back import WinBackSettings
from storeflows_cli.commands.reports import format_report
from storeflows_local.demo_store import (
    DEMO_SENDER_ID,
    DEMO_STORE_ID,
    DEMO_WORKFLOW_ID,
    DemoSecrets,
    demo_sender_profile,
)
from storeflows_local.demo_storefront import STORIES, DemoFailed, play_story
from storeflows_local.gateway import outbox
from storeflows_local.local_file import describe
from storeflows_local.signing import post_event, purchase
from storeflows_local.stack import LocalStack
from storeflows_local.waiting import wait_for, wait_for_run

DRESS = [{"sku": "VENISE-DRESS", "name": "Venise dress", "category": "dresses", "quantity": 1, "price": "129.90"}]
SCARF = [{"sku": "SILK-SCARF", "name": "Silk scarf", "category": "accessories", "quantity": 1, "price": "35.50"}]
# Items naming their product ids, which review links are made of.
REVIEWABLE = [{**DRESS[0], "product_id": "venise-dress"}, {**SCARF[0], "product_id": "silk-scarf"}]
SHOP = "https://shop.example.com"


def _product(product_id: str, name: str, price: str, **extra: Any) -> dict[str, Any]:
    """A product of a demo catalogue, one variant (its SKU the id upper-cased), in stock."""
    return {
        "product_id": product_id,
        "name": name,
        "url": f"{SHOP}/products/{product_id}",
        "image_url": f"{SHOP}/img/{product_id}.jpg",
        "currency": "EUR",
        "variants": [
            {"variant_id": f"{product_id}-1", "sku": product_id.upper(), "price": price, "inventory_quantity": 20}
        ],
        **extra,
    }


def _line(product_id: str, name: str, price: str, quantity: int = 1) -> dict[str, Any]:
    return {"sku": product_id.upper(), "product_id": product_id, "name": name, "quantity": quantity, "price": price}


@dataclass
class Purchase:
    email: str
    first_name: str
    order_id: str
    total: str = "129.90"
    details: dict[str, Any] = field(default_factory=dict)
    # The customer clicks the email this purchase brought, before buying again.
    clicks: bool = False
    # The store reports the order delivered right after the purchase.
    delivered: bool = False
    # The subjects of the runs it starts (None: the order's, if the workflow's trigger matches;
    # [] none); the next purchase comes once they end, unless `then_wait` is off (it comes while
    # they wait: bought again before the first run's reminder), their ends awaited later.
    runs: list[str] | None = None
    then_wait: bool = True


@dataclass
class Scenario:
    title: str
    settings: Any  # None: the demo store's own published workflow
    messages: dict[str, tuple[Purpose, str]]
    purchases: list[Purchase]
    # The store's catalogue, posted first as the store would (`product` events).
    products: list[dict[str, Any]] = field(default_factory=list)
    # A Shopify store (its secret set): a reorder link is Shopify's cart permalink.
    shopify: bool = False


SCENARIOS = {
    "targeted_post_purchase": Scenario(
        "Targeted post-purchase follow-up: A buys three times, B once",
        None,
        {},
        [
            Purchase("ana@example.com", "Ana", "A-1001", "129.90", clicks=True),
            Purchase("ana@example.com", "Ana", "A-1002", "59.00"),
            Purchase("ana@example.com", "Ana", "A-1003", "240.00"),
            Purchase("bruno@example.com", "Bruno", "B-2001", "35.50"),
        ],
    ),
    "consent_confirmation": Scenario(
        "Consent-based purchase confirmation: EU with consent, EU without, outside the EU",
        ConsentConfirmationSettings(
            eu_consented_message="confirmation-offers",
            eu_without_consent_message="confirmation-plain",
            outside_eu_message="confirmation-intl",
        ),
        {
            "confirmation-offers": (Purpose.MARKETING, "Order confirmed - and 10% off your next one"),
            "confirmation-plain": (Purpose.TRANSACTIONAL, "Order confirmed"),
            "confirmation-intl": (Purpose.TRANSACTIONAL, "Order confirmed (international)"),
        },
        [
            Purchase("ola@example.com", "Ola", "C-1", details={"country": "PL", "accepts_marketing": True}),
            Purchase("jan@example.com", "Jan", "C-2", details={"country": "CZ", "accepts_marketing": False}),
            Purchase("joe@example.com", "Joe", "C-3", details={"country": "US", "accepts_marketing": True}),
        ],
    ),
    "purchase_follow_up": Scenario(
        "Follow-up after purchase: thanks, bought:<category> tags, the follow-up 10 days later",
        PurchaseFollowUpSettings(thank_you_message="thanks", follow_up_message="specials"),
        {
            "thanks": (Purpose.TRANSACTIONAL, "Thank you for your order"),
            "specials": (Purpose.MARKETING, "This week's specials, picked for you"),
        },
        [Purchase("ana@example.com", "Ana", "F-1", details={"items": DRESS + SCARF, "total": "165.40"})],
    ),
    "order_value": Scenario(
        "Post-purchase by order value: 0-200, 200-500, 500-1000, 1000+",
        OrderValueSettings(
            tiers=[
                {"min_total": "0", "max_total": "200", "message": "value-small"},
                {"min_total": "200", "max_total": "500", "message": "value-medium"},
                {"min_total": "500", "max_total": "1000", "message": "value-large"},
                {"min_total": "1000", "message": "value-vip"},
            ],
            delay_after_purchase="1d",
            not_more_often_than="7d",
        ),
        {
            "value-small": (Purpose.MARKETING, "Thanks! Complete the look"),
            "value-medium": (Purpose.MARKETING, "Thanks! A little gift inside"),
            "value-large": (Purpose.MARKETING, "Thank you - free shipping next time"),
            "value-vip": (Purpose.MARKETING, "Welcome to our VIP circle"),
        },
        [
            Purchase("ana@example.com", "Ana", "V-1", "89.00"),
            Purchase("bruno@example.com", "Bruno", "V-2", "320.00"),
            Purchase("carla@example.com", "Carla", "V-3", "1450.00"),
            Purchase("carla@example.com", "Carla", "V-4", "60.00"),
        ],
    ),
    "care_series": Scenario(
        "Post-purchase care series for the Venise dress (a scarf order does not qualify)",
        CareSeriesSettings(
            trigger={"skus": ["VENISE-DRESS"]},
            thank_you_message="care-thanks",
            delivery_check_message="care-delivery",
            care_tips_message="care-tips",
            cross_sell_message="care-cross-sell",
        ),
        {
            "care-thanks": (Purpose.TRANSACTIONAL, "Thank you for choosing the Venise dress"),
            "care-delivery": (Purpose.TRANSACTIONAL, "Did everything arrive safely?"),
            "care-tips": (Purpose.MARKETING, "How to wear and care for your Venise dress"),
            "care-cross-sell": (Purpose.MARKETING, "A scarf that goes with your dress"),
        },
        [
            Purchase("ana@example.com", "Ana", "S-1", details={"items": DRESS}),
            Purchase("bruno@example.com", "Bruno", "S-2", "35.50", details={"items": SCARF}),
        ],
    ),
    "win_back": Scenario(
        "Win-back: 5 days without a purchase, then two emails; a purchase meanwhile skips them",
        WinBackSettings(after="5d", steps=[{"message": "win-back-1"}, {"message": "win-back-offer", "wait": "2d"}]),
        {
            "win-back-1": (Purpose.MARKETING, "We miss you"),
            "win-back-offer": (Purpose.MARKETING, "15% off to welcome you back"),
        },
        [
            Purchase("ana@example.com", "Ana", "W-1"),
            Purchase("bruno@example.com", "Bruno", "W-2", then_wait=False),
            Purchase("bruno@example.com", "Bruno", "W-3", "35.50", details={"items": SCARF}),
        ],
    ),
    "review_request": Scenario(
        "Review request: 3 days after the reported delivery, else 3 days after the purchase (2-day timeout)",
        ReviewRequestSettings(
            message="review-request",
            review_url="https://shop.example/products/{product_id}/reviews?order={order_id}",
            after="3d",
            delivery_timeout="2d",
            check_every="12h",
        ),
        {"review-request": (Purpose.MARKETING, "How do you like your order?")},
        [
            Purchase("ana@example.com", "Ana", "R-1", "165.40", details={"items": REVIEWABLE}, delivered=True),
            Purchase("bruno@example.com", "Bruno", "R-2", details={"items": REVIEWABLE[:1]}),
        ],
    ),
    "vip": Scenario(
        "VIP at 300 EUR spent or 3 orders: Ana on her third order, Bruno on his first; once each",
        VipSettings(min_total_spent="300", min_orders=3, message="vip-welcome"),
        {"vip-welcome": (Purpose.MARKETING, "Welcome to our VIP circle")},
        [
            Purchase("ana@example.com", "Ana", "P-1", "120.00", runs=[]),
            Purchase("ana@example.com", "Ana", "P-2", "90.00", runs=[]),
            Purchase(
                "ana@example.com",
                "Ana",
                "P-3",
                "60.00",
                runs=[VipSubject.of_contact("ana@example.com", "P-3").key],
            ),
            Purchase("ana@example.com", "Ana", "P-4", "200.00", runs=[]),
            Purchase(
                "bruno@example.com",
                "Bruno",
                "P-5",
                "420.00",
                runs=[VipSubject.of_contact("bruno@example.com", "P-5").key],
            ),
        ],
    ),
    "usage_tips": Scenario(
        "Usage tips for the Venise dress: 2 days for delivery, then two tips (a scarf order does not qualify)",
        UsageTipsSettings(
            trigger={"skus": ["VENISE-DRESS"]},
            delivery={"mode": "fixed", "wait": "2d"},
            steps=[{"message": "usage-tip-styling", "wait": "1d"}, {"message": "usage-tip-care", "wait": "3d"}],
        ),
        {
            "usage-tip-styling": (Purpose.MARKETING, "Three ways to wear your dress"),
            "usage-tip-care": (Purpose.MARKETING, "How to care for your dress"),
        },
        [
            Purchase("ana@example.com", "Ana", "U-1", details={"items": DRESS}),
            Purchase("bruno@example.com", "Bruno", "U-2", "35.50", details={"items": SCARF}),
        ],
    ),
    "thank_you_upsell": Scenario(
        "Thank-you & upsell: the shirt's related products; the sunglasses' bought-together towel",
        ThankYouUpsellSettings(message="thanks-upsell"),
        {
            "thanks-upsell": (
                Purpose.MARKETING,
                "Thank you! {% if recommendations %}Goes well with it: "
                "{{ recommendations|map(attribute='name')|join(', ') }}{% else %}See you soon{% endif %}",
            )
        },
        [
            Purchase(
                "ana@example.com",
                "Ana",
                "U-1",
                "59.00",
                details={"items": [_line("linen-shirt", "Linen shirt", "59.00")]},
            ),
            Purchase(
                "bruno@example.com",
                "Bruno",
                "U-2",
                "54.00",
                details={
                    "items": [_line("sunglasses", "Sunglasses", "35.00"), _line("beach-towel", "Beach towel", "19.00")]
                },
            ),
            Purchase(
                "carla@example.com",
                "Carla",
                "U-3",
                "35.00",
                details={"items": [_line("sunglasses", "Sunglasses", "35.00")]},
            ),
        ],
        products=[
            _product("linen-shirt", "Linen shirt", "59.00", related=["linen-trousers", "straw-hat", "sold-out-belt"]),
            _product("linen-trousers", "Linen trousers", "79.00"),
            _product("straw-hat", "Straw hat", "29.00"),
            {
                **_product("sold-out-belt", "Woven belt", "25.00"),
                "variants": [
                    {"variant_id": "sold-out-belt-1", "sku": "SOLD-OUT-BELT", "price": "25.00", "inventory_quantity": 0}
                ],
            },
            _product("sunglasses", "Sunglasses", "35.00"),
            _product("beach-towel", "Beach towel", "19.00"),
        ],
    ),
    "replenishment": Scenario(
        "Replenishment: coffee beans last 7 days a bag; a reminder 2 days before they run out",
        ReplenishmentSettings(reminder_message="time-to-reorder", remind_before="2d"),
        {"time-to-reorder": (Purpose.MARKETING, "Running low on {{ reorder.name }}? Reorder: {{ reorder.url }}")},
        [
            Purchase(
                "ana@example.com",
                "Ana",
                "R-1",
                "24.00",
                details={"items": [_line("coffee-beans", "Coffee beans", "12.00", quantity=2)]},
                runs=["reorder:R-1:COFFEE-BEANS"],
            ),
            Purchase(
                "bruno@example.com",
                "Bruno",
                "R-2",
                "12.00",
                details={"items": [_line("coffee-beans", "Coffee beans", "12.00")]},
                runs=["reorder:R-2:COFFEE-BEANS"],
                then_wait=False,
            ),
            Purchase(
                "bruno@example.com",
                "Bruno",
                "R-3",
                "12.00",
                details={"items": [_line("coffee-beans", "Coffee beans", "12.00")]},
                runs=["reorder:R-3:COFFEE-BEANS"],
            ),
        ],
        products=[_product("coffee-beans", "Coffee beans", "12.00", usage_cycle_days=7)],
        shopify=True,
    ),
}


def run_demo(stack: LocalStack, secrets: DemoSecrets) -> int:
    chosen = os.environ.get("STOREFLOWS_DEMO_TEMPLATE") or "targeted_post_purchase"
    known = [*SCENARIOS, *STORIES]
    names = known if chosen == "all" else [chosen]
    unknown = [name for name in names if name not in known]
    if unknown:
        print(f"unknown TEMPLATE {unknown[0]!r}; choose one of: all, {', '.join(known)}", file=sys.stderr)
        return 2
    for name in names:
        started = time.monotonic()
        played = play(stack, secrets, name, SCENARIOS[name]) if name in SCENARIOS else tell(stack, secrets, name)
        if played != 0:
            return 1
        print(f"   ({name}: {time.monotonic() - started:.0f} s)\n")
    print("\n" + closing_note())
    return 0


def closing_note() -> str:
    """The demo's last words. Its stack stops when the demo ends, so they point at the one
    `make dev` keeps running, not at the demo's own port (closed by the time anyone reads it)."""
    port = os.environ.get("PORT") or "3000"
    return (
        "The demo's stack has stopped, and its outbox with it. To watch emails arrive, run `make dev`: "
        f"its outbox is at http://127.0.0.1:{port}/_local/ until Ctrl-C (README: The local stack)."
    )


def play(stack: LocalStack, secrets: DemoSecrets, name: str, scenario: Scenario) -> int:
    store_id, workflow_id = (
        (DEMO_STORE_ID, DEMO_WORKFLOW_ID)
        if scenario.settings is None
        else (f"demo-{name.replace('_', '-')}", name.replace("_", "-"))
    )
    if scenario.settings is not None:
        create_store(store_id, workflow_id, secrets, scenario)
    machine = runs.state_machine_arn(name)
    already_sent = len(outbox())
    workflow = next(w for w in workflows.list_workflows(store_id) if w.workflow_id == workflow_id)
    print(f"== {scenario.title}\n   store '{store_id}', workflow '{workflow_id}' ({name})")
    for product in scenario.products:
        body = {"type": "product", "product": product}
        response = post_event(stack.api_url, store_id, secrets.webhook_secret, body)
        print(f"   POST /events/{store_id}  product {product['product_id']} -> {response.status_code}")
    ids = [product["product_id"] for product in scenario.products]
    wait_for(lambda: all(products.get_product(store_id, product_id) for product_id in ids), what="the catalogue")
    waiting: list[str] = []
    for buy in scenario.purchases:
        details = {"language": "en-GB", "country": "PL", "total": buy.total, **buy.details}
        body = purchase(buy.order_id, buy.email, first_name=buy.first_name, **details)
        response = post_event(stack.api_url, store_id, secrets.webhook_secret, body)
        print(
            f"   POST /events/{store_id}  purchase {buy.order_id} by {buy.email} ({details['total']} EUR)"
            f" -> {response.status_code}"
        )
        if response.status_code != 202:
            print(f"   unexpected answer: {response.text}", file=sys.stderr)
            return 1
        if buy.delivered:
            delivered = {"type": "delivered", "order": {"id": buy.order_id}, "customer": {"email": buy.email}}
            response = post_event(stack.api_url, store_id, secrets.webhook_secret, delivered)
            print(f"   POST /events/{store_id}  delivered {buy.order_id} -> {response.status_code}")
        subjects = buy.runs
        if subjects is None:
            subjects = [buy.order_id] if workflow.runs_for(PurchaseEvent.model_validate(body)) else []
        if not subjects:
            print("     no run for this workflow (its condition does not match)")
        waiting += subjects
        while buy.then_wait and waiting:
            subject = waiting.pop(0)
            execution = wait_for_run(machine, runs.run_name(store_id, subject, workflow_id), timeout=60)
            print(f"     workflow run {describe_key(subject)} {execution['status'].lower()}")
        if waiting:
            print("     its run waits; the next purchase comes meanwhile")
        if buy.clicks:
            click_latest_email(stack, store_id, buy.email)
    for subject in waiting:
        execution = wait_for_run(machine, runs.run_name(store_id, subject, workflow_id), timeout=60)
        print(f"   the run of {describe_key(subject)}: {execution['status'].lower()}")
    print_outcome(stack.api_url, store_id, sorted({buy.email for buy in scenario.purchases}), outbox()[already_sent:])
    return 0


def tell(stack: LocalStack, secrets: DemoSecrets, name: str) -> int:
    """A before-purchase template's story (demo_storefront), then what it sent and the report."""
    if "SENDER_IDENTITY" not in os.environ:
        # The story publishes with the admin calls, which check senders against the stack's
        # SES identity as `storeflows --local` does (the functions are never told it).
        os.environ["SENDER_IDENTITY"] = describe(stack)["sender_identity"]
        config.settings.cache_clear()
    try:
        shop, outcome = play_story(
            stack.api_url,
            secrets.webhook_secret,
            name,
            time_scale=stack.time_scale,
            session_timeout=sessions.timeout().total_seconds(),
        )
    except DemoFailed as failure:
        print(f"   {failure}", file=sys.stderr)
        return 1
    sent = sorted((mail for email in outcome["emails"] for mail in shop.outbox(email)), key=lambda m: m["sent_at"])
    print_outcome(stack.api_url, shop.store_id, sorted(outcome["emails"]), sent)
    return 0


def print_outcome(api_url: str, store_id: str, emails: list[str], sent: list[dict[str, Any]]) -> None:
    """The emails a scenario sent, its contacts (with the sends skipped and why), the report."""
    print("   Emails sent:")
    for message in sent:
        print(f"     to {message['to']:<20} {message['subject']!r}  (message id {message['id']})")
    print("   Contacts:")
    for email in emails:
        contact = requests.get(f"{api_url}/_local/contacts/{store_id}/{email}", timeout=10).json()
        skipped = [f"{s['message_id']} ({s['reason']})" for s in contact["sends"] if s["status"] == "skipped"]
        print(
            f"     {email:<20} tags={sorted(contact['tags'])} score={contact['score']} orders={contact['orders_count']}"
            + (f" skipped={skipped}" if skipped else "")
        )
    print_report(store_id)


def click_latest_email(stack: LocalStack, store_id: str, email: str) -> None:
    """The customer clicks a link in the email their purchase brought; SES reports it."""
    latest = outbox(recipient=email)[-1]
    assert stack.ses_events is not None, "the stack has started"
    stack.ses_events.simulate(latest["id"], "click", link="https://shop.example/new-arrivals")
    wait_for(
        lambda: (contact := contacts.get_contact(store_id, email)) and contact.last_click, what=f"the click of {email}"
    )
    print(f"     {email} clicks a link in {latest['subject']!r}")


def print_report(store_id: str) -> None:
    """The store's email report, once SES's events of every email sent have been counted."""

    def settled():
        report = reports.build_report(store_id, date.today(), date.today())
        counts = report.total.counts
        return report if counts["sent"] and counts["delivered"] + counts["bounced"] >= counts["sent"] else None

    print("   Report (storeflows reports " + store_id + "):")
    for line in format_report(wait_for(settled, what="the report to settle").as_dict()).splitlines():
        print("     " + line)


def create_store(store_id: str, workflow_id: str, secrets: DemoSecrets, scenario: Scenario) -> None:
    stores.put_store(
        Store(
            store_id=store_id,
            name="Demo Store",
            webhook_secret=secrets.webhook_secret,
            shopify_secret=secrets.shopify_secret if scenario.shopify else None,
            unsubscribe_key=generate_unsubscribe_key(),
        )
    )
    messages.put_sender(demo_sender_profile(store_id))
    add_workflow(store_id, workflow_id, scenario)


def add_workflow(store_id: str, workflow_id: str, scenario: Scenario, settings: Any = None) -> None:
    """The scenario's messages and its workflow, published, on an existing store (`settings`
    replaces the scenario's own)."""
    for message_id, (purpose, subject) in scenario.messages.items():
        messages.put_message(
            Message(
                store_id=store_id,
                message_id=message_id,
                purpose=purpose,
                sender=DEMO_SENDER_ID,
                variants={
                    "en": MessageContent(
                        subject=subject + ", {{ contact.first_name }}",
                        html="<p>Hi {{ contact.first_name }},</p><p>" + subject + ".</p>"
                        "{% for item in order.items %}<p>{{ item.name }}</p>{% endfor %}"
                        "{% if unsubscribe_url %}<p><a href='{{ unsubscribe_url }}'>Unsubscribe</a></p>{% endif %}",
                        text="Hi {{ contact.first_name }}, " + subject + ".",
                    )
                },
            )
        )
    workflows.put_workflow(
        Workflow(
            store_id=store_id,
            workflow_id=workflow_id,
            status=WorkflowStatus.PUBLISHED,
            settings=settings or scenario.settings,
        )
    )
