"""Field types shared by workflow settings, messages and stores: durations as marketers write
them, and the ids that end up in DynamoDB keys, run names and SES tags."""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field, ValidationInfo

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNITS = "10d, 12h, 30m or 45s"

WRITTEN: Final[dict[str, Any]] = {"written": True}
"""The validation context of what a person writes (workflow files, CLI options):
`Model.model_validate(data, context=WRITTEN)`. A duration there needs its unit; without
the context a number is whole seconds, as settings are stored and read back."""


def _seconds(value: object, info: ValidationInfo) -> object:
    """ "10d", "12h", "30m", "45s", or, read back from storage, a number of seconds; the rest
    is pydantic's to refuse."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        if value.strip().isdigit():
            raise ValueError(f"{value.strip()} has no unit; write {_UNITS}")
        raise ValueError(f"{value!r} is not a duration like {_UNITS}")
    if info.context and info.context.get("written"):
        if isinstance(value, int | float) and not isinstance(value, bool):
            # A bare number would be seconds: `follow_up_after: 10` meaning ten seconds, silently.
            raise ValueError(f"{value} has no unit; write {_UNITS}")
        raise ValueError(f"{value!r} is not a duration like {_UNITS}")
    return value


# Stored and handed to Wait states as whole seconds; written by marketers as "10d".
Duration = Annotated[int, BeforeValidator(_seconds), Field(ge=0, le=365 * 86400)]


def is_duration(field: Any) -> bool:
    """Whether a model field (pydantic FieldInfo) is a Duration."""
    return any(isinstance(item, BeforeValidator) and item.func is _seconds for item in field.metadata)


def duration_text(seconds: int) -> str:
    """Seconds as a marketer writes them: 864000 -> "10d", 5400 -> "90m", 45 -> "45s"."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


TagName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_:.\-]+$")]
# Message and workflow ids are tag-safe (SES allows [A-Za-z0-9_-] in tag values).
MessageId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
WorkflowId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
