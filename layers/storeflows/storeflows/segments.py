"""Dynamic segments: conditions on a contact, evaluated at the moment a workflow asks.

Definitions are a discriminated union (as Dittofeed's SegmentDefinition), so new kinds of
condition (score, consent, country) slot in without touching the workflows that use them."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter

from storeflows import repository
from storeflows.records import Contact


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


SegmentDefinition = Annotated[Union[HasTag, ScoreAtLeast], Field(discriminator="type")]
_SEGMENTS = TypeAdapter(dict[str, SegmentDefinition])


def evaluate_segments(store_id: str, email: str, definitions: dict) -> dict[str, bool]:
    """Membership of one contact in each named segment, read consistently right now."""
    segments = _SEGMENTS.validate_python(definitions)
    contact = repository.get_contact(store_id, email)
    return {name: segment.contains(contact) for name, segment in segments.items()}
