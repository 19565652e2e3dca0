"""Win-back (catalogue 2.13): every purchase starts a run that waits `after` (90 days, or the
store's median time between a customer's consecutive orders) and then sends a short series
(1-3 messages with waits, a coupon on a message's own settings), skipping every message once
the contact has bought again: that new order started a fresh run, whose clock counts from it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field

from storeflows.events import EventBody
from storeflows.events.purchase import PurchaseEvent
from storeflows.fields import Duration
from storeflows.storage import dynamodb as db
from storeflows.storage import orders
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.templates.series import SeriesStep, numbered_steps
from storeflows.workflows.triggers import PurchaseTrigger

MAX_STEPS = 3  # the state machine has three send steps (a series of 3 beats a single email)
DEFAULT_AFTER = 90 * 86400
# Below this many repeat intervals counted in the store, its median says too little: 90 days.
MIN_INTERVALS_FOR_MEDIAN = 20


class WinBackSettings(TemplateSettings):
    description: ClassVar[str] = "Win back customers who have not bought again for a while, ending when they buy."

    template: Literal["win_back"] = "win_back"
    trigger: PurchaseTrigger = Field(
        default=PurchaseTrigger(),
        description="Which purchases start the clock: with `skus` or `categories`, only orders containing one of them.",
    )
    after: Duration | Literal["median"] = Field(
        default=DEFAULT_AFTER,
        description="How long after a purchase without another one the series starts (90d), or `median`: the "
        "store's median time between a customer's consecutive orders (90d until 20 repeat orders were counted).",
    )
    steps: list[SeriesStep] = Field(
        min_length=1,
        max_length=MAX_STEPS,
        description="The messages, in order, each with its `wait` after the previous one (the first after "
        "`after`). Put a coupon on the last message for a final offer.",
    )

    def exits_on_purchase(self) -> bool:
        return True

    def exit_on_purchase_after(self, received_at: datetime, event: EventBody) -> datetime | None:
        # Not the order that started the run: the profile's last_order_at is its time (or the
        # moment it was recorded, which is before now, when it names none).
        if isinstance(event, PurchaseEvent) and event.occurred_at is not None:
            return event.occurred_at + timedelta(microseconds=1)
        return db.now()

    def after_seconds(self, store_id: str) -> int:
        """`after` in seconds: the store's median interval once it has counted enough of them."""
        if self.after != "median":
            return self.after
        median_days, counted = orders.median_repeat_interval(store_id)
        if median_days is None or counted < MIN_INTERVALS_FOR_MEDIAN:
            return DEFAULT_AFTER
        # A same-day reorder habit would make a win-back the day after: at least a day.
        return max(median_days, 1) * 86400

    def run_inputs(
        self, store_id: str, email: str, workflow_id: str, subject_key: str, event: EventBody
    ) -> dict[str, Any]:
        return {"win_back_after": self.after_seconds(store_id), "win_back_steps": numbered_steps(self.steps)}
