"""The hourly schedule: the runs of date workflows (birthday, anniversary) due in each hour,
and of the sunset (its silence index: storeflows.silence).

A tick (EventBridge Scheduler, hourly; its scheduled time in the input) reads no contact: for
each published workflow of a scheduled template (storage.workflows, from the table's lookup index) it
works out the local days on which the hour [tick, tick + 1h) can hold the workflow's
`send_at` in some time zone (UTC-12 to UTC+14: one day, two around midnight), and hands each
day's index partition (storage.dates) to the schedule queue as a page job. A page job reads
at most storage.dates.PAGE_SIZE contacts, starts a run for each contact whose `send_at` on
that local day (in their zone: storeflows.timezones) falls in the tick's hour, with the
minutes from the tick to it as the run's wait, and hands the next page on. So a tick never
starts thousands of runs in one call, and the sends are paced by the send step.

Runs are named by (contact, workflow, year) (subjects.DateSubject): a retried tick, or a
redelivered page job, starts nothing twice. A Feb 29 birthday goes on Feb 28 in other years."""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from storeflows import silence
from storeflows.aws import client
from storeflows.config import require
from storeflows.events.subjects import DateSubject
from storeflows.observability import MetricUnit, logger, metrics
from storeflows.storage import dates, keys, stores, workflows
from storeflows.timezones import contact_zone
from storeflows.workflows import Workflow, WorkflowStatus, runs
from storeflows.workflows.templates.sunset import SunsetSettings

HOUR = timedelta(hours=1)
# The widest offsets from UTC a contact's zone can have (Etc/GMT+12 .. Pacific/Kiritimati).
_WEST, _EAST = timedelta(hours=12), timedelta(hours=14)


def tick_hour(scheduled_time: str) -> datetime:
    """The start of the tick's hour, in UTC (Scheduler gives its scheduled time, to the second)."""
    moment = datetime.fromisoformat(scheduled_time.replace("Z", "+00:00"))
    moment = moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def local_days(hour: datetime, send_at: time) -> list[date]:
    """The local days whose `send_at` falls in [hour, hour + 1h) in some time zone: a local
    moment is UTC plus an offset from -12h to +14h, so `send_at` on day d can fall in the hour
    only if d + send_at is in [hour - 12h, hour + 1h + 14h)."""
    earliest, latest = hour - _WEST, hour + HOUR + _EAST
    first = (earliest - _as_delta(send_at)).date()
    candidates = [first + timedelta(days=n) for n in range(3)]
    return [day for day in candidates if earliest <= _midnight(day) + _as_delta(send_at) < latest]


def celebrated_on(day: date) -> list[str]:
    """The month-days ("mm-dd") celebrated on `day`: its own, and Feb 29 on Feb 28 of a
    year without one."""
    found = [day.strftime("%m-%d")]
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
        found.append("02-29")
    return found


def due_at(day: date, send_at: time, zone: str) -> datetime:
    """`send_at` on the local `day` in `zone`, in UTC (a time a clock change skips: zoneinfo's
    reading of it, an hour later)."""
    return datetime.combine(day, send_at, tzinfo=ZoneInfo(zone)).astimezone(UTC)


@dataclass(frozen=True)
class PageJob:
    """One page of one day's contacts, for one workflow and tick."""

    store_id: str
    workflow_id: str
    tick: str  # the tick's hour, ISO UTC
    day: str  # the local day the email goes on, yyyy-mm-dd
    month_day: str  # the index partition read: the day celebrated (mm-dd), or the silence's (yyyy-mm-dd)
    after: dict[str, Any] | None = None

    def as_message(self) -> str:
        return json.dumps(self.__dict__)


def handle_tick(scheduled_time: str) -> dict[str, Any]:
    """The schedule's tick: one page job per (workflow, day partition) due in its hour."""
    hour = tick_hour(scheduled_time)
    jobs = [job for workflow in workflows.list_scheduled_workflows() for job in jobs_for(workflow, hour)]
    for job in jobs:
        _hand_on(job)
    logger.info("schedule tick", extra={"tick": hour.isoformat(), "page_jobs": len(jobs)})
    return {"tick": hour.isoformat(), "page_jobs": len(jobs)}


def jobs_for(workflow: Workflow, hour: datetime) -> list[PageJob]:
    """A scheduled template's settings have `send_at` and `days_before` (templates.birthday);
    the sunset's tick reads one silence day, in the hour of `send_at` in the store's zone."""
    settings: Any = workflow.settings
    if isinstance(settings, SunsetSettings):
        store = stores.get_store(workflow.store_id)
        day = silence.due_day(settings, store.timezone, hour) if store else None
        return [PageJob(workflow.store_id, workflow.workflow_id, hour.isoformat(), day, day)] if day else []
    return [
        PageJob(workflow.store_id, workflow.workflow_id, hour.isoformat(), day.isoformat(), month_day)
        for day in local_days(hour, settings.send_at)
        for month_day in celebrated_on(day + timedelta(days=settings.days_before))
    ]


def handle_page(job: PageJob) -> dict[str, Any]:
    """Starts the runs of one page of a day's contacts whose send falls in the tick's hour;
    hands the next page on."""
    workflow = workflows.get_workflow(job.store_id, job.workflow_id)
    store = stores.get_store(job.store_id)
    if workflow is None or store is None or workflow.status is not WorkflowStatus.PUBLISHED:
        return {"started": 0, "workflow": "not_published"}
    if isinstance(workflow.settings, SunsetSettings):
        counts, following = silence.start_page(workflow, job.month_day, job.tick, job.after)
        if following is not None:
            _hand_on(PageJob(job.store_id, job.workflow_id, job.tick, job.day, job.month_day, following))
        logger.info(
            "sunset runs started",
            extra={"store_id": job.store_id, "workflow_id": job.workflow_id, "tick": job.tick, **counts},
        )
        return counts
    settings: Any = workflow.settings
    hour, day = datetime.fromisoformat(job.tick), date.fromisoformat(job.day)
    celebrated = day + timedelta(days=settings.days_before)
    contacts, after = dates.due_page(job.store_id, settings.occasion, job.month_day, after=job.after)
    started = already = 0
    for contact in contacts:
        moment = due_at(day, settings.send_at, contact_zone(contact.get("country"), store.timezone))
        if not hour <= moment < hour + HOUR:
            continue
        years = celebrated.year - int(contact["year"]) if settings.occasion == dates.ANNIVERSARY else None
        if years is not None and years < 1:
            continue  # the first order's own day: its anniversaries start a year later
        subject = DateSubject(
            occasion=settings.occasion,
            on=celebrated.isoformat(),
            contact=keys.email_digest(contact["email"])[:24],
            years=years,
        )
        inputs = {"wait_seconds": int((moment - hour).total_seconds()), "send_at": moment.isoformat()}
        if runs.start_scheduled_run(workflow, subject, contact["email"], tick=job.tick, inputs=inputs):
            started += 1
        else:
            already += 1
    if after is not None:
        _hand_on(PageJob(job.store_id, job.workflow_id, job.tick, job.day, job.month_day, after))
    logger.info(
        "scheduled runs started",
        extra={
            "store_id": job.store_id,
            "workflow_id": job.workflow_id,
            "tick": job.tick,
            "day": job.day,
            "contacts_read": len(contacts),
            "runs_started": started,
            "runs_already_started": already,
            "more_pages": after is not None,
        },
    )
    metrics.add_metric(name="WorkflowRunsStarted", unit=MetricUnit.Count, value=started)
    return {"started": started, "already_started": already, "contacts_read": len(contacts)}


def _hand_on(job: PageJob) -> None:
    client("sqs").send_message(QueueUrl=require("schedule_queue_url"), MessageBody=job.as_message())


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _as_delta(moment: time) -> timedelta:
    return timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second)
