"""The sunset state machine: the settings' steps in order with their waits (as many as listed,
up to three), `unsubscribe_after` the last, the end step (which unsubscribes a contact still
silent: tests/functions/test_sunset.py); a send skipped because the contact engaged since the
run started ends the run at once, with no later message and no unsubscribe."""

from __future__ import annotations

from storeflows.events.subjects import SilenceSubject
from storeflows.workflows import Workflow, WorkflowStatus, runs
from storeflows.workflows.templates.sunset import SunsetSettings

SUBJECT = SilenceSubject(since="2026-09-01", contact="0" * 24)
TWO_STEPS = [{"message": "miss-you"}, {"message": "last-call", "wait": "7d"}]


def sunset_input(steps: list[dict]) -> dict:
    settings = SunsetSettings(steps=steps)
    workflow = Workflow(store_id="shop", workflow_id="sunset", status=WorkflowStatus.PUBLISHED, settings=settings)
    return {
        **runs.run_input_for_schedule(workflow, SUBJECT, "ana@example.com", tick="2026-11-30T09:00:00+00:00"),
        **settings.sunset_inputs(),
        "sunset_started_at": "2026-11-30T09:00:01.000000+00:00",
    }


def test_the_series_then_the_unsubscribe_of_a_contact_still_silent(workflow_engine):
    run_input = sunset_input(TWO_STEPS)
    status, states, _ = workflow_engine.run("sunset", run_input)
    assert status == "SUCCEEDED"
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": "miss-you", "step": "SendSunset1"},
        {"run": run_input["send"], "message_id": "last-call", "step": "SendSunset2"},
    ]
    assert states[-2:] == ["WaitBeforeUnsubscribe", "UnsubscribeIfStillSilent"]
    (end,) = workflow_engine.stand_ins["SunsetUnsubscribeFunction"].payloads
    assert (end["email"], end["sunset_started_at"], end["sunset_steps"]) == (
        "ana@example.com",
        "2026-11-30T09:00:01.000000+00:00",
        run_input["sunset_steps"],
    )


def test_three_steps_go_in_order(workflow_engine):
    steps = [*TWO_STEPS, {"message": "goodbye", "wait": "3d"}]
    status, states, _ = workflow_engine.run("sunset", sunset_input(steps))
    assert status == "SUCCEEDED"
    assert workflow_engine.sent() == ["miss-you", "last-call", "goodbye"]
    assert states.index("WaitBeforeSunset3") < states.index("SendSunset3") < states.index("WaitBeforeUnsubscribe")


def test_an_engagement_since_the_start_ends_the_run_without_unsubscribing(workflow_engine):
    workflow_engine.send.returns({"status": "skipped", "reason": "engaged_since"})
    status, states, _ = workflow_engine.run("sunset", sunset_input(TWO_STEPS))
    assert status == "SUCCEEDED"
    assert workflow_engine.sent() == ["miss-you"]
    assert states[-1] == "Engaged"
    assert workflow_engine.stand_ins["SunsetUnsubscribeFunction"].payloads == []


def test_another_skip_goes_on_with_the_series(workflow_engine):
    workflow_engine.send.returns({"status": "skipped", "reason": "frequency_cap"})
    status, _, _ = workflow_engine.run("sunset", sunset_input(TWO_STEPS))
    assert status == "SUCCEEDED"
    assert workflow_engine.sent() == ["miss-you", "last-call"]
    assert len(workflow_engine.stand_ins["SunsetUnsubscribeFunction"].payloads) == 1
