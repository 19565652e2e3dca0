"""The win-back state machine: the wait the dispatcher chose (`after`), then the settings'
steps in order with their waits (as many as listed, up to three), the purchase exit handed
to every send step (which skips once the contact bought again: tests/functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

SETTINGS = {"template": "win_back", "after": "30d", "steps": [{"message": "miss-you"}]}


def test_one_step_waits_after_then_sends_once(workflow_engine, purchase_run_input):
    run_input = purchase_run_input(SETTINGS)
    assert run_input["win_back_after"] == 30 * 86400
    status, states, _ = workflow_engine.run("win_back", run_input)
    assert status == "SUCCEEDED"
    assert workflow_engine.send.payloads == [
        {"run": run_input["send"], "message_id": "miss-you", "step": "SendWinBack1"}
    ]
    assert states[:3] == ["WaitAfterPurchase", "WaitBeforeWinBack1", "SendWinBack1"]
    assert states[-1] == "WinBackDone"


def test_three_steps_go_in_order_each_after_its_wait(workflow_engine, purchase_run_input):
    steps = [{"message": "miss-you"}, {"message": "new-in", "wait": "7d"}, {"message": "last-offer", "wait": "7d"}]
    run_input = purchase_run_input({**SETTINGS, "steps": steps})
    status, states, _ = workflow_engine.run("win_back", run_input)
    assert status == "SUCCEEDED"
    assert workflow_engine.sent() == ["miss-you", "new-in", "last-offer"]
    assert states.index("WaitBeforeWinBack3") < states.index("SendWinBack3")


def test_every_send_carries_the_exit_on_a_purchase_after_the_runs_own_order(purchase_run_input):
    run_input = purchase_run_input(SETTINGS)
    exit_after = datetime.fromisoformat(run_input["send"]["exit_on_purchase_after"])
    # The run's own order names no time here: it was recorded before the run started.
    assert datetime.now(UTC) - timedelta(seconds=5) < exit_after <= datetime.now(UTC)
