"""The dispatcher's own reminder to look at a contact's site session again: put on the event
queue with a delay when a session starts (storeflows.sessions), it re-queues itself while
the session goes on and decides the session's one run once it has ended. Neither the event
API nor the browser may send it: only the dispatcher does."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from storeflows.events.common import Customer, ValueObject


class SessionCheckEvent(ValueObject):
    type: Literal["session_check"]
    customer: Customer
    session_id: str
    # The session as it was when a newer one replaced it before its check came (its check
    # decides it from this; the table holds the newer one by then). None: read the table.
    ended: dict[str, Any] | None = None

    accepted_by_api: ClassVar[bool] = False
    accepted_by_browser: ClassVar[bool] = False

    def run_subject(self, event_id: str) -> None:
        """The runs it starts are about the session: the dispatcher names them."""
        return None
