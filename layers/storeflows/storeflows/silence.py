"""The sunset's runs (templates.sunset), on the hourly schedule (storeflows.schedules).

A tick whose hour holds the workflow's `send_at` in the store's zone hands on one page job
for the silence index's partition of the day `inactive_for` before the store's day
(storage.silence): nothing else is read. A page job reads at most a page of addresses and
their profiles (one batch read) and starts a run for each contact still silent since that day
with at least `min_emails` emails received whom marketing may reach; an entry whose profile
names another day (the contact engaged since) or no profile is dropped. The run's sends stop
once the contact engages after it started (SendRun.exit_on_engagement_after), and its end,
`unsubscribe_if_still_silent`, unsubscribes only a contact still silent."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from storeflows.events.subjects import SilenceSubject
from storeflows.observability import MetricUnit, logger, metrics
from storeflows.records import Contact, Purpose
from storeflows.storage import contacts, keys
from storeflows.storage import dynamodb as db
from storeflows.storage import silence as index
from storeflows.workflows import Workflow, runs
from storeflows.workflows.templates.sunset import SunsetSettings

SUNSET = "sunset"  # the unsubscribe's reason


def due_day(settings: SunsetSettings, zone: str, hour: datetime) -> str | None:
    """The partition (yyyy-mm-dd) the tick of `hour` reads for the workflow: the day
    `inactive_for` before the store's day, when `send_at` of that day falls in the hour."""
    local = hour.astimezone(ZoneInfo(zone))
    start = datetime.combine(local.date(), settings.send_at, tzinfo=ZoneInfo(zone))
    for moment in (start, start + timedelta(days=1)):
        if hour <= moment < hour + timedelta(hours=1):
            return (moment.date() - timedelta(days=settings.inactive_days)).isoformat()
    return None


def start_page(
    workflow: Workflow, day: str, tick: str, after: dict[str, Any] | None
) -> tuple[dict[str, int], dict[str, Any] | None]:
    """Starts the runs of one page of the contacts silent since `day`; the counts and where
    the next page starts."""
    settings: Any = workflow.settings
    addresses, following = index.silent_page(workflow.store_id, day, after=after)
    found = db.read_together([keys.contact_key(workflow.store_id, email) for email in addresses])
    started = already = dropped = 0
    now = db.now()
    for email in addresses:
        key = keys.contact_key(workflow.store_id, email)
        item = found.get((key["pk"], key["sk"]))
        contact = Contact.model_validate(db.without_keys(item)) if item else None
        if contact is None or contact.silent_since != day:
            index.drop(workflow.store_id, day, email)
            dropped += 1
            continue
        if contact.emails_received < settings.min_emails or not contact.may_receive(Purpose.MARKETING)[0]:
            continue
        subject = SilenceSubject(since=day, contact=keys.email_digest(email)[:24])
        inputs = {**settings.sunset_inputs(), "sunset_started_at": db.utc_iso(now)}
        if runs.start_scheduled_run(workflow, subject, email, tick=tick, inputs=inputs, exit_on_engagement_after=now):
            started += 1
        else:
            already += 1
    metrics.add_metric(name="WorkflowRunsStarted", unit=MetricUnit.Count, value=started)
    return {
        "started": started,
        "already_started": already,
        "stale_dropped": dropped,
        "contacts_read": len(addresses),
    }, following


def unsubscribe_if_still_silent(run: dict[str, Any]) -> dict[str, Any]:
    """The series' end (the state machine's last step, `run` its input): unsubscribes the
    contact from marketing with reason sunset unless they engaged since the run started,
    counted in the report row of the workflow's last message, today."""
    store_id, workflow_id, email = run["store_id"], run["workflow_id"], run["email"]
    started_at = datetime.fromisoformat(run["sunset_started_at"])
    contact = contacts.get_contact(store_id, email)
    if contact is None:
        return {"status": "unknown_contact"}
    if contact.engaged_at is not None and contact.engaged_at >= started_at:
        return {"status": "engaged_since"}
    if contact.unsubscribed_at is not None:
        return {"status": "already_unsubscribed"}
    steps = run["sunset_steps"]
    last_message = steps[f"step{len(steps)}"]["message"]
    now = db.now()
    # The report day as a send's (its UTC day).
    changed = contacts.unsubscribe_contact(
        store_id, email, via_message=last_message, at=now, counted_for=(workflow_id, f"{now:%Y-%m-%d}"), reason=SUNSET
    )
    logger.info("sunset unsubscribe", extra={"store_id": store_id, "workflow_id": workflow_id, "changed": changed})
    if changed:
        metrics.add_metric(name="SunsetUnsubscribes", unit=MetricUnit.Count, value=1)
    return {"status": "unsubscribed" if changed else "already_unsubscribed"}
