"""Durations as a person writes them (workflow files, CLI options) need their unit; stored
settings (whole seconds) still read back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from storeflows.admin.errors import InvalidDefinition
from storeflows.admin.files import load_workflow_yaml
from storeflows.fields import WRITTEN
from storeflows.records import Attribution
from storeflows.workflows import Workflow

CARE = """store: demo
workflow: care
template: care_series
settings:
  trigger: {skus: [VENISE-DRESS]}
  thank_you_message: a
  delivery_check_message: b
  care_tips_message: c
  cross_sell_message: d
"""


def follow_up(after: str) -> str:
    return (
        "store: demo\nworkflow: wf\ntemplate: purchase_follow_up\nsettings:\n"
        f"  thank_you_message: a\n  follow_up_message: b\n  follow_up_after: {after}\n"
    )


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidDefinition) as refused:
        load_workflow_yaml(text)
    return refused.value.problems


def test_a_bare_number_in_a_workflow_file_is_refused_naming_the_setting():
    assert problems(follow_up("10")) == ["settings.follow_up_after: 10 has no unit; write 10d, 12h, 30m or 45s"]


@pytest.mark.parametrize("written", ["0", "-5", "'10'", "10.5"])
def test_every_number_without_a_unit_is_refused(written):
    (problem,) = problems(follow_up(written))
    assert problem.startswith("settings.follow_up_after: ") and problem.endswith(
        "has no unit; write 10d, 12h, 30m or 45s"
    ), problem


@pytest.mark.parametrize("written", ["true", "[10d]", "{days: 10}", "ten days"])
def test_what_is_no_duration_at_all_says_so(written):
    (problem,) = problems(follow_up(written))
    assert problem.startswith("settings.follow_up_after: ") and problem.endswith(
        "is not a duration like 10d, 12h, 30m or 45s"
    ), problem


def test_nested_durations_are_refused_with_their_path():
    text = CARE + "  tips_after: 3\n  delivery: {mode: event, check_every: 12h, timeout: 14}\n"
    assert problems(text) == [
        "settings.delivery.timeout: 14 has no unit; write 10d, 12h, 30m or 45s",
        "settings.tips_after: 3 has no unit; write 10d, 12h, 30m or 45s",
    ]


@pytest.mark.parametrize(("written", "seconds"), [("10d", 864000), ("12h", 43200), ("30m", 1800), ("45s", 45)])
def test_durations_with_their_unit_are_read_as_seconds(written, seconds):
    assert load_workflow_yaml(follow_up(written)).settings.follow_up_after == seconds


def test_a_workflow_read_back_from_storage_keeps_its_seconds():
    workflow = load_workflow_yaml(CARE + "  tips_after: 2d\n  delivery: {mode: event, check_every: 6h, timeout: 9d}\n")
    stored = workflow.model_dump(mode="json")
    assert stored["settings"]["tips_after"] == 2 * 86400, "stored as whole seconds"
    assert Workflow.model_validate(stored) == workflow


def test_the_written_context_is_what_refuses_a_number():
    assert Attribution.model_validate({"click_window": 3600}).click_window == 3600
    with pytest.raises(ValidationError, match="3600 has no unit"):
        Attribution.model_validate({"click_window": 3600}, context=WRITTEN)
    assert Attribution.model_validate({"click_window": "1h"}, context=WRITTEN).click_window == 3600
