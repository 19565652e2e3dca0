"""What the storefront's events do before any flow acts on them: who they are about.

An event names its contact by `customer.email` or by the browser's anonymous `visitor_id`.
A visitor already identified is their contact; an unknown visitor's event is kept (30 days,
storage.visitors) and handed to the contact when the visitor is identified — by the store's
signed API or a checkout's email, by the signed link of a Storeflows email, or by the page's
claim (a login, a form). An event naming both an email and a visitor identifies the visitor.

The recorders of each event type (carts, checkouts, sessions, wishlists) are in their own
modules; this one only decides whose event it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from storeflows.events import StoreEvent
from storeflows.events.common import Customer, StorefrontEvent
from storeflows.events.identify import IdentifyEvent
from storeflows.storage import contacts, visitors


@dataclass(frozen=True)
class Identification:
    """What an identification did: whether the visitor is now the contact, and the events kept
    from before, each now naming the contact (the dispatcher records them as if they had)."""

    identified: bool
    # (its kept item's sort key, the event): forgotten only once recorded (`forget`).
    earlier_events: list[tuple[str, StoreEvent]] = field(default_factory=list)


def proof_of(event: StoreEvent) -> visitors.Proof:
    """How sure the identity an event gives is: the store's word, or what the browser proved."""
    if event.source != "browser":
        return "store"
    return event.identity_proof or "claimed"


def contact_of(event: StoreEvent, body: StorefrontEvent) -> str | None:
    """The email of the contact a storefront event is about, or None for a visitor nobody has
    identified yet (one read, only for events naming a visitor alone)."""
    if body.customer is not None:
        return body.customer.email
    assert body.visitor_id is not None  # the model requires one of the two
    return visitors.known_email(event.store_id, body.visitor_id)


def keep_until_identified(event: StoreEvent, body: StorefrontEvent) -> None:
    assert body.visitor_id is not None
    visitors.keep_pending_event(
        event.store_id, body.visitor_id, event.event_id, when(event, body), event.model_dump_json()
    )


def identify(event: StoreEvent, visitor_id: str, email: str, *, at: datetime) -> Identification:
    """Names the visitor's contact (unless a stronger proof names someone else) and hands over
    the visitor's kept events; the contact gets a profile if it has none."""
    if not visitors.identify(event.store_id, visitor_id, email, proof=proof_of(event), at=at):
        return Identification(identified=False)
    contacts.start_profile(event.store_id, email)
    earlier = []
    for item in visitors.pending_events(event.store_id, visitor_id):
        kept = StoreEvent.model_validate_json(item["event"])
        named = kept.event.model_copy(update={"customer": Customer(email=email)})
        earlier.append((item["sk"], kept.model_copy(update={"event": named})))
    return Identification(identified=True, earlier_events=earlier)


def forget(event: StoreEvent, visitor_id: str, sort_key: str) -> None:
    """Drops a kept event once the contact has it (so a retried identification records it
    again rather than losing it; recording twice changes nothing)."""
    visitors.forget_pending_event(event.store_id, visitor_id, sort_key)


def needs_identifying(event: StoreEvent, body: StorefrontEvent) -> bool:
    """An event naming an email and a visitor the store has not linked yet (a logged-in
    visitor's events name both every time: only the first costs the identification)."""
    if body.customer is None or body.visitor_id is None:
        return False
    return visitors.known_email(event.store_id, body.visitor_id) != body.customer.email


def when(event: StoreEvent, body: StorefrontEvent | IdentifyEvent) -> datetime:
    """When the event happened: as the page or the store said, else when it was received."""
    return body.occurred_at or event.received_at
