"""Data protection: everything Storeflows holds about one contact, exported or erased.

A contact is one partition (keys.contact_pk), so both work on the whole partition, item by
item, grouped by the kind its sort key names: a kind of item added later is exported and
erased with the rest, without a change here.

Erasing keeps one record, under a hash of the address (records.Suppression): when the
address was erased, and whether it had unsubscribed or was suppressed (bounce, complaint)
before. A profile created later for the same address (the person buys again) starts from it
(contacts.start_profile): an old unsubscribe or suppression comes back with it, so
marketing the person had turned off stays off; otherwise the profile starts without
marketing consent as of the erasure, and only consent stated after the erasure allows
marketing again. Erasure is not an objection to marketing: a customer who asked to be
forgotten and later buys again and opts in has given new consent.

What is held outside the table is listed in the README ("Data protection"): Step Functions
execution histories, messages on the event queues, point-in-time backups, SES's account-level
suppression list. The CLI (storeflows.admin) and the dispatcher (Shopify's compliance
webhooks) call the same functions here."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from storeflows.events.privacy import DataRequest
from storeflows.events.subjects import ReorderSubject
from storeflows.records import DataRequestRecord, Suppression
from storeflows.storage import (
    browser,
    contacts,
    dates,
    dynamodb,
    keys,
    reports,
    sends,
    signups,
    silence,
    visitors,
    workflows,
)
from storeflows.storage import privacy as privacy_store
from storeflows.workflows import runs

STOP_ERROR = "Storeflows.ContactErased"
STOP_CAUSE = "The contact was erased on request; its personal data is gone."


def export_contact(store_id: str, email: str) -> dict[str, Any]:
    """Everything held about the contact, as JSON-ready data: the profile, every other item
    of the contact's partition grouped by kind (order, send, consent, ...) with each sent
    email's engagement (delivered, opened, clicked, bounced...), the suppression record of an
    earlier erasure, and the contact's data requests. Money and other decimals
    with a fraction are exact strings; sets are sorted lists."""
    profile: dict[str, Any] | None = None
    records: dict[str, list[Any]] = {}
    history = contacts.contact_history(store_id, email)
    # What SES reported of each email sent (kept outside the partition, under its SES id).
    engagement = reports.email_engagement([item["ses_message_id"] for item in history if "ses_message_id" in item])
    for item in history:
        if item["sk"] == keys.PROFILE_SK:
            profile = _plain({name: value for name, value in item.items() if name not in ("pk", "sk")})
        else:
            record = {name: value for name, value in item.items() if name != "pk"}
            if item.get("ses_message_id") in engagement:
                record["engagement"] = {
                    name: value
                    for name, value in engagement[item["ses_message_id"]].items()
                    if name.endswith("_at") and name != keys.EXPIRES_AT
                }
            records.setdefault(keys.item_kind(item["sk"]), []).append(_plain(record))
    suppression = privacy_store.get_suppression(store_id, email)
    return {
        "store_id": store_id,
        "email": email,
        "exported_at": dynamodb.now_iso(),
        "profile": profile,
        "records": records,
        "suppression": suppression.model_dump(exclude_none=True) if suppression else None,
        "data_requests": [
            request.model_dump(exclude_none=True, exclude={"email"}) for request in _data_requests_of(store_id, email)
        ],
    }


def _plain(value: Any) -> Any:
    """DynamoDB's values as JSON's: whole numbers as numbers, other decimals as exact text."""
    if isinstance(value, dict):
        return {name: _plain(item) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(item) for item in value)
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent  # "n", "N" or "F" for NaN and infinity
        return int(value) if isinstance(exponent, int) and exponent >= 0 else str(value)
    return value


@dataclass(frozen=True)
class Erasure:
    """What erase_contact did. `suppression` is what it kept (None: nothing was held)."""

    items_erased: dict[str, int] = field(default_factory=dict)  # kind -> count
    runs_stopped: list[dict[str, str]] = field(default_factory=list)  # workflow_id, subject
    data_requests_erased: int = 0
    suppression: Suppression | None = None

    @property
    def items_count(self) -> int:
        return sum(self.items_erased.values())


def erase_contact(store_id: str, email: str, *, via: str) -> Erasure:
    """Stops the contact's runs in flight and deletes every item of their partition and their
    data requests, keeping only the suppression record. `via` says what asked (the CLI, a
    Shopify event id). Idempotent: erasing again deletes what arrived since, nothing else.

    The order makes every interruption safe to retry: the suppression record is written first
    (an unsubscribe is never lost), runs are stopped before the items go (a run stopped later
    could write to the partition again), and the profile is deleted last."""
    items = contacts.contact_history(store_id, email)
    previous = privacy_store.get_suppression(store_id, email)
    requests = _data_requests_of(store_id, email)
    if not items and not requests:
        return Erasure(suppression=previous)
    subjects = {key for key in map(sends.run_subject_key, items) if key is not None}
    # A replenishment reminder is about one SKU of an order: named by the order and the SKU.
    subjects.update(
        key
        for item in items
        if item["sk"].startswith(keys.ORDER_PREFIX) and "order_id" in item
        for key in ReorderSubject.keys_of_order(item["order_id"], item.get("items", []))
    )
    # Before anything changes: a missing setting stops the erasure here.
    possible = runs.possible_runs(store_id, workflows.list_workflows(store_id), subjects)
    suppression = previous
    if items:
        profile = next((item for item in items if item["sk"] == keys.PROFILE_SK), {})
        suppression = Suppression.after_erasure(profile, previous, at=dynamodb.now_iso(), via=via)
        privacy_store.put_suppression(store_id, email, suppression)
    stopped = runs.stop_runs(possible, error=STOP_ERROR, cause=STOP_CAUSE)
    for request in requests:
        privacy_store.delete_data_request(store_id, request.request_id)
    # A visitor's partition holds the address and the visitor's browsing; the contact's link
    # items name it, so it goes before them (a retried erasure still finds it).
    visitor_items = sum(
        visitors.forget_visitor(store_id, item["visitor_id"])
        for item in items
        if item["sk"].startswith(keys.VISITOR_PREFIX)
    )
    # An email link's ref names the address outside the partition: once it is gone, every link
    # the contact was sent identifies nobody.
    for item in items:
        if item["sk"].startswith(keys.CONTACT_LINK_PREFIX):
            browser.forget_contact_link(store_id, item["ref"])
    # A sign-up waiting for its confirmation holds the address under its own key; the
    # contact's SIGNUP item names it, so it goes first too.
    signup_requests = signups.delete_request_of(store_id, email)
    # The day index names the address under the day's key; the profile says which day.
    if items:
        dates.forget(store_id, {"email": email, **profile})
        silence.forget(store_id, {"email": email, **profile})
    erased = Counter(keys.item_kind(sort_key) for sort_key in contacts.delete_contact(store_id, email))
    if signup_requests:
        erased["signup_request"] += signup_requests
    if visitor_items:
        erased["visitor_data"] += visitor_items
    return Erasure(
        items_erased=dict(sorted(erased.items())),
        runs_stopped=stopped,
        data_requests_erased=len(requests),
        suppression=suppression,
    )


# --- data requests -----------------------------------------------------------------------------


def record_data_request(store_id: str, request: DataRequest, *, source: str) -> bool:
    """Keeps the request for the operator to answer (data_request_export); the export is made
    when it is answered, so no second copy of the data waits in the table (nor an item-size
    limit), and it is current. False when the request was already kept."""
    return privacy_store.put_data_request(
        store_id,
        DataRequestRecord(
            request_id=request.request_id,
            email=request.customer.email,
            source=source,
            received_at=dynamodb.now_iso(),
            platform_customer_id=request.platform_customer_id,
            orders_requested=request.orders_requested,
        ),
    )


def data_request_export(store_id: str, request_id: str) -> tuple[DataRequestRecord, dict[str, Any]] | None:
    """A kept data request and the export that answers it, made now. None when there is no
    such request (never received, or its contact was erased since)."""
    request = privacy_store.get_data_request(store_id, request_id)
    return (request, export_contact(store_id, request.email)) if request else None


def _data_requests_of(store_id: str, email: str) -> list[DataRequestRecord]:
    return [request for request in privacy_store.list_data_requests(store_id) if request.email == email]
