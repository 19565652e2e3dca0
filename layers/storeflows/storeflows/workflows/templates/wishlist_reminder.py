"""Wishlist reminder (seed 003): `remind_after` (7 days) after products were put on the
wishlist and not bought, one email listing those still on it and not bought since.

One run per contact at a time: the run's first step claims the contact's wishlist (its
`subject`), so a product added while a run waits joins that run instead of starting
another, and the wait starts again (a debounce: the reminder goes `remind_after` after the
wishlist last changed, checked at the end of each wait). After a reminder the run keeps the
wishlist for `cooldown`, so no second reminder comes sooner; a product added meanwhile gets
its reminder once the cooldown and another `remind_after` have passed."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from storeflows.events import EventBody
from storeflows.events.subjects import SAMPLE_WISHLIST, SubjectView
from storeflows.fields import Duration, MessageId
from storeflows.storage import keys
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.triggers import WishlistAddedTrigger


class WishlistReminderSettings(TemplateSettings):
    description: ClassVar[str] = "A reminder of the products on a wishlist, not bought after a week."

    template: Literal["wishlist_reminder"] = "wishlist_reminder"
    trigger: WishlistAddedTrigger = Field(
        default=WishlistAddedTrigger(), description="A product put on the wishlist (`wishlist_added`)."
    )
    reminder_message: MessageId = Field(
        description="The reminder (marketing); it lists `wishlist.items`, and is skipped when none is left."
    )
    remind_after: Duration = Field(
        default=7 * 86400, description="How long after the wishlist last changed the reminder goes."
    )
    cooldown: Duration = Field(
        default=7 * 86400, description="After a reminder, how long before the contact can get the next one."
    )

    @classmethod
    def sample_subjects(cls) -> dict[str, SubjectView]:
        return {"wishlist": SAMPLE_WISHLIST}

    def run_inputs(
        self, store_id: str, email: str, workflow_id: str, subject_key: str, event: EventBody
    ) -> dict[str, Any]:
        return {"wishlist_key": keys.as_attribute_values(keys.wishlist_key(store_id, email))}
