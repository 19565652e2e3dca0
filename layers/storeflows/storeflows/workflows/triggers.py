"""What starts a workflow's runs: a union on `type`, so each template names the triggers it
takes and the dispatcher asks any of them the same question (`matches`).

A trigger written without a type is a purchase trigger: `trigger: {skus: [...]}` in the
workflow files from before triggers had types still reads as it always did."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from storeflows.events import EventBody
from storeflows.events.cart import CartUpdatedEvent
from storeflows.events.checkout import CheckoutStartedEvent
from storeflows.events.common import LineItem
from storeflows.events.purchase import PurchaseEvent
from storeflows.events.subjects import SAMPLE_BASKET, SAMPLE_ORDER, SAMPLE_VARIANT, SubjectView, sample_session


class PurchaseTrigger(BaseModel):
    """A completed purchase, optionally only when it contains a given product or category."""

    model_config = ConfigDict(extra="forbid")

    # The event types that can match it (the dispatcher asks only for these).
    starts_on: ClassVar[frozenset[str]] = frozenset({"purchase"})
    # What a message sent by its runs sees of the run's subject, for the check of a saved
    # message (messaging.checks): here an order (subjects.OrderSubject).
    sample_subject: ClassVar[tuple[str, SubjectView]] = ("order", SubjectView.of_order(SAMPLE_ORDER))

    type: Literal["purchase"] = "purchase"
    skus: list[str] = Field(default=[], description="Only orders containing one of these SKUs.")
    categories: list[str] = Field(
        default=[], description="Only orders containing a product of one of these categories."
    )

    def matches(self, event: EventBody) -> bool:
        if not isinstance(event, PurchaseEvent):
            return False
        if not self.skus and not self.categories:
            return True
        return any(self.takes_line(item) for item in event.order.items)

    def takes_line(self, item: LineItem) -> bool:
        """Whether an order line is one the trigger names (every line, without a filter)."""
        if not self.skus and not self.categories:
            return True
        return (item.sku is not None and item.sku in self.skus) or (
            item.category is not None and item.category in self.categories
        )


class EventTrigger(BaseModel):
    """Any other event the store reports about a contact, by its type: one run per event
    (subjects.EventSubject), a redelivery finding its run started."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["event"] = "event"
    # Privacy requests never start runs; purchases have PurchaseTrigger, with its filters.
    event: Literal["consent", "delivered"]

    starts_on: ClassVar[frozenset[str]] = frozenset({"consent", "delivered"})
    sample_subject: ClassVar[tuple[str, SubjectView]] = ("event", SubjectView())

    def matches(self, event: EventBody) -> bool:
        return event.type == self.event


class SubscribedTrigger(EventTrigger):
    """A confirmed sign-up (`subscribed`: the store's API, or a browser sign-up once its
    confirmation link is followed): one run per sign-up, as any event trigger."""

    event: Literal["subscribed"] = Field(default="subscribed", description="`subscribed`, the only event it takes.")  # type: ignore[assignment]

    starts_on: ClassVar[frozenset[str]] = frozenset({"subscribed"})


class WishlistAddedTrigger(EventTrigger):
    """A product put on the wishlist (`wishlist_added`): the dispatcher asks for a run about
    the contact's wishlist, which waits as long as products keep coming (one run at a time)."""

    event: Literal["wishlist_added"] = Field(  # type: ignore[assignment]
        default="wishlist_added", description="`wishlist_added`, the only event it takes."
    )

    starts_on: ClassVar[frozenset[str]] = frozenset({"wishlist_added"})


class ScheduleTrigger(BaseModel):
    """The hourly schedule (template.yaml's ScheduleTick): no event matches it; each tick
    starts the runs due in its hour, for the contacts the template's index holds for the day
    (storeflows.schedules). When in the contact's day a run's email goes is the template's."""

    model_config = ConfigDict(extra="forbid")

    starts_on: ClassVar[frozenset[str]] = frozenset()
    # A scheduled run is about its contact's day; a template whose runs are about more says so.
    sample_subject: ClassVar[tuple[str, SubjectView]] = ("date", SubjectView())

    type: Literal["schedule"] = "schedule"

    def matches(self, event: EventBody) -> bool:
        return False


class CheckoutTrigger(BaseModel):
    """A checkout started or updated (checkout_started): one run per checkout
    (subjects.CheckoutSubject), started by the dispatcher once the checkout is recorded."""

    model_config = ConfigDict(extra="forbid")

    starts_on: ClassVar[frozenset[str]] = frozenset({"checkout_started"})
    sample_subject: ClassVar[tuple[str, SubjectView]] = ("checkout", SubjectView({"checkout": SAMPLE_BASKET}))

    type: Literal["checkout"] = "checkout"

    def matches(self, event: EventBody) -> bool:
        return isinstance(event, CheckoutStartedEvent)


class CartTrigger(BaseModel):
    """A cart changed (cart_updated): one run per cart (subjects.CartSubject)."""

    model_config = ConfigDict(extra="forbid")

    starts_on: ClassVar[frozenset[str]] = frozenset({"cart_updated"})
    sample_subject: ClassVar[tuple[str, SubjectView]] = ("cart", SubjectView({"cart": SAMPLE_BASKET}))

    type: Literal["cart"] = "cart"

    def matches(self, event: EventBody) -> bool:
        return isinstance(event, CartUpdatedEvent)


class SessionEndTrigger(BaseModel):
    """A site session of the contact ended (30 minutes without activity): the dispatcher's
    own `session_check` event, once per session (storeflows.sessions). Which template's run
    it starts depends on the session (the template's `takes`): at most one kind per session."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["session_end"] = "session_end"

    starts_on: ClassVar[frozenset[str]] = frozenset({"session_check"})
    # Each session template gives its own kind of sample session (TemplateSettings.sample_subjects).
    sample_subject: ClassVar[tuple[str, SubjectView]] = ("session", sample_session("site").view(None))

    def matches(self, event: EventBody) -> bool:
        return event.type == "session_check"


class CatalogueChangeTrigger(BaseModel):
    """A change of a variant's state in the store's catalogue (stock, price, availability), as
    a product source reports it: no event matches it; the dispatcher hands the changes a
    product event made to the catalogue alert templates (storeflows.fanout), each of which
    says which changes are its transition (back in stock, a price drop, low stock)."""

    model_config = ConfigDict(extra="forbid")

    starts_on: ClassVar[frozenset[str]] = frozenset()
    sample_subject: ClassVar[tuple[str, SubjectView]] = ("variant", SAMPLE_VARIANT)

    type: Literal["catalogue_change"] = "catalogue_change"

    def matches(self, event: EventBody) -> bool:
        return False


def _trigger_type(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("type", "purchase"))
    return str(getattr(value, "type", "purchase"))


Trigger = Annotated[
    (
        Annotated[PurchaseTrigger, Tag("purchase")]
        | Annotated[EventTrigger, Tag("event")]
        | Annotated[ScheduleTrigger, Tag("schedule")]
        | Annotated[CheckoutTrigger, Tag("checkout")]
        | Annotated[CartTrigger, Tag("cart")]
        | Annotated[SessionEndTrigger, Tag("session_end")]
        | Annotated[CatalogueChangeTrigger, Tag("catalogue_change")]
    ),
    Discriminator(_trigger_type),
]


def trigger_classes(annotation: Any) -> list[type[BaseModel]]:
    """The trigger classes a settings field annotated `annotation` takes (one, or a union's)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [found for argument in get_args(annotation) for found in trigger_classes(argument)]
