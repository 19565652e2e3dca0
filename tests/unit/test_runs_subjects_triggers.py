"""What a run is about and what starts it: subjects, triggers, the template registry and the
run input the dispatcher builds, without AWS."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import get_args

import pytest
from pydantic import TypeAdapter, ValidationError

from storeflows.events import API_EVENT_TYPES, BROWSER_EVENT_TYPES, EVENT_TYPES, EventBody, StoreEvent, type_name
from storeflows.events.consent import ConsentEvent
from storeflows.events.purchase import PurchaseEvent
from storeflows.events.subjects import EventSubject, OrderSubject, RunSubject, SubjectView, describe_key
from storeflows.storage import keys
from storeflows.workflows import Workflow, WorkflowStatus
from storeflows.workflows.runs import run_input, run_name
from storeflows.workflows.templates import EVENTS_STARTING_RUNS, TEMPLATES, WorkflowSettings
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.triggers import EventTrigger, PurchaseTrigger, ScheduleTrigger, Trigger

TRIGGER = TypeAdapter(Trigger)
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def purchase(order_id: str = "1001", *items: dict) -> PurchaseEvent:
    return PurchaseEvent.model_validate(
        {
            "type": "purchase",
            "order": {"id": order_id, "total": "49.90", "currency": "EUR", "items": list(items)},
            "customer": {"email": "ana@example.com"},
        }
    )


def consent() -> ConsentEvent:
    return ConsentEvent.model_validate({"type": "consent", "marketing": True, "customer": {"email": "ana@example.com"}})


def store_event(body: EventBody, event_id: str = "api:e1") -> StoreEvent:
    return StoreEvent(store_id="shop", event_id=event_id, source="api", received_at=NOW, event=body)


# --- subjects --------------------------------------------------------------------------------


def test_an_orders_run_keeps_the_name_and_keys_runs_had_before_subjects():
    """Run names hashed (store, order, workflow), SEND# keys held the bare order id: a subject
    of an order keys as its bare id, so runs and records made before stay found."""
    subject = purchase("1001").run_subject("api:e1")
    assert subject == OrderSubject(order_id="1001")
    assert subject.key == "1001"
    assert run_name("shop", subject.key, "wf") == "shop-wf-" + hashlib.sha256(b"shop\x1f1001\x1fwf").hexdigest()[:40]


def test_a_run_about_an_event_is_keyed_by_the_event_so_a_redelivery_finds_it():
    subject = consent().run_subject("api:e7")
    assert subject == EventSubject(event_type="consent", event_id="api:e7")
    assert subject.key == "event:api:e7"
    assert subject.record_key("shop", "ana@example.com") is None
    assert subject.view(None) == SubjectView()


def test_subjects_travel_as_a_union_on_their_type():
    adapter = TypeAdapter(RunSubject)
    for subject in (purchase().run_subject("e"), consent().run_subject("e")):
        assert adapter.validate_python(subject.model_dump(mode="json")) == subject


def test_a_run_about_an_order_carries_its_id_and_shows_the_order_as_recorded():
    """The run input holds the order's id only (inputs stay small whatever the order's size);
    the send step reads the contact's ORDER# item with the rest of its context."""
    subject = purchase("7", {"sku": "DRESS", "name": "Dress", "price": "49.90"}, {"name": "Gift wrap"}).run_subject("e")
    # As the run input carries it (SendRun is dumped without unset fields).
    assert subject.model_dump(exclude_none=True) == {"type": "order", "order_id": "7"}
    assert subject.record_key("shop", "ana@example.com") == keys.order_key("shop", "ana@example.com", "7")
    recorded = {
        "order_id": "7",
        "total": Decimal("49.90"),
        "currency": "EUR",
        "items": [
            {"sku": "DRESS", "name": "Dress", "quantity": Decimal(1), "price": Decimal("49.90")},
            {"name": "Gift wrap", "quantity": Decimal(1)},
        ],
    }
    view = subject.view(recorded)
    assert view.context["order"]["id"] == "7" and view.context["order"]["items"][0]["quantity"] == 1
    assert view.purchased_skus == {"DRESS"}
    assert subject.view(None) == SubjectView(), "no order recorded: nothing to show"
    assert "review_url" not in view.context["order"]["items"][0], "only review_request's runs add review links"


def test_a_review_request_shows_each_item_its_review_link_or_none_without_the_value_it_needs():
    subject = OrderSubject(order_id="7/A", review_url="https://shop.example/p/{product_id}/reviews?order={order_id}")
    recorded = {
        "order_id": "7/A",
        "total": Decimal("49.90"),
        "currency": "EUR",
        "items": [{"sku": "DRESS", "product_id": "p 1", "quantity": Decimal(1)}, {"name": "Gift wrap"}],
    }
    items = subject.view(recorded).context["order"]["items"]
    assert items[0]["review_url"] == "https://shop.example/p/p%201/reviews?order=7%2FA"
    assert items[1]["review_url"] is None, "an item without a product id gets no link rather than a broken one"


@pytest.mark.parametrize(
    ("key", "words"), [("1001", "order 1001"), ("event:api:x", "event api:x"), ("A:1", "order A:1")]
)
def test_a_subject_key_in_words(key, words):
    assert describe_key(key) == words


def test_privacy_requests_never_start_a_run():
    from storeflows.events.privacy import ErasureRequest

    assert ErasureRequest(type="erasure", customer={"email": "ana@example.com"}).run_subject("e") is None


# --- events ----------------------------------------------------------------------------------


STOREFRONT_TYPES = [
    "checkout_started",
    "cart_updated",
    "product_viewed",
    "category_viewed",
    "page_viewed",
    "search",
    "wishlist_added",
    "wishlist_removed",
]


def test_every_event_type_is_in_the_union_once_and_the_api_takes_the_non_privacy_ones():
    names = [type_name(cls) for cls in EVENT_TYPES]
    assert names == [
        *["purchase", "consent", "delivered", "cancelled", "erasure", "data_request"],
        *STOREFRONT_TYPES,
        *["subscribed", "subscription_requested", "identify"],
        "session_check",
        "back_in_stock_requested",
        *["product", "product_deleted", "inventory_level"],
        "customer_facts",
    ]
    # session_check is the dispatcher's own (storeflows.sessions): nobody outside sends it;
    # inventory_level is Shopify's per-location stock (the API's product gives it whole);
    # customer_facts is Shopify's customer metafields (the API's customer gives the birthday).
    assert sorted(API_EVENT_TYPES) == sorted(
        set(names) - {"erasure", "data_request", "session_check", "inventory_level", "customer_facts"}
    )


def test_the_browser_may_send_behaviour_never_a_purchase_a_consent_or_a_confirmed_subscription():
    assert sorted(BROWSER_EVENT_TYPES) == sorted(
        [*STOREFRONT_TYPES, "subscription_requested", "identify", "back_in_stock_requested"]
    )


def test_the_queue_message_carries_its_event_under_one_field_parsed_by_type():
    event = store_event(consent())
    parsed = StoreEvent.model_validate_json(event.model_dump_json())
    assert isinstance(parsed.event, ConsentEvent) and parsed.event.marketing is True


# --- triggers --------------------------------------------------------------------------------


def test_a_trigger_written_without_a_type_is_a_purchase_trigger_as_before():
    assert TRIGGER.validate_python({"skus": ["DRESS"]}) == PurchaseTrigger(skus=["DRESS"])
    assert TRIGGER.validate_python({}) == PurchaseTrigger()


def test_a_purchase_trigger_matches_purchases_of_its_products_only():
    dress = PurchaseTrigger(skus=["DRESS"])
    assert dress.matches(purchase("1", {"sku": "DRESS"}))
    assert not dress.matches(purchase("1", {"sku": "SCARF"}))
    assert PurchaseTrigger(categories=["shoes"]).matches(purchase("1", {"category": "shoes"}))
    assert PurchaseTrigger().matches(purchase()) and not PurchaseTrigger().matches(consent())


def test_an_event_trigger_matches_its_event_type_and_never_a_privacy_request():
    trigger = TRIGGER.validate_python({"type": "event", "event": "consent"})
    assert isinstance(trigger, EventTrigger)
    assert trigger.matches(consent()) and not trigger.matches(purchase())
    with pytest.raises(ValidationError):
        TRIGGER.validate_python({"type": "event", "event": "erasure"})


def test_a_schedule_trigger_matches_no_event_and_takes_no_settings():
    trigger = TRIGGER.validate_python({"type": "schedule"})
    assert isinstance(trigger, ScheduleTrigger)
    assert not trigger.matches(purchase())
    with pytest.raises(ValidationError):
        TRIGGER.validate_python({"type": "schedule", "timezone": "Europe/Warsaw"})


def test_only_the_event_types_some_template_takes_make_the_dispatcher_read_workflows():
    """Purchases, checkouts, carts, confirmed sign-ups, wishlist additions and the dispatcher's
    session checks start runs: a consent, a delivered event or a page view costs no read of the
    store's workflows."""
    assert EVENTS_STARTING_RUNS == {
        "purchase",
        "checkout_started",
        "cart_updated",
        "session_check",
        "subscribed",
        "wishlist_added",
    }


# --- templates -------------------------------------------------------------------------------


def test_the_registry_and_the_settings_union_list_the_same_templates():
    union = get_args(get_args(WorkflowSettings)[0])
    assert list(TEMPLATES.values()) == list(union)
    for name, cls in TEMPLATES.items():
        assert issubclass(cls, TemplateSettings)
        assert cls.model_fields["template"].default == name
        assert cls.description and not cls.description.startswith("Template ")


def test_the_run_input_carries_one_ready_made_send_request_and_the_subject_key():
    workflow = Workflow(
        store_id="shop",
        workflow_id="value",
        status=WorkflowStatus.PUBLISHED,
        settings={
            "template": "order_value",
            "tiers": [{"min_total": "0", "message": "thanks"}],
            "not_more_often_than": "7d",
        },
    )
    event = store_event(purchase("1001"))
    started = run_input(event, workflow, event.event.run_subject(event.event_id), event.event.customer.email)
    assert started["subject_key"] == "1001"
    assert started["send"] == {
        "store_id": "shop",
        "workflow_id": "value",
        "email": "ana@example.com",
        "subject": {"type": "order", "order_id": "1001"},
        "frequency_cap_seconds": 7 * 86400,
    }
    assert started["tier_message"] == "thanks"
    assert "order" not in started, "the order travels once, inside the send request"
