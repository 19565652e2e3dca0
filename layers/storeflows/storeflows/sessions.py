"""A contact's site sessions, and the one run each may start when it ends (browse, search or
site abandonment).

A session is the contact's activity with no gap longer than the session timeout (30
minutes): product, category and page views and searches go on it (storage.sessions), and a
cart marks it carted (`note_cart`, called by the cart's recorder). A page view never starts
a run. When a session starts and the store has a published workflow triggered by session
ends, one `session_check` event goes on the event queue with a delay (SQS allows 15 minutes
at most); it re-queues itself while the session goes on and, once the session has ended,
decides its one run: browse abandonment if products were viewed, else search abandonment
if a search's results were not followed, else site abandonment, whichever the store has a
published workflow for that takes the session (nothing if the contact carted).

Late events: an identified visitor's kept events are dispatched again naming the contact,
with their own times. An event within the timeout of the current session counts for it
(an earlier one moves its start back; the last activity never goes back); an event from
before the current session (more than the timeout before its start) belonged to an earlier
session and counts for none, since that session was decided (or never watched) already;
an event later than the timeout after the last activity starts a new session. Events more
than a day old start no session: an email about a visit days ago is not a reminder. A
newer session replacing one whose check has not come yet decides the ended one on the spot
(its check is queued at once, carrying it)."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from storeflows.aws import client
from storeflows.config import require, settings
from storeflows.events import StoreEvent
from storeflows.events.category_view import CategoryViewedEvent
from storeflows.events.common import Customer
from storeflows.events.page_view import PageViewedEvent
from storeflows.events.product_view import ProductViewedEvent
from storeflows.events.search import SearchEvent
from storeflows.events.session_check import SessionCheckEvent
from storeflows.events.subjects import SessionSubject
from storeflows.observability import logger
from storeflows.storage import sessions as store
from storeflows.storage import workflows
from storeflows.workflows import WorkflowStatus
from storeflows.workflows.triggers import SessionEndTrigger

TIMEOUT = timedelta(minutes=30)
# Kept events older than this start no session.
LATE_LIMIT = timedelta(days=1)
# SQS's longest DelaySeconds.
MAX_DELAY_SECONDS = 900
# What a run's subject carries of a session.
PRODUCTS_SHOWN = 6
CATEGORIES_SHOWN = 6
# An event is tried on the session this often before its record fails (and SQS retries it):
# only events of one contact racing each other fail a conditional write.
_ATTEMPTS = 4
# The order sessions are offered to the templates: the most specific signal first.
_KINDS = ("browse", "search", "site")

SessionView = ProductViewedEvent | CategoryViewedEvent | PageViewedEvent | SearchEvent


def timeout() -> timedelta:
    configured = settings().session_timeout_seconds
    return timedelta(seconds=configured) if configured is not None else TIMEOUT


def record(event: StoreEvent, body: SessionView, email: str) -> dict[str, Any]:
    """Puts a storefront view or search of the contact on their current session."""
    at = body.occurred_at or event.received_at
    if at < event.received_at - LATE_LIMIT:
        return {"session": "too_old"}
    if isinstance(body, ProductViewedEvent) and body.product.identity is not None:
        store.view_product(
            event.store_id, email, body.product.identity, _product(body.product.model_dump(mode="json")), at
        )
    change = _change(event.event_id, at, body)
    for _ in range(_ATTEMPTS):
        outcome = _apply(event, email, change)
        if outcome is not None:
            return {"session": outcome}
    raise RuntimeError("the session kept changing while this event was recorded")


def note_cart(store_id: str, email: str, at: datetime) -> None:
    """The cart recorder's word that the contact carted at `at`: the session is carted (no
    session run), and a session run waiting to send skips (carted_since)."""
    store.note_cart(store_id, email, at)


def _apply(event: StoreEvent, email: str, change: store.Change) -> str | None:
    """What the event did to the session, or None when the session changed meanwhile."""
    limit = timeout()
    if store.extend(event.store_id, email, change, limit):
        return "extended"
    session = store.current(event.store_id, email)
    if session is None or "session_id" not in session or change.at > _parse(session["last_activity"]) + limit:
        return _start(event, email, change, session)
    if session["last_event"] == change.event_id:
        if session.get("started_by") == change.event_id and session.get("watched"):
            # A redelivery of the event that started the session: its check may never have
            # been queued (the first delivery failed after the write). One more is harmless.
            _queue_check(event, email, session["session_id"], limit.total_seconds())
        return "duplicate"
    if change.at < _parse(session["started_at"]) - limit:
        return "before_session"
    if change.at > _parse(session["last_activity"]):
        return None  # another event extended it meanwhile: the fast path again
    return "extended_late" if store.extend_late(event.store_id, email, session, change) else None


def _start(event: StoreEvent, email: str, change: store.Change, previous: dict[str, Any] | None) -> str | None:
    watched = _store_watches_sessions(event.store_id)
    session_id = hashlib.sha256(f"{event.store_id}\x1f{email}\x1f{change.event_id}".encode()).hexdigest()[:24]
    if not store.start(event.store_id, email, session_id, change, watched=watched, previous=previous):
        return None
    if previous is not None and "session_id" in previous and previous.get("watched") and not previous.get("decided"):
        # Its check has not come yet (it would find this newer session): decide it now.
        _queue_check(event, email, previous["session_id"], 0, ended=previous)
    if watched:
        _queue_check(event, email, session_id, timeout().total_seconds())
    return "started"


def _store_watches_sessions(store_id: str) -> bool:
    """Whether a session end could start a run: read once per session, at its start."""
    return any(
        workflow.status is WorkflowStatus.PUBLISHED and isinstance(workflow.settings.trigger, SessionEndTrigger)
        for workflow in workflows.list_workflows(store_id)
    )


def _queue_check(
    event: StoreEvent, email: str, session_id: str, after_seconds: float, ended: dict[str, Any] | None = None
) -> None:
    check = StoreEvent(
        store_id=event.store_id,
        event_id=f"session-check:{session_id}",
        source=event.source,
        received_at=event.received_at,
        event=SessionCheckEvent(
            type="session_check", customer=Customer(email=email), session_id=session_id, ended=_jsonable(ended)
        ),
    )
    client("sqs").send_message(
        QueueUrl=require("event_queue_url"),
        MessageBody=check.model_dump_json(),
        DelaySeconds=min(MAX_DELAY_SECONDS, max(0, math.ceil(after_seconds))),
    )


def check(event: StoreEvent, body: SessionCheckEvent) -> tuple[str, SessionSubject | None]:
    """The session check: again later while the session goes on; once it has ended, the
    subject of its one run, if any template takes it (the dispatcher starts it). Returns
    what the check found, and that subject."""
    email = body.customer.email
    session = body.ended or store.current(event.store_id, email)
    if session is None or session.get("session_id") != body.session_id:
        return "superseded", None
    if session.get("decided"):
        return "decided", None
    if body.ended is None:
        due = _parse(session["last_activity"]) + timeout()
        now = store.clock()
        if now < due:
            _queue_check(event, email, body.session_id, (due - now).total_seconds())
            return "later", None
    subject = _decide(event, email, session)
    if body.ended is None and not store.mark_decided(
        event.store_id, email, session, subject.kind if subject else "none"
    ):
        # Activity since the read: look again at once.
        _queue_check(event, email, body.session_id, 0)
        return "changed", None
    logger.info(
        "session decided",
        extra={"store_id": event.store_id, "event_id": event.event_id, "decision": subject.kind if subject else None},
    )
    return (subject.kind if subject else "none"), subject


def _decide(event: StoreEvent, email: str, session: dict[str, Any]) -> SessionSubject | None:
    """The one subject a session's run is about: the first kind a published workflow takes."""
    if session.get("last_carted_at") and session["last_carted_at"] >= session["started_at"]:
        return None
    viewed = store.viewed_between(event.store_id, email, session["started_at"], session["last_activity"])
    workflows_now = [w for w in workflows.list_workflows(event.store_id) if w.runs_for(event.event)]
    for kind in _KINDS:
        subject = _subject(event.store_id, session, kind, viewed)
        if subject is not None and any(workflow.settings.takes(subject) for workflow in workflows_now):
            return subject
    return None


def _subject(store_id: str, session: dict[str, Any], kind: str, viewed: list[dict[str, Any]]) -> SessionSubject | None:
    search = None
    if kind == "browse" and not viewed and not session.get("categories"):
        return None
    if kind == "search":
        search = _abandoned_search(store_id, session, viewed)
        if search is None:
            return None
    if kind == "site" and viewed:
        return None
    return SessionSubject(
        session_id=session["session_id"],
        kind=kind,
        started_at=_parse(session["started_at"]),
        ended_at=_parse(session["last_activity"]),
        pages=int(session.get("pages", 0)),
        product_views=len(viewed),
        products=viewed[:PRODUCTS_SHOWN] if kind == "browse" else [],
        categories=list(session.get("categories", {}).values())[:CATEGORIES_SHOWN],
        search=search,
    )


def _abandoned_search(store_id: str, session: dict[str, Any], viewed: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The latest search whose results the contact neither clicked nor viewed."""
    clicked = set(session.get("clicked_queries", set()))
    seen = {product.get("product_id") for product in viewed}
    left = [
        search
        for key, search in session.get("searches", {}).items()
        if key not in clicked and not seen.intersection(search.get("results", []))
    ]
    if not left:
        return None
    latest = max(left, key=lambda search: search["at"])
    return {"query": latest["query"], "results": store.catalogue(store_id, list(latest.get("results", [])))}


def _change(event_id: str, at: datetime, body: SessionView) -> store.Change:
    if isinstance(body, CategoryViewedEvent):
        category = body.category
        key = category.category_id or category.name or category.url or "-"
        return store.Change(event_id, at, category=(key, _product(category.model_dump(mode="json"))))
    if isinstance(body, SearchEvent):
        query = " ".join(body.query.split()).lower()
        kept = {
            "query": body.query,
            "results": body.result_product_ids[: store.MAX_SEARCH_RESULTS_KEPT],
            "at": at.isoformat(),
        }
        return store.Change(event_id, at, search=(query, kept), clicked=body.result_clicked)
    return store.Change(event_id, at, page=isinstance(body, PageViewedEvent))


def _product(fields: dict[str, Any]) -> dict[str, Any]:
    """What a message shows of a product or category (no empty attributes stored)."""
    return {name: value for name, value in fields.items() if value is not None}


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


def _jsonable(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """A session item as it travels in a check event (sets and numbers as JSON has them)."""
    if item is None:
        return None
    return {
        name: sorted(value) if isinstance(value, set) else int(value) if isinstance(value, Decimal) else value
        for name, value in item.items()
    }
