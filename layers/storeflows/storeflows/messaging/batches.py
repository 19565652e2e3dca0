"""A catalogue alert run's batch task (storeflows.fanout has the design): the next contacts of
the run's audience told, each through the send step's own decision, paced by the SES pacer,
for as long as the invocation lasts; where it stopped handed back to the state machine.

Before each send the variant is read again (one strongly consistent read): once it is not as
the alert says, the run ends and nothing more goes. A page of the interest index left
unfinished (the invocation's time is up, the pacer is full) is read again from its start by
the next batch: who was decided answers from their decision record, and only this batch's
own sends count in a wave. Pacer slots are reserved a few at a time (one pacer write for
several emails) and taken by each email as it is about to go."""

from __future__ import annotations

import contextvars
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from storeflows.catalogue import CatalogueProduct, CatalogueVariant, VariantState
from storeflows.errors import SendInProgress, SendThrottled
from storeflows.events.subjects import ProductBought, SubjectView
from storeflows.fanout import AlertBatch, AlertProgress, subject_of
from storeflows.messaging import context, pacing, sending
from storeflows.messaging.requests import SendRequest, SendRun
from storeflows.observability import logger
from storeflows.storage import interest, products
from storeflows.storage.interest import Interest
from storeflows.workflows.templates.catalogue_alerts import Audience, CatalogueAlertSettings

# Contacts read from the interest index at a time.
PAGE_SIZE = 100
# Emails a batch has in flight at once. One email is several round trips (the catalogue, the
# contact and its decision, the cooldown, SES: tens of milliseconds), so one at a time would
# stay below most accounts' SES rate; the pacer keeps them all at the rate. Their order is the
# audience's within these few.
SENDERS = 8
# A batch takes no new contact this close to its Lambda's timeout: one send (its pacer wait,
# SES) always fits in it.
STOP_BEFORE_TIMEOUT = timedelta(seconds=20)
# Pacer slots reserved at once: about half a second of sends (a slot reserved and not used,
# the contact being skipped after all, leaves the pacer that much behind), and how far ahead:
# the send step's horizon, for an email waits for its slot after the variant was read.
SLOTS_PER_SECOND_RESERVED = 0.5
SLOT_HORIZON_SECONDS = pacing.HORIZON_SECONDS
# A reserved slot this far in the past is not used: the pacer gave the time since to others,
# and several late slots used at once would be a burst above the rate.
STALE_SLOT_SECONDS = 0.2
# Open back-in-stock requests are told whenever they were made (storage.interest keeps them
# 90 days); views and carts only within the template's window.
REQUESTS_SINCE = timedelta(days=366)


def send_batch(batch: AlertBatch, *, attempt_ends_at: datetime) -> dict[str, Any]:
    """Sends to the next contacts of the run's audience until the invocation's time is nearly
    up, the wave is told, the pacer is full, or nobody is left; the progress to come back with."""
    settings = batch.settings
    assert isinstance(settings, CatalogueAlertSettings), f"{settings.template} sends no catalogue alerts"
    progress = batch.progress.model_copy()
    change = batch.change
    audiences = settings.audiences(change)
    stop_taking_at = attempt_ends_at - STOP_BEFORE_TIMEOUT
    slots = _SlotPool()
    first = True
    while True:
        if progress.audience >= len(audiences):
            return _ended(batch, progress, None)
        found = _variant_now(batch)
        stop = "gone" if found is None else settings.stop_reason(change, VariantState.of(*found))
        if stop is not None:
            return _ended(batch, progress, stop)
        assert found is not None
        if first and progress.next in ("start", "next_wave"):
            progress.wave_left = settings.wave_size_for(VariantState.of(*found))
        first = False
        audience = audiences[progress.audience]
        limit = PAGE_SIZE if progress.wave_left is None else max(1, min(PAGE_SIZE, progress.wave_left))
        page, next_cursor = interest.interested_in(
            batch.store_id,
            product_id=change.product_id,
            kinds=audience.kinds,
            since=_since(settings, audience),
            cursor=progress.cursor,
            limit=limit,
        )
        outcomes = _tell_page(batch, settings, audience, page, slots, attempt_ends_at, stop_taking_at)
        sent = sum(1 for outcome, _ in outcomes if outcome == "sent")
        progress.sent += sent
        if progress.wave_left is not None:
            progress.wave_left -= sent
        stopped = next((stop for outcome, stop in outcomes if outcome == "stopped"), None)
        if stopped is not None:
            return _ended(batch, progress, stopped)
        if any(outcome == "pause" for outcome, _ in outcomes):
            # The pacer is full, or another attempt is sending to a contact: this page is read
            # again later (who was decided answers from their record, and counts no more).
            return _handed_back(batch, progress, "pause")
        if any(outcome == "late" for outcome, _ in outcomes):
            return _handed_back(batch, progress, "more")
        progress.cursor = next_cursor
        if next_cursor is None:
            progress.audience += 1
        if progress.wave_left is not None and progress.wave_left <= 0:
            if progress.audience >= len(audiences):
                return _ended(batch, progress, None)
            return _handed_back(batch, progress, "next_wave")
        if datetime.now(UTC) >= stop_taking_at:
            return _handed_back(batch, progress, "more")


def _tell_page(
    batch: AlertBatch,
    settings: CatalogueAlertSettings,
    audience: Audience,
    page: list[Interest],
    slots: _SlotPool,
    attempt_ends_at: datetime,
    stop_taking_at: datetime,
) -> list[tuple[Outcome, str | None]]:
    """Tells the page's contacts, SENDERS at a time, in the page's order (each email takes
    the next pacer slot as it is about to go); once one finds the variant changed, the pacer
    full or the time up, nobody after it is started."""
    halt = threading.Event()

    def one(contact: Interest) -> tuple[Outcome, str | None]:
        if halt.is_set():
            return "halted", None
        if datetime.now(UTC) >= stop_taking_at:
            halt.set()
            return "late", None
        outcome, stop = _tell(batch, settings, audience, contact, slots, attempt_ends_at)
        if outcome in ("stopped", "pause"):
            halt.set()
        return outcome, stop

    if SENDERS == 1 or len(page) <= 1:
        return [one(contact) for contact in page]
    with ThreadPoolExecutor(max_workers=min(SENDERS, len(page)), thread_name_prefix="alert") as senders:
        # Each sender runs in a copy of this invocation's context (what Powertools and
        # tracing keep there goes with it).
        started = [senders.submit(contextvars.copy_context().run, one, contact) for contact in page]
        return [future.result() for future in started]


def _since(settings: CatalogueAlertSettings, audience: Audience) -> datetime:
    now = datetime.now(UTC)
    return now - REQUESTS_SINCE if audience.fulfils_requests else now - timedelta(seconds=settings.window)


def _variant_now(batch: AlertBatch) -> tuple[CatalogueProduct, CatalogueVariant] | None:
    """The variant as the catalogue holds it now (one strongly consistent read)."""
    product = products.get_product(batch.store_id, batch.change.product_id)
    variant = product.variant(batch.change.variant_id) if product else None
    return (product, variant) if product and variant else None


# What telling one contact came to: sent (by this batch), not sent (skipped, decided before,
# not of the audience), stopped (the variant is not as the alert says), pause (later), late
# (the invocation's time is up), halted (not started: another contact stopped the page).
Outcome = Literal["sent", "not_sent", "stopped", "pause", "late", "halted"]


def _tell(
    batch: AlertBatch,
    settings: CatalogueAlertSettings,
    audience: Audience,
    contact: Interest,
    slots: _SlotPool,
    attempt_ends_at: datetime,
) -> tuple[Outcome, str | None]:
    """One contact of the audience: the variant re-read, then the send step's decision; with
    why the run stops, when it does."""
    change = batch.change
    if contact.variant_id not in (None, change.variant_id):
        return "not_sent", None  # interested in another variant of the product
    found = _variant_now(batch)
    if found is None:
        return "stopped", "gone"
    product, variant = found
    now = VariantState.of(product, variant)
    stop = settings.stop_reason(change, now)
    if stop is not None:
        return "stopped", stop
    seen = _price_seen(batch, settings, contact)
    if not settings.tells(change, now, seen):
        return "not_sent", None
    request = SendRequest(
        run=SendRun(
            store_id=batch.store_id,
            workflow_id=batch.workflow_id,
            email=contact.email,
            subject=subject_of(change),
            frequency_cap_seconds=settings.cooldown,
            frequency_cap_scope=change.product_id,
        ),
        message_id=audience.message_id,
        step=batch.step,
    )
    view = SubjectView(
        {"variant": variant_view(product, variant, seen)},
        product_not_bought=ProductBought(
            product_id=change.product_id, skus=frozenset(filter(None, [variant.sku])), since=contact.at
        ),
    )
    try:
        answer, earlier = sending.decide_and_send(
            request, attempt_ends_at=attempt_ends_at, view=view, send_slot=slots.take
        )
    except (SendThrottled, SendInProgress):
        return "pause", None
    told = answer["status"] == "sent" or answer.get("reason") == "bought_since"
    if audience.fulfils_requests and told:
        # Told (or bought it meanwhile): the request is done, the next restock does not repeat it.
        interest.fulfil_request(
            batch.store_id,
            contact.email,
            product_id=contact.product_id,
            variant_id=contact.variant_id,
            at=datetime.now(UTC),
        )
    return ("sent" if answer["status"] == "sent" and not earlier else "not_sent"), None


def _price_seen(batch: AlertBatch, settings: CatalogueAlertSettings, contact: Interest) -> Decimal | None:
    """The price the contact saw: their latest view, cart or checkout of it when the template
    compares prices (one read), else what their interest recorded."""
    if settings.compares_price_seen:
        latest = interest.price_seen(
            batch.store_id, contact.email, product_id=contact.product_id, variant_id=contact.variant_id
        )
        if latest is not None:
            return latest.price
    return contact.price


def variant_view(product: CatalogueProduct, variant: CatalogueVariant, price_seen: Decimal | None) -> dict[str, Any]:
    """`variant` in a catalogue alert's message (the README's Message templates table): the
    catalogue's product as any message shows it, with the variant and the price seen."""
    return {
        **context.product_view(product, variant),
        "variant_id": variant.variant_id,
        "title": variant.title,
        "price_seen": price_seen,
        "stock": variant.inventory_quantity,
    }


def _ended(batch: AlertBatch, progress: AlertProgress, stopped: str | None) -> dict[str, Any]:
    progress.next, progress.stopped = "done", stopped
    return _handed_back(batch, progress, "done")


def _handed_back(batch: AlertBatch, progress: AlertProgress, next_step: str) -> dict[str, Any]:
    progress.next = next_step  # type: ignore[assignment]
    logger.info(
        "catalogue alert batch",
        extra={
            "store_id": batch.store_id,
            "workflow_id": batch.workflow_id,
            "change_id": batch.change.change_id,
            "sent": progress.sent,
            "next": progress.next,
            "stopped": progress.stopped,
        },
    )
    return progress.model_dump(mode="json")


class _SlotPool:
    """The batch's SES pacer slots, reserved a few at a time (one pacer write for several
    emails) and taken by each email as it is about to go, by whichever sender; SendThrottled
    when the pacer has none within the horizon (the batch pauses)."""

    def __init__(self) -> None:
        self._slots: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> float:
        with self._lock:
            return self._take()

    def _take(self) -> float:
        now = time.time()
        while self._slots and self._slots[0] < now - STALE_SLOT_SECONDS:
            self._slots.popleft()
        if not self._slots:
            count = max(1, int(pacing.send_rate() * SLOTS_PER_SECOND_RESERVED))
            reserved = pacing.reserve(now, count=count, horizon=SLOT_HORIZON_SECONDS)
            if reserved is None:
                raise SendThrottled("the SES pacer has no slot within the batch's horizon")
            self._slots.extend(reserved)
        return self._slots.popleft()
