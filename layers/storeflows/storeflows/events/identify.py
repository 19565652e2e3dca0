"""A visitor becomes a known contact: the visitor's earlier events (kept 30 days) are
attached to the contact. The store's signed API names the email; the browser can only claim
one (a login, a form), or hand in the signed contact token of a Storeflows email's link."""

from __future__ import annotations

from typing import ClassVar, Literal

from storeflows.events.common import Customer, GivenVisitorId, OccurredAt, ValueObject


class IdentifyEvent(ValueObject):
    type: Literal["identify"]
    occurred_at: OccurredAt = None
    visitor_id: GivenVisitorId
    customer: Customer

    accepted_by_api: ClassVar[bool] = True
    accepted_by_browser: ClassVar[bool] = True

    def run_subject(self, event_id: str) -> None:
        return None
