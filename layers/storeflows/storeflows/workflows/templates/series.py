"""What the series templates share: a list of steps, each a message and the wait before it
(welcome_series, win_back, usage_tips), handed to their state machines by name."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from storeflows.fields import Duration, MessageId


class SeriesStep(BaseModel):
    """One message of a series and how long after the previous step (the series' start, for
    the first) it goes."""

    model_config = ConfigDict(extra="forbid")

    message: MessageId = Field(description="The message sent at this step.")
    wait: Duration = Field(default=0, description="How long after the previous step (or the start) it goes.")


def numbered_steps(steps: list[SeriesStep]) -> dict[str, dict[str, Any]]:
    """{"step1": {message, wait}, ...} for the state machine's `HasStepN?` choices: by name,
    not by index, as a JSONPath index yields a list in some evaluators (moto's)."""
    return {f"step{n}": step.model_dump() for n, step in enumerate(steps, start=1)}
