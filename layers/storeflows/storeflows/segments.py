"""Dynamic segments: conditions on a contact, evaluated at the moment a workflow asks.

Definitions are a discriminated union (as Dittofeed's SegmentDefinition), so new kinds of
condition (score, consent, country) slot in without touching the workflows that use them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from storeflows.records import Contact, Purpose
from storeflows.storage import contacts


class HasTag(BaseModel):
    type: Literal["has_tag"]
    tag: str

    def contains(self, contact: Contact | None) -> bool:
        return contact is not None and self.tag in contact.tags


class ScoreAtLeast(BaseModel):
    type: Literal["score_at_least"]
    points: int

    def contains(self, contact: Contact | None) -> bool:
        return contact is not None and contact.score >= self.points


EU_COUNTRIES = frozenset("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())
EEA_ONLY_COUNTRIES = frozenset({"IS", "LI", "NO"})


class InEU(BaseModel):
    """The contact's country is one of the 27 EU member states (optionally the EEA)."""

    type: Literal["in_eu"]
    include_eea: bool = False

    def contains(self, contact: Contact | None) -> bool:
        if contact is None or not contact.country:
            return False
        country = contact.country.upper()
        return country in EU_COUNTRIES or (self.include_eea and country in EEA_ONLY_COUNTRIES)


class HasMarketingConsent(BaseModel):
    """The contact may be sent marketing now: consent given and not withdrawn since. An
    unsubscribe or a suppression withdraws it whatever consent is on record (an order's
    ticked checkbox never lifts an unsubscribe), so this asks what a marketing send asks
    (Contact.may_receive): a branch chosen on it never leads to a message that is skipped."""

    type: Literal["has_marketing_consent"]

    def contains(self, contact: Contact | None) -> bool:
        return contact is not None and contact.may_receive(Purpose.MARKETING)[0]


SegmentDefinition = Annotated[HasTag | ScoreAtLeast | InEU | HasMarketingConsent, Field(discriminator="type")]
_SEGMENTS = TypeAdapter(dict[str, SegmentDefinition])


def evaluate_segments(store_id: str, email: str, definitions: dict) -> dict[str, bool]:
    """Membership of one contact in each named segment, read consistently right now."""
    segments = _SEGMENTS.validate_python(definitions)
    contact = contacts.get_contact(store_id, email)
    return {name: segment.contains(contact) for name, segment in segments.items()}
