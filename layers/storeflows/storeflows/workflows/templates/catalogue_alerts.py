"""What the three catalogue alert templates share (back in stock, price drop, low stock): a
run starts on a change of a variant's state that is the template's transition, and sends to
the contacts interested in the product, batch by batch (storeflows.fanout). The template says
which changes are its transition, whether the variant still is as the alert says (re-read
before every send: nothing more goes once it is not), who its audiences are, in order, and
whether one contact of them is to be told (price drop: the price they saw)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field

from storeflows.catalogue import VariantChange, VariantState
from storeflows.events.subjects import SAMPLE_VARIANT, SubjectView
from storeflows.fields import Duration
from storeflows.storage.interest import InterestKind
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.triggers import CatalogueChangeTrigger

# The kinds of interest a template's `audience` may name (a request is back in stock's own).
AudienceKind = Literal["viewed", "carted", "checkout", "wishlisted"]


@dataclass(frozen=True)
class Audience:
    """One group of a run's recipients, told in this order: who showed these kinds of interest
    within the window (requests: all still open), the message they get, and whether telling
    them fulfils their request."""

    kinds: tuple[InterestKind, ...]
    message_id: str
    fulfils_requests: bool = False


class CatalogueAlertSettings(TemplateSettings):
    """A catalogue alert template's settings: each template adds its threshold and messages."""

    # Whether whom to tell depends on the price each contact saw (their latest view, cart or
    # checkout is read for it): the price drop's rule.
    compares_price_seen: ClassVar[bool] = False

    trigger: CatalogueChangeTrigger = Field(
        default=CatalogueChangeTrigger(),
        description="A variant's stock, price or availability changed (any product source).",
    )
    window: Duration = Field(
        default=30 * 86400, description="How recent a view or cart must be for the contact to be told."
    )
    # At most one of the workflow's alerts per contact and product within it (its own
    # default per template): a cap per product, not the workflow-wide frequency cap.
    cooldown: Duration

    @classmethod
    def sample_subjects(cls) -> dict[str, SubjectView]:
        return {"variant": SAMPLE_VARIANT}

    @abstractmethod
    def is_transition(self, change: VariantChange) -> bool:
        """Whether the change starts a run of this workflow."""

    @abstractmethod
    def stop_reason(self, change: VariantChange, now: VariantState) -> str | None:
        """Why nothing more is sent, the variant being as it is `now`; None while the alert
        still holds."""

    @abstractmethod
    def audiences(self, change: VariantChange) -> list[Audience]:
        """Who is told, group by group, in order."""

    def tells(self, change: VariantChange, now: VariantState, price_seen: Decimal | None) -> bool:
        """Whether a contact of the audience who saw `price_seen` is to be told (the price
        drop's own rule); True for the others."""
        return True

    def wave_size_for(self, now: VariantState) -> int | None:
        """How many contacts a wave tells, the stock being as it is now; None: no waves."""
        return None

    def interest_since(self, now: datetime) -> datetime:
        return datetime.fromtimestamp(now.timestamp() - self.window, tz=now.tzinfo)


def sold_out(state: VariantState) -> bool:
    """Not to be bought: unavailable, or no stock left (an untracked stock never runs out)."""
    return not state.available or (state.inventory_quantity is not None and state.inventory_quantity <= 0)


def in_stock(state: VariantState, at_least: int) -> bool:
    """Available with at least this many in stock (an untracked stock: available is enough)."""
    return state.available and (state.inventory_quantity is None or state.inventory_quantity >= at_least)
