"""Contacts: one contact's summary, the store's contacts exported to CSV, and data protection
(one contact's data exported or erased, data requests answered: storeflows.privacy)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import IO, Any

from storeflows import privacy
from storeflows.admin.errors import AdminError
from storeflows.admin.stores import require_store
from storeflows.admin.workflows import require_workflow
from storeflows.records import Contact, DataRequestRecord, Purpose
from storeflows.storage import contacts, keys, sends
from storeflows.storage import privacy as privacy_store


def recorded_orders(store_id: str, email: str) -> list[dict[str, Any]]:
    """The contact's recorded purchases, cancelled ones too."""
    return [item for item in contacts.contact_history(store_id, email) if _is_purchase(item)]


def _is_purchase(item: dict[str, Any]) -> bool:
    """An ORDER# item holding a purchase: not that of an order cancelled before its purchase
    was recorded, which holds none (storage.orders)."""
    return item["sk"].startswith(keys.ORDER_PREFIX) and "total" in item


# How many of a contact's latest send decisions `contacts show` lists (an export has them all).
RECENT_SENDS = 10


def contact_summary(store_id: str, email: str) -> dict[str, Any]:
    """Profile, tags, score, consent, orders, the latest send decisions (sent, or skipped and
    why) and the workflows the contact is in right now: one Query of the contact's items."""
    require_store(store_id)
    email = email.strip().lower()
    contact = contacts.get_contact(store_id, email)
    if contact is None:
        erased = privacy_store.get_suppression(store_id, email)
        raise AdminError(
            f"no contact {email} in store {store_id}" + (f" (erased {erased.erased_at})" if erased else "")
        )
    history = contacts.contact_history(store_id, email)
    decisions = sorted(
        (item for item in history if item["sk"].startswith(keys.SEND_PREFIX)),
        key=lambda item: item.get("decided_at", ""),
        reverse=True,
    )
    may_market, why_not = contact.may_receive(Purpose.MARKETING)
    return {
        **contact.model_dump(mode="json"),
        "tags": sorted(contact.tags),
        "marketing_allowed": may_market,
        "marketing_blocked_by": why_not,
        "orders": [
            {
                "order_id": item["order_id"],
                "total": str(item["total"]),
                "currency": item["currency"],
                "occurred_at": item.get("occurred_at"),
                "delivered_at": item.get("delivered_at"),
                "cancelled_at": item.get("cancelled_at"),
            }
            for item in sorted(
                (item for item in history if _is_purchase(item)),
                key=lambda item: item.get("occurred_at", ""),
            )
        ],
        "sends": [_decision(item) for item in decisions[:RECENT_SENDS]],
        "sends_total": len(decisions),
        "in_workflows": [
            {"workflow_id": item["workflow_id"], "subject": sends.run_subject_key(item)}
            for item in history
            if item["sk"].startswith(keys.ACTIVE_PREFIX)
        ],
    }


def _decision(item: dict[str, Any]) -> dict[str, Any]:
    """One send decision as an operator reads it: when, which run and step, which message, and
    what happened (sent, with its language; skipped, with the reason)."""
    return {
        "decided_at": item.get("decided_at"),
        "workflow_id": item.get("workflow_id"),
        "subject": sends.run_subject_key(item),
        "step": item.get("step"),
        "message_id": item.get("message_id"),
        "status": item.get("status"),
        "reason": item.get("reason"),
        "language": item.get("language"),
        "ses_message_id": item.get("ses_message_id"),
        "coupon_code": item.get("coupon_code"),
    }


def export_contacts(
    store_id: str,
    *,
    not_in_workflow: str | None = None,
    tags: Iterable[str] = (),
    min_score: int | None = None,
    consent_only: bool = False,
) -> Iterator[Contact]:
    """The store's contacts that match every filter. Scans the whole table (see
    contacts.scan_contacts) plus one Query per contact when `not_in_workflow` is given."""
    require_store(store_id)
    if not_in_workflow is not None:
        require_workflow(store_id, not_in_workflow)
    wanted = set(tags)
    for contact in contacts.scan_contacts(store_id):
        if not wanted <= contact.tags:
            continue
        if min_score is not None and contact.score < min_score:
            continue
        if consent_only and not contact.may_receive(Purpose.MARKETING)[0]:
            continue
        if not_in_workflow is not None and any(
            run["workflow_id"] == not_in_workflow for run in sends.active_runs(store_id, contact.email)
        ):
            continue
        yield contact


CSV_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "language",
    "country",
    "tags",
    "score",
    "orders_count",
    "total_spent",
    "marketing_consent",
    "unsubscribed",
    "last_order_at",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """Text a spreadsheet will not run: customer-typed names starting with = + - @ get a
    leading apostrophe (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def write_contacts_csv(contacts: Iterable[Contact], stream: IO[str]) -> int:
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for contact in contacts:
        writer.writerow(
            [
                _cell(contact.email),
                _cell(contact.first_name),
                _cell(contact.last_name),
                _cell(contact.language),
                _cell(contact.country),
                _cell(" ".join(sorted(contact.tags))),
                contact.score,
                contact.orders_count,
                contact.total_spent,
                "yes" if contact.consent and contact.consent.marketing else "no",
                "yes" if contact.unsubscribed_at else "no",
                contact.last_order_at.isoformat() if contact.last_order_at else "",
            ]
        )
        count += 1
    return count


# --- data protection (storeflows.privacy) -------------------------------------------------------

ERASED_VIA = "storeflows contacts delete"


def contact_data(store_id: str, email: str) -> dict[str, Any]:
    """Everything held about one contact (privacy.export_contact); the export says so when
    nothing is held."""
    require_store(store_id)
    return privacy.export_contact(store_id, email.strip().lower())


def held_items(export: dict[str, Any]) -> int:
    """How many items an export shows: the profile, every record and data request."""
    return (
        (export["profile"] is not None)
        + sum(len(items) for items in export["records"].values())
        + len(export["data_requests"])
    )


def erase_contact(store_id: str, email: str) -> privacy.Erasure:
    """Stops the contact's runs in flight and erases their data, keeping only the suppression
    record (privacy.erase_contact)."""
    require_store(store_id)
    return privacy.erase_contact(store_id, email.strip().lower(), via=ERASED_VIA)


def data_requests(store_id: str) -> list[DataRequestRecord]:
    """The store's data requests, oldest first, answered ones included (answered_at says when)."""
    require_store(store_id)
    return sorted(privacy_store.list_data_requests(store_id), key=lambda request: request.received_at)


def data_request_export(store_id: str, request_id: str) -> tuple[DataRequestRecord, dict[str, Any]]:
    """The export answering one data request, made now. Mark it answered once it is handed on
    (mark_data_request_answered)."""
    require_store(store_id)
    found = privacy.data_request_export(store_id, request_id)
    if found is None:
        raise AdminError(
            f"no data request {request_id!r} in store {store_id} (list them: storeflows contacts "
            f"data-requests {store_id})"
        )
    return found


def mark_data_request_answered(store_id: str, request_id: str) -> None:
    privacy_store.mark_data_request_answered(store_id, request_id)
