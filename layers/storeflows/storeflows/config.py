"""Environment settings, declared once as a model and read once per cold start.

Values come from template.yaml (Globals and each function's Environment). Fields a given
function does not need are optional here; `require()` fails loudly, naming the variable,
when a function reaches for one it was deployed without."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel


class MissingSetting(RuntimeError):
    """A function was deployed without an environment variable it needs."""


class Settings(BaseModel):
    table_name: str | None = None
    event_queue_url: str | None = None
    ses_configuration_set: str | None = None
    public_api_url: str | None = None
    # Every template's state machine is this + the template's name (storeflows.workflows.runs).
    state_machine_arn_prefix: str | None = None
    # The SES identity (SenderIdentity parameter) every From must belong to; the admin CLI
    # reads it from the stack's outputs. SES itself enforces it at send time.
    sender_identity: str | None = None
    # A site session ends after this much inactivity (storeflows.sessions; 30 minutes). The
    # local stack shortens it, as it shortens Wait states.
    session_timeout_seconds: float | None = None
    # Emails per second all sends together may use (SesSendRate parameter); unset or 0: a
    # share of the account's SES MaxSendRate (storeflows.messaging.pacing).
    ses_send_rate: float | None = None


_ENV_NAMES = {field: field.upper() for field in Settings.model_fields}


@cache
def settings() -> Settings:
    return Settings(**{field: os.environ.get(env) or None for field, env in _ENV_NAMES.items()})


def require(field: str) -> str:
    value = getattr(settings(), field)
    if not value:
        raise MissingSetting(f"environment variable {_ENV_NAMES[field]} is not set")
    return value
