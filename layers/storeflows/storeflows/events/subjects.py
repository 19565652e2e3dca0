"""What a workflow run is about: its subject. A run is (store, workflow, subject).

The subject's `key` names the run (workflows.runs.run_name) and its records on the contact
(SEND#<workflow>#<key>#<step>, ACTIVE#<workflow>#<key>); its `view` of the item `record_key`
names (read when a message is sent) is what a message template sees of it. An order's key
is its bare id, as every run name and record before subjects had it, so those stay valid.
Other kinds of subject key as "<type>:<id>" (a cart, a product, a date); the storefront and
catalogue flows add theirs here."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from storeflows.events.common import Order
from storeflows.storage import keys


@dataclass(frozen=True)
class SubjectView:
    """What a message template sees of a run's subject (`context`, e.g. {"order": {...}}),
    what BESTSELLERS leaves out (what the contact just bought), and whether the store has
    cancelled it since the run started (then nothing more is sent about it)."""

    context: dict[str, Any] = field(default_factory=dict)
    purchased_skus: frozenset[str] = frozenset()
    cancelled: bool = False

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
        return SubjectView.of_order(order_from_record(record))


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


SAMPLE_BASKET = {
    "items": [
        {
            "name": "Sample product",
            "quantity": 1,
            "price": Decimal("129.90"),
            "image_url": "https://shop.example/images/sample.jpg",
            "url": "https://shop.example/products/sample",
            "sku": "SAMPLE-SKU",
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


RunSubject = Annotated[OrderSubject | EventSubject | CheckoutSubject | CartSubject, Field(discriminator="type")]


def describe_key(key: str) -> str:
    """A subject key in words, for operators: "1001" -> "order 1001", "event:api:x" -> "event api:x"."""
    kind, _, rest = key.partition(":")
    if kind in _TYPED_KEYS and rest:
        return f"{kind} {rest}"
    return f"order {key}"


# Subject types whose keys carry their type ("<type>:<id>"); an order's is its bare id.
_TYPED_KEYS = frozenset({"event", "checkout", "cart"})
