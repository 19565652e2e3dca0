"""A sign-up made in the browser (the snippet's subscribe call, a form): only a request. It
sends the address a transactional confirmation email; the person is subscribed (a
`subscribed` event, and the welcome series) only once its link is followed — double opt-in,
so nobody can subscribe someone else's address."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from storeflows.events.common import MAX_TEXT_LENGTH, Customer, StorefrontEvent


class SubscriptionRequestedEvent(StorefrontEvent):
    type: Literal["subscription_requested"]
    customer: Customer  # the address to confirm (a visitor alone cannot sign up)
    # The words shown next to the form, kept with the consent once confirmed.
    consent_text: Annotated[str | None, Field(max_length=MAX_TEXT_LENGTH)] = None
    source: Annotated[str, Field(min_length=1, max_length=64)] = "browser"

    accepted_by_api: ClassVar[bool] = True
    accepted_by_browser: ClassVar[bool] = True
