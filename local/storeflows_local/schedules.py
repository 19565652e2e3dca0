"""EventBridge Scheduler, played on the local stack's time scale.

Each AWS::Scheduler::Schedule of template.yaml gets a clock: workflow time starts at the
real time the stack starts and runs `time_scale` times faster (as Wait states do), and the
schedule fires at each of its times on that clock — an hourly schedule every
3600 / time_scale real seconds — invoking its target with its Input, where
<aws.scheduler.scheduled-time> is the workflow time it fired for (as Scheduler puts it).
A failed invocation is retried, then parked in the target's DeadLetterConfig queue.

STOREFLOWS_LOCAL_SCHEDULES=manual stops the clocks: the schedules then fire only when asked
(`Clock.fire`, POST /_local/schedules/<logical id>?at=<ISO time>), which tests do to play
chosen hours without waiting for them."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from storeflows_local.template import Template, TemplateError

log = logging.getLogger("storeflows.local")

# The expressions template.yaml uses; anything else fails loudly rather than being guessed.
_HOURLY = re.compile(r"^cron\(0 \* \* \* \? \*\)$")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


def period_seconds(expression: str) -> int:
    if _HOURLY.fullmatch(expression):
        return 3600
    rate = _RATE.fullmatch(expression)
    if rate:
        return int(rate.group(1)) * _UNIT_SECONDS[rate.group(2).rstrip("s")]
    raise TemplateError(f"schedule expression {expression!r} has no local counterpart")


@dataclass
class ScheduleSpec:
    logical_id: str
    period: int  # workflow seconds between two firings, aligned to the epoch (on the hour)
    target_arn: str
    input: str
    retries: int
    dead_letter_queue_arn: str | None


def schedule_specs(template: Template) -> list[ScheduleSpec]:
    specs = []
    for logical_id, res in template.of_type("AWS::Scheduler::Schedule").items():
        props = res["Properties"]
        if props.get("ScheduleExpressionTimezone", "UTC") != "UTC":
            raise TemplateError(f"{logical_id}: only UTC schedules run locally")
        # The role has no local counterpart (IAM is not played): the rest of the target is.
        target = {name: template.resolve(value) for name, value in props["Target"].items() if name != "RoleArn"}
        specs.append(
            ScheduleSpec(
                logical_id=logical_id,
                period=period_seconds(props["ScheduleExpression"]),
                target_arn=target["Arn"],
                input=target.get("Input", "{}"),
                retries=int(target.get("RetryPolicy", {}).get("MaximumRetryAttempts", 185)),
                dead_letter_queue_arn=target.get("DeadLetterConfig", {}).get("Arn"),
            )
        )
    return specs


def scheduled_input(spec: ScheduleSpec, at: datetime) -> dict[str, Any]:
    import json

    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.loads(spec.input.replace(SCHEDULED_TIME, stamp))


class Clock:
    """The schedules' workflow clock and its thread (one for all schedules)."""

    def __init__(
        self,
        specs: list[ScheduleSpec],
        time_scale: float,
        invoke: Callable[[ScheduleSpec, dict[str, Any]], None],
        *,
        start: datetime | None = None,
    ):
        self.specs = {spec.logical_id: spec for spec in specs}
        self.time_scale = time_scale
        self._invoke = invoke
        self._started_real = time.monotonic()
        self.started_at = start or datetime.now(UTC)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired: list[tuple[str, datetime]] = []

    def now(self) -> datetime:
        """Workflow time: the start, plus the real time since, scaled."""
        return self.started_at + timedelta(seconds=(time.monotonic() - self._started_real) * self.time_scale)

    def real_seconds_until(self, moment: datetime) -> float:
        return max(0.0, (moment - self.now()).total_seconds() / self.time_scale)

    def fire(self, logical_id: str, at: datetime) -> None:
        spec = self.specs[logical_id]
        self.fired.append((logical_id, at))
        self._invoke(spec, scheduled_input(spec, at))

    def play(self) -> None:
        self._thread = threading.Thread(target=self._run, name="schedules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        due = {logical_id: _next_time(self.now(), spec.period) for logical_id, spec in self.specs.items()}
        while not self._stop.is_set() and due:
            logical_id, at = min(due.items(), key=lambda item: item[1])
            if self._stop.wait(self.real_seconds_until(at)):
                return
            try:
                self.fire(logical_id, at)
            except Exception:  # noqa: BLE001 - a tick's failure is the target's to report
                log.exception("schedule %s failed at %s", logical_id, at.isoformat())
            due[logical_id] = at + timedelta(seconds=self.specs[logical_id].period)


def _next_time(moment: datetime, period: int) -> datetime:
    """The first multiple of `period` since the epoch after `moment` (an hourly schedule: the next hour)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    elapsed = int((moment - epoch).total_seconds())
    return epoch + timedelta(seconds=(elapsed // period + 1) * period)
