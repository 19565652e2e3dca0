"""The checkout and cart abandonment state machines on moto's engine, with the check step
and the send step as stand-ins: the run waits and checks again while the checkout or cart
keeps changing, sends when the check says so, skips the optional second reminder, and ends
when the check says the run is over."""

from __future__ import annotations

import pytest

from storeflows.workflows.templates.abandonment import CartAbandonmentSettings, CheckoutAbandonmentSettings

SEND = {"store_id": "shop", "workflow_id": "wf", "email": "ana@example.com", "subject": {"type": "cart", "token": "t"}}
PAST = "2020-01-01T00:00:00Z"


def run_input(settings) -> dict:
    return {"send": SEND, "settings": settings.model_dump(mode="json"), "check": {"activity_at": ""}}


def answers(*replies: dict):
    """The check's replies, in order (the last one repeated)."""
    queue = list(replies)

    def answer(payload: dict) -> dict:
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        return {"activity_at": "", "due_at": "", "reason": None, **reply}

    return answer


@pytest.mark.parametrize("template", ["cart_abandonment", "checkout_abandonment"])
def test_a_changed_cart_makes_the_run_wait_again_then_both_reminders_go(workflow_engine, template):
    settings = (CartAbandonmentSettings if template == "cart_abandonment" else CheckoutAbandonmentSettings)(
        first_reminder_message="reminder", second_reminder_message="last-call"
    )
    workflow_engine.check_abandonment.answer = answers(
        {"status": "wait", "activity_at": "a1", "due_at": PAST},
        {"status": "wait", "activity_at": "a2", "due_at": PAST},  # changed during the wait
        {"status": "send", "activity_at": "a2"},
        {"status": "wait", "activity_at": "a2", "due_at": PAST},
        {"status": "send", "activity_at": "a2"},
    )

    run = workflow_engine.run(template, run_input(settings))

    assert run.status == "SUCCEEDED"
    assert workflow_engine.sent() == ["reminder", "last-call"]
    checks = workflow_engine.check_abandonment.payloads
    assert [(c["step"], c["waited_for"], c["delay"]) for c in checks] == [
        ("SendFirstReminder", "", 4 * 3600),
        ("SendFirstReminder", "a1", 4 * 3600),
        ("SendFirstReminder", "a2", 4 * 3600),
        ("SendSecondReminder", "", 24 * 3600),
        ("SendSecondReminder", "a2", 24 * 3600),
    ]
    assert all(c["cooldown"] == 24 * 3600 and c["run"] == SEND for c in checks)
    assert run.states.count("WaitUntilFirstReminderDue") == 2


def test_without_a_second_reminder_the_run_ends_after_the_first(workflow_engine):
    workflow_engine.check_abandonment.answer = answers({"status": "send", "activity_at": "a1"})

    run = workflow_engine.run("cart_abandonment", run_input(CartAbandonmentSettings(first_reminder_message="r")))

    assert (run.status, workflow_engine.sent()) == ("SUCCEEDED", ["r"])
    assert run.states[-1] == "AbandonmentOver"


def test_a_run_the_check_says_is_over_sends_nothing(workflow_engine):
    workflow_engine.check_abandonment.answer = answers({"status": "over", "reason": "bought_since"})

    run = workflow_engine.run(
        "checkout_abandonment", run_input(CheckoutAbandonmentSettings(first_reminder_message="r"))
    )

    assert (run.status, workflow_engine.sent()) == ("SUCCEEDED", [])
    assert "SendFirstReminder" not in run.states
