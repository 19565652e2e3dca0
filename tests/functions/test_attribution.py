"""Revenue attribution: a purchase within the store's window after the contact last clicked
(or opened) a Storeflows email counts as "ordered", with its total, for that email's
workflow and message. The last touch wins; each order counts once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from storeflows import reports
from storeflows.events import StoreEvent
from storeflows.events.purchase import PurchaseEvent
from storeflows.records import Attribution, Contact, Touch
from storeflows.storage import contacts
from storeflows_local.signing import purchase

EMAIL = "ana@example.com"
CLICKED_AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SENT_ON = date(2026, 11, 1)


def touch(at: datetime, message_id: str = "second-purchase-thanks") -> Touch:
    return Touch(
        at=at,
        workflow_id="targeted-post-purchase",
        message_id=message_id,
        sent_on=SENT_ON.isoformat(),
        ses_message_id=f"ses-{message_id}-{at.timestamp():.0f}",
    )


# --- the rule -----------------------------------------------------------------------------------


def contact_with(click: Touch | None = None, open_: Touch | None = None) -> Contact:
    return Contact(store_id="demo", email=EMAIL, last_click=click, last_open=open_)


@pytest.mark.parametrize(
    ("after", "attributed"),
    [
        (timedelta(0), True),
        (timedelta(days=4, hours=23), True),
        (timedelta(days=5), True),
        (timedelta(days=5, seconds=1), False),
        (timedelta(seconds=-1), False),
    ],
)
def test_a_purchase_counts_within_the_click_window_only(after, attributed):
    click = touch(CLICKED_AT)
    assert (Attribution().touch_for(contact_with(click), CLICKED_AT + after) == click) is attributed


def test_the_last_touch_wins_between_an_open_and_a_click():
    click, later_open = touch(CLICKED_AT, "clicked-one"), touch(CLICKED_AT + timedelta(days=1), "opened-one")

    assert Attribution().touch_for(contact_with(click, later_open), CLICKED_AT + timedelta(days=2)) == later_open


def test_opens_can_be_switched_off_for_mail_privacy_proxies():
    click, later_open = touch(CLICKED_AT, "clicked-one"), touch(CLICKED_AT + timedelta(days=1), "opened-one")
    clicks_only = Attribution(count_opens=False)

    assert clicks_only.touch_for(contact_with(click, later_open), CLICKED_AT + timedelta(days=2)) == click
    assert clicks_only.touch_for(contact_with(None, later_open), CLICKED_AT + timedelta(days=2)) is None


def test_each_window_is_its_own():
    opened = touch(CLICKED_AT)
    windows = Attribution(click_window="7d", open_window="1d")

    assert windows.touch_for(contact_with(None, opened), CLICKED_AT + timedelta(hours=23)) == opened
    assert windows.touch_for(contact_with(None, opened), CLICKED_AT + timedelta(days=2)) is None


# --- through the dispatcher ---------------------------------------------------------------------


@pytest.fixture
def dispatch(load_handler, demo_store, lambda_context):
    app = load_handler("dispatch")

    def deliver(
        order_id: str,
        at: datetime,
        *,
        total: str = "80.00",
        currency: str = "EUR",
        event_id: str | None = None,
        attribution: Attribution | None = None,
    ) -> None:
        body = purchase(order_id, EMAIL, total=total, currency=currency)
        body["occurred_at"] = at.isoformat()
        event = StoreEvent(
            store_id="demo",
            event_id=event_id or f"api:{order_id}",
            source="api",
            received_at=datetime.now(UTC),
            event=PurchaseEvent.model_validate(body),
            attribution=attribution or Attribution(),
        )
        record = {
            "messageId": event.event_id,
            "receiptHandle": "h",
            "body": event.model_dump_json(),
            "attributes": {},
            "messageAttributes": {},
            "md5OfBody": "0" * 32,
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
            "awsRegion": "us-east-1",
        }
        assert app.lambda_handler({"Records": [record]}, lambda_context) == {"batchItemFailures": []}

    return deliver


@pytest.fixture
def clicked(dispatch) -> Touch:
    """A contact (their first order) who then clicked the second-purchase thanks."""
    dispatch("A-1", CLICKED_AT - timedelta(days=1))
    click = touch(CLICKED_AT)
    assert contacts.record_touch("demo", EMAIL, "click", click)
    return click


def report_total():
    return reports.build_report("demo", SENT_ON, SENT_ON).total


def order_item(order_id: str) -> dict:
    return next(item for item in contacts.contact_history("demo", EMAIL) if item["sk"] == f"ORDER#{order_id}")


def test_a_purchase_after_a_click_is_ordered_revenue_of_that_message(dispatch, clicked):
    dispatch("A-2", CLICKED_AT + timedelta(days=2), total="129.90")

    (row,) = reports.build_report("demo", SENT_ON, SENT_ON).rows
    assert (row.workflow_id, row.message_id) == ("targeted-post-purchase", "second-purchase-thanks")
    assert row.counts["ordered"] == 1
    assert row.revenue == {"EUR": Decimal("129.90")}
    assert order_item("A-2")["attributed_to"]["message_id"] == "second-purchase-thanks"


def test_each_order_counts_once_even_when_delivered_again(dispatch, clicked):
    dispatch("A-2", CLICKED_AT + timedelta(days=2), event_id="api:first-delivery")
    dispatch("A-2", CLICKED_AT + timedelta(days=2), event_id="api:orders-paid-after-orders-create")

    assert report_total().counts["ordered"] == 1
    assert report_total().revenue == {"EUR": Decimal("80.00")}


def test_a_purchase_outside_the_window_is_not_attributed(dispatch, clicked):
    dispatch("A-2", CLICKED_AT + timedelta(days=6))

    assert report_total().counts["ordered"] == 0
    assert "attributed_to" not in order_item("A-2")


def test_the_store_window_travels_with_the_event(dispatch, clicked):
    dispatch("A-2", CLICKED_AT + timedelta(days=6), attribution=Attribution(click_window="7d"))

    assert report_total().counts["ordered"] == 1


def test_revenue_is_kept_per_currency(dispatch, clicked):
    dispatch("A-2", CLICKED_AT + timedelta(hours=1), total="100.00")
    dispatch("A-3", CLICKED_AT + timedelta(hours=2), total="10.50")
    dispatch("A-4", CLICKED_AT + timedelta(hours=3), total="45.00", currency="PLN")

    assert report_total().counts["ordered"] == 3
    assert report_total().revenue == {"EUR": Decimal("110.50"), "PLN": Decimal("45.00")}


# --- the windows as the CLI sets them ---------------------------------------------------------------


@pytest.mark.parametrize("written", ["5", 5])
def test_a_window_without_a_unit_is_refused_and_changes_nothing(aws, written):
    from storeflows.admin.errors import AdminError
    from storeflows.admin.stores import create_store, set_attribution
    from storeflows.storage import stores

    create_store("shop-1", "api")
    set_attribution("shop-1", open_window="2d")
    with pytest.raises(AdminError) as refused:
        set_attribution("shop-1", click_window=written)
    assert str(refused.value) == "click_window: 5 has no unit; write 10d, 12h, 30m or 45s"
    kept = stores.get_store("shop-1").attribution
    assert (kept.click_window, kept.open_window) == (5 * 86400, 2 * 86400), "stored windows read back as seconds"
    assert set_attribution("shop-1", click_window="7d").attribution == Attribution(click_window="7d", open_window="2d")
