"""What the post-purchase templates that wait for the parcel share (care_series,
review_request, usage_tips): the wait itself, the run inputs its polling reads, and the
product condition of the product-specific ones."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from storeflows.fields import Duration
from storeflows.storage import keys
from storeflows.workflows.triggers import PurchaseTrigger


class DeliveryWait(BaseModel):
    """How long to wait for the parcel: a fixed time, or until the store reports the order
    delivered (a `delivered` event), checked every `check_every`, giving up after `timeout`."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["fixed", "event"] = Field(
        default="fixed",
        description="`fixed` waits `wait`; `event` waits for the store to report the order delivered.",
    )
    wait: Duration = Field(default=5 * 86400, description="With `mode: fixed`: how long to wait for the parcel.")
    check_every: Duration = Field(
        default=12 * 3600, ge=60, description="With `mode: event`: how often to look for a `delivered` event."
    )
    timeout: Duration = Field(
        default=14 * 86400, description="With `mode: event`: how long to wait for it before going on anyway."
    )

    @property
    def checks(self) -> int:
        return max(1, -(-self.timeout // self.check_every))


def delivery_inputs(delivery: DeliveryWait, store_id: str, email: str, order_id: str) -> dict[str, Any]:
    """The run inputs of the delivery wait: the order whose delivered stamp CheckOrderDelivered
    reads (the dispatcher stamps it on a `delivered` event), and how many checks are left."""
    return {
        "order_key": keys.as_attribute_values(keys.order_key(store_id, email, order_id)),
        "delivery_checks": {"left": delivery.checks},
    }


def require_product_condition(trigger: PurchaseTrigger, what: str) -> None:
    """A product-specific series is for buyers of given products: without a condition it
    would go to every buyer."""
    if not trigger.skus and not trigger.categories:
        raise ValueError(f"{what} needs a product condition: trigger.skus or trigger.categories")
