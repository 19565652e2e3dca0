"""The browse, site and search abandonment state machines: the wait after the session,
then one send of the workflow's message about the session (the send step re-checks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storeflows.errors import UnknownMessage
from storeflows.events import StoreEvent
from storeflows.events.session_check import SessionCheckEvent
from storeflows.events.subjects import SessionSubject
from storeflows.workflows import Workflow, WorkflowStatus, runs

EMAIL, STORE_ID, WORKFLOW_ID = "ana@example.com", "shop", "wf"  # as tests/workflows/conftest.py

KINDS = [
    ("browse", "SendBrowseAbandonmentMessage"),
    ("site", "SendSiteAbandonmentMessage"),
    ("search", "SendSearchAbandonmentMessage"),
]


def session_run_input(kind: str, **settings) -> dict:
    ended = datetime.now(UTC)
    subject = SessionSubject(
        session_id="s-1",
        kind=kind,
        started_at=ended - timedelta(minutes=5),
        ended_at=ended,
        pages=3,
        product_views=2 if kind == "browse" else 0,
        products=[{"product_id": "p-1", "name": "Venise dress"}] if kind == "browse" else [],
        search={"query": "linen", "results": []} if kind == "search" else None,
    )
    check = SessionCheckEvent(type="session_check", customer={"email": EMAIL}, session_id="s-1")
    event = StoreEvent(store_id=STORE_ID, event_id="session-check:s-1", source="api", received_at=ended, event=check)
    workflow = Workflow(
        store_id=STORE_ID,
        workflow_id=WORKFLOW_ID,
        status=WorkflowStatus.PUBLISHED,
        settings={"template": f"{kind}_abandonment", "message": f"{kind}-reminder", **settings},
    )
    assert workflow.runs_for(check) and workflow.settings.takes(subject)
    return runs.run_input(event, workflow, subject, EMAIL)


@pytest.mark.parametrize(("kind", "step"), KINDS)
def test_after_the_wait_one_message_about_the_session_is_sent_with_the_cooldown(workflow_engine, kind, step):
    run_input = session_run_input(kind, send_after="2h")
    status, states, _ = workflow_engine.run(f"{kind}_abandonment", run_input)
    assert status == "SUCCEEDED"
    assert states == ["WaitAfterSession", step]
    assert run_input["settings"]["send_after"] == 7200
    assert workflow_engine.send.payloads == [{"run": run_input["send"], "message_id": f"{kind}-reminder", "step": step}]
    sent_run = workflow_engine.send.payloads[0]["run"]
    assert sent_run["subject"]["type"] == "session" and sent_run["subject"]["kind"] == kind
    # The per-contact cooldown the send step enforces atomically (defaults from the research).
    assert sent_run["frequency_cap_seconds"] == (7 if kind == "search" else 14) * 86400


def test_a_failing_send_fails_the_run_with_the_send_error(workflow_engine):
    workflow_engine.send.raises(UnknownMessage("no message 'browse-reminder'"))
    status, states, failure = workflow_engine.run("browse_abandonment", session_run_input("browse"))
    assert status == "FAILED"
    assert states[-1] == "SendBrowseAbandonmentMessage"
    assert failure["error"] == "UnknownMessage"
