"""One-click unsubscribe (RFC 8058): the link in every marketing message lands here."""

from __future__ import annotations

from storeflows import repository
from storeflows.errors import InvalidSignature
from storeflows.observability import MetricUnit, logger, metrics
from storeflows.unsubscribe import read_unsubscribe_store_id, verify_unsubscribe_token


def unsubscribe(token: str) -> bool:
    """Marks the contact named by a signed link unsubscribed from marketing. Idempotent:
    the first unsubscribe time is kept. False when the contact no longer exists."""
    store = repository.get_store(read_unsubscribe_store_id(token))
    if store is None:
        raise InvalidSignature("link names an unknown store")
    request = verify_unsubscribe_token(store.unsubscribe_key, token)
    changed = repository.mark_unsubscribed(request.store_id, request.email, request.message_id)
    logger.info("unsubscribe", extra={"store_id": request.store_id, "message_id": request.message_id, "contact_found": changed})
    metrics.add_metric(name="Unsubscribes", unit=MetricUnit.Count, value=1)
    return changed
