"""Canonical events: what every source (Shopify, WooCommerce, the event API) is mapped to, and
what travels on the event queue.

One module per event type; `EventBody` is their union on `type`, so a new event type is one
module, one line in AnyEvent and one entry in the dispatcher's table (storeflows.dispatch).
Each type says whether the event API accepts it (`accepted_by_api`), whether the browser may
send it (`accepted_by_browser`), and what a run it starts
is about (`run_subject`: None for those that never start one)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, Field

from storeflows.events.back_in_stock_request import BackInStockRequestedEvent
from storeflows.events.cancellation import CancelledEvent
from storeflows.events.cart import CartUpdatedEvent
from storeflows.events.category_view import CategoryViewedEvent
from storeflows.events.checkout import CheckoutStartedEvent
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
from storeflows.events.subscription import SubscribedEvent
from storeflows.events.subscription_request import SubscriptionRequestedEvent
from storeflows.events.wishlist import WishlistAddedEvent, WishlistRemovedEvent
from storeflows.records import Attribution

AnyEvent = (
    PurchaseEvent
    | ConsentEvent
    | DeliveredEvent
    | CancelledEvent
    | ErasureRequest
    | DataRequest
    | CheckoutStartedEvent
    | CartUpdatedEvent
    | ProductViewedEvent
    | CategoryViewedEvent
    | PageViewedEvent
    | SearchEvent
    | WishlistAddedEvent
    | WishlistRemovedEvent
    | SubscribedEvent
    | SubscriptionRequestedEvent
    | IdentifyEvent
    | SessionCheckEvent
    | BackInStockRequestedEvent
    | ProductEvent
    | ProductDeletedEvent
    | InventoryLevelEvent
    | CustomerFactsEvent
)
EventBody = Annotated[AnyEvent, Field(discriminator="type")]
EVENT_TYPES: tuple[type[AnyEvent], ...] = get_args(AnyEvent)


def type_name(event_type: type[BaseModel]) -> str:
    """The `type` an event class is tagged with: PurchaseEvent -> "purchase"."""
    return str(get_args(event_type.model_fields["type"].annotation)[0])


# The event API's types, by name: {"purchase": PurchaseEvent, ...}.
API_EVENT_TYPES = {type_name(cls): cls for cls in EVENT_TYPES if cls.accepted_by_api}
# What the browser snippet and the Shopify pixel may send (POST /collect): behaviour only,
# never a purchase, a consent statement or a privacy request.
BROWSER_EVENT_TYPES = {type_name(cls): cls for cls in EVENT_TYPES if getattr(cls, "accepted_by_browser", False)}


class StoreEvent(BaseModel):
    """What travels on the event queue: one canonical event plus where it came from."""

    store_id: str
    event_id: str
    source: Literal["shopify", "woocommerce", "api", "browser"]
    received_at: datetime
    event: EventBody
    # The store's attribution windows when the event was accepted (the intake has just read
    # the store; the dispatcher need not read it again).
    attribution: Attribution = Attribution()
    # How the browser proved who an `identify` names (POST /collect): a Storeflows email's
    # signed link, or only the page's word. Every other source is the store's own word.
    identity_proof: Literal["email_link", "claimed"] | None = None
