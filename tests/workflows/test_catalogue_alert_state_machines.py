"""The catalogue alert state machines (back in stock, price drop, low stock): one run loops
around the batch task, handing each batch the progress the last one gave back, at once for
`more`, after the wave interval for `next_wave` (back in stock), after a pause for `pause`,
and ends at `done`; a failed batch fails the run with its own error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storeflows.catalogue import VariantChange, VariantState
from storeflows.fanout import AlertProgress, run_input
from storeflows.workflows import Workflow, WorkflowStatus

STORE_ID, WORKFLOW_ID = "shop", "wf"  # as tests/workflows/conftest.py
SETTINGS = {
    "back_in_stock": {"template": "back_in_stock", "requested_message": "back"},
    "price_drop": {"template": "price_drop", "alert_message": "drop"},
    "low_stock": {"template": "low_stock", "alert_message": "few"},
}


def alert_run_input(template: str) -> dict:
    change = VariantChange(
        store_id=STORE_ID,
        product_id="p-1",
        variant_id="v-1",
        change_id="c-1",
        before=VariantState(price="100", inventory_quantity=0, available=False),
        after=VariantState(price="100", inventory_quantity=10, available=True),
        at=datetime.now(UTC),
    )
    workflow = Workflow(
        store_id=STORE_ID, workflow_id=WORKFLOW_ID, status=WorkflowStatus.PUBLISHED, settings=SETTINGS[template]
    )
    return run_input(workflow, change, "api:p-1")


def progress(next_step: str, sent: int, **fields) -> dict:
    return AlertProgress(next=next_step, sent=sent, **fields).model_dump(mode="json")  # type: ignore[arg-type]


def answering(engine, *answers: dict) -> None:
    remaining = list(answers)
    engine.alerts.answer = lambda payload: remaining.pop(0)


def test_back_in_stock_loops_batch_by_batch_waits_between_waves_and_pauses_for_the_pacer(workflow_engine):
    run_input = alert_run_input("back_in_stock")
    answering(
        workflow_engine,
        progress("more", 40, cursor="page-2", wave_left=10),
        progress("next_wave", 50, cursor="page-3", wave_left=0),
        progress("pause", 50, cursor="page-3"),
        progress("done", 80, audience=1),
    )

    status, states, _ = workflow_engine.run("back_in_stock", run_input)

    assert status == "SUCCEEDED"
    assert states == [
        "SendAlerts",
        "MoreToSend?",
        "SendAlerts",
        "MoreToSend?",
        "WaitForNextWave",
        "SendAlerts",
        "MoreToSend?",
        "WaitForSesPace",
        "SendAlerts",
        "MoreToSend?",
        "AlertsDone",
    ]
    payloads = workflow_engine.alerts.payloads
    assert payloads[0] == {
        "store_id": STORE_ID,
        "workflow_id": WORKFLOW_ID,
        "change": run_input["change"],
        "settings": run_input["settings"],
        "progress": AlertProgress().model_dump(mode="json"),
        "step": "SendAlerts",
    }
    assert [payload["progress"]["cursor"] for payload in payloads] == [None, "page-2", "page-3", "page-3"]
    assert [payload["progress"]["next"] for payload in payloads] == ["start", "more", "next_wave", "pause"]
    assert {payload["step"] for payload in payloads} == {"SendAlerts"}, "one step: one decision per contact"


@pytest.mark.parametrize("template", ["price_drop", "low_stock"])
def test_price_drop_and_low_stock_send_batch_after_batch_until_done(workflow_engine, template):
    answering(workflow_engine, progress("more", 100, cursor="next"), progress("done", 150, stopped="sold_out"))

    status, states, _ = workflow_engine.run(template, alert_run_input(template))

    assert status == "SUCCEEDED"
    assert states == ["SendAlerts", "MoreToSend?", "SendAlerts", "MoreToSend?", "AlertsDone"]
    assert workflow_engine.alerts.payloads[1]["progress"]["cursor"] == "next"


@pytest.mark.parametrize("template", ["back_in_stock", "price_drop", "low_stock"])
def test_a_failing_batch_fails_the_run_with_its_error(workflow_engine, template):
    workflow_engine.alerts.raises(KeyError("boom"))

    status, states, failure = workflow_engine.run(template, alert_run_input(template))

    assert status == "FAILED"
    assert states == ["SendAlerts", "AlertsFailed"]
    assert failure is not None and failure["error"] == "KeyError"
