"""The local stack's EventBridge Scheduler (storeflows_local.schedules): an hourly schedule
fires on each hour of workflow time, every 3600 / time scale real seconds, with its scheduled
time in its input; `fire` plays a chosen hour; expressions it cannot play fail loudly."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from storeflows_local.schedules import Clock, ScheduleSpec, period_seconds, scheduled_input
from storeflows_local.template import TemplateError

HOURLY = ScheduleSpec(
    logical_id="ScheduleTick",
    period=3600,
    target_arn="arn:aws:lambda:us-east-1:123456789012:function:ScheduleFunction",
    input='{"scheduled_time": "<aws.scheduler.scheduled-time>"}',
    retries=10,
    dead_letter_queue_arn=None,
)


def test_an_hourly_schedule_fires_on_each_hour_of_workflow_time_at_the_time_scale():
    fired: list[tuple[float, dict]] = []
    # An hour of workflow time in 0.1 s; workflow time starts 30 minutes before an hour.
    clock = Clock(
        [HOURLY],
        36000,
        lambda spec, event: fired.append((time.monotonic(), event)),
        start=datetime(2026, 12, 5, 7, 30, tzinfo=UTC),
    )
    began = time.monotonic()
    clock.play()
    time.sleep(0.42)
    clock.stop()
    assert [event for _, event in fired[:3]] == [
        {"scheduled_time": "2026-12-05T08:00:00Z"},
        {"scheduled_time": "2026-12-05T09:00:00Z"},
        {"scheduled_time": "2026-12-05T10:00:00Z"},
    ]
    assert 3 <= len(fired) <= 4
    # The first at half an hour of workflow time (0.05 s), then one every 0.1 s.
    assert fired[0][0] - began == pytest.approx(0.05, abs=0.04)
    assert fired[2][0] - fired[1][0] == pytest.approx(0.1, abs=0.04)


def test_fire_plays_a_chosen_hour_without_the_clock():
    fired: list[dict] = []
    clock = Clock([HOURLY], 1, lambda spec, event: fired.append(event))
    clock.fire("ScheduleTick", datetime(2027, 2, 28, 8, tzinfo=UTC))
    assert fired == [{"scheduled_time": "2027-02-28T08:00:00Z"}]
    assert clock.fired == [("ScheduleTick", datetime(2027, 2, 28, 8, tzinfo=UTC))]


def test_the_expressions_it_plays_and_one_it_refuses():
    assert period_seconds("cron(0 * * * ? *)") == 3600
    assert period_seconds("rate(1 day)") == 86400
    assert period_seconds("rate(15 minutes)") == 900
    with pytest.raises(TemplateError, match="no local counterpart"):
        period_seconds("cron(0 9 ? * MON-FRI *)")
    assert scheduled_input(HOURLY, datetime(2026, 1, 1, tzinfo=UTC)) == {"scheduled_time": "2026-01-01T00:00:00Z"}
