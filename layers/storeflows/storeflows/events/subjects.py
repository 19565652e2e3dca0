"""What a workflow run is about: its subject. A run is (store, workflow, subject).

The subject's `key` names the run (workflows.runs.run_name) and its records on the contact
(SEND#<workflow>#<key>#<step>, ACTIVE#<workflow>#<key>); its `view` of the item `record_key`
names (read when a message is sent) is what a message template sees of it. An order's key
is its bare id, as every run name and record before subjects had it, so those stay valid.
Other kinds of subject key as "<type>:<id>" (a cart, a product, a date); the storefront and
catalogue flows add theirs here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from storeflows.events.common import Order
from storeflows.storage import keys


@dataclass(frozen=True)
class ProductBought:
    """A product (any of its variants) bought at or after `since`: what the recipient of a
    catalogue alert must not have done since their interest in it."""

    product_id: str
    skus: frozenset[str]
    since: datetime

    def in_order(self, order: dict[str, Any]) -> bool:
        """Whether a purchase (storage.orders.purchases_since) holds the product."""
        return any(
            item.get("product_id") == self.product_id or (item.get("sku") and item.get("sku") in self.skus)
            for item in order.get("items", [])
        )


@dataclass(frozen=True)
class SubjectView:
    """What a message template sees of a run's subject (`context`, e.g. {"order": {...}}),
    what BESTSELLERS leaves out (what the contact just bought), and whether the store has
    cancelled it since the run started (then nothing more is sent about it)."""

    context: dict[str, Any] = field(default_factory=dict)
    purchased_skus: frozenset[str] = frozenset()
    cancelled: bool = False
    # A run about something the contact may still act on (a site session): nothing is sent
    # once the contact bought since this moment (the profile's last_order_at)...
    not_bought_since: datetime | None = None
    # ...or for this reason (a records.SKIP_REASONS name) the subject's record gives.
    skip_reason: str | None = None
    # Nothing left to send about (a wishlist whose products were all removed or bought).
    empty: bool = False
    # A catalogue alert: nothing is sent to a contact who bought this product since.
    product_not_bought: ProductBought | None = None

    @classmethod
    def of_order(cls, order: Order) -> SubjectView:
        return cls({"order": order.model_dump()}, frozenset(item.sku for item in order.items if item.sku))


SAMPLE_ORDER = Order(
    id="SAMPLE-1001",
    total=Decimal("129.90"),
    currency="EUR",
    items=[{"sku": "SAMPLE-SKU", "name": "Sample product", "category": "sample", "quantity": 1, "price": "129.90"}],
)
"""The order a preview shows a contact with none on record, and messages are checked with."""


def order_from_record(record: dict[str, Any]) -> Order:
    """An order as the contact's ORDER# item records it."""
    return Order.model_validate(
        {
            "id": record["order_id"],
            "total": record["total"],
            "currency": record["currency"],
            "items": record.get("items", []),
        }
    )


class OrderSubject(BaseModel):
    """A run about one order: every purchase flow. The run carries the order's id only, so
    a run input stays small whatever the order's size (Step Functions refuses inputs over
    256 KB); the send step reads the order recorded on the contact (ORDER#)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["order"] = "order"
    order_id: str
    # review_request's pattern of a product's review page (templates.review_request): each
    # item of the order a message sees gets its `review_url` from it.
    review_url: str | None = None

    @property
    def key(self) -> str:
        return self.order_id

    def record_key(self, store_id: str, email: str) -> dict[str, str] | None:
        """The item holding what the subject's messages show, read with the send's context."""
        return keys.order_key(store_id, email, self.order_id)

    def view(self, record: dict[str, Any] | None) -> SubjectView:
        """The order as recorded (ORDER#); nothing when it is not (it always is once a run
        starts: the dispatcher records the purchase first). A cancelled order: its mark only
        (storeflows.cancellation; the run is stopped, or about to be)."""
        if record is None:
            return SubjectView()
        if "cancelled_at" in record:
            return SubjectView(cancelled=True)
        view = SubjectView.of_order(order_from_record(record))
        if self.review_url is not None:
            for item in view.context["order"]["items"]:
                item["review_url"] = review_link(self.review_url, item, record["order_id"])
        return view


# The placeholders a review URL pattern may use: what every order's items carry.
REVIEW_URL_PLACEHOLDERS = ("product_id", "sku", "order_id")


def review_link(pattern: str, item: dict[str, Any], order_id: str) -> str | None:
    """The pattern with the item's values put in (URL-quoted); None when the item lacks one
    the pattern uses (an item without a product id, say): no link rather than a broken one."""
    values = {"product_id": item.get("product_id"), "sku": item.get("sku"), "order_id": order_id}
    used = {name: values[name] for name in REVIEW_URL_PLACEHOLDERS if "{" + name + "}" in pattern}
    if any(value is None for value in used.values()):
        return None
    link = pattern
    for name, value in used.items():
        link = link.replace("{" + name + "}", quote(str(value), safe=""))
    return link


class VipSubject(BaseModel):
    """A vip run: about the contact (one per contact and workflow, named by `contact_ref`, a
    digest of the address, so no address reaches a run name or a log), started by the order
    that made them a VIP, which its messages show."""

    model_config = ConfigDict(frozen=True)

    type: Literal["vip"] = "vip"
    contact_ref: str
    order_id: str

    @classmethod
    def of_contact(cls, email: str, order_id: str) -> VipSubject:
        return cls(contact_ref=keys.email_digest(email)[:32], order_id=order_id)

    @property
    def key(self) -> str:
        return f"vip:{self.contact_ref}"

    def record_key(self, store_id: str, email: str) -> dict[str, str] | None:
        return keys.order_key(store_id, email, self.order_id)

    def view(self, record: dict[str, Any] | None) -> SubjectView:
        return OrderSubject(order_id=self.order_id).view(record)


class EventSubject(BaseModel):
    """A run about one event (a workflow triggered by a consent or a delivered event): a
    redelivery of the event finds its run started."""

    model_config = ConfigDict(frozen=True)

    type: Literal["event"] = "event"
    event_type: str
    event_id: str

    @property
    def key(self) -> str:
        return f"event:{self.event_id}"

    def record_key(self, store_id: str, email: str) -> dict[str, str] | None:
        return None

    def view(self, record: dict[str, Any] | None) -> SubjectView:
        return SubjectView()


def _basket_view(record: dict[str, Any]) -> dict[str, Any]:
    """A checkout or cart as its record on the contact holds it (storage.abandonment), in the
    shape a message sees: items (name, quantity, price, image_url, url), total, currency,
    recovery_url."""
    return {
        "items": [
            {
                "name": item.get("name") or "",
                "quantity": int(item.get("quantity", 1)),
                "price": item.get("price"),
                "image_url": item.get("image_url"),
                "url": item.get("url"),
                "sku": item.get("sku"),
                "product_id": item.get("product_id"),
            }
            for item in record.get("items", [])
        ],
        "total": record.get("total"),
        "currency": record.get("currency"),
        "recovery_url": record.get("recovery_url"),
    }


SAMPLE_BASKET: dict[str, Any] = {
    "items": [
        {
            "name": "Sample product",
            "quantity": 1,
            "price": Decimal("129.90"),
            "image_url": "https://shop.example/images/sample.jpg",
            "url": "https://shop.example/products/sample",
            "sku": "SAMPLE-SKU",
            "product_id": "SAMPLE-P1",
        }
    ],
    "total": Decimal("129.90"),
    "currency": "EUR",
    "recovery_url": "https://shop.example/checkouts/sample/recover",
}
"""The checkout or cart messages are checked with when saved."""


class CheckoutSubject(BaseModel):
    """A run about one checkout (checkout abandonment): the send step reads the checkout as
    recorded on the contact (CHECKOUT#<token>), as it is at the send."""

    model_config = ConfigDict(frozen=True)

    type: Literal["checkout"] = "checkout"
    token: str

    @property
    def key(self) -> str:
        return f"checkout:{self.token}"

    def record_key(self, store_id: str, email: str) -> dict[str, str] | None:
        return keys.checkout_key(store_id, email, self.token)

    def view(self, record: dict[str, Any] | None) -> SubjectView:
        if record is None:
            return SubjectView()
        return SubjectView({"checkout": _basket_view(record)})


class CartSubject(BaseModel):
    """A run about one cart (cart abandonment): the cart as recorded (CART#<token>)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["cart"] = "cart"
    token: str

    @property
    def key(self) -> str:
        return f"cart:{self.token}"

    def record_key(self, store_id: str, email: str) -> dict[str, str] | None:
        return keys.cart_key(store_id, email, self.token)

    def view(self, record: dict[str, Any] | None) -> SubjectView:
        if record is None:
            return SubjectView()
        return SubjectView({"cart": _basket_view(record)})


class SessionSubject(BaseModel):
    """A run about one of the contact's site sessions, once it has ended (browse, search and
    site abandonment; storeflows.sessions decides which, at most one per session). The run
    carries what the session showed, as it was when it ended (a few products, categories and
    the search): an ended session does not change. The record read at each send is the
    contact's current session item, for whether the contact put something in the cart since."""

    model_config = ConfigDict(frozen=True)

    type: Literal["session"] = "session"
    session_id: str
    kind: Literal["browse", "search", "site"]
    started_at: datetime
    ended_at: datetime
    pages: int = 0
    # Distinct products viewed in the session (`products` holds the latest few of them).
    product_views: int = 0
    # Latest first, each {product_id, name, price, currency, url, image_url}.
    products: list[dict[str, Any]] = []
    categories: list[dict[str, Any]] = []
    # The search left without a click: {query, results: [products as above]}.
    search: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        return f"session:{self.session_id}"

    def record_key(self, store_id: str, email: str) -> dict[str, str] | None:
        return keys.session_key(store_id, email)

    def view(self, record: dict[str, Any] | None) -> SubjectView:
        carted_at = (record or {}).get("last_carted_at")
        carted_since = carted_at is not None and datetime.fromisoformat(str(carted_at)) >= self.started_at
        return SubjectView(
            {"session": self.message_view()},
            not_bought_since=self.started_at,
            # A cart is the stronger intent: the cart flow takes over from here.
            skip_reason="carted_since" if carted_since else None,
        )

    def message_view(self) -> dict[str, Any]:
        """`session` in a message: what was viewed and searched, and for how long."""
        return {
            "kind": self.kind,
            "products": self.products,
            "categories": self.categories,
            "search": self.search,
            "pages": self.pages,
            "product_views": self.product_views,
            "minutes": int((self.ended_at - self.started_at).total_seconds() // 60),
        }


SAMPLE_PRODUCTS = [
    {
        "product_id": "SAMPLE-P1",
        "name": "Sample product",
        "price": "129.90",
        "currency": "EUR",
        "url": "https://shop.example.com/products/sample",
        "image_url": "https://shop.example.com/img/sample.jpg",
    }
]


def sample_session(kind: Literal["browse", "search", "site"]) -> SessionSubject:
    """The session a message of each session template is checked with (and previewed)."""
    return SessionSubject(
        session_id="SAMPLE-SESSION",
        kind=kind,
        started_at=datetime(2026, 1, 1, 10, 0, tzinfo=UTC),
        ended_at=datetime(2026, 1, 1, 10, 12, tzinfo=UTC),
        pages=4,
        product_views=1 if kind == "browse" else 0,
        products=SAMPLE_PRODUCTS if kind == "browse" else [],
        categories=[{"category_id": "sample", "name": "Sample category", "url": "https://shop.example.com/c/sample"}],
        search={"query": "sample", "results": SAMPLE_PRODUCTS} if kind == "search" else None,
    )


class WishlistSubject(BaseModel):
    """A wishlist reminder run, named by the wishlist_added event that started it (one run
    per contact at a time: the run claims the wishlist, storage.wishlists). Its messages see
    `wishlist.items`: the products still on the wishlist and not bought since they were put
    there, read when the message is sent (with the contact's orders since)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["wishlist"] = "wishlist"
    started_by: str  # the event id

    @property
    def key(self) -> str:
        return f"wishlist:{self.started_by}"

    def record_key(self, store_id: str, email: str) -> dict[str, str] | None:
        return keys.wishlist_key(store_id, email)

    @staticmethod
    def oldest(record: dict[str, Any] | None) -> str | None:
        """When the oldest product still on the wishlist was put there (ISO), or None."""
        added = [entry.get("added_at", "") for entry in wishlist_entries(record or {})]
        return min(added) if added else None

    def view(self, record: dict[str, Any] | None, purchases: Iterable[dict[str, Any]] = ()) -> SubjectView:
        """The products still on the wishlist, less those bought (same product id or SKU) at
        or after the moment each was put there; empty when none is left."""
        items = [
            {name: entry.get(name) for name in WISHLIST_ITEM_FIELDS}
            for entry in wishlist_entries(record or {})
            if not _bought_since(entry, purchases)
        ]
        return SubjectView({"wishlist": {"items": items}}, empty=not items)


WISHLIST_ITEM_FIELDS = ("product_id", "sku", "name", "price", "currency", "url", "image_url", "added_at")
SAMPLE_WISHLIST = SubjectView(
    {
        "wishlist": {
            "items": [
                {
                    "product_id": "SAMPLE-1",
                    "sku": "SAMPLE-SKU",
                    "name": "Sample product",
                    "price": Decimal("129.90"),
                    "currency": "EUR",
                    "url": "https://shop.example.com/products/sample",
                    "image_url": "https://shop.example.com/img/sample.jpg",
                    "added_at": "2026-11-20T10:00:00+00:00",
                }
            ]
        }
    }
)
"""What the check of a saved message shows a wishlist reminder's message."""


def wishlist_entries(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The products on a WISHLIST item (`item:<identity>` attributes), oldest first."""
    found = [value for name, value in record.items() if name.startswith("item:") and isinstance(value, dict)]
    return sorted(found, key=lambda entry: (entry.get("added_at", ""), entry.get("name") or ""))


def _bought_since(entry: dict[str, Any], purchases: Iterable[dict[str, Any]]) -> bool:
    added = entry.get("added_at", "")
    for order in purchases:
        if order.get("occurred_at", "") < added:
            continue
        for item in order.get("items", []):
            if (entry.get("product_id") and item.get("product_id") == entry["product_id"]) or (
                entry.get("sku") and item.get("sku") == entry["sku"]
            ):
                return True
    return False


class DateSubject(BaseModel):
    """A run about a contact's day of the year (their birthday, their first order's
    anniversary), started by the schedule: one per contact, workflow and year (the contact's
    address's digest in the key, as run names are per store, not per contact), so a second
    tick, or a retried one, starts nothing more. Its messages see `<occasion>.date`, the day
    celebrated (yyyy-mm-dd), and for an anniversary `anniversary.years`."""

    model_config = ConfigDict(frozen=True)

    type: Literal["date"] = "date"
    occasion: Literal["birthday", "anniversary"]
    on: str  # the day celebrated, yyyy-mm-dd (Feb 28 for a Feb 29 birthday in other years)
    contact: str  # keys.email_digest of the contact
    years: int | None = None  # an anniversary's: years since the first order

    @property
    def key(self) -> str:
        return f"{self.occasion}:{self.on[:4]}:{self.contact}"

    def record_key(self, store_id: str, email: str) -> dict[str, str] | None:
        return None

    def view(self, record: dict[str, Any] | None) -> SubjectView:
        if self.occasion == "anniversary":
            return SubjectView({self.occasion: {"date": self.on, "years": self.years}})
        return SubjectView({self.occasion: {"date": self.on}})


class UpsellSubject(BaseModel):
    """A thank-you with complementary products (thank_you_upsell) about one order: keyed by
    the order's bare id, as every run about an order (so a cancellation or an erasure stops
    it as it stops those). Its messages see `order` and `recommendations`, read when the
    message is sent (storeflows.recommendations); with none, the message goes without them,
    or is skipped (`nothing_to_recommend`) when `skip_when_none`."""

    model_config = ConfigDict(frozen=True)

    type: Literal["upsell"] = "upsell"
    order_id: str
    max_products: int = 4
    skip_when_none: bool = False

    @property
    def key(self) -> str:
        return self.order_id

    def record_key(self, store_id: str, email: str) -> dict[str, str] | None:
        return keys.order_key(store_id, email, self.order_id)

    def view(self, record: dict[str, Any] | None, recommendations: list[dict[str, Any]]) -> SubjectView:
        ordered = OrderSubject(order_id=self.order_id).view(record)
        if ordered.cancelled or not ordered.context:
            return ordered
        return SubjectView(
            {**ordered.context, "recommendations": recommendations},
            ordered.purchased_skus,
            skip_reason="nothing_to_recommend" if self.skip_when_none and not recommendations else None,
        )


SAMPLE_RECOMMENDATIONS = [
    {
        "product_id": "SAMPLE-P2",
        "sku": "SAMPLE-SKU-2",
        "name": "Sample companion",
        "url": "https://shop.example.com/products/companion",
        "image_url": "https://shop.example.com/img/companion.jpg",
        "price": Decimal("24.90"),
        "compare_at_price": None,
        "currency": "EUR",
        "available": True,
    }
]
"""What the check of a saved message shows a thank-you upsell's message."""


class ReorderSubject(BaseModel):
    """A replenishment reminder about one SKU of one order (one run per order line with a
    usage cycle): the SKU, how many were bought, when they should run out (`due_at`) and
    when the reminder goes (`remind_at`, `remind_before` earlier). The record read at each
    send is the order (a cancelled order sends nothing); storeflows.replenishment builds
    the view: `order` and `reorder`, and whether the SKU was bought again since."""

    model_config = ConfigDict(frozen=True)

    type: Literal["reorder"] = "reorder"
    order_id: str
    sku: str
    quantity: int = 1
    product_id: str | None = None
    variant_id: str | None = None
    due_at: datetime
    remind_at: datetime

    @property
    def key(self) -> str:
        return self.key_of(self.order_id, self.sku)

    @staticmethod
    def key_of(order_id: str, sku: str) -> str:
        return f"reorder:{order_id}:{sku}"

    @classmethod
    def keys_of_order(cls, order_id: str, items: Iterable[dict[str, Any]]) -> list[str]:
        """The keys of the reminders an order may have started (one per SKU of its lines): what
        a cancellation or an erasure stops, as the runs keyed by the order itself."""
        return sorted({cls.key_of(order_id, item["sku"]) for item in items if item.get("sku")})

    def record_key(self, store_id: str, email: str) -> dict[str, str] | None:
        return keys.order_key(store_id, email, self.order_id)


SAMPLE_REORDER: dict[str, Any] = {
    "sku": "SAMPLE-SKU",
    "name": "Sample product",
    "quantity": 1,
    "url": "https://shop.example.com/cart/40000000001:1",
    "product_url": "https://shop.example.com/products/sample",
    "image_url": "https://shop.example.com/img/sample.jpg",
    "price": Decimal("129.90"),
    "currency": "EUR",
    "due_on": "2026-02-01",
}
"""What the check of a saved message shows a replenishment reminder's message."""


class VariantChangeSubject(BaseModel):
    """A catalogue alert run (back in stock, price drop, low stock): one run per change of a
    variant's state and workflow, sending to everyone interested in it, batch by batch
    (storeflows.fanout). Its messages see `variant`, the product in this variant as it is at
    the send with the price the recipient saw: the fan-out builds that view per recipient,
    so there is no record for the send step to read."""

    model_config = ConfigDict(frozen=True)

    type: Literal["variant_change"] = "variant_change"
    change_id: str
    product_id: str
    variant_id: str

    @property
    def key(self) -> str:
        return f"change:{self.change_id}"

    def record_key(self, store_id: str, email: str) -> dict[str, str] | None:
        return None

    def view(self, record: dict[str, Any] | None) -> SubjectView:
        return SubjectView()


SAMPLE_VARIANT = SubjectView(
    {
        "variant": {
            "product_id": "SAMPLE-P1",
            "sku": "SAMPLE-SKU",
            "name": "Sample product",
            "url": "https://shop.example.com/products/sample",
            "image_url": "https://shop.example.com/img/sample.jpg",
            "price": Decimal("99.90"),
            "compare_at_price": Decimal("129.90"),
            "currency": "EUR",
            "available": True,
            "variant_id": "SAMPLE-V1",
            "title": "M",
            "price_seen": Decimal("129.90"),
            "stock": 4,
        }
    }
)
"""What the check of a saved message shows a catalogue alert's message (`variant`)."""


class SilenceSubject(BaseModel):
    """A sunset run: about one silence of one contact, the one counted from `since` (the day of
    their last engagement, or of their first email): one run per contact, workflow and silence,
    so a second tick, or a retried one, starts nothing more, and only an engagement (a new
    silence, from a later day) can start another."""

    model_config = ConfigDict(frozen=True)

    type: Literal["silence"] = "silence"
    since: str  # yyyy-mm-dd
    contact: str  # keys.email_digest of the contact

    @property
    def key(self) -> str:
        return f"sunset:{self.since}:{self.contact}"

    def record_key(self, store_id: str, email: str) -> dict[str, str] | None:
        return None

    def view(self, record: dict[str, Any] | None) -> SubjectView:
        return SubjectView()


RunSubject = Annotated[
    OrderSubject
    | EventSubject
    | CheckoutSubject
    | CartSubject
    | SessionSubject
    | WishlistSubject
    | VipSubject
    | DateSubject
    | UpsellSubject
    | ReorderSubject
    | VariantChangeSubject
    | SilenceSubject,
    Field(discriminator="type"),
]


def describe_key(key: str) -> str:
    """A subject key in words, for operators: "1001" -> "order 1001", "event:api:x" -> "event api:x"."""
    kind, _, rest = key.partition(":")
    if kind in _TYPED_KEYS and rest:
        return f"{kind} {rest}"
    return f"order {key}"


# Subject types whose keys carry their type ("<type>:<id>"); an order's is its bare id.
_TYPED_KEYS = frozenset(
    {
        "event",
        "checkout",
        "cart",
        "session",
        "wishlist",
        "vip",
        "birthday",
        "anniversary",
        "reorder",
        "change",
        "sunset",
    }
)
