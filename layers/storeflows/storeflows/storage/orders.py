"""Orders and sales: the purchase history of a contact (ORDER#<order>), deliveries and
cancellations, the attribution of an order to an email, and the daily sales counters behind
BESTSELLERS."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from boto3.dynamodb.conditions import Attr, Key

from storeflows.events.purchase import PurchaseEvent
from storeflows.records import Touch
from storeflows.storage import contacts, keys, reports
from storeflows.storage import dynamodb as db


def purchases_since(store_id: str, email: str, since: str) -> list[dict[str, Any]]:
    """The contact's orders made at or after `since` (ISO time) and not cancelled: each
    `order_id`, `occurred_at` and `items` (what a wishlist reminder leaves out, what tells a
    replenishment reminder the SKU was bought again). One Query of the contact's ORDER# items."""
    pages = db.query_pages(
        Key("pk").eq(keys.contact_pk(store_id, email)) & Key("sk").begins_with(keys.ORDER_PREFIX),
        FilterExpression=Attr("occurred_at").gte(since) & Attr("cancelled_at").not_exists(),
        ProjectionExpression="order_id, occurred_at, #items",
        ExpressionAttributeNames={"#items": "items"},
        ConsistentRead=True,
    )
    return [item for page in pages for item in page]


def record_purchase(store_id: str, event_id: str, purchase: PurchaseEvent) -> bool:
    """Adds the order to the contact's history and updates the profile, once per order.

    One transaction: the ORDER# item is written only if absent, and the profile update
    (counters, totals, latest name/language/country; created on a first purchase) happens
    with it or not at all. Returns False when the order was already recorded (orders/create
    followed by orders/paid, or a redelivery), in which case nothing changes. The same
    transaction checks that the address was never erased; one that was starts its profile
    from the erasure's suppression record first (contacts.start_profile), then the order is recorded
    without that check. The consent the order carries is kept on the ORDER# item: that is its
    place in the contact's consent history, and so are the contact's totals just before it
    (orders_count_before, total_spent_before, previous_order_at: one read before the
    transaction). A new order later than the previous one counts their interval for the
    store (median_repeat_interval)."""
    customer, order = purchase.customer, purchase.order
    occurred = purchase.occurred_at or db.now()
    occurred_at = db.utc_iso(occurred)
    now = db.utc_iso(db.now())
    table_name = db.table_name()
    # The profile as it was before this order (a transaction cannot return it): kept on the
    # order, so what a workflow decides from it (vip's threshold crossing) is the same at
    # every delivery of the order, and the interval since the previous order is counted.
    before = _totals_before(store_id, customer.email)

    profile_values: dict[str, Any] = db.drop_none(
        {
            "store_id": store_id,
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "language": customer.language,
            "country": customer.country,
            "last_order_at": occurred_at,
            "updated_at": now,
        }
    )
    # An order older than the latest on record (its webhook came late) leaves last_order_at
    # at the latest: the runs that end on a purchase compare with it (win_back's own order).
    later_on_record = before["last_order_at"] is not None and before["last_order_at"] > occurred_at
    set_clauses = [f"#{name} = :{name}" for name in profile_values if not (name == "last_order_at" and later_on_record)]
    set_clauses += [
        "#score = if_not_exists(#score, :zero)",
        "#first_order_at = if_not_exists(#first_order_at, :last_order_at)",
        "#created_at = if_not_exists(#created_at, :updated_at)",
    ]
    names = {
        f"#{name}": name
        for name in [*profile_values, "score", "first_order_at", "created_at", "orders_count", "total_spent"]
        if not (name == "last_order_at" and later_on_record)
    }
    values = {f":{name}": value for name, value in profile_values.items()}
    values.update({":zero": 0, ":one": 1, ":total": order.total})

    order_item = {
        **keys.order_key(store_id, customer.email, order.id),
        "order_id": order.id,
        "event_id": event_id,
        "total": order.total,
        "currency": order.currency,
        "occurred_at": occurred_at,
        "items": [db.drop_none(item.model_dump()) for item in order.items],
        **db.drop_none({"marketing_consent": customer.accepts_marketing}),
        "orders_count_before": before["orders_count"],
        "total_spent_before": before["total_spent"],
        **db.drop_none({"previous_order_at": before["last_order_at"]}),
    }
    transaction = [
        {
            "Put": {
                "TableName": table_name,
                "Item": db.serialize(order_item),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {
            "Update": {
                "TableName": table_name,
                "Key": db.serialize(keys.contact_key(store_id, customer.email)),
                "UpdateExpression": "SET " + ", ".join(set_clauses) + " ADD #orders_count :one, #total_spent :total",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": db.serialize(values),
            }
        },
    ]
    never_erased = {
        "ConditionCheck": {
            "TableName": table_name,
            "Key": db.serialize(keys.suppression_key(store_id, customer.email)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    failed = db.failed_items([*transaction, never_erased])
    if failed == {2}:
        contacts.start_profile(store_id, customer.email)
        failed = db.failed_items(transaction)
    if 0 in failed:
        return False
    _count_sales(store_id, purchase)
    if before["last_order_at"] is not None and before["last_order_at"] < occurred_at:
        _count_repeat_interval(store_id, datetime.fromisoformat(before["last_order_at"]), occurred)
    if customer.accepts_marketing is not None:
        contacts.record_consent(
            store_id,
            customer.email,
            marketing=customer.accepts_marketing,
            source=f"order:{order.id}",
            at=occurred,
            history=False,
        )
    return True


def _totals_before(store_id: str, email: str) -> dict[str, Any]:
    """orders_count, total_spent and last_order_at of the contact now (0, 0, None for a new one).
    Two orders of one contact recorded in the same instant may both see the same figures."""
    item = (
        db.table()
        .get_item(
            Key=keys.contact_key(store_id, email),
            ProjectionExpression="orders_count, total_spent, last_order_at",
            ConsistentRead=True,
        )
        .get("Item")
        or {}
    )
    return {
        "orders_count": int(item.get("orders_count", 0)),
        "total_spent": Decimal(item.get("total_spent", 0)),
        "last_order_at": item.get("last_order_at"),
    }


def order_record(store_id: str, email: str, order_id: str) -> dict[str, Any] | None:
    """The contact's ORDER# item as recorded (read consistently: it was written a moment ago)."""
    return db.table().get_item(Key=keys.order_key(store_id, email, order_id), ConsistentRead=True).get("Item")


# The store's repeat intervals: one store-level item counting, per whole day, how many
# times a customer's order came that many days after their previous one (`d<days>`; longer
# than MAX_INTERVAL_DAYS counts there). A median needs the distribution, not an average; a
# day's resolution is what a wait of weeks needs, and the item stays under 20 KB.
MAX_INTERVAL_DAYS = 730


def _count_repeat_interval(store_id: str, previous: datetime, occurred: datetime) -> None:
    days = min(int((occurred - previous).total_seconds() // 86400), MAX_INTERVAL_DAYS)
    db.table().update_item(
        Key=keys.repeat_intervals_key(store_id),
        UpdateExpression="ADD #day :one, intervals :one",
        ExpressionAttributeNames={"#day": f"d{days}"},
        ExpressionAttributeValues={":one": 1},
    )


def median_repeat_interval(store_id: str) -> tuple[int | None, int]:
    """(the median number of days between a customer's consecutive orders in this store, how
    many such intervals were counted); the median is None when none were."""
    item = db.table().get_item(Key=keys.repeat_intervals_key(store_id)).get("Item") or {}
    counts = sorted(
        (int(name[1:]), int(count)) for name, count in item.items() if name[:1] == "d" and name[1:].isdigit()
    )
    total = sum(count for _, count in counts)
    if not total:
        return None, 0
    seen = 0
    for days, count in counts:
        seen += count
        # The lower median (an interval that happened), as a whole number of days.
        if 2 * seen >= total:
            return days, total
    return counts[-1][0], total


# Sales counters feed the BESTSELLERS block. They are written after the order transaction,
# not in it: a crash in between loses one order's units from a ranking, never an order.
SALES_TTL_DAYS = 400
# One UpdateItem per product: an order of thousands of distinct products (the largest body
# the intake accepts holds about 3,000) counts its most-bought ones only, so recording it
# stays far inside the dispatcher's timeout. A ranking of best sellers loses nothing a
# shop would see.
MAX_PRODUCTS_COUNTED_PER_ORDER = 50


def _count_sales(store_id: str, purchase: PurchaseEvent) -> None:
    occurred = purchase.occurred_at or db.now()
    day = occurred.astimezone(UTC).date().isoformat()
    expires = int(occurred.timestamp()) + SALES_TTL_DAYS * 86400
    units: dict[str, int] = {}
    names: dict[str, str] = {}
    for item in purchase.order.items:
        if item.sku:
            units[item.sku] = units.get(item.sku, 0) + item.quantity
            names.setdefault(item.sku, item.name or item.sku)
    counted = sorted(units, key=lambda sku: (-units[sku], sku))[:MAX_PRODUCTS_COUNTED_PER_ORDER]
    for sku in counted:
        db.table().update_item(
            Key=keys.sales_key(store_id, day, sku),
            UpdateExpression="ADD units :quantity SET sku = :sku, #name = :name, #ttl = :expires",
            ExpressionAttributeNames={"#name": "name", "#ttl": keys.EXPIRES_AT},
            ExpressionAttributeValues={":quantity": units[sku], ":sku": sku, ":name": names[sku], ":expires": expires},
        )


def best_sellers(
    store_id: str, *, days: int, count: int, excluding: AbstractSet[str] = frozenset(), today: datetime | None = None
) -> list[dict[str, Any]]:
    """The store's most sold products over the last `days` days (by units), best first."""
    end = (today or db.now()).astimezone(UTC).date()
    units: dict[str, int] = {}
    names: dict[str, str] = {}
    for offset in range(days):
        day = (end - timedelta(days=offset)).isoformat()
        for page in db.query_pages(Key("pk").eq(keys.sales_pk(store_id, day))):
            for item in page:
                if item["sku"] in excluding:
                    continue
                units[item["sku"]] = units.get(item["sku"], 0) + int(item["units"])
                names.setdefault(item["sku"], item.get("name", item["sku"]))
    ranked = sorted(units, key=lambda sku: (-units[sku], sku))[:count]
    return [{"sku": sku, "name": names[sku], "units": units[sku]} for sku in ranked]


def mark_order_delivered(store_id: str, email: str, order_id: str, at: datetime) -> bool:
    """Stamps the delivery on a recorded order (first report wins); a care series waiting for
    it moves on at its next check. False when the order is unknown."""
    return (
        db.if_condition_holds(
            db.table().update_item,
            Key=keys.order_key(store_id, email, order_id),
            UpdateExpression="SET delivered_at = if_not_exists(delivered_at, :at)",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":at": db.utc_iso(at)},
        )
        is not None
    )


def order_items(store_id: str, email: str, order_id: str) -> list[dict[str, Any]]:
    """The recorded order's lines (none when it was never recorded as a purchase)."""
    item = (
        db.table()
        .get_item(
            Key=keys.order_key(store_id, email, order_id),
            ProjectionExpression="#items",
            ExpressionAttributeNames={"#items": "items"},
        )
        .get("Item")
    )
    return list((item or {}).get("items", []))


def order_cancelled(store_id: str, email: str, order_id: str) -> bool:
    """Whether the store cancelled this order (read consistently: a cancellation may have been
    recorded a moment ago)."""
    item = (
        db.table()
        .get_item(
            Key=keys.order_key(store_id, email, order_id), ProjectionExpression="cancelled_at", ConsistentRead=True
        )
        .get("Item")
    )
    return item is not None and "cancelled_at" in item


Cancelled = Literal["cancelled", "cancelled_before_recorded", "already_cancelled"]


def cancel_order(
    store_id: str, email: str, order_id: str, *, at: datetime, reason: str | None, event_id: str
) -> Cancelled:
    """Marks the order cancelled, once; a purchase of it is never recorded or counted again.

    A recorded order is stamped (cancelled_at, cancel_reason) and leaves the contact's
    orders_count and total_spent in one transaction, so the totals say what the contact
    bought; its tags, score, sales counters and attribution stay as they are. An order not
    recorded yet (Shopify delivers webhooks in any order; a pending order is no purchase yet)
    is written as a cancelled ORDER# item holding no purchase: the purchase that may still
    arrive then finds it, records nothing and starts no runs."""
    key = keys.order_key(store_id, email, order_id)
    stamp = db.drop_none({"cancelled_at": db.utc_iso(at), "cancel_reason": reason, "cancel_event_id": event_id})
    item = db.table().get_item(Key=key, ConsistentRead=True).get("Item")
    if item is None:
        if db.if_condition_holds(
            db.table().put_item,
            Item={**key, "order_id": order_id, **stamp},
            ConditionExpression="attribute_not_exists(pk)",
        ):
            return "cancelled_before_recorded"
        # The purchase was recorded in between.
        item = db.table().get_item(Key=key, ConsistentRead=True)["Item"]
    if "cancelled_at" in item:
        return "already_cancelled"
    failed = db.failed_items(
        [
            {
                "Update": {
                    "TableName": db.table_name(),
                    "Key": db.serialize(key),
                    "UpdateExpression": "SET " + ", ".join(f"#{name} = :{name}" for name in stamp),
                    "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(cancelled_at)",
                    "ExpressionAttributeNames": {f"#{name}": name for name in stamp},
                    "ExpressionAttributeValues": db.serialize({f":{name}": value for name, value in stamp.items()}),
                }
            },
            {
                "Update": {
                    "TableName": db.table_name(),
                    "Key": db.serialize(keys.contact_key(store_id, email)),
                    "UpdateExpression": "ADD orders_count :minus_one, total_spent :minus_total",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": db.serialize({":minus_one": -1, ":minus_total": -item["total"]}),
                }
            },
        ]
    )
    # Failed: another delivery of the cancellation stamped it first (or the contact was
    # erased meanwhile, leaving nothing to count the order in).
    return "already_cancelled" if failed else "cancelled"


def attribute_order(store_id: str, email: str, order_id: str, *, total: Decimal, currency: str, touch: Touch) -> bool:
    """Credits a recorded order to the email the contact last touched: stamps the order and
    adds it (one order, its total in revenue_<currency>) to that email's report row, in one
    transaction. False when the order was attributed already."""
    order = {
        "Update": {
            "TableName": db.table_name(),
            "Key": db.serialize(keys.order_key(store_id, email, order_id)),
            "UpdateExpression": "SET attributed_to = :touch",
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(attributed_to)",
            "ExpressionAttributeValues": db.serialize(
                {":touch": {**touch.model_dump(mode="json"), "at": db.utc_iso(touch.at)}}
            ),
        }
    }
    counters: dict[str, int | Decimal] = {"ordered": 1, f"{reports.REVENUE_PREFIX}{currency}": total}
    return not db.failed_items(
        [order, reports.count_in_report(store_id, touch.sent_on, touch.workflow_id, touch.message_id, counters)]
    )
