"""make demo TEMPLATE=<before-purchase or date template>: the seven flows before the purchase
and the birthday, each told as a short story on a store of its own (`demo-<template>`).

Each store gets what publishing gives a real one: the example sender, the example workflow
of its template and the example messages it names (examples/), read by the admin loaders
and published with the admin checks. Then customers act through the signed event API as a
store's site and checkout would report them: Ana leaves (a checkout, a cart, a session, a
wishlist; she signs up and confirms), Bruno does what ends the flow for him (he buys, carts,
or takes the product off again). The story prints what each sent, what each got and when,
which run was stopped, and the store's report. Only HTTP and the table are used, so the
stories play against the demo's own stack or the e2e tests' one alike."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import boto3
import requests

from storeflows.admin.files import load_message_yaml, load_sender_yaml, load_workflow_yaml
from storeflows.admin.messages import apply_message
from storeflows.admin.senders import apply_sender
from storeflows.admin.workflows import apply_workflow, publish_workflow
from storeflows.events.subjects import DateSubject, SilenceSubject
from storeflows.messaging.confirmation import CONFIRMATION_MESSAGE_ID
from storeflows.messaging.unsubscribe_links import generate_unsubscribe_key
from storeflows.records import Store
from storeflows.storage import contacts, sessions, stores
from storeflows.storage.keys import email_digest
from storeflows.workflows import Workflow
from storeflows.workflows.publishing import message_references
from storeflows.workflows.runs import execution_arn, run_name
from storeflows.workflows.templates.birthday import BirthdaySettings
from storeflows.workflows.templates.sunset import SunsetSettings
from storeflows.workflows.templates.welcome_series import WelcomeSeriesSettings
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for, wait_for_run, wait_until_quiet

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ANA, BRUNO, CARLA = "ana@example.com", "bruno@example.com", "carla@example.com"
SITE = "https://shop.example.com"
S = TypeVar("S")


def product(product_id: str, name: str, price: str) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "sku": product_id.upper(),
        "name": name,
        "price": price,
        "currency": "EUR",
        "url": f"{SITE}/products/{product_id}",
        "image_url": f"{SITE}/img/{product_id}.jpg",
    }


DRESS = product("venise-dress", "Venise dress", "129.90")
SCARF = product("silk-scarf", "Silk scarf", "35.50")
SHIRT = product("linen-shirt", "Linen shirt", "59.00")
TROUSERS = product("linen-trousers", "Linen trousers", "69.00")


class DemoFailed(Exception):
    """The stack answered or behaved otherwise than the story needs: the demo stops there."""


@dataclass
class Shop:
    """A story's store and the verbs the story is told with."""

    api_url: str
    secret: str
    template: str
    time_scale: float
    session_timeout: float
    workflow: Workflow = field(init=False)
    started: float = field(default_factory=time.monotonic)
    # Emails to each address before the story: the outbox is the whole stack's.
    _before: dict[str, int] = field(default_factory=dict)

    @property
    def store_id(self) -> str:
        return "demo-" + self.template.replace("_", "-")

    def open(self, customers: list[str]) -> None:
        """The store, with the template's example sender, messages and workflow published."""
        stores.put_store(
            Store(
                store_id=self.store_id,
                name="Demo Store",
                webhook_secret=self.secret,
                unsubscribe_key=generate_unsubscribe_key(),
                # Its customers without a country are in its zone (the birthday story's Carla).
                timezone="Europe/Warsaw",
            )
        )
        apply_sender(load_sender_yaml(_example("senders/shop-team.yaml"), store=self.store_id))
        path = f"workflows/{self.template}.yaml"
        workflow = load_workflow_yaml(_example(path), source=path, store=self.store_id)
        names = [message_id for _, message_id in message_references(workflow.settings)]
        if self.template == "welcome_series":
            # The store's own sign-up confirmation, in place of the built-in one.
            names.append(CONFIRMATION_MESSAGE_ID)
        for message_id in dict.fromkeys(names):
            apply_message(
                load_message_yaml(
                    _example(f"messages/{message_id}.yaml"),
                    base_dir=EXAMPLES / "messages",
                    source=f"examples/messages/{message_id}.yaml",
                    store=self.store_id,
                )
            )
        apply_workflow(workflow)
        self.workflow, _ = publish_workflow(self.store_id, workflow.workflow_id)
        self._before = {email: len(self.outbox(email)) for email in customers}
        print(
            f"   store '{self.store_id}', workflow '{self.workflow.workflow_id}' ({self.template}), "
            f"published from examples/{path} with messages {', '.join(dict.fromkeys(names))}"
        )

    def say(self, line: str) -> None:
        print("   " + line)

    def post(self, payload: dict[str, Any], says: str) -> None:
        response = post_event(self.api_url, self.store_id, self.secret, payload)
        print(f"   POST /events/{self.store_id}  {payload['type']}: {says} -> {response.status_code}")
        if response.status_code != 202:
            raise DemoFailed(f"{payload['type']} answered {response.status_code}: {response.text}")

    def consent(self, email: str) -> None:
        self.post(
            {"type": "consent", "marketing": True, "source": "account settings", "customer": {"email": email}},
            f"{email} ticks 'email me news and offers' in their account",
        )

    def outbox(self, email: str) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.api_url}/_local/outbox", params={"to": email}, timeout=10)
        answer.raise_for_status()
        return answer.json()[self._before.get(email, 0) :]

    def email(self, email: str, number: int, when: str, *, timeout: float = 30) -> dict[str, Any]:
        """Waits for the `number`th email of the story to `email`, and tells it."""
        mails = wait_for(
            lambda: found if len(found := self.outbox(email)) >= number else None,
            timeout=timeout,
            what=f"email {number} to {email}",
        )
        mail = mails[number - 1]
        print(f"     {email} gets {mail['subject']!r}: {when} ({time.monotonic() - self.started:.1f} s into the story)")
        return mail

    def click(self, email: str, mail: dict[str, Any], link: str) -> None:
        """The customer clicks a link of the email (SES reports the click), so their next
        order is attributed to it."""
        answer = requests.post(f"{self.api_url}/_local/ses/{mail['id']}/click", params={"link": link}, timeout=10)
        if answer.status_code >= 300:
            raise DemoFailed(f"the click answered {answer.status_code}: {answer.text}")
        wait_for(
            lambda: (contact := contacts.get_contact(self.store_id, email)) and contact.last_click,
            what=f"the click of {email}",
        )
        print(f"     {email} clicks {link} in {mail['subject']!r}")

    def run(self, subject_key: str, *, timeout: float = 30) -> str:
        """The status the run about `subject_key` ended with."""
        machine = state_machine_arn("_" + self.template)
        execution = wait_for_run(
            machine, run_name(self.store_id, subject_key, self.workflow.workflow_id), timeout=timeout
        )
        return str(execution["status"])

    def decisions(self, email: str, count: int, *, timeout: float = 30) -> list[dict[str, Any]]:
        """The contact's send decisions in this store, once there are `count` of them."""

        def enough() -> list[dict[str, Any]] | None:
            answer = requests.get(f"{self.api_url}/_local/contacts/{self.store_id}/{email}", timeout=10)
            sends = answer.json().get("sends") or [] if answer.status_code == 200 else []
            return sends if len(sends) >= count else None

        return wait_for(enough, timeout=timeout, what=f"{count} send decisions about {email}")

    def session_decision(self, email: str, *, timeout: float = 30) -> str:
        """What the contact's session was decided to be once it ended: browse, search, site, none."""
        session = wait_for(
            lambda: (found := sessions.current(self.store_id, email)) and found.get("decided") and found,
            timeout=timeout,
            what=f"the end of {email}'s session",
        )
        return str(session["decided"])

    def settings(self, kind: type[S]) -> S:
        """The published settings, of the template the story is about."""
        settings = self.workflow.settings
        assert isinstance(settings, kind), settings
        return settings

    def waits(self, setting: str) -> str:
        """A duration setting as the workflow file says it, with its length at this time scale."""
        seconds = getattr(self.workflow.settings, setting)
        return f"{_duration(seconds)} ({setting}; {seconds / self.time_scale:.2g} s at this time scale)"


def _example(path: str) -> str:
    return (EXAMPLES / path).read_text("utf-8")


def _duration(seconds: float) -> str:
    # Days from two on, as the example files write them (24h, 2d, 7d).
    for unit, size, least in (("d", 86400, 2 * 86400), ("h", 3600, 3600), ("m", 60, 60)):
        if seconds >= least and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _basket(kind: str, token: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    total = sum(float(item["price"]) * item["quantity"] for item in items)
    return {
        "token": token,
        "items": items,
        "total": f"{total:.2f}",
        "currency": "EUR",
        "recovery_url": f"{SITE}/{kind}s/{token}/recover",
    }


def _names(items: list[dict[str, Any]]) -> str:
    return ", ".join(item["name"] for item in items)


def _unique(prefix: str) -> str:
    """A token of this play: the stack's runs are named after it, and a second play of the
    story against the same stack (the tests') starts runs of its own."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# The stories: each returns what its test asserts (who got which subjects, which run ended how).
Outcome = dict[str, Any]


def checkout_abandonment(shop: Shop) -> Outcome:
    return _basket_story(shop, "checkout")


def cart_abandonment(shop: Shop) -> Outcome:
    return _basket_story(shop, "cart")


def _basket_story(shop: Shop, kind: str) -> Outcome:
    ana_token = _unique(f"{kind[:2]}-ana")
    event = "checkout_started" if kind == "checkout" else "cart_updated"
    items = [{**DRESS, "quantity": 1}]
    ana = {"email": ANA, "first_name": "Ana", "language": "en-GB"}
    if kind == "checkout":
        shop.say(f"Ana starts a checkout (token {ana_token}), ticks 'email me offers' and leaves:")
        shop.post(
            {"type": event, "customer": {**ana, "accepts_marketing": True}, kind: _basket(kind, ana_token, items)},
            f"{ANA}, {_names(items)}",
        )
    else:
        shop.say(f"Ana, who agreed to hear from the store, fills a cart (token {ana_token}) and leaves:")
        shop.consent(ANA)
        shop.post({"type": event, "customer": ana, kind: _basket(kind, ana_token, items)}, f"{ANA}, {_names(items)}")
        items = items + [{**SCARF, "quantity": 1}]
        shop.post(
            {"type": event, "customer": ana, kind: _basket(kind, ana_token, items)},
            f"{ANA} adds the scarf: the same run, its wait counted again from now",
        )
    shop.started = time.monotonic()
    shop.email(ANA, 1, f"reminder 1, {shop.waits('first_reminder_after')} after the last activity")
    last_call = shop.email(ANA, 2, f"reminder 2, {shop.waits('second_reminder_after')} after it, with the coupon")
    if "COMEBACK10" not in last_call["text"]:
        raise DemoFailed("the last call shows no coupon")
    ana_run = shop.run(f"{kind}:{ana_token}")
    shop.say(f"  Ana's run {ana_run.lower()}")
    recovery_url = _basket(kind, ana_token, items)["recovery_url"]
    shop.click(ANA, last_call, recovery_url)
    recovered = purchase(
        f"{kind[:2].upper()}-1001", ANA, first_name="Ana", total=_basket(kind, ana_token, items)["total"]
    )
    recovered["order"].update(items=items, **{f"{kind}_token": ana_token})
    shop.post(recovered, f"{ANA} buys it: the report counts the order for the last call")

    shop.say(f"Bruno starts a {kind} and buys it at once (the order names its {kind}_token): no reminder.")
    bruno_run, bruno_skipped = _buys(shop, kind, BRUNO, "Bruno", after_reminders=0)
    shop.say(f"Carla starts a {kind}, gets the first reminder and buys: the run stops before the last call.")
    carla_run, carla_skipped = _buys(shop, kind, CARLA, "Carla", after_reminders=1)
    return {
        "emails": _subjects(shop, ANA, BRUNO, CARLA),
        "runs": {ANA: ana_run, BRUNO: bruno_run, CARLA: carla_run},
        "skipped": {BRUNO: bruno_skipped, CARLA: carla_skipped},
    }


def _buys(shop: Shop, kind: str, email: str, name: str, *, after_reminders: int) -> tuple[str, list[str]]:
    """A customer (who agreed to hear from the store) starts a checkout or cart and buys it
    once `after_reminders` reminders came; the run's end and the sends it skipped."""
    token = _unique(f"{kind[:2]}-{name.lower()}")
    customer: dict[str, Any] = {"email": email, "first_name": name, "language": "en-GB"}
    if kind == "checkout":
        customer["accepts_marketing"] = True
    else:
        shop.consent(email)
    scarf = [{**SCARF, "quantity": 1}]
    event = "checkout_started" if kind == "checkout" else "cart_updated"
    shop.post({"type": event, "customer": customer, kind: _basket(kind, token, scarf)}, f"{email}, {_names(scarf)}")
    shop.started = time.monotonic()
    for number in range(1, after_reminders + 1):
        shop.email(email, number, f"reminder {number}")
    order = purchase(f"{kind[:2].upper()}-{token[-4:]}", email, first_name=name, total="35.50", items=scarf)
    order["order"][f"{kind}_token"] = token
    shop.post(order, f"{email} buys it (order {order['order']['id']}, {kind}_token {token})")
    status = shop.run(f"{kind}:{token}")
    if status == "ABORTED":
        shop.say(f"  {name}'s run: stopped by the purchase (aborted); nothing more sent")
        return status, []
    # At the demo's time scale 4 hours are a fraction of a second: the run's check before
    # a reminder may come before the purchase's stop does, and finds the order instead.
    sends = shop.decisions(email, after_reminders + 1)
    skipped = [f"{send['message_id']} ({send.get('reason')})" for send in sends if send["status"] == "skipped"]
    shop.say(f"  {name}'s run: {status.lower()}; its check found the purchase first: skipped {', '.join(skipped)}")
    return status, skipped


def browse_abandonment(shop: Shop) -> Outcome:
    shop.say("Ana (who agreed to hear from the store) views three products and leaves;")
    shop.say("Bruno views one and puts it in his cart.")
    for email in (ANA, BRUNO):
        shop.consent(email)
    for item in (DRESS, SHIRT, SCARF):
        shop.post(
            {"type": "product_viewed", "customer": {"email": ANA}, "product": item}, f"{ANA} views {item['name']}"
        )
    shop.post(
        {"type": "product_viewed", "customer": {"email": BRUNO}, "product": TROUSERS}, f"{BRUNO} views Linen trousers"
    )
    cart = _basket("cart", _unique("ca-bruno"), [{**TROUSERS, "quantity": 1}])
    shop.post({"type": "cart_updated", "customer": {"email": BRUNO}, "cart": cart}, f"{BRUNO} adds them to his cart")
    return _session_end(shop)


def site_abandonment(shop: Shop) -> Outcome:
    shop.say("Ana (who agreed to hear from the store) reads two pages, views no product and leaves;")
    shop.say("Bruno reads them too, then puts a product in his cart.")
    pages = [
        {"url": f"{SITE}/pages/about", "title": "About us"},
        {"url": f"{SITE}/pages/lookbook", "title": "Lookbook"},
    ]
    for email in (ANA, BRUNO):
        shop.consent(email)
        for page in pages:
            shop.post(
                {"type": "page_viewed", "customer": {"email": email}, "page": page}, f"{email} reads {page['title']}"
            )
    cart = _basket("cart", _unique("ca-bruno"), [{**SCARF, "quantity": 1}])
    shop.post({"type": "cart_updated", "customer": {"email": BRUNO}, "cart": cart}, f"{BRUNO} adds a scarf to his cart")
    return _session_end(shop)


def search_abandonment(shop: Shop) -> Outcome:
    shop.say("Bruno views the linen shirt and trousers (the store's pages show its products) and carts the shirt;")
    shop.say("Ana (who agreed to hear from the store) searches 'linen', follows no result and leaves.")
    for email in (BRUNO, ANA):
        shop.consent(email)
    for item in (SHIRT, TROUSERS):
        shop.post(
            {"type": "product_viewed", "customer": {"email": BRUNO}, "product": item}, f"{BRUNO} views {item['name']}"
        )
    cart = _basket("cart", _unique("ca-bruno"), [{**SHIRT, "quantity": 1}])
    shop.post(
        {"type": "cart_updated", "customer": {"email": BRUNO}, "cart": cart}, f"{BRUNO} adds the shirt to his cart"
    )
    results = [SHIRT["product_id"], TROUSERS["product_id"]]
    shop.post(
        {
            "type": "search",
            "customer": {"email": ANA},
            "query": "linen",
            "result_product_ids": results,
            "result_clicked": False,
        },
        f"{ANA} searches 'linen': {len(results)} results, none clicked",
    )
    outcome = _session_end(shop)
    if "Linen trousers" not in shop.outbox(ANA)[0]["text"]:
        raise DemoFailed("the search email shows none of the search's products")
    return outcome


def _session_end(shop: Shop) -> Outcome:
    shop.say(f"Silence: a session ends after {shop.session_timeout:g} s without activity (STOREFLOWS_SESSION_TIMEOUT).")
    shop.started = time.monotonic()
    decided = {BRUNO: shop.session_decision(BRUNO), ANA: shop.session_decision(ANA)}
    shop.say(f"  Bruno's session ended: decided {decided[BRUNO]!r} (he carted: no run, no email)")
    shop.say(f"  Ana's session ended: decided {decided[ANA]!r}, one run")
    shop.email(ANA, 1, f"{shop.waits('send_after')} after her session ended")
    return {"emails": _subjects(shop, ANA, BRUNO), "sessions": decided}


def welcome_series(shop: Shop) -> Outcome:
    shop.say("Ana signs up in the site's newsletter form (double opt-in: nothing until she confirms):")
    shop.post(
        {
            "type": "subscription_requested",
            "customer": {"email": ANA, "first_name": "Ana", "language": "en-GB"},
            "consent_text": "Yes, send me news and offers by email.",
            "source": "footer form",
        },
        f"{ANA}",
    )
    mail = shop.email(ANA, 1, "the confirmation (transactional), at once")
    (link,) = set(re.findall(r"https?://\S+/subscriptions/confirm\?token=[A-Za-z0-9_.-]+", mail["text"]))
    page = requests.get(link, timeout=10)
    form = _FormAction()
    form.feed(page.text)
    if page.status_code != 200 or form.action is None:
        raise DemoFailed(f"the confirmation page answered {page.status_code} without its form")
    confirmed = requests.post(urljoin(link, form.action), timeout=10)
    shop.say(
        f"  Ana opens the link (GET {page.status_code}: the page with its button) and presses the button "
        f"(POST {confirmed.status_code})"
    )
    if confirmed.status_code != 200:
        raise DemoFailed(f"the confirmation answered {confirmed.status_code}")
    shop.started = time.monotonic()
    steps = shop.settings(WelcomeSeriesSettings).steps
    waited = 0.0
    for number, step in enumerate(steps, start=2):
        waited += step.wait
        shop.email(ANA, number, "at once" if not waited else f"{_duration(waited)} after she confirmed")

    shop.say("Bruno ticks 'send me news' when he makes an account: the store's signed word, no confirmation;")
    shop.post(
        {
            "type": "subscribed",
            "customer": {"email": BRUNO, "first_name": "Bruno", "language": "en-GB"},
            "consent_text": "Yes, send me news and offers by email.",
            "source": "account sign-up",
        },
        f"{BRUNO}",
    )
    shop.started = time.monotonic()
    shop.email(BRUNO, 1, "at once, with the first-order coupon")
    shop.post(purchase("W-2001", BRUNO, first_name="Bruno", total="129.90"), f"{BRUNO} buys (order W-2001)")
    sends = shop.decisions(BRUNO, len(steps), timeout=30)
    skipped = [f"{send['message_id']} ({send.get('reason')})" for send in sends if send["status"] == "skipped"]
    shop.say(f"  Bruno's later welcomes: skipped, {', '.join(skipped)}")
    return {"emails": _subjects(shop, ANA, BRUNO), "skipped": {BRUNO: skipped}}


def wishlist_reminder(shop: Shop) -> Outcome:
    shop.say("Ana and Bruno (both agreed to hear from the store) put products on their wishlists;")
    shop.say("Ana leaves hers; Bruno takes his off again.")
    for email in (ANA, BRUNO):
        shop.consent(email)
    for item in (DRESS, SCARF):
        shop.post({"type": "wishlist_added", "customer": {"email": ANA}, "product": item}, f"{ANA} adds {item['name']}")
    shop.post({"type": "wishlist_added", "customer": {"email": BRUNO}, "product": SHIRT}, f"{BRUNO} adds Linen shirt")
    shop.post(
        {"type": "wishlist_removed", "customer": {"email": BRUNO}, "product": SHIRT}, f"{BRUNO} removes Linen shirt"
    )
    shop.started = time.monotonic()
    mail = shop.email(
        ANA,
        1,
        f"{shop.waits('remind_after')} without a change seen, listing both (a change during the wait starts it again)",
    )
    if not all(item["name"] in mail["text"] for item in (DRESS, SCARF)):
        raise DemoFailed("the reminder does not list both products")
    (send,) = shop.decisions(BRUNO, 1)
    shop.say(f"  Bruno's reminder: {send['status']} ({send.get('reason')}): nothing left on his wishlist")
    return {"emails": _subjects(shop, ANA, BRUNO), "skipped": {BRUNO: [send.get("reason")]}}


def birthday(shop: Shop) -> Outcome:
    """Ana (Poland) and Joe (the US: New York's zone, the store being in Warsaw) both have their
    birthday tomorrow; the schedule's ticks are played hour by hour (the local clock's
    POST /_local/schedules), and each birthday run starts in the hour of 09:00 their time."""
    joe = "joe@example.com"
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    shop.say(f"Ana (PL) and Joe (US) agree to hear from the store and give their birthday, --{tomorrow:%m-%d}:")
    for email, name, country in ((ANA, "Ana", "PL"), (joe, "Joe", "US")):
        shop.post(
            {
                "type": "consent",
                "marketing": True,
                "source": "account settings",
                "customer": {"email": email, "first_name": name, "country": country, "birthday": f"--{tomorrow:%m-%d}"},
            },
            f"{email} ({country}), birthday --{tomorrow:%m-%d}",
        )
    settings = shop.settings(BirthdaySettings)
    subjects = {
        email: DateSubject(occasion="birthday", on=tomorrow.isoformat(), contact=email_digest(email)[:24])
        for email in (ANA, joe)
    }
    started = _play_ticks(shop, subjects, until=tomorrow + timedelta(days=1))
    for email in (ANA, joe):
        shop.email(email, 1, f"{settings.send_at:%H:%M} their time, with its coupon")
    return {"emails": _subjects(shop, ANA, joe), "started": started}


def anniversary(shop: Shop) -> Outcome:
    """Ana's first order was a year ago tomorrow (she bought again since); Bruno's was
    yesterday. The ticks are played until Ana's run starts, at 10:00 her time tomorrow."""
    now = datetime.now(UTC)
    first = now + timedelta(days=1) - timedelta(days=366 if _leap_day_between(now) else 365)
    shop.consent(ANA)
    shop.consent(BRUNO)
    for order_id, email, at in (
        ("N-1001", ANA, first),
        ("N-1002", ANA, now - timedelta(days=30)),
        ("N-2001", BRUNO, now - timedelta(days=1)),
    ):
        shop.post(
            {
                **purchase(order_id, email, first_name=email.split("@")[0].title(), language="en-GB"),
                "occurred_at": at.isoformat(),
            },
            f"{email}'s order {order_id} of {at:%Y-%m-%d}",
        )
    tomorrow = (now + timedelta(days=1)).date()
    subject = DateSubject(occasion="anniversary", on=tomorrow.isoformat(), contact=email_digest(ANA)[:24], years=1)
    started = _play_ticks(shop, {ANA: subject}, until=tomorrow + timedelta(days=1))
    mail = shop.email(ANA, 1, "10:00 her time, a year after her first order")
    if "1 year" not in mail["subject"]:
        raise DemoFailed(f"the anniversary email does not say the years: {mail['subject']!r}")
    return {"emails": _subjects(shop, ANA, BRUNO), "started": started}


def sunset(shop: Shop) -> Outcome:
    """Ana and Bruno each buy three times today (a purchase ends a silence) and get each
    order's thanks and follow-up (the purchase_follow_up example, its wait cut to a day): six
    emails each. The tick of 90 days later at 10:00 the store's time starts both sunset runs;
    Bruno clicks the first message (no second one, still subscribed); Ana stays silent and is
    unsubscribed with reason sunset."""
    follow_up = load_workflow_yaml(
        _example("workflows/purchase_follow_up.yaml"), source="workflows/purchase_follow_up.yaml", store=shop.store_id
    )
    follow_up = follow_up.model_copy(
        update={"settings": follow_up.settings.model_copy(update={"follow_up_after": 86400})}
    )
    for _, message_id in message_references(follow_up.settings):
        apply_message(
            load_message_yaml(
                _example(f"messages/{message_id}.yaml"),
                base_dir=EXAMPLES / "messages",
                source=f"examples/messages/{message_id}.yaml",
                store=shop.store_id,
            )
        )
    apply_workflow(follow_up)
    publish_workflow(shop.store_id, follow_up.workflow_id)
    shop.say("also published: examples/workflows/purchase_follow_up.yaml, its follow-up a day after the thanks")
    bought_on = datetime.now(UTC).date()
    for email in (ANA, BRUNO):
        for number in range(1, 4):
            order_id = f"S-{email[0].upper()}{number}"
            shop.post(purchase(order_id, email, first_name=email.split("@")[0].title(), language="en-GB"), order_id)
    wait_for(
        lambda: all(
            (contact := contacts.get_contact(shop.store_id, email)) and contact.emails_received >= 6
            for email in (ANA, BRUNO)
        ),
        timeout=60,
        what="six emails delivered to each",
    )
    shop.say("six emails delivered to each (thanks and follow-ups); neither opens nor clicks them")
    settings = shop.settings(SunsetSettings)
    due = datetime.combine(
        bought_on + timedelta(days=settings.inactive_days), settings.send_at, ZoneInfo("Europe/Warsaw")
    )
    hour = due.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    fired = requests.post(f"{shop.api_url}/_local/schedules/ScheduleTick", params={"at": hour.isoformat()}, timeout=60)
    if fired.status_code != 200:
        raise DemoFailed(f"the schedule answered {fired.status_code}: {fired.text}")
    shop.say(
        f"the tick of {hour:%Y-%m-%d %H:%M} UTC ({settings.inactive_days} days on, {settings.send_at:%H:%M} in Warsaw)"
    )
    first = shop.email(BRUNO, 7, "the first re-engagement message")
    shop.click(BRUNO, first, "https://example.com/")
    subjects = {
        email: SilenceSubject(since=bought_on.isoformat(), contact=email_digest(email)[:24]) for email in (ANA, BRUNO)
    }
    for email, subject in subjects.items():
        shop.say(f"  {email}'s sunset run: {shop.run(subject.key, timeout=60)}")
    shop.email(ANA, 8, "a week later, the last call")
    ana, bruno = (contacts.get_contact(shop.store_id, email) for email in (ANA, BRUNO))
    if ana is None or ana.unsubscribed_reason != "sunset":
        raise DemoFailed(f"Ana was not unsubscribed by the sunset: {ana}")
    if bruno is None or bruno.unsubscribed_at is not None or len(shop.outbox(BRUNO)) != 7:
        raise DemoFailed("Bruno clicked, yet the sunset went on")
    shop.say(f"{ANA}: unsubscribed (reason sunset); {BRUNO}: still subscribed, no second message")
    # The sunset's emails: after the six of the orders, which arrive in no fixed order.
    sunset_emails = {email: subjects[6:] for email, subjects in _subjects(shop, ANA, BRUNO).items()}
    return {"emails": sunset_emails, "unsubscribed": {ANA: "sunset", BRUNO: None}}


def _leap_day_between(now: datetime) -> bool:
    """Whether the year before tomorrow holds a Feb 29 (then a year back is 366 days)."""
    tomorrow = (now + timedelta(days=1)).date()
    year_ago = tomorrow.replace(year=tomorrow.year - 1) if (tomorrow.month, tomorrow.day) != (2, 29) else tomorrow
    return (tomorrow - year_ago).days == 366


def _play_ticks(shop: Shop, subjects: dict[str, DateSubject], *, until: date) -> dict[str, str]:
    """Fires the hourly schedule for each hour from the next one (POST /_local/schedules), until
    every contact's run has started or the day `until` begins; returns the tick of each."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    started: dict[str, str] = {}
    schedule_queue = boto3.client("sqs").get_queue_url(QueueName="storeflows-local-ScheduleQueue")["QueueUrl"]
    while hour.date() < until and len(started) < len(subjects):
        fired = requests.post(
            f"{shop.api_url}/_local/schedules/ScheduleTick", params={"at": hour.isoformat()}, timeout=60
        )
        if fired.status_code != 200:
            raise DemoFailed(f"the schedule answered {fired.status_code}: {fired.text}")
        # The tick queues its page jobs; the runs start once they are done.
        wait_until_quiet(schedule_queue, state_machine_arn("_" + shop.template), timeout=30)
        for email, subject in subjects.items():
            if email not in started and run_exists(shop, subject.key):
                started[email] = hour.strftime("%Y-%m-%d %H:%M UTC")
                shop.say(f"  the tick of {started[email]} starts {email}'s {subject.occasion} run")
        hour += timedelta(hours=1)
    return started


def run_exists(shop: Shop, subject_key: str) -> bool:
    machine = state_machine_arn("_" + shop.template)
    name = run_name(shop.store_id, subject_key, shop.workflow.workflow_id)
    try:
        boto3.client("stepfunctions").describe_execution(executionArn=execution_arn(machine, name))
    except boto3.client("stepfunctions").exceptions.ExecutionDoesNotExist:
        return False
    return True


def _catalogue(product: dict[str, Any], variants: list[tuple[str, str, str, int]]) -> dict[str, Any]:
    """The event API's `product`: the catalogue's product with its variants (id, title, price,
    stock), as a store's product update reports it."""
    return {
        "type": "product",
        "product": {
            "product_id": product["product_id"],
            "name": product["name"],
            "url": product["url"],
            "image_url": product["image_url"],
            "currency": "EUR",
            "variants": [
                {
                    "variant_id": variant_id,
                    "sku": f"{product['sku']}-{title}",
                    "title": title,
                    "price": price,
                    "inventory_quantity": stock,
                }
                for variant_id, title, price, stock in variants
            ],
        },
    }


def _interest(kind: str, email: str, product: dict[str, Any], variant_id: str) -> dict[str, Any]:
    return {"type": kind, "customer": {"email": email}, "product": {**product, "variant_id": variant_id}}


def _decision(shop: Shop, email: str) -> str:
    (send,) = shop.decisions(email, 1)
    return str(send.get("reason") or send["status"])


def back_in_stock(shop: Shop) -> Outcome:
    shop.say("The Venise dress in M is sold out (L is not). Ana asks to be told when it is back, then Carla;")
    shop.say("Bruno views the M, then buys the dress in L.")
    m, l_size = "venise-dress-m", "venise-dress-l"
    shop.post(_catalogue(DRESS, [(m, "M", "129.90", 0), (l_size, "L", "129.90", 4)]), "M: 0 in stock, L: 4")
    for email in (ANA, CARLA):
        shop.post(_interest("back_in_stock_requested", email, DRESS, m), f"{email} asks: 'notify me' on the M")
    shop.consent(BRUNO)
    shop.post(_interest("product_viewed", BRUNO, DRESS, m), f"{BRUNO} views the M")
    dress_l = {
        "sku": "VENISE-DRESS-L",
        "product_id": DRESS["product_id"],
        "name": "Venise dress",
        "quantity": 1,
        "price": "129.90",
    }
    shop.post(purchase("B-3001", BRUNO, first_name="Bruno", items=[dress_l]), f"{BRUNO} buys the dress in L")
    shop.post(_catalogue(DRESS, [(m, "M", "129.90", 1), (l_size, "L", "129.90", 3)]), "a return: 1 M in stock")
    shop.say("  one in stock is below min_stock (2): nobody is told")
    shop.post(_catalogue(DRESS, [(m, "M", "129.90", 0), (l_size, "L", "129.90", 3)]), "the returned M sold: 0")
    shop.post(_catalogue(DRESS, [(m, "M", "129.90", 5), (l_size, "L", "129.90", 3)]), "the restock: 5 M in stock")
    shop.started = time.monotonic()
    shop.email(ANA, 1, "she asked first")
    shop.email(CARLA, 1, "she asked second (one wave: 3 contacts per unit in stock)")
    reason = _decision(shop, BRUNO)
    shop.say(f"  Bruno, who viewed it: skipped ({reason}): he bought the dress since")
    return {"emails": _subjects(shop, ANA, BRUNO, CARLA), "skipped": {BRUNO: [reason]}}


def price_drop(shop: Shop) -> Outcome:
    shop.say("Ana and Bruno (both agreed to hear from the store) view the Venise dress at 129.90;")
    shop.say("Bruno buys it, Ana does not. Then its price falls to 99.90 (23 % less).")
    m = "venise-dress-m"
    shop.post(_catalogue(DRESS, [(m, "M", "129.90", 8)]), "the dress at 129.90")
    for email in (ANA, BRUNO):
        shop.consent(email)
        shop.post(_interest("product_viewed", email, DRESS, m), f"{email} views it at 129.90")
    shop.post(
        purchase("P-4001", BRUNO, first_name="Bruno", items=[{**_item(DRESS), "sku": "VENISE-DRESS-M"}]),
        f"{BRUNO} buys it",
    )
    shop.post(_catalogue(DRESS, [(m, "M", "99.90", 7)]), "the price falls to 99.90")
    shop.started = time.monotonic()
    mail = shop.email(ANA, 1, "the price she saw and the new one")
    if "129.90" not in mail["text"] or "99.90" not in mail["text"]:
        raise DemoFailed("the price drop email does not show the old and the new price")
    reason = _decision(shop, BRUNO)
    shop.say(f"  Bruno: skipped ({reason}): he bought it")
    return {"emails": _subjects(shop, ANA, BRUNO), "skipped": {BRUNO: [reason]}}


def low_stock(shop: Shop) -> Outcome:
    shop.say("Ana and Bruno (both agreed to hear from the store) put the silk scarf in their carts;")
    shop.say("Bruno buys it, Ana leaves. Then the scarf sells down from 12 to 3.")
    one = "silk-scarf-one"
    shop.post(_catalogue(SCARF, [(one, "one size", "35.50", 12)]), "12 scarves in stock")
    for email in (ANA, BRUNO):
        shop.consent(email)
        cart = _basket("cart", _unique("k"), [{**SCARF, "variant_id": one, "quantity": 1}])
        shop.post({"type": "cart_updated", "customer": {"email": email}, "cart": cart}, f"{email} carts the scarf")
    shop.post(purchase("L-5001", BRUNO, first_name="Bruno", total="35.50", items=[_item(SCARF)]), f"{BRUNO} buys it")
    shop.post(_catalogue(SCARF, [(one, "one size", "35.50", 3)]), "3 left")
    shop.started = time.monotonic()
    shop.email(ANA, 1, "3 left, at most 5 (max_stock)")
    reason = _decision(shop, BRUNO)
    shop.say(f"  Bruno: skipped ({reason}): he bought it")
    return {"emails": _subjects(shop, ANA, BRUNO), "skipped": {BRUNO: [reason]}}


def _item(product: dict[str, Any]) -> dict[str, Any]:
    return {
        "product_id": product["product_id"],
        "sku": product["sku"],
        "name": product["name"],
        "quantity": 1,
        "price": product["price"],
    }


def _subjects(shop: Shop, *emails: str) -> dict[str, list[str]]:
    return {email: [mail["subject"] for mail in shop.outbox(email)] for email in emails}


class _FormAction(HTMLParser):
    """The confirmation page's form: where its button posts."""

    action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form" and (dict(attrs).get("method") or "").lower() == "post":
            self.action = dict(attrs).get("action")


@dataclass(frozen=True)
class Story:
    title: str
    play: Callable[[Shop], Outcome]


STORIES = {
    "checkout_abandonment": Story(
        "Abandoned checkout: Ana leaves hers (two reminders, the second with a coupon, and she buys); Bruno buys his"
        " at once (none), Carla after the first reminder (no last call)",
        checkout_abandonment,
    ),
    "cart_abandonment": Story(
        "Abandoned cart: Ana changes hers and leaves (one run, two reminders, and she buys); Bruno buys his at once"
        " (none), Carla after the first reminder (no last call)",
        cart_abandonment,
    ),
    "browse_abandonment": Story(
        "Browse abandonment: Ana views three products and leaves (one email about them), Bruno carts (none)",
        browse_abandonment,
    ),
    "site_abandonment": Story(
        "Site abandonment: Ana reads two pages and leaves (one email), Bruno carts (none)", site_abandonment
    ),
    "search_abandonment": Story(
        "Search abandonment: Ana searches and follows no result (the query and its products), Bruno carts (none)",
        search_abandonment,
    ),
    "welcome_series": Story(
        "Welcome series: Ana signs up, confirms, gets three welcomes; Bruno buys after the first (no more)",
        welcome_series,
    ),
    "wishlist_reminder": Story(
        "Wishlist reminder: Ana's wishlist reminded of after 7 days; Bruno took his product off (none)",
        wishlist_reminder,
    ),
    "anniversary": Story(
        "Anniversary: Ana's first order was a year ago tomorrow: the email at 10:00 her time says so; Bruno's"
        " was yesterday (none)",
        anniversary,
    ),
    "sunset": Story(
        "Sunset: Ana and Bruno got six emails each and stay silent; 90 days later both get the re-engagement"
        " series: Bruno clicks (no more, subscribed), Ana is unsubscribed with reason sunset",
        sunset,
    ),
    "birthday": Story(
        "Birthday: Ana (Warsaw) and Joe (New York) both have their birthday tomorrow; each gets the email at 09:00"
        " their time, the schedule's ticks played hour by hour",
        birthday,
    ),
    "back_in_stock": Story(
        "Back in stock: Ana and Carla asked, told in that order at the restock (not at a single return); Bruno"
        " viewed it and bought another size (none)",
        back_in_stock,
    ),
    "price_drop": Story(
        "Price drop: the dress Ana viewed at 129.90 is now 99.90 (one email, both prices); Bruno bought it (none)",
        price_drop,
    ),
    "low_stock": Story(
        "Low stock: 3 scarves left, Ana who carted one is told; Bruno bought his (none)",
        low_stock,
    ),
}


def play_story(
    api_url: str, secret: str, name: str, *, time_scale: float, session_timeout: float
) -> tuple[Shop, Outcome]:
    """Opens the story's store and plays it; the caller prints what followed (demo.play)."""
    story = STORIES[name]
    print(f"== {story.title}")
    shop = Shop(api_url, secret, name, time_scale=time_scale, session_timeout=session_timeout)
    shop.open([ANA, BRUNO, CARLA])
    return shop, story.play(shop)
