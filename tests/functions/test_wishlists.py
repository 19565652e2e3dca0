"""The wishlist (storage.wishlists) through the dispatcher, and what a reminder shows of it
(events.subjects.WishlistSubject): products added and removed, a run asked for per add (the
state machine keeps one at a time), a full wishlist, an erasure; the view leaves out what
was removed or bought since it was added, and nothing left is an empty view."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from pydantic import TypeAdapter

from storeflows import dispatch, privacy
from storeflows.events import EventBody, StoreEvent
from storeflows.events.subjects import WishlistSubject
from storeflows.storage import keys, wishlists
from storeflows.workflows import Workflow, WorkflowStatus
from storeflows.workflows.templates.wishlist_reminder import WishlistReminderSettings

ANA = "ana@example.com"
_bodies: TypeAdapter[Any] = TypeAdapter(EventBody)


def deliver(event_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return dispatch.dispatch_event(
        StoreEvent(
            store_id="demo",
            event_id=event_id,
            source="api",
            received_at=datetime.now(UTC),
            event=_bodies.validate_python(body),
        )
    )


def wishlist(kind: str, product: dict[str, Any], email: str = ANA) -> dict[str, Any]:
    return {"type": f"wishlist_{kind}", "customer": {"email": email}, "product": product}


def wishlist_runs(aws) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions")
    machine = aws.state_machine_arn.removesuffix("targeted_post_purchase") + "wishlist_reminder"
    return sfn.list_executions(stateMachineArn=machine)["executions"]


def publish_reminder() -> None:
    from storeflows.storage import workflows

    workflows.put_workflow(
        Workflow(
            store_id="demo",
            workflow_id="wishlist",
            status=WorkflowStatus.PUBLISHED,
            settings=WishlistReminderSettings(reminder_message="second-purchase-thanks"),
        )
    )


def test_adds_keep_the_products_and_ask_for_a_run_removals_take_them_off(aws, demo_store):
    publish_reminder()
    dress = {"product_id": "p-1", "name": "Venise dress", "price": "129.90", "url": "https://shop.example.com/v"}
    outcome = deliver("api:1", wishlist("added", dress))
    assert outcome["wishlist"] == "added" and outcome["runs_started"] == ["wishlist"]
    deliver("api:2", wishlist("added", {"sku": "BAG-1", "name": "Linen bag"}))
    assert len(wishlist_runs(aws)) == 2, "one per add: the state machine lets the first hold the wishlist"
    assert deliver("api:3", wishlist("removed", {"sku": "BAG-1"}))["wishlist"] == "removed"
    assert deliver("api:4", wishlist("removed", {"sku": "BAG-1"}))["wishlist"] == "not_on_it"
    (item,) = [i for i in aws.items(keys.contact_pk("demo", ANA)) if i["sk"] == "WISHLIST"]
    view = WishlistSubject(started_by="api:1").view(item)
    assert [entry["name"] for entry in view.context["wishlist"]["items"]] == ["Venise dress"]
    assert item["adds"] == 2 and item["products"] == {"p-1"}
    assert deliver("api:5", wishlist("added", {"name": "No id"}))["wishlist"] == "product_unnamed"


def test_a_full_wishlist_takes_no_more_products(aws, demo_store, monkeypatch):
    monkeypatch.setattr(wishlists, "MAX_ITEMS", 2)
    for n in range(2):
        assert deliver(f"api:{n}", wishlist("added", {"product_id": f"p-{n}"}))["wishlist"] == "added"
    assert deliver("api:x", wishlist("added", {"product_id": "p-9"}))["wishlist"] == "full"
    assert deliver("api:y", wishlist("added", {"product_id": "p-1", "name": "again"}))["wishlist"] == "added"


def test_an_erasure_deletes_the_wishlist(aws, demo_store):
    deliver("api:1", wishlist("added", {"product_id": "p-1"}))
    privacy.erase_contact("demo", ANA, via="test")
    assert aws.items(keys.contact_pk("demo", ANA)) == []


def test_the_view_leaves_out_what_was_bought_after_it_was_added():
    record = {
        "item:p-1": {"product_id": "p-1", "name": "Dress", "added_at": "2026-12-01T10:00:00+00:00"},
        "item:BAG": {"sku": "BAG", "name": "Bag", "added_at": "2026-12-02T10:00:00+00:00"},
        "item:p-3": {"product_id": "p-3", "name": "Hat", "added_at": "2026-12-03T10:00:00+00:00"},
    }
    purchases = [
        # Bought after it went on the wishlist: left out.
        {"occurred_at": "2026-12-04T09:00:00+00:00", "items": [{"product_id": "p-1", "sku": "X"}]},
        {"occurred_at": "2026-12-04T09:00:00+00:00", "items": [{"sku": "BAG"}]},
        # Bought before it was put on the wishlist again: still wished for.
        {"occurred_at": "2026-12-02T09:00:00+00:00", "items": [{"product_id": "p-3"}]},
    ]
    subject = WishlistSubject(started_by="api:1")
    assert subject.oldest(record) == "2026-12-01T10:00:00+00:00"
    view = subject.view(record, purchases)
    assert [item["name"] for item in view.context["wishlist"]["items"]] == ["Hat"]
    assert not view.empty
    assert subject.view(record, [*purchases, {"occurred_at": "2026-12-05", "items": [{"product_id": "p-3"}]}]).empty
    assert subject.view(None).empty
