"""Unsubscribes: what following the one-click link (messaging.unsubscribe_links) or SES's
own "unsubscribe all" does. Re-subscribing is an explicit consent event (see dispatch)."""

from __future__ import annotations

from datetime import UTC, datetime

from storeflows.errors import InvalidSignature
from storeflows.messaging.unsubscribe_links import read_unsubscribe_store_id, verify_unsubscribe_token
from storeflows.observability import MetricUnit, logger, metrics
from storeflows.storage import contacts, sends, stores


def unsubscribe(token: str) -> bool:
    """Unsubscribes the contact a signed link names from marketing. True only when this
    changed something; a repeated POST, a link for an erased contact and a tampered or
    foreign token all change nothing, and the caller answers all of them alike, so the
    answer never tells whether an address is on file."""
    try:
        store = stores.get_store(read_unsubscribe_store_id(token))
        if store is None:
            raise InvalidSignature("link names an unknown store")
        request = verify_unsubscribe_token(store.unsubscribe_key, token)
    except InvalidSignature as refused:
        logger.info("unsubscribe link refused", extra={"reason": refused.detail})
        return False
    return unsubscribe_from_email(request.store_id, request.email, request.message_id, at=datetime.now(UTC))


def unsubscribe_from_email(
    store_id: str, email: str, message_id: str, *, at: datetime, counted_for: tuple[str, str] | None = None
) -> bool:
    """Unsubscribes the contact and counts it once for the email they left from: the report
    row (workflow, sent on) is `counted_for`, or else that of the contact's latest email of
    this message (a link names its message, not the one send)."""
    if counted_for is None:
        sent = sends.latest_email_sent(store_id, email, message_id)
        if sent is not None and sent.get("sent_on"):
            counted_for = (sent["workflow_id"], sent["sent_on"])
    changed = contacts.unsubscribe_contact(store_id, email, via_message=message_id, at=at, counted_for=counted_for)
    logger.info("unsubscribe", extra={"store_id": store_id, "message_id": message_id, "changed": changed})
    if changed:
        metrics.add_metric(name="Unsubscribes", unit=MetricUnit.Count, value=1)
    return changed
