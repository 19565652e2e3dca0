"""What a workflow run is about: its subject. A run is (store, workflow, subject).

The subject's `key` names the run (workflows.runs.run_name) and its records on the contact
(SEND#<workflow>#<key>#<step>, ACTIVE#<workflow>#<key>); its `message_context` is what a
message template sees of it. An order's key is its bare id, as every run name and record
before subjects had it, so those stay valid. Other kinds of subject key as
"<type>:<id>" (a cart, a product, a date); the storefront and catalogue flows add theirs here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from storeflows.events.common import Order


class OrderSubject(BaseModel):
    """A run about one order: every purchase flow."""

    model_config = ConfigDict(frozen=True)

    type: Literal["order"] = "order"
    order: Order

    @property
    def key(self) -> str:
        return self.order.id

    def message_context(self) -> dict[str, Any]:
        return {"order": self.order.model_dump()}

    def purchased_skus(self) -> set[str]:
        """What the contact just bought (BESTSELLERS leaves it out)."""
        return {item.sku for item in self.order.items if item.sku}


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

    def message_context(self) -> dict[str, Any]:
        return {}

    def purchased_skus(self) -> set[str]:
        return set()


RunSubject = Annotated[OrderSubject | EventSubject, Field(discriminator="type")]


def describe_key(key: str) -> str:
    """A subject key in words, for operators: "1001" -> "order 1001", "event:api:x" -> "event api:x"."""
    kind, _, rest = key.partition(":")
    if kind in _TYPED_KEYS and rest:
        return f"{kind} {rest}"
    return f"order {key}"


# Subject types whose keys carry their type ("<type>:<id>"); an order's is its bare id.
_TYPED_KEYS = frozenset({"event"})
