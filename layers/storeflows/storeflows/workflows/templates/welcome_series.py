"""Welcome series (seed 003): for a new subscriber, up to five messages (by default at once,
after 2 days and after 4 days), the first one optionally with a first-order coupon (a coupon
on its message), ending once the contact buys if `exit_on_purchase` says so.

One series per contact: the run's first step writes WELCOMED#<workflow> on the contact
(only if there is none, or it is older than `welcome_again_after`), which also names the
run for an erasure before its first wait. A second sign-up (a form filled in again, the
API's `subscribed` after the browser's confirmed one) starts a run that ends there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field

from storeflows.events import EventBody
from storeflows.fields import Duration
from storeflows.storage import dynamodb as db
from storeflows.storage import keys
from storeflows.workflows.templates.base import TemplateSettings
from storeflows.workflows.templates.series import SeriesStep, numbered_steps
from storeflows.workflows.triggers import SubscribedTrigger

MAX_STEPS = 5  # the state machine has five send steps (3–5 is the usual series)


_DEFAULT_STEPS = [
    SeriesStep(message="welcome-1", wait=0),
    SeriesStep(message="welcome-2", wait=2 * 86400),
    SeriesStep(message="welcome-3", wait=2 * 86400),
]


class WelcomeSeriesSettings(TemplateSettings):
    description: ClassVar[str] = "A welcome series for new subscribers, ending when they buy."

    template: Literal["welcome_series"] = "welcome_series"
    trigger: SubscribedTrigger = Field(
        default=SubscribedTrigger(),
        description="A confirmed sign-up: the API's `subscribed`, or a browser sign-up once its link is followed.",
    )
    steps: list[SeriesStep] = Field(
        default=_DEFAULT_STEPS,
        min_length=1,
        max_length=MAX_STEPS,
        description="The messages, in order, each with its `wait` after the previous one (default: "
        "welcome-1 at once, welcome-2 2d later, welcome-3 2d after that). Put a coupon on the first "
        "message for a first-order offer.",
    )
    exit_on_purchase: bool = Field(
        default=True, description="Stop the series once the contact buys (checked before every message)."
    )
    welcome_again_after: Duration | None = Field(
        default=None,
        description="A contact who signs up again this long after their series started gets it again; "
        "unset: never (one series per contact).",
    )

    def exits_on_purchase(self) -> bool:
        return self.exit_on_purchase

    def run_inputs(
        self, store_id: str, email: str, workflow_id: str, subject_key: str, event: EventBody
    ) -> dict[str, Any]:
        # EnterWelcomeSeries writes the contact's series item only if there is none, or it
        # started before this moment ("" sorts before every time: never again).
        again_before = (
            db.utc_iso(db.now() - timedelta(seconds=self.welcome_again_after))
            if self.welcome_again_after is not None
            else ""
        )
        return {
            "welcome_key": keys.as_attribute_values(keys.welcome_key(store_id, email, workflow_id)),
            "welcome_again_before": again_before,
            "started_at": db.now_iso(),
            "welcome_steps": numbered_steps(self.steps),
        }
