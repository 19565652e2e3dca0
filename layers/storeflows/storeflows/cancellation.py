"""An order the store cancelled: it never counts as a purchase again, and every run about it
stops, whichever workflow of the store started it.

The order is marked first (storage.orders.cancel_order), then the runs are stopped: a
purchase event of the order arriving later (orders/paid, a redelivery, an orders/create
delivered after the cancellation) finds the mark and starts nothing, and a run started in
the moment between the two is caught by its next send step, which skips every message about
a cancelled order ("order_cancelled"). Both steps are safe to repeat, so a redelivered
cancellation stops what the first delivery could not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from storeflows.events.subjects import ReorderSubject
from storeflows.storage import orders, sends, workflows
from storeflows.workflows import runs

STOP_ERROR = "Storeflows.OrderCancelled"
STOP_CAUSE = "The store cancelled the order; the run's later messages are not sent."


@dataclass(frozen=True)
class Cancellation:
    """What cancel_order did: how the order was marked, and the runs it stopped."""

    order: orders.Cancelled
    runs_stopped: list[dict[str, str]] = field(default_factory=list)  # workflow_id, subject


def cancel_order(
    store_id: str, email: str, order_id: str, *, at: datetime, reason: str | None, via: str
) -> Cancellation:
    """Marks the order cancelled (and out of the contact's totals) and stops the runs about it
    in flight, each with STOP_ERROR; a stopped run's contact leaves it (ACTIVE#), as its own
    last step would have done. `via` is the event that cancelled it."""
    marked = orders.cancel_order(store_id, email, order_id, at=at, reason=reason, event_id=via)
    # The runs about the order, and its replenishment reminders (one per SKU).
    subject_keys = [order_id, *ReorderSubject.keys_of_order(order_id, orders.order_items(store_id, email, order_id))]
    possible = runs.possible_runs(store_id, workflows.list_workflows(store_id), subject_keys)
    stopped = runs.stop_runs(possible, error=STOP_ERROR, cause=STOP_CAUSE)
    for run in stopped:
        sends.leave_run(store_id, email, run["workflow_id"], run["subject"])
    return Cancellation(order=marked, runs_stopped=stopped)
