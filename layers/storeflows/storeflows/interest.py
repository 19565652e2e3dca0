"""Interest in products, as the storefront's events show it (storage.interest keeps it):
product views, cart and checkout items and wishlistings are recorded on the contact with the
price seen; a back-in-stock request queues the contact for the variant's restock.

A product is recorded by its catalogue id only (product_id, and variant_id when given): a
restock or a price change is detected per catalogue product, so a product named only by a
SKU or a URL could never be matched and is not recorded. One write per product per event
(storage.interest: a repeat at the same price within the hour changes nothing).

Who may ask for an alert: the store's API and a visitor the store or a Storeflows email's
link identified as the address are the store's word. An address typed into the browser's
"notify me" form is only a claim, and anyone can type anyone's address; a double opt-in
email per request would itself be a way to flood an address, and refusing unproven
addresses would refuse most real shoppers (a sold-out page's visitor is seldom logged in).
So a claimed request is accepted, one alert per request, but an address holds at most
MAX_CLAIMED_REQUESTS open claimed requests: a stranger can make it receive at most that many
restock alerts, each once, and only when the product really comes back. The typed address
identifies no visitor (as a sign-up request does not): a claim made in a form must not pull
the visitor's browsing onto someone else's address."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from storeflows import storefront
from storeflows.events import StoreEvent
from storeflows.events.back_in_stock_request import BackInStockRequestedEvent
from storeflows.events.common import Product, StorefrontEvent
from storeflows.observability import logger
from storeflows.storage import contacts, interest, visitors
from storeflows.storage.interest import InterestKind, Proof

MAX_CLAIMED_REQUESTS = 5


def record_products(
    event: StoreEvent,
    body: StorefrontEvent,
    email: str,
    kind: InterestKind,
    products: Iterable[Product],
    currency: str | None = None,
) -> int:
    """Records the contact's interest in each product naming its id (a product listed twice,
    once); returns how many were written."""
    at = storefront.when(event, body)
    distinct = {(product.product_id, product.variant_id): product for product in products if product.product_id}
    written = 0
    for (product_id, variant_id), product in distinct.items():
        assert product_id is not None
        written += interest.record_interest(
            event.store_id,
            email,
            product_id=product_id,
            variant_id=variant_id,
            kind=kind,
            at=at,
            price=product.price,
            currency=(product.currency or currency or "").upper() or None,
        )
    return written


def request_back_in_stock(event: StoreEvent, request: BackInStockRequestedEvent) -> dict[str, Any]:
    """Queues the address for the variant's restock (once: a repeat keeps its first place)."""
    email = request.customer.email
    product = request.product
    assert product.product_id is not None  # the event requires it
    proof = _proof(event, request)
    if proof == "claimed":
        open_claims = interest.open_requests(event.store_id, email, proof="claimed")
        asked_already = any(
            claim.product_id == product.product_id and claim.variant_id == product.variant_id for claim in open_claims
        )
        if not asked_already and len(open_claims) >= MAX_CLAIMED_REQUESTS:
            logger.info(
                "back-in-stock request over the cap", extra={"store_id": event.store_id, "event_id": event.event_id}
            )
            return {"event_id": event.event_id, "back_in_stock_request": "too_many_unproven"}
    newly = interest.record_request(
        event.store_id,
        email,
        product_id=product.product_id,
        variant_id=product.variant_id,
        at=storefront.when(event, request),
        price=product.price,
        currency=product.currency.upper() if product.currency else None,
        proof=proof,
    )
    if newly:
        # An address new to the store gets a profile, as any contact does: the restock's alert
        # goes only to a known contact (messaging.sending).
        contacts.start_profile(event.store_id, email)
    logger.info(
        "back-in-stock request",
        extra={"store_id": event.store_id, "event_id": event.event_id, "newly": newly, "proof": proof},
    )
    return {"event_id": event.event_id, "back_in_stock_request": "recorded" if newly else "already_asked"}


def _proof(event: StoreEvent, request: BackInStockRequestedEvent) -> Proof:
    """The store's word, or, from the browser, how the visitor was proven to be this address."""
    if event.source != "browser":
        return "store"
    known = visitors.known_identity(event.store_id, request.visitor_id) if request.visitor_id else None
    if known is not None and known[0] == request.customer.email and known[1] != "claimed":
        return known[1]
    return "claimed"
