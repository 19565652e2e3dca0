"""What the store's orders say about its products, kept as orders are recorded: which products
are bought together (the thank-you upsell's fallback when the catalogue names no related
products) and how long a unit of a SKU lasts the contacts who buy it again (replenishment's
fallback when the catalogue gives no usage cycle).

Both are counts: no contact, order or address is in them, so they are not personal data and an
erasure leaves them as they are (as it leaves the daily sales counters).

Bought together: one item per product (BOUGHTWITH#<store>#<product>), one number attribute per
product bought with it (`with:<product>` = in how many orders). "The products most often bought
with X" is one GetItem; an order of P distinct products costs P UpdateItems (at most
MAX_PRODUCTS_PAIRED_PER_ORDER), each adding 1 to up to P-1 counts. An item gains an attribute
only for a product never bought with it before; one that reached DynamoDB's 400 KB (about
10,000 partners) keeps its counts and learns no new partner (logged).

Repeat intervals: one item per SKU (REPEATS#<store>#<sku>), a histogram of days per unit
(`d<days>` = how many repeat purchases showed that interval) and `n`, their number. When a
contact buys a SKU they bought before, the days since that earlier order, divided by the
quantity bought then, add one to the histogram: one UpdateItem per such SKU (at most
MAX_SKUS_TIMED_PER_ORDER), after one Query of the contact's orders. The median is read with
one GetItem."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from storeflows.events.common import Order
from storeflows.storage import dynamodb as db
from storeflows.storage import keys

MAX_PRODUCTS_PAIRED_PER_ORDER = 20
MAX_SKUS_TIMED_PER_ORDER = 50
MAX_DAYS_PER_UNIT = 3650
PARTNER_PREFIX = "with:"
DAYS_PREFIX = "d"


def count_bought_together(store_id: str, product_ids: Iterable[str]) -> list[str]:
    """Adds one order's products to each other's counts (one UpdateItem each); returns those
    whose item is full (they learned no new partner)."""
    products = sorted(set(product_ids))[:MAX_PRODUCTS_PAIRED_PER_ORDER]
    if len(products) < 2:
        return []
    full = []
    for product in products:
        partners = [other for other in products if other != product]
        names = {f"#p{index}": f"{PARTNER_PREFIX}{other}" for index, other in enumerate(partners)}
        try:
            db.table().update_item(
                Key=keys.bought_with_key(store_id, product),
                UpdateExpression="ADD " + ", ".join(f"{name} :one" for name in names),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":one": 1},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ValidationException":
                raise
            # The item reached DynamoDB's size limit: its counts stay as they are.
            full.append(product)
    return full


def bought_with(store_id: str, product_ids: Iterable[str]) -> dict[str, int]:
    """Product id -> in how many orders it was bought with any of these products (summed)."""
    wanted = [keys.bought_with_key(store_id, product) for product in sorted(set(product_ids))]
    counts: dict[str, int] = {}
    for item in db.read_together(wanted).values():
        for name, value in item.items():
            if name.startswith(PARTNER_PREFIX):
                partner = name.removeprefix(PARTNER_PREFIX)
                counts[partner] = counts.get(partner, 0) + int(value)
    return counts


def time_repeat_purchases(store_id: str, email: str, order: Order, occurred_at: datetime) -> int:
    """For each SKU of the order that the contact bought in an earlier order (not cancelled),
    one interval (days per unit of that earlier purchase) into the SKU's histogram; the
    UpdateItems it made."""
    skus = sorted({item.sku for item in order.items if item.sku})[:MAX_SKUS_TIMED_PER_ORDER]
    if not skus:
        return 0
    moment = db.utc_iso(occurred_at)
    pages = db.query_pages(
        Key("pk").eq(keys.contact_pk(store_id, email)) & Key("sk").begins_with(keys.ORDER_PREFIX),
        FilterExpression=Attr("occurred_at").lt(moment) & Attr("cancelled_at").not_exists(),
        ProjectionExpression="order_id, occurred_at, #items",
        ExpressionAttributeNames={"#items": "items"},
    )
    # SKU -> (when, quantity) of the latest earlier order holding it.
    latest: dict[str, tuple[str, int]] = {}
    for page in pages:
        for earlier in page:
            if earlier.get("order_id") == order.id:
                continue
            for item in earlier.get("items", []):
                sku = item.get("sku")
                if sku in skus and (sku not in latest or earlier["occurred_at"] > latest[sku][0]):
                    latest[sku] = (earlier["occurred_at"], int(item.get("quantity", 1)))
    written = 0
    for sku, (when, quantity) in sorted(latest.items()):
        days = (occurred_at - datetime.fromisoformat(when)).total_seconds() / 86400 / max(quantity, 1)
        if days < 1:
            continue  # an order split in two, not a repeat
        db.table().update_item(
            Key=keys.sku_repeat_intervals_key(store_id, sku),
            UpdateExpression="ADD #days :one, #n :one SET sku = :sku",
            ExpressionAttributeNames={"#days": f"{DAYS_PREFIX}{min(round(days), MAX_DAYS_PER_UNIT)}", "#n": "n"},
            ExpressionAttributeValues={":one": 1, ":sku": sku},
        )
        written += 1
    return written


def repeat_interval_days(store_id: str, sku: str, *, at_least: int) -> float | None:
    """The median days per unit between a contact's consecutive purchases of the SKU, once at
    least `at_least` are known; else None."""
    item = db.table().get_item(Key=keys.sku_repeat_intervals_key(store_id, sku)).get("Item")
    if item is None or int(item.get("n", 0)) < max(at_least, 1):
        return None
    return median_of_histogram(
        {int(name[len(DAYS_PREFIX) :]): int(value) for name, value in item.items() if _is_days(name)}
    )


def _is_days(name: str) -> bool:
    return name.startswith(DAYS_PREFIX) and name[len(DAYS_PREFIX) :].isdigit()


def median_of_histogram(counts: dict[int, int]) -> float | None:
    """The median of values given as value -> how many times (the mean of the middle two when
    their number is even)."""
    total = sum(counts.values())
    if total == 0:
        return None
    middle = [(total - 1) // 2, total // 2]
    found: list[int] = []
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        while middle and middle[0] < seen:
            found.append(value)
            middle.pop(0)
    return sum(found) / 2
