"""Checkout and cart abandonment: what the storefront's checkouts and carts record, when a
reminder is due, and what ends the runs.

A checkout or cart is kept on its contact with its last activity (storage.abandonment). Its
run (one per checkout or cart: the run name hashes its subject key) asks `check` before every
reminder: `wait` until the due time it returns (the last activity + the reminder's delay),
then `check` again — a cart changed meanwhile moved its last activity, so the run waits
again, from the new one. The check compares the activity it waited for with the one
recorded, never the clock, so a stack whose waits are compressed (the local time scale)
sends as AWS would. A run ends at the check when the checkout completed or became an order,
the contact bought since the last activity, the cart is empty, or the contact's abandonment
cooldown is held by another checkout or cart (one reminder series per contact per period,
across carts and checkouts); all but an empty cart are recorded as the step's skip, with
its reason.

A Shopify cart names only its token: it is kept until the browser reports a cart event
naming a visitor and that token (`cart_with_visitor`), then handed to the visitor's contact.
A purchase naming its checkout's or cart's token stops their runs at once (`end_on_purchase`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from storeflows.events import StoreEvent
from storeflows.events.cart import CartUpdatedEvent
from storeflows.events.checkout import CheckoutStartedEvent
from storeflows.events.common import CartItem, Order
from storeflows.events.subjects import CartSubject, CheckoutSubject
from storeflows.messaging.requests import SendRequest
from storeflows.observability import count_by, logger
from storeflows.storage import abandonment as store
from storeflows.storage import contacts, keys, sends, workflows
from storeflows.storage import dynamodb as db
from storeflows.workflows import runs

STOP_ERROR = "Storeflows.Purchased"
STOP_CAUSE = "The customer bought the checkout or cart; its reminders are not sent."


def _content(items: list[CartItem], total: Any, currency: str | None, recovery_url: str | None) -> dict[str, Any]:
    return {
        "items": [db.drop_none(item.model_dump()) for item in items],
        "total": total,
        "currency": currency,
        "recovery_url": recovery_url,
    }


def record_checkout(event: StoreEvent, body: CheckoutStartedEvent, email: str) -> list[CheckoutSubject]:
    """Keeps the checkout on the contact; the subject of its run, unless it is over (completed,
    already an order) or this delivery was older than what is recorded."""
    checkout = body.checkout
    subject = CheckoutSubject(token=checkout.token)
    recorded = store.record_basket(
        keys.checkout_key(event.store_id, email, checkout.token),
        subject=subject.key,
        at=body.occurred_at or event.received_at,
        content=_content(checkout.items, checkout.total, checkout.currency, checkout.recovery_url),
        completed_at=checkout.completed_at,
    )
    if recorded is None:
        return []
    customer = body.customer
    if customer is not None and customer.accepts_marketing is not None:
        # The checkout's marketing checkbox, as an order's is (it starts the profile if need be).
        contacts.record_consent(
            event.store_id,
            email,
            marketing=customer.accepts_marketing,
            source="checkout",
            at=body.occurred_at or event.received_at,
        )
    elif recorded.get("started_at") == recorded["activity_at"]:
        # The checkout's first event: its contact may be new (a guest's first checkout).
        contacts.start_profile(event.store_id, email)
    if "completed_at" in recorded or "order_id" in recorded or not recorded.get("items"):
        return []
    return [subject]


def record_cart(event: StoreEvent, body: CartUpdatedEvent, email: str) -> list[CartSubject]:
    """Keeps the cart on the contact; the subject of its run while it holds something (an
    empty cart's run ends at its next check)."""
    cart = body.cart
    subject = CartSubject(token=cart.token)
    recorded = store.record_basket(
        keys.cart_key(event.store_id, email, cart.token),
        subject=subject.key,
        at=body.occurred_at or event.received_at,
        content=_content(cart.items, cart.total, cart.currency, cart.recovery_url),
        completed_at=None,
    )
    if recorded is None or "order_id" in recorded or not recorded.get("items"):
        return []
    return [subject]


def cart_by_token(event: StoreEvent, body: CartUpdatedEvent) -> StoreEvent | None:
    """A cart event naming only its token: the event naming the visitor the browser reported
    the token for, or None when nobody has yet (the event is kept until then)."""
    visitor_id = store.cart_token_visitor(event.store_id, body.cart.token)
    if visitor_id is None:
        store.keep_cart_event(
            event.store_id,
            body.cart.token,
            event.event_id,
            body.occurred_at or event.received_at,
            event.model_dump_json(),
        )
        return None
    return event.model_copy(update={"event": body.model_copy(update={"visitor_id": visitor_id})})


def cart_with_visitor(event: StoreEvent, body: CartUpdatedEvent) -> Iterator[StoreEvent]:
    """A cart event naming a visitor links the cart's token to the visitor (once: a token
    already linked to this visitor costs one read); yields the token's kept events, each now
    naming the visitor, forgetting each once the caller has handled it. The link is written
    first, so handing over a kept event finds the token linked and hands over nothing more;
    a kept event whose handing over failed stays until it expires (Shopify reports every
    change of the cart again, and those find the link)."""
    assert body.visitor_id is not None
    if store.cart_token_visitor(event.store_id, body.cart.token) == body.visitor_id:
        return
    store.link_cart_token(event.store_id, body.cart.token, body.visitor_id, at=body.occurred_at or event.received_at)
    for item in store.kept_cart_events(event.store_id, body.cart.token):
        kept = StoreEvent.model_validate_json(item["event"])
        assert isinstance(kept.event, CartUpdatedEvent)
        yield kept.model_copy(update={"event": kept.event.model_copy(update={"visitor_id": body.visitor_id})})
        store.forget_cart_event(event.store_id, body.cart.token, item["sk"])


def end_on_purchase(store_id: str, email: str, order: Order, *, at: datetime) -> list[dict[str, str]]:
    """The order's checkout and cart (by their tokens) are marked as this order on the
    contact, and their runs in flight stopped; returns the runs stopped."""
    subjects = []
    if order.checkout_token:
        subject = CheckoutSubject(token=order.checkout_token)
        store.mark_ordered(
            keys.checkout_key(store_id, email, order.checkout_token), subject=subject.key, order_id=order.id, at=at
        )
        subjects.append(subject.key)
    if order.cart_token:
        subject_key = CartSubject(token=order.cart_token).key
        store.mark_ordered(
            keys.cart_key(store_id, email, order.cart_token), subject=subject_key, order_id=order.id, at=at
        )
        subjects.append(subject_key)
    if not subjects:
        return []
    candidates = [
        workflow for workflow in workflows.list_workflows(store_id) if workflow.template in ABANDONMENT_TEMPLATES
    ]
    stopped = runs.stop_runs(runs.possible_runs(store_id, candidates, subjects), error=STOP_ERROR, cause=STOP_CAUSE)
    return stopped


ABANDONMENT_TEMPLATES = frozenset({"checkout_abandonment", "cart_abandonment"})


@dataclass(frozen=True)
class Check:
    """The answer before a reminder: `wait` until `due_at` (the last activity + the delay),
    `send` it now, or the run is `over` (`reason`: the skip recorded for the step, if any)."""

    status: Literal["wait", "send", "over"]
    activity_at: str = ""
    due_at: str = ""
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "activity_at": self.activity_at, "due_at": self.due_at, "reason": self.reason}


def check(request: SendRequest, *, delay_seconds: int, waited_for: str, cooldown_seconds: int) -> Check:
    """Before the reminder of `request` (its run, message and step): is it due, and may it go.
    `waited_for` is the last activity the run waited for ("" before any wait)."""
    run = request.run
    basket_key = run.subject.record_key(run.store_id, run.email)
    assert basket_key is not None
    basket, profile = store.basket_and_profile(basket_key, run.store_id, run.email)
    if basket is None:
        # Expired, or the contact was erased: nothing left to remind of, nobody to record it on.
        return Check("over")
    activity_at = str(basket["activity_at"]) if "activity_at" in basket else ""
    if "completed_at" in basket or "order_id" in basket or not activity_at:
        return _over(request, "bought_since")
    last_order_at = (profile or {}).get("last_order_at")
    if last_order_at is not None and str(last_order_at) >= activity_at:
        return _over(request, "bought_since")
    if not basket.get("items"):
        return Check("over", activity_at=activity_at, reason="cart_empty")
    if activity_at != waited_for:
        due = datetime.fromisoformat(activity_at) + timedelta(seconds=delay_seconds)
        return Check("wait", activity_at=activity_at, due_at=_wait_timestamp(due))
    if cooldown_seconds and not store.claim_cooldown(
        run.store_id, run.email, run.subject.key, seconds=cooldown_seconds, now=db.now()
    ):
        return _over(request, "cooldown")
    return Check("send", activity_at=activity_at)


def _over(request: SendRequest, reason: str) -> Check:
    """Ends the run before the step, recording the step as skipped with the reason (a retried
    check finds the record there and changes nothing)."""
    sends.record_skip(
        request.decision_key,
        store_id=request.store_id,
        workflow_id=request.workflow_id,
        subject=request.run.subject.key,
        step=request.step,
        message_id=request.message_id,
        reason=reason,
    )
    logger.info(
        "abandonment run over",
        extra={
            "store_id": request.store_id,
            "workflow_id": request.workflow_id,
            "step": request.step,
            "reason": reason,
        },
    )
    count_by("EmailsSkipped", "reason", reason)
    return Check("over", reason=reason)


def _wait_timestamp(moment: datetime) -> str:
    """What a Wait state's TimestampPath takes: UTC, whole seconds, "Z"."""
    return db.utc_iso(moment)[:19] + "Z"
