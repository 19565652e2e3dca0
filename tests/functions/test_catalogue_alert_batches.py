"""Catalogue alerts against moto: which product changes start a run (one per change and
workflow, a redelivery none), and what one batch of the run does (functions/send_alerts):
who is told, in which order, with what product in the email, and when nothing more goes.
What reaches a contact is read back from moto's SES; every decision is on the contact."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest

from storeflows import dispatch, fanout
from storeflows.catalogue import CatalogueProduct, CatalogueVariant, VariantChange
from storeflows.events import StoreEvent
from storeflows.events.purchase import PurchaseEvent
from storeflows.messaging import batches
from storeflows.messaging.mail import parse_mime_message
from storeflows.records import Message, MessageContent, Purpose, Sender
from storeflows.storage import contacts, interest, keys, messages, orders, products, workflows
from storeflows.workflows import Workflow, WorkflowStatus, runs
from storeflows_local.signing import purchase

STORE = "demo"
PRODUCT, VARIANT = "p-1", "v-1"
NOW = datetime.now(UTC)
REQUESTED = {"template": "back_in_stock", "requested_message": "back", "wave_size": 100, "wave_per_unit": False}
LISTING = (
    "{{ variant.name }} ({{ variant.title }}) {{ variant.price|money(variant.currency) }}"
    "{% if variant.price_seen %} was {{ variant.price_seen|money(variant.currency) }}{% endif %}"
    " {{ variant.url }} {{ variant.image_url }} stock {{ variant.stock }}"
)


@pytest.fixture
def alerts(load_handler, demo_store, lambda_context, monkeypatch):
    """Invokes the batch task as the state machine does; the progress it hands back. One
    email at a time, so the order of the emails is exactly the audience's (with its SENDERS
    in flight at once it is so within those few: test_many_senders_at_once...)."""
    monkeypatch.setattr(batches, "SENDERS", 1)
    app = load_handler("send_alerts")

    def invoke(workflow: dict[str, Any], change: VariantChange, progress: dict | None = None) -> dict[str, Any]:
        payload = {
            "store_id": STORE,
            "workflow_id": "wf",
            "change": change.model_dump(mode="json"),
            "settings": workflow,
            "progress": progress or fanout.AlertProgress().model_dump(mode="json"),
            "step": "SendAlerts",
        }
        return app.lambda_handler(json.loads(json.dumps(payload)), lambda_context)

    return invoke


def catalogue_product(stock: int | None, price: str = "129.90", *, available: bool | None = None) -> CatalogueProduct:
    variant: dict[str, Any] = {
        "variant_id": VARIANT,
        "sku": "VENISE-M",
        "title": "M",
        "price": price,
        "inventory_quantity": stock,
    }
    if available is not None:
        variant["available"] = available
    return CatalogueProduct(
        product_id=PRODUCT,
        name="Venise dress",
        url="https://shop.example.com/products/venise",
        image_url="https://shop.example.com/img/venise.jpg",
        currency="EUR",
        variants=[CatalogueVariant.model_validate(variant)],
    )


def change_to(stock: int | None, price: str = "129.90") -> VariantChange:
    """Puts the product with this stock and price; the one change it makes."""
    (change,) = products.put_product(STORE, catalogue_product(stock, price), at=datetime.now(UTC))
    return change


def add_message(message_id: str, purpose: Purpose = Purpose.MARKETING) -> None:
    messages.put_message(
        Message(
            store_id=STORE,
            message_id=message_id,
            purpose=purpose,
            sender=Sender(name="Test Shop", address="shop@storeflows.test"),
            variants={"en": MessageContent(subject="{{ variant.name }}", html=f"<p>{LISTING}</p>", text=LISTING)},
        )
    )


def add_contact(email: str, *, consent: bool = True) -> None:
    contacts.start_profile(STORE, email)
    if consent:
        contacts.record_consent(STORE, email, marketing=True, source="test", at=NOW - timedelta(days=1))


def ask(email: str, minutes_ago: int) -> None:
    assert interest.record_request(
        STORE, email, product_id=PRODUCT, variant_id=VARIANT, at=NOW - timedelta(minutes=minutes_ago)
    )


def saw(email: str, kind: str, price: str | None, days_ago: float = 1) -> None:
    interest.record_interest(
        STORE,
        email,
        product_id=PRODUCT,
        variant_id=VARIANT,
        kind=kind,  # type: ignore[arg-type]
        at=NOW - timedelta(days=days_ago),
        price=Decimal(price) if price else None,
        currency="EUR",
    )


def told(aws) -> list[str]:
    """Who SES got an email for, in the order sent."""
    return [parse_mime_message(sent.raw_data)["to"] for sent in aws.sent_emails()]


def decision(email: str, change: VariantChange) -> dict[str, Any] | None:
    key = keys.send_log_key(STORE, email, "wf", fanout.subject_of(change).key, "SendAlerts")
    return next((item for item in contacts.contact_history(STORE, email) if item["sk"] == key["sk"]), None)


def sold_out_then(stock: int) -> VariantChange:
    change_to(0)
    return change_to(stock)


# --- which changes start runs ---------------------------------------------------------------


def product_event(event_id: str, stock: int | None = 5, price: str = "129.90") -> StoreEvent:
    """The event API's `product` as the ingest queues it."""
    return StoreEvent.model_validate(
        {
            "store_id": STORE,
            "event_id": event_id,
            "source": "api",
            "received_at": datetime.now(UTC).isoformat(),
            "event": {"type": "product", "product": catalogue_product(stock, price).model_dump(mode="json")},
        }
    )


def publish(workflow_id: str, settings: dict[str, Any]) -> None:
    workflows.put_workflow(
        Workflow(store_id=STORE, workflow_id=workflow_id, status=WorkflowStatus.PUBLISHED, settings=settings)
    )


def alert_runs() -> list[dict[str, Any]]:
    """Every catalogue alert run started: its name and input."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    found = []
    for template in ("back_in_stock", "price_drop", "low_stock"):
        machine = runs.state_machine_arn(template)
        for execution in sfn.list_executions(stateMachineArn=machine)["executions"]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            found.append({"template": template, "name": execution["name"], "input": json.loads(described["input"])})
    return found


def test_a_restock_starts_one_run_per_workflow_whose_transition_it_is_and_a_redelivery_no_second(aws, demo_store):
    publish("restock", {"template": "back_in_stock", "requested_message": "back"})
    publish("cheaper", {"template": "price_drop", "alert_message": "drop"})
    publish("few-left", {"template": "low_stock", "alert_message": "few"})
    dispatch.dispatch_event(product_event("api:p0", stock=0))

    outcome = dispatch.dispatch_event(product_event("api:p1", stock=10))
    again = dispatch.dispatch_event(product_event("api:p1", stock=10))

    assert outcome["alert_runs_started"] == ["restock"]
    assert again["catalogue_changes"] == outcome["catalogue_changes"], "the same event: its changes again"
    # Step Functions answers a StartExecution of a running execution's name and input as done.
    assert len(alert_runs()) == 1, "and its run is not started twice"
    assert "alert_runs_started" not in dispatch.dispatch_event(product_event("api:p1-other", stock=10)), (
        "another delivery of the same state: no change, no run"
    )
    (started,) = alert_runs()
    (change,) = [VariantChange.model_validate(item) for item in outcome["catalogue_changes"]]
    assert started["name"] == runs.run_name(STORE, f"change:{change.change_id}", "restock")
    assert started["input"]["change"]["after"]["inventory_quantity"] == 10
    assert started["input"]["progress"]["next"] == "start"
    assert fanout.start_alerts(STORE, "api:p1-later", [change]) == [], "its run exists"

    assert dispatch.dispatch_event(product_event("api:p2", stock=3))["alert_runs_started"] == ["few-left"]
    assert dispatch.dispatch_event(product_event("api:p3", 3, "99.00"))["alert_runs_started"] == ["cheaper"]
    assert [run["template"] for run in alert_runs()] == ["back_in_stock", "price_drop", "low_stock"]


def test_a_restock_whose_run_failed_to_start_starts_it_when_the_event_comes_again(aws, demo_store, monkeypatch):
    """The change is written before its run starts: if starting fails, the queue delivers the
    event again, and that delivery must report the change again, or the alert is lost."""
    publish("restock", {"template": "back_in_stock", "requested_message": "back"})
    dispatch.dispatch_event(product_event("api:p0", stock=0))
    starting = runs.start_named_run

    def unavailable(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("Step Functions unavailable")

    monkeypatch.setattr(runs, "start_named_run", unavailable)
    with pytest.raises(RuntimeError):
        dispatch.dispatch_event(product_event("api:p1", stock=10))
    assert alert_runs() == []
    monkeypatch.setattr(runs, "start_named_run", starting)

    assert dispatch.dispatch_event(product_event("api:p1", stock=10))["alert_runs_started"] == ["restock"]
    assert len(alert_runs()) == 1


@pytest.mark.parametrize(
    ("settings", "before", "after", "starts"),
    [
        ({"template": "back_in_stock", "requested_message": "m"}, 0, 1, False),  # a single return
        ({"template": "back_in_stock", "requested_message": "m"}, 0, 2, True),
        ({"template": "back_in_stock", "requested_message": "m"}, 1, 5, True),  # 0, 1 (a return), then 5
        ({"template": "back_in_stock", "requested_message": "m"}, 3, 8, False),  # never out
        ({"template": "low_stock", "alert_message": "m"}, 9, 5, True),
        ({"template": "low_stock", "alert_message": "m"}, 5, 4, False),  # already low
        ({"template": "low_stock", "alert_message": "m"}, 9, 0, False),  # sold out: nothing to hurry for
        ({"template": "low_stock", "alert_message": "m", "max_stock": 10}, 12, 10, True),
    ],
)
def test_which_stock_changes_are_a_template_s_transition(aws, settings, before, after, starts):
    publish("wf", settings)
    change_to(before)
    change = change_to(after)
    assert fanout.start_alerts(STORE, "api:x", [change]) == (["wf"] if starts else [])


def test_a_price_fall_is_a_price_drop_a_rise_is_not(aws):
    publish("wf", {"template": "price_drop", "alert_message": "m"})
    change_to(5, "100.00")
    assert fanout.start_alerts(STORE, "api:1", [change_to(5, "120.00")]) == []
    assert fanout.start_alerts(STORE, "api:2", [change_to(5, "99.00")]) == ["wf"]
    assert fanout.start_alerts(STORE, "api:3", [change_to(0, "80.00")]) == [], "sold out: nothing to buy"


def test_a_draft_or_paused_workflow_starts_nothing(aws):
    workflows.put_workflow(Workflow(store_id=STORE, workflow_id="wf", status=WorkflowStatus.PAUSED, settings=REQUESTED))
    change_to(0)
    assert fanout.start_alerts(STORE, "api:1", [change_to(5)]) == []


# --- what a batch sends --------------------------------------------------------------------


def test_those_who_asked_are_told_oldest_first_with_the_product_and_their_request_is_fulfilled(aws, alerts):
    add_message("back", Purpose.TRANSACTIONAL)
    for email, minutes in (("late@example.com", 5), ("first@example.com", 50), ("second@example.com", 20)):
        add_contact(email, consent=False)  # they asked for this one email
        ask(email, minutes)
    change = sold_out_then(10)

    progress = alerts(REQUESTED, change)

    assert progress["next"] == "done" and progress["stopped"] is None and progress["sent"] == 3
    assert told(aws) == ["first@example.com", "second@example.com", "late@example.com"]
    mail = parse_mime_message(aws.sent_emails()[0].raw_data)
    assert mail["subject"] == "Venise dress"
    assert (
        "Venise dress (M) 129.90 EUR https://shop.example.com/products/venise "
        "https://shop.example.com/img/venise.jpg stock 10"
    ) in mail["text"]
    assert interest.interested_in(STORE, product_id=PRODUCT, kinds=["requested"], since=NOW - timedelta(days=30)) == (
        [],
        None,
    ), "told: no request is left open"
    assert decision("first@example.com", change)["status"] == "sent"


def test_the_same_batch_again_sends_nobody_a_second_email(aws, alerts):
    add_message("back", Purpose.TRANSACTIONAL)
    for index in range(3):
        add_contact(f"c{index}@example.com")
        ask(f"c{index}@example.com", 10 - index)
    change = sold_out_then(10)

    alerts(REQUESTED, change)
    again = alerts(REQUESTED, change)

    assert again["sent"] == 0
    assert Counter(told(aws)) == {f"c{index}@example.com": 1 for index in range(3)}


def test_a_wave_tells_wave_size_per_unit_in_stock_then_waits_for_the_next(aws, alerts):
    add_message("back", Purpose.TRANSACTIONAL)
    for index in range(7):
        add_contact(f"c{index}@example.com")
        ask(f"c{index}@example.com", 100 - index)
    change = sold_out_then(2)
    waves = {"template": "back_in_stock", "requested_message": "back", "wave_size": 2}  # 2 per unit: 4 a wave

    first = alerts(waves, change)
    assert (first["next"], first["sent"], first["wave_left"]) == ("next_wave", 4, 0)
    assert told(aws) == [f"c{index}@example.com" for index in range(4)]

    second = alerts(waves, change, first)
    assert (second["next"], second["sent"]) == ("done", 7)
    assert told(aws)[4:] == ["c4@example.com", "c5@example.com", "c6@example.com"]


def test_sold_out_again_before_a_send_nothing_more_goes(aws, alerts):
    add_message("back", Purpose.TRANSACTIONAL)
    add_contact("a@example.com")
    ask("a@example.com", 10)
    change = sold_out_then(5)
    change_to(1)  # below min_stock (2)

    progress = alerts(REQUESTED, change)

    assert (progress["next"], progress["stopped"], progress["sent"]) == ("done", "below_min_stock", 0)
    assert told(aws) == []
    assert decision("a@example.com", change) is None, "never reached: no decision"
    assert interest.interested_in(STORE, product_id=PRODUCT, kinds=["requested"], since=NOW - timedelta(days=1))[0]


def test_viewers_and_carts_after_those_who_asked_only_when_asked_for(aws, alerts):
    add_message("back", Purpose.TRANSACTIONAL)
    add_message("interested")
    for email in ("asker@example.com", "viewer@example.com", "carter@example.com", "quiet@example.com"):
        add_contact(email)
    ask("asker@example.com", 5)
    saw("viewer@example.com", "viewed", "129.90")
    saw("carter@example.com", "carted", "129.90")
    saw("asker@example.com", "viewed", "129.90")  # asked and viewed: one email
    saw("quiet@example.com", "viewed", "129.90", days_ago=40)  # outside the window
    change = sold_out_then(10)
    settings = {**REQUESTED, "interested_message": "interested", "include_viewers": True, "include_carts": True}

    progress = alerts(settings, change)

    assert progress["next"] == "done"
    assert told(aws) == ["asker@example.com", "viewer@example.com", "carter@example.com"]
    assert alerts(REQUESTED, change_to(10, "120.00"))["sent"] == 0, "not a restock of theirs: nobody asked again"


def test_who_bought_the_product_since_or_gave_no_consent_is_skipped_and_recorded(aws, alerts):
    add_message("interested")
    add_message("back", Purpose.TRANSACTIONAL)
    add_contact("buyer@example.com")
    add_contact("silent@example.com", consent=False)
    saw("buyer@example.com", "viewed", "129.90", days_ago=3)
    saw("silent@example.com", "viewed", "129.90")
    order = purchase("B-1", "buyer@example.com", accepts_marketing=True)
    order["order"]["items"] = [{"sku": "VENISE-M", "product_id": PRODUCT, "name": "Venise dress", "quantity": 1}]
    order["occurred_at"] = (NOW - timedelta(days=2)).isoformat()
    assert orders.record_purchase(STORE, "api:b-1", PurchaseEvent.model_validate(order))
    change = sold_out_then(10)
    settings = {**REQUESTED, "interested_message": "interested", "include_viewers": True}

    alerts(settings, change)

    assert told(aws) == []
    assert decision("buyer@example.com", change)["reason"] == "bought_since"
    assert decision("silent@example.com", change)["reason"] == "no_marketing_consent"


def test_a_price_drop_tells_who_saw_a_price_high_enough_above_the_new_one(aws, alerts):
    add_message("drop")
    for email in ("saw-high@example.com", "saw-close@example.com", "carted@example.com"):
        add_contact(email)
    saw("saw-high@example.com", "viewed", "100.00")
    saw("saw-close@example.com", "viewed", "84.00")  # 79 is 6 % below: under the 10 %
    saw("carted@example.com", "carted", "95.00")
    change_to(5, "100.00")
    change = change_to(5, "79.00")

    progress = alerts({"template": "price_drop", "alert_message": "drop"}, change)

    assert progress["next"] == "done"
    assert told(aws) == ["saw-high@example.com", "carted@example.com"]
    mail = parse_mime_message(aws.sent_emails()[0].raw_data)
    assert "Venise dress (M) 79.00 EUR was 100.00 EUR" in mail["text"]
    assert decision("saw-close@example.com", change) is None, "not of the audience: no record"


def test_a_price_back_up_before_the_send_sends_nothing(aws, alerts):
    add_message("drop")
    add_contact("a@example.com")
    saw("a@example.com", "viewed", "100.00")
    change_to(5, "100.00")
    change = change_to(5, "79.00")
    change_to(5, "100.00")

    progress = alerts({"template": "price_drop", "alert_message": "drop"}, change)

    assert (progress["next"], progress["stopped"]) == ("done", "price_back_up")
    assert told(aws) == []


def test_a_price_drop_by_amount(aws, alerts):
    add_message("drop")
    add_contact("a@example.com")
    add_contact("b@example.com")
    saw("a@example.com", "viewed", "100.00")
    saw("b@example.com", "viewed", "96.00")
    change_to(5, "100.00")
    change = change_to(5, "90.00")

    alerts({"template": "price_drop", "alert_message": "drop", "min_drop_amount": "8"}, change)

    assert told(aws) == ["a@example.com"]


def test_low_stock_once_per_contact_and_product_within_the_cooldown(aws, alerts):
    add_message("few")
    add_contact("a@example.com")
    saw("a@example.com", "carted", "129.90")
    change_to(20)
    first = change_to(4)
    settings = {"template": "low_stock", "alert_message": "few"}

    alerts(settings, first)
    change_to(20)
    second = change_to(3)
    alerts(settings, second)

    assert told(aws) == ["a@example.com"]
    assert decision("a@example.com", second)["reason"] == "cooldown"


def test_low_stock_restocked_before_the_send_sends_nothing(aws, alerts):
    add_message("few")
    add_contact("a@example.com")
    saw("a@example.com", "viewed", "129.90")
    change_to(20)
    change = change_to(4)
    change_to(30)

    progress = alerts({"template": "low_stock", "alert_message": "few"}, change)

    assert (progress["stopped"], told(aws)) == ("restocked", [])


class _AnHourLater(datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        return datetime.now(tz) + timedelta(hours=1)


def test_a_batch_hands_back_before_its_time_is_up_and_the_next_goes_on(aws, alerts, monkeypatch):
    add_message("back", Purpose.TRANSACTIONAL)
    for index in range(5):
        add_contact(f"c{index}@example.com")
        ask(f"c{index}@example.com", 10 - index)
    change = sold_out_then(10)
    sent = []
    original = batches.sending.decide_and_send

    def counting(*args, **kwargs):
        answer = original(*args, **kwargs)
        sent.append(answer)
        if len(sent) == 2:
            # Time is up after the second: the batch takes nobody new.
            monkeypatch.setattr(batches, "datetime", _AnHourLater)
        return answer

    monkeypatch.setattr(batches.sending, "decide_and_send", counting)
    first = alerts(REQUESTED, change)
    assert (first["next"], first["sent"]) == ("more", 2)
    monkeypatch.setattr(batches, "datetime", datetime)
    second = alerts(REQUESTED, change, first)
    assert (second["next"], second["sent"]) == ("done", 5)
    assert Counter(told(aws)) == {f"c{index}@example.com": 1 for index in range(5)}


def test_a_full_pacer_pauses_the_batch_without_a_decision(aws, alerts, monkeypatch):
    add_message("back", Purpose.TRANSACTIONAL)
    add_contact("a@example.com")
    ask("a@example.com", 10)
    change = sold_out_then(10)
    monkeypatch.setattr(batches.pacing, "reserve", lambda *args, **kwargs: None)

    progress = alerts(REQUESTED, change)

    assert (progress["next"], progress["sent"], progress["cursor"]) == ("pause", 0, None)
    assert told(aws) == [] and decision("a@example.com", change) is None


def test_many_senders_at_once_tell_each_contact_once_in_about_the_order_they_asked(aws, alerts, monkeypatch):
    monkeypatch.setattr(batches, "SENDERS", 8)
    add_message("back", Purpose.TRANSACTIONAL)
    askers = [f"c{index:02d}@example.com" for index in range(40)]
    for index, email in enumerate(askers):
        add_contact(email)
        ask(email, 100 - index)
    change = sold_out_then(50)

    progress = alerts({**REQUESTED, "wave_size": 30}, change)  # 30 a wave: the page is cut there

    assert (progress["next"], progress["sent"]) == ("next_wave", 30)
    sent = told(aws)
    assert Counter(sent) == dict.fromkeys(askers[:30], 1), "the first 30 who asked, each once"
    # With 8 in flight, a sender that took a contact may be held back while the others send
    # (the GIL, a busy machine): the order is the askers' within about twice that, not exactly.
    assert all(abs(sent.index(email) - index) < 2 * batches.SENDERS for index, email in enumerate(askers[:30]))


# --- settings ---------------------------------------------------------------------------------


def test_viewers_or_carts_without_their_message_is_a_problem_before_publishing():
    from storeflows.workflows.templates.back_in_stock import BackInStockSettings

    assert BackInStockSettings(requested_message="back", include_viewers=True).problems() == [
        "interested_message: needed to tell viewers or carts (include_viewers, include_carts)"
    ]
    assert BackInStockSettings(requested_message="back", include_carts=True, interested_message="i").problems() == []


@pytest.mark.parametrize(
    ("seen", "now", "settings", "told"),
    [
        ("100.00", "90.00", {}, True),  # exactly 10 %
        ("100.00", "90.01", {}, False),
        ("100.00", "95.00", {"min_drop_amount": "5"}, True),
        ("100.00", "95.01", {"min_drop_amount": "5"}, False),
        (None, "80.00", {}, True),  # no price seen: the price before the fall (100.00)
        ("79.00", "80.00", {}, False),  # saw it cheaper than now
    ],
)
def test_a_price_drop_tells_a_contact_by_the_price_they_saw(seen, now, settings, told):
    from storeflows.catalogue import VariantState
    from storeflows.workflows.templates.price_drop import PriceDropSettings

    before = VariantState(price=Decimal("100.00"), currency="EUR", inventory_quantity=5, available=True)
    after = before.model_copy(update={"price": Decimal(now)})
    change = VariantChange(
        store_id=STORE, product_id=PRODUCT, variant_id=VARIANT, change_id="c", before=before, after=after, at=NOW
    )
    rule = PriceDropSettings(alert_message="drop", **settings)
    assert rule.tells(change, after, Decimal(seen) if seen else None) is told
