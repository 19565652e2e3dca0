"""From an accepted event to its effects and workflow runs.

Each event type has one handler in _HANDLERS (a new event type adds one entry): a purchase is
recorded on the contact (once per order) and attributed, a consent statement kept, a delivery
stamped on its order, a cancellation handed to storeflows.cancellation, an erasure or a data
request to storeflows.privacy. Then every published workflow whose trigger matches starts one
run for the event's subject, unless the purchase is of an order the store cancelled. Run
names are derived from (store, subject, workflow), so Step Functions itself refuses a second
run for the same subject, and ExecutionAlreadyExists counts as done (storeflows.workflows.runs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from storeflows import (
    abandonment,
    cancellation,
    fanout,
    interest,
    privacy,
    recommendations,
    replenishment,
    sessions,
    signups,
    storefront,
)
from storeflows.catalogue import VariantChange
from storeflows.events import StoreEvent, type_name
from storeflows.events.back_in_stock_request import BackInStockRequestedEvent
from storeflows.events.cancellation import CancelledEvent
from storeflows.events.cart import CartUpdatedEvent
from storeflows.events.category_view import CategoryViewedEvent
from storeflows.events.checkout import CheckoutStartedEvent
from storeflows.events.common import Customer, StorefrontEvent
from storeflows.events.consent import ConsentEvent
from storeflows.events.customer_facts import CustomerFactsEvent
from storeflows.events.delivery import DeliveredEvent
from storeflows.events.identify import IdentifyEvent
from storeflows.events.inventory_level import InventoryLevelEvent
from storeflows.events.page_view import PageViewedEvent
from storeflows.events.privacy import DataRequest, ErasureRequest
from storeflows.events.product import ProductEvent
from storeflows.events.product_deleted import ProductDeletedEvent
from storeflows.events.product_view import ProductViewedEvent
from storeflows.events.purchase import PurchaseEvent
from storeflows.events.search import SearchEvent
from storeflows.events.session_check import SessionCheckEvent
from storeflows.events.subjects import RunSubject, WishlistSubject
from storeflows.events.subscription import SubscribedEvent
from storeflows.events.subscription_request import SubscriptionRequestedEvent
from storeflows.events.wishlist import WishlistAddedEvent, WishlistRemovedEvent
from storeflows.observability import MetricUnit, logger, metrics
from storeflows.records import Contact
from storeflows.storage import contacts, dates, orders, products, silence, wishlists, workflows
from storeflows.workflows import runs
from storeflows.workflows.templates import EVENTS_STARTING_RUNS


@dataclass(frozen=True)
class RunRequest:
    """A run a handler asks for: about `subject`, for the contact `email`."""

    email: str
    subject: RunSubject


def dispatch_event(event: StoreEvent) -> dict[str, Any]:
    outcome = _HANDLERS[type(event.event)](event, event.event)
    _note_birthday(event)
    # A handler that knows the runs' subjects (a storefront event's cart, checkout, session)
    # names them; for the others the event does.
    requested: list[RunRequest] | None = outcome.pop("run_requests", None)
    # A cancelled order's later purchase events (orders/paid, a redelivery, an orders/create
    # delivered after the cancellation) start nothing.
    if event.event.type in EVENTS_STARTING_RUNS and not outcome.get("order_cancelled"):
        if requested is None:
            subject = event.event.run_subject(event.event_id)
            customer = getattr(event.event, "customer", None)
            requested = [RunRequest(customer.email, subject)] if subject is not None and customer else []
        for request in requested:
            outcome.update(_start_runs(event, request))
    # A product event's changes of stock and price: the catalogue alerts they are the
    # transition of (one run per change and workflow, storeflows.fanout).
    if outcome.get("catalogue_changes"):
        changes = [VariantChange.model_validate(change) for change in outcome["catalogue_changes"]]
        outcome["alert_runs_started"] = fanout.start_alerts(event.store_id, event.event_id, changes)
    return outcome


def _note_birthday(event: StoreEvent) -> None:
    """A customer's birthday, in any event that gives one (the event API's `customer.birthday`),
    is kept on their profile, once the handler made it, and in its day's index (storage.dates)."""
    customer = getattr(event.event, "customer", None)
    if isinstance(customer, Customer) and customer.birthday and not isinstance(event.event, ErasureRequest):
        dates.note_birthday(event.store_id, customer.email, customer.birthday, country=customer.country)


def _record_purchase(event: StoreEvent, purchase: PurchaseEvent) -> dict[str, Any]:
    newly_recorded = orders.record_purchase(event.store_id, event.event_id, purchase)
    # Read once, consistently, for the attribution, the repeat intervals and the index of
    # first orders' days (its anniversary).
    contact = contacts.get_contact(event.store_id, purchase.customer.email) if newly_recorded else None
    attributed_to = _attribute_purchase(event, purchase, contact) if newly_recorded else None
    if contact is not None and contact.orders_count == 1 and contact.first_order_at is not None:
        dates.note_first_order(event.store_id, contact.email, contact.first_order_at, country=contact.country)
    if newly_recorded:
        # A purchase ends the contact's silence (the sunset's).
        silence.note_engagement(event.store_id, purchase.customer.email, purchase.occurred_at or event.received_at)
        # What the store's orders teach the upsell and replenishment flows (counts only); only
        # a returning buyer can have bought a SKU before.
        full = recommendations.note_order(event.store_id, purchase.order)
        if full:
            logger.warning("bought-together counts full", extra={"store_id": event.store_id, "product_ids": full[:10]})
        if contact is not None and contact.orders_count > 1:
            replenishment.note_order(
                event.store_id, purchase.customer.email, purchase.order, purchase.occurred_at or event.received_at
            )
    # Its checkout's and cart's reminders stop at once (the check before each one sees the
    # purchase too, for a checkout the order does not name).
    abandonment_stopped = (
        abandonment.end_on_purchase(
            event.store_id, purchase.customer.email, purchase.order, at=purchase.occurred_at or event.received_at
        )
        if newly_recorded
        else []
    )
    # Only an order recorded before can be cancelled: a new one needs no read.
    cancelled = not newly_recorded and orders.order_cancelled(
        event.store_id, purchase.customer.email, purchase.order.id
    )
    logger.info(
        "purchase recorded",
        extra={
            "store_id": event.store_id,
            "event_id": event.event_id,
            "order_id": purchase.order.id,
            "order_newly_recorded": newly_recorded,
            "order_cancelled": cancelled,
            "attributed_to_message": attributed_to,
            "abandonment_runs_stopped": len(abandonment_stopped),
        },
    )
    return {"event_id": event.event_id, "order_newly_recorded": newly_recorded, "order_cancelled": cancelled}


def _attribute_purchase(event: StoreEvent, purchase: PurchaseEvent, contact: Contact | None) -> str | None:
    """Credits the purchase to the Storeflows email the contact (as recorded with it) last
    opened or clicked within the store's windows; returns that message's id, or None."""
    touch = event.attribution.touch_for(contact, purchase.occurred_at or event.received_at) if contact else None
    if touch is None or not orders.attribute_order(
        event.store_id,
        purchase.customer.email,
        purchase.order.id,
        total=purchase.order.total,
        currency=purchase.order.currency,
        touch=touch,
    ):
        return None
    metrics.add_metric(name="OrdersAttributed", unit=MetricUnit.Count, value=1)
    return touch.message_id


def _record_consent(event: StoreEvent, consent: ConsentEvent) -> dict[str, Any]:
    # An explicit consent statement (unlike the checkbox an order carries) may re-subscribe.
    applied = contacts.record_consent(
        event.store_id,
        consent.customer.email,
        marketing=consent.marketing,
        source=consent.source,
        at=consent.occurred_at or event.received_at,
        lifts_unsubscribe=True,
    )
    logger.info("consent recorded", extra={"store_id": event.store_id, "event_id": event.event_id, "applied": applied})
    return {"event_id": event.event_id, "consent_applied": applied}


def _record_delivery(event: StoreEvent, delivered: DeliveredEvent) -> dict[str, Any]:
    stamped = orders.mark_order_delivered(
        event.store_id, delivered.customer.email, delivered.order.id, delivered.occurred_at or event.received_at
    )
    logger.info(
        "delivery recorded",
        extra={
            "store_id": event.store_id,
            "event_id": event.event_id,
            "order_id": delivered.order.id,
            "order_known": stamped,
        },
    )
    return {"event_id": event.event_id, "order_known": stamped}


def _cancel_order(event: StoreEvent, cancelled: CancelledEvent) -> dict[str, Any]:
    result = cancellation.cancel_order(
        event.store_id,
        cancelled.customer.email,
        cancelled.order.id,
        at=cancelled.occurred_at or event.received_at,
        reason=cancelled.reason,
        via=event.event_id,
    )
    logger.info(
        "order cancelled",
        extra={
            "store_id": event.store_id,
            "event_id": event.event_id,
            "order_id": cancelled.order.id,
            "order": result.order,
            "runs_stopped": result.runs_stopped,
        },
    )
    return {"event_id": event.event_id, "order": result.order, "runs_stopped": len(result.runs_stopped)}


def _erase_contact(event: StoreEvent, request: ErasureRequest) -> dict[str, Any]:
    erasure = privacy.erase_contact(event.store_id, request.customer.email, via=event.event_id)
    logger.info(
        "contact erased",
        extra={
            "store_id": event.store_id,
            "event_id": event.event_id,
            "items_erased": erasure.items_count,
            "runs_stopped": len(erasure.runs_stopped),
            "data_requests_erased": erasure.data_requests_erased,
        },
    )
    if erasure.items_count:
        metrics.add_metric(name="ContactsErased", unit=MetricUnit.Count, value=1)
    return {"event_id": event.event_id, "items_erased": erasure.items_count, "runs_stopped": len(erasure.runs_stopped)}


def _record_data_request(event: StoreEvent, request: DataRequest) -> dict[str, Any]:
    kept = privacy.record_data_request(event.store_id, request, source=event.event_id)
    logger.info(
        "data request kept",
        extra={
            "store_id": event.store_id,
            "event_id": event.event_id,
            "data_request_id": request.request_id,
            "newly_kept": kept,
        },
    )
    if kept:
        metrics.add_metric(name="DataRequestsReceived", unit=MetricUnit.Count, value=1)
    return {"event_id": event.event_id, "data_request_id": request.request_id, "newly_kept": kept}


def _record_storefront_event(event: StoreEvent, body: StorefrontEvent) -> dict[str, Any]:
    """Finds the contact (an unknown visitor's event is kept until the visitor is known),
    links a visitor the event names with its email, then records the event (_RECORDERS)."""
    email = storefront.contact_of(event, body)
    if email is None:
        storefront.keep_until_identified(event, body)
        logger.info("visitor event kept", extra={"store_id": event.store_id, "event_id": event.event_id})
        return {"event_id": event.event_id, "kept_until_identified": True}
    outcome: dict[str, Any] = {"event_id": event.event_id}
    if body.visitor_id is not None and storefront.needs_identifying(event, body):
        outcome.update(_identify_visitor(event, body, body.visitor_id, email))
        if not outcome["identified"] and event.source == "browser":
            # The page claimed an address for a visitor a stronger proof names as someone
            # else: the event is that someone's, not the claimed address's.
            email = storefront.contact_of(event, body.model_copy(update={"customer": None})) or email
    recorder = _RECORDERS.get(type(body))
    if recorder is not None:
        outcome.update(recorder(event, body, email))
    return outcome


def _identify(event: StoreEvent, body: IdentifyEvent) -> dict[str, Any]:
    return {"event_id": event.event_id, **_identify_visitor(event, body, body.visitor_id, body.customer.email)}


def _identify_visitor(
    event: StoreEvent, body: StorefrontEvent | IdentifyEvent, visitor_id: str, email: str
) -> dict[str, Any]:
    """Links the visitor to the contact, then records the visitor's earlier events for it."""
    identification = storefront.identify(event, visitor_id, email, at=storefront.when(event, body))
    for sort_key, earlier in identification.earlier_events:
        dispatch_event(earlier)
        storefront.forget(event, visitor_id, sort_key)
    logger.info(
        "visitor identified",
        extra={
            "store_id": event.store_id,
            "event_id": event.event_id,
            "identified": identification.identified,
            "earlier_events": len(identification.earlier_events),
            "proof": storefront.proof_of(event),
        },
    )
    return {"identified": identification.identified, "earlier_events": len(identification.earlier_events)}


def _record_subscription(event: StoreEvent, subscribed: SubscribedEvent) -> dict[str, Any]:
    """A confirmed sign-up is an explicit consent statement (it may re-subscribe)."""
    applied = contacts.record_consent(
        event.store_id,
        subscribed.customer.email,
        marketing=True,
        source=subscribed.source,
        at=subscribed.occurred_at or event.received_at,
        lifts_unsubscribe=True,
        wording=subscribed.consent_text,
    )
    contacts.fill_in_profile(
        event.store_id,
        subscribed.customer.email,
        first_name=subscribed.customer.first_name,
        language=subscribed.customer.language,
    )
    logger.info("subscription recorded", extra={"store_id": event.store_id, "event_id": event.event_id})
    return {"event_id": event.event_id, "consent_applied": applied}


def _record_checkout(event: StoreEvent, body: CheckoutStartedEvent, email: str) -> dict[str, Any]:
    interest.record_products(event, body, email, "checkout", body.checkout.items, body.checkout.currency)
    return {"run_requests": [RunRequest(email, subject) for subject in abandonment.record_checkout(event, body, email)]}


def _record_product_view(event: StoreEvent, body: ProductViewedEvent, email: str) -> dict[str, Any]:
    interest.record_products(event, body, email, "viewed", [body.product])
    return sessions.record(event, body, email)


def _record_cart(event: StoreEvent, body: CartUpdatedEvent, email: str) -> dict[str, Any]:
    interest.record_products(event, body, email, "carted", body.cart.items, body.cart.currency)
    # A session with a cart is the cart flow's, not browse or search abandonment's.
    if body.cart.items:
        sessions.note_cart(event.store_id, email, storefront.when(event, body))
    return {"run_requests": [RunRequest(email, subject) for subject in abandonment.record_cart(event, body, email)]}


def _route_cart_event(event: StoreEvent, body: CartUpdatedEvent) -> dict[str, Any]:
    """A cart naming only its token (Shopify's carts/update) goes to the visitor the browser
    reported the token for, or is kept until it does; a browser cart naming a visitor links
    the token to the visitor first (storeflows.abandonment)."""
    if body.names_nobody:
        if event.source == "browser":
            # Only the store's own word may name a cart by its token alone.
            logger.info(
                "browser cart naming nobody ignored", extra={"store_id": event.store_id, "event_id": event.event_id}
            )
            return {"event_id": event.event_id, "ignored": True}
        named = abandonment.cart_by_token(event, body)
        if named is None:
            logger.info("cart event kept", extra={"store_id": event.store_id, "event_id": event.event_id})
            return {"event_id": event.event_id, "kept_until_cart_linked": True}
        return dispatch_event(named)
    if body.visitor_id is not None:
        for earlier in abandonment.cart_with_visitor(event, body):
            dispatch_event(earlier)
    return _record_storefront_event(event, body)


def _check_session(event: StoreEvent, check: SessionCheckEvent) -> dict[str, Any]:
    """The dispatcher's own delayed look at a session: its one run once it has ended."""
    found, subject = sessions.check(event, check)
    requests = [RunRequest(check.customer.email, subject)] if subject is not None else []
    return {"event_id": event.event_id, "session_check": found, "run_requests": requests}


def _request_subscription(event: StoreEvent, request: SubscriptionRequestedEvent) -> dict[str, Any]:
    """Double opt-in: a confirmation email, not a subscription (storeflows.signups). The
    address is not proven yet, so it identifies no visitor either."""
    return signups.request_subscription(event, request)


def _add_to_wishlist(event: StoreEvent, added: WishlistAddedEvent, email: str) -> dict[str, Any]:
    """Puts the product on the contact's wishlist and asks for a reminder run about it (the
    run ends at once if another holds the wishlist: that one reminds of this product too)."""
    if added.product.identity is None:
        return {"wishlist": "product_unnamed"}
    if not wishlists.add_item(event.store_id, email, added.product, at=storefront.when(event, added)):
        return {"wishlist": "full"}
    interest.record_products(event, added, email, "wishlisted", [added.product])
    return {"wishlist": "added", "run_requests": [RunRequest(email, WishlistSubject(started_by=event.event_id))]}


def _remove_from_wishlist(event: StoreEvent, removed: WishlistRemovedEvent, email: str) -> dict[str, Any]:
    if removed.product.identity is None:
        return {"wishlist": "product_unnamed"}
    return {"wishlist": "removed" if wishlists.remove_item(event.store_id, email, removed.product) else "not_on_it"}


def _record_product(event: StoreEvent, body: ProductEvent) -> dict[str, Any]:
    changes = products.put_product(
        event.store_id, body.product, at=body.occurred_at or event.received_at, by=event.event_id
    )
    return _catalogue_outcome(event, body.product.product_id, changes)


def _record_inventory_level(event: StoreEvent, body: InventoryLevelEvent) -> dict[str, Any]:
    changes = products.set_inventory_level(
        event.store_id,
        body.inventory_item_id,
        body.location_id,
        body.available,
        at=body.occurred_at or event.received_at,
        by=event.event_id,
    )
    return _catalogue_outcome(event, None, changes)


def _delete_product(event: StoreEvent, body: ProductDeletedEvent) -> dict[str, Any]:
    deleted = products.delete_product(event.store_id, body.product_id, at=body.occurred_at or event.received_at)
    logger.info(
        "product deleted",
        extra={"store_id": event.store_id, "event_id": event.event_id, "product_id": body.product_id, "known": deleted},
    )
    return {"event_id": event.event_id, "product_deleted": deleted}


def _catalogue_outcome(event: StoreEvent, product_id: str | None, changes: list[VariantChange]) -> dict[str, Any]:
    """The catalogue's changes, each reported once (the flows that start runs from them read
    them here)."""
    logger.info(
        "catalogue recorded",
        extra={
            "store_id": event.store_id,
            "event_id": event.event_id,
            "product_id": product_id,
            "changes": [(change.product_id, change.variant_id, change.change_id) for change in changes],
        },
    )
    if changes:
        metrics.add_metric(name="CatalogueVariantChanges", unit=MetricUnit.Count, value=len(changes))
    return {"event_id": event.event_id, "catalogue_changes": [change.model_dump(mode="json") for change in changes]}


def _record_customer_facts(event: StoreEvent, facts: CustomerFactsEvent) -> dict[str, Any]:
    """A customer the platform tells of (their birthday): their profile, started if new, for
    `_note_birthday` to keep it on."""
    if contacts.get_contact(event.store_id, facts.customer.email) is None:
        contacts.start_profile(event.store_id, facts.customer.email)
    return {"event_id": event.event_id}


# Storefront event type -> what records it on its contact (after storefront.contact_of found
# who): its cart, checkout, session or wishlist; the flows' modules add theirs. A type without
# one is only attributed to its contact.
_RECORDERS: dict[type, Callable[[StoreEvent, Any, str], dict[str, Any]]] = {
    CheckoutStartedEvent: _record_checkout,
    CartUpdatedEvent: _record_cart,
    ProductViewedEvent: _record_product_view,
    CategoryViewedEvent: sessions.record,
    PageViewedEvent: sessions.record,
    SearchEvent: sessions.record,
    WishlistAddedEvent: _add_to_wishlist,
    WishlistRemovedEvent: _remove_from_wishlist,
}

# Event type -> its handler, called with the event and its body.
_HANDLERS: dict[type, Callable[[StoreEvent, Any], dict[str, Any]]] = {
    PurchaseEvent: _record_purchase,
    ConsentEvent: _record_consent,
    DeliveredEvent: _record_delivery,
    CancelledEvent: _cancel_order,
    ErasureRequest: _erase_contact,
    DataRequest: _record_data_request,
    SubscribedEvent: _record_subscription,
    IdentifyEvent: _identify,
    SessionCheckEvent: _check_session,
    SubscriptionRequestedEvent: _request_subscription,
    BackInStockRequestedEvent: interest.request_back_in_stock,
    CustomerFactsEvent: _record_customer_facts,
    **dict.fromkeys(
        (
            CheckoutStartedEvent,
            ProductViewedEvent,
            CategoryViewedEvent,
            PageViewedEvent,
            SearchEvent,
            WishlistAddedEvent,
            WishlistRemovedEvent,
        ),
        _record_storefront_event,
    ),
    # A cart may name only its token: it is routed to its contact first.
    CartUpdatedEvent: _route_cart_event,
    ProductEvent: _record_product,
    ProductDeletedEvent: _delete_product,
    InventoryLevelEvent: _record_inventory_level,
}


def _start_runs(event: StoreEvent, request: RunRequest) -> dict[str, Any]:
    """One run of every published workflow whose trigger matches, about the request's subject."""
    subject = request.subject
    started, already_running = [], []
    if subject is not None:
        for workflow in workflows.list_workflows(event.store_id):
            if not workflow.runs_for(event.event):
                continue
            for run_subject in workflow.settings.run_subjects(event, request.email, subject):
                if runs.start_run(event, workflow, run_subject, request.email):
                    started.append(workflow.workflow_id)
                else:
                    already_running.append(workflow.workflow_id)
    logger.info(
        "runs started",
        extra={
            "store_id": event.store_id,
            "event_id": event.event_id,
            "event_type": type_name(type(event.event)),
            "subject": subject.key if subject else None,
            "runs_started": started,
            "runs_already_started": already_running,
        },
    )
    metrics.add_metric(name="WorkflowRunsStarted", unit=MetricUnit.Count, value=len(started))
    # Each metric published in a month is billed for it: this one only when it happens.
    if already_running:
        metrics.add_metric(name="WorkflowRunsDeduplicated", unit=MetricUnit.Count, value=len(already_running))
    return {"runs_started": started}
