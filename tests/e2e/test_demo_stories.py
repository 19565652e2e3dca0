"""`make demo TEMPLATE=<name>` for the seven before-purchase templates: each story played
against the tests' stack (its time scale and 2 s sessions), published from examples/ with the
admin calls, and what it must show: who got which of the examples' emails, which run the
purchase stopped, what the sessions were decided to be, which sends were skipped and why,
and the story's own words for it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from storeflows import reports
from storeflows_local.demo_storefront import ANA, BRUNO, CARLA, STORIES, play_story
from storeflows_local.local_file import read_local_file
from storeflows_local.waiting import wait_for

pytestmark = pytest.mark.e2e
JOE = "joe@example.com"

CHECKOUT = ["You left something at checkout", "Your checkout is still waiting, with 10% off"]
CART = ["Your cart is waiting", "Still thinking about it? 10% off your cart"]
WELCOME = [
    "Welcome to Demo Store, Ana",
    "What our customers love at Demo Store",
    "Free returns, and people to answer you",
]
# name -> (what the story returns, words its printed story must have)
EXPECTED = {
    "checkout_abandonment": (
        {"emails": {ANA: CHECKOUT, BRUNO: [], CARLA: CHECKOUT[:1]}},
        ["reminder 1, 4h (first_reminder_after", "clicks https://shop.example.com/checkouts/ch-ana-"],
    ),
    "cart_abandonment": (
        {"emails": {ANA: CART, BRUNO: [], CARLA: CART[:1]}},
        ["reminder 2, 24h (second_reminder_after", "the report counts the order for the last call"],
    ),
    "browse_abandonment": (
        {"emails": {ANA: ["Still thinking it over?"], BRUNO: []}, "sessions": {ANA: "browse", BRUNO: "none"}},
        ["Bruno's session ended: decided 'none' (he carted: no run, no email)"],
    ),
    "site_abandonment": (
        {"emails": {ANA: ["Good to see you at Demo Store"], BRUNO: []}, "sessions": {ANA: "site", BRUNO: "none"}},
        ["a session ends after 2 s without activity"],
    ),
    "search_abandonment": (
        {"emails": {ANA: ['What we found for "linen"'], BRUNO: []}, "sessions": {ANA: "search", BRUNO: "none"}},
        ["searches 'linen': 2 results, none clicked"],
    ),
    "welcome_series": (
        {
            "emails": {ANA: ["One click to join Demo Store", *WELCOME], BRUNO: ["Welcome to Demo Store, Bruno"]},
            "skipped": {BRUNO: ["welcome-2 (bought_since)", "welcome-3 (bought_since)"]},
        },
        ["presses the button (POST 200)", "4d after she confirmed"],
    ),
    "wishlist_reminder": (
        {
            "emails": {ANA: ["Still thinking about Venise dress?"], BRUNO: []},
            "skipped": {BRUNO: ["nothing_to_remind"]},
        },
        ["7d (remind_after;", "Bruno's reminder: skipped (nothing_to_remind)"],
    ),
    "anniversary": (
        {"emails": {ANA: ["1 year together - thank you!"], BRUNO: []}},
        ["starts ana@example.com's anniversary run", "a year after her first order"],
    ),
    "sunset": (
        {
            "emails": {
                ANA: ["Still want to hear from us, Ana?", "Last email from Demo Store unless you click"],
                BRUNO: ["Still want to hear from us, Bruno?"],
            },
            "unsubscribed": {ANA: "sunset", BRUNO: None},
        },
        ["clicks https://example.com/", "unsubscribed (reason sunset)"],
    ),
    "birthday": (
        {"emails": {ANA: ["Happy birthday! A gift inside"], JOE: ["Happy birthday! A gift inside"]}},
        ["starts ana@example.com's birthday run", "09:00 their time"],
    ),
    "back_in_stock": (
        {
            "emails": {ANA: ["Venise dress is back in stock"], BRUNO: [], CARLA: ["Venise dress is back in stock"]},
            "skipped": {BRUNO: ["bought_since"]},
        },
        ["below min_stock (2): nobody is told", "she asked first"],
    ),
    "price_drop": (
        {"emails": {ANA: ["Venise dress is now 99.90 EUR"], BRUNO: []}, "skipped": {BRUNO: ["bought_since"]}},
        ["the price she saw and the new one", "Bruno: skipped (bought_since)"],
    ),
    "low_stock": (
        {"emails": {ANA: ["Only 3 left: Silk scarf"], BRUNO: []}, "skipped": {BRUNO: ["bought_since"]}},
        ["3 left, at most 5 (max_stock)"],
    ),
}


@pytest.fixture
def admin(stack, storage, monkeypatch):
    """The admin calls as `storeflows --local` makes them: senders checked against the stack's
    SES identity."""
    from storeflows import config

    info = read_local_file(Path(stack.local_file))
    assert info is not None
    monkeypatch.setenv("SENDER_IDENTITY", info["sender_identity"])
    config.settings.cache_clear()
    yield
    config.settings.cache_clear()


def test_every_before_purchase_template_has_a_story():
    assert set(EXPECTED) == set(STORIES)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_the_story_shows_the_flow(stack, admin, capsys, name):
    shop, outcome = play_story(
        stack.api_url, stack.webhook_secret, name, time_scale=stack.time_scale, session_timeout=stack.session_timeout
    )
    expected, words = EXPECTED[name]
    if name in ("checkout_abandonment", "cart_abandonment"):
        runs, skipped = outcome.pop("runs"), outcome.pop("skipped")
        assert runs[ANA] == "SUCCEEDED"
        # Each buyer's run is stopped by the purchase, or (4 hours are 0.04 s here) its check
        # before the next reminder came first and found the order: never a reminder more.
        prefix = name.split("_")[0]
        for buyer, next_message in ((BRUNO, "reminder"), (CARLA, "last-call")):
            assert (runs[buyer], skipped[buyer]) in (
                ("ABORTED", []),
                ("SUCCEEDED", [f"{prefix}-{next_message} (bought_since)"]),
            ), (buyer, runs, skipped)
    if name == "birthday":
        # Each run starts at the tick of 09:00 tomorrow in the contact's zone, in UTC.
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
        nine = {
            email: datetime.combine(tomorrow, time(9), tzinfo=ZoneInfo(zone)).astimezone(UTC)
            for email, zone in ((ANA, "Europe/Warsaw"), (JOE, "America/New_York"))
        }
        assert outcome.pop("started") == {email: f"{at:%Y-%m-%d %H:%M} UTC" for email, at in nine.items()}
    if name == "anniversary":
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
        ten = datetime.combine(tomorrow, time(10), tzinfo=ZoneInfo("Europe/Warsaw")).astimezone(UTC)
        assert outcome.pop("started") == {ANA: f"{ten:%Y-%m-%d %H:%M} UTC"}
    assert outcome == expected
    told = capsys.readouterr().out
    assert f"published from examples/workflows/{name}.yaml" in told
    for phrase in words:
        assert phrase in told, told
    if name == "checkout_abandonment":
        reminder = shop.outbox(ANA)[0]["text"]
        assert "Venise dress × 1" in reminder and "/checkouts/ch-ana-" in reminder
    if name in ("checkout_abandonment", "cart_abandonment"):
        # Ana clicked the last call and bought: the report counts her order for it.
        def last_call():
            rows = reports.build_report(shop.store_id, date.today(), date.today()).rows
            row = next(row for row in rows if row.message_id.endswith("last-call"))
            return row if row.counts["ordered"] else None

        total = "129.90" if name == "checkout_abandonment" else "165.40"
        assert wait_for(last_call, what="the recovered order").revenue == {"EUR": Decimal(total)}
