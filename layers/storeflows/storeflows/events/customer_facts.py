"""What a store's platform says of a customer outside orders, as far as a flow needs it: today
the birthday only, from Shopify's standard customer metafield `facts.birth_date`
(customers/create and customers/update, subscribed with the metafield namespace `facts`). It
starts the contact's profile if there is none and keeps the birthday (the dispatcher's
`_note_birthday`); nothing else of the customer is kept from it."""

from __future__ import annotations

from typing import ClassVar, Literal

from storeflows.events.common import Customer, ValueObject


class CustomerFactsEvent(ValueObject):
    type: Literal["customer_facts"]
    customer: Customer

    accepted_by_api: ClassVar[bool] = False

    def run_subject(self, event_id: str) -> None:
        return None
