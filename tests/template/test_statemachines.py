"""The workflow templates (statemachines/*.asl.json) are valid, wired to template.yaml,
and every state can actually be reached and left.

statelint checks the Amazon States Language itself; the graph checker below adds the
project's own rules (every state reachable, Choice states have a Default and a name
ending in "?", no JSONata) and the DefinitionSubstitutions contract with template.yaml."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from storeflows_local.template import Template

ROOT = Path(__file__).resolve().parents[2]
STATEMACHINES = ROOT / "statemachines"
ASL_FILES = sorted(STATEMACHINES.glob("*.asl.json"))
STATELINT = Path(sys.executable).parent / "statelint"
TOKEN = re.compile(r"\$\{([^}]+)\}")
# Only what Template needs to load: the parameter without a default.
PARAMETERS = {"SenderIdentity": "example.com"}

# States that end an execution by their type; every other state needs Next or End: true.
TERMINAL_TYPES = {"Succeed", "Fail"}


def check_state_machine(definition: dict[str, Any], where: str = "") -> list[str]:
    """Every problem in one (sub-)state machine's graph, as readable messages; [] if none.

    Recurses into Parallel branches and Map item processors, which are state machines
    of their own with their own StartAt and scope of state names."""
    problems: list[str] = []
    prefix = f"{where}: " if where else ""
    states: dict[str, Any] = definition.get("States") or {}
    if not states:
        return [f"{prefix}no States"]
    start = definition.get("StartAt")
    if start not in states:
        problems.append(f"{prefix}StartAt {start!r} names no state")

    if definition.get("QueryLanguage") == "JSONata":
        problems.append(f"{prefix}QueryLanguage is JSONata; the project uses JSONPath")

    edges: dict[str, list[str]] = {}
    for name, state in states.items():
        here = f"{prefix}{name}"
        kind = state.get("Type")
        targets: list[str] = []
        if "Next" in state:
            targets.append(state["Next"])
        if kind == "Choice":
            targets += [choice.get("Next") for choice in state.get("Choices", [])]
            if "Default" in state:
                targets.append(state["Default"])
            else:
                problems.append(f"{here}: Choice state has no Default")
            if not name.endswith("?"):
                problems.append(f"{here}: Choice state name does not end with '?'")
        targets += [catcher.get("Next") for catcher in state.get("Catch", [])]
        for target in targets:
            if target not in states:
                problems.append(f"{here}: transition to {target!r}, which is not a state")
        edges[name] = [target for target in targets if target in states]

        if kind not in TERMINAL_TYPES and kind != "Choice" and state.get("End") is not True and "Next" not in state:
            problems.append(f"{here}: {kind} state has neither Next nor End: true")
        if state.get("QueryLanguage") == "JSONata":
            problems.append(f"{here}: QueryLanguage is JSONata; the project uses JSONPath")

        for index, branch in enumerate(state.get("Branches", [])):
            problems += check_state_machine(branch, f"{here}.Branches[{index}]")
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            problems += check_state_machine(processor, f"{here}.ItemProcessor")

    reachable: set[str] = set()
    pending = [start] if start in states else []
    while pending:
        name = pending.pop()
        if name not in reachable:
            reachable.add(name)
            pending += edges[name]
    for name in states:
        if name not in reachable:
            problems.append(f"{prefix}{name}: not reachable from StartAt {start!r}")
    return problems


def _template() -> Template:
    return Template(ROOT, PARAMETERS)


def _state_machines_using(asl: Path) -> dict[str, dict[str, Any]]:
    """The template's AWS::Serverless::StateMachine resources whose DefinitionUri is this file."""
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in _template().of_type("AWS::Serverless::StateMachine").items()
        if (ROOT / resource["Properties"].get("DefinitionUri", "")).resolve() == asl.resolve()
    }


def _ids(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


def test_there_are_state_machine_definitions():
    """The glob below finds the workflow templates (otherwise every per-file test silently vanishes)."""
    assert ASL_FILES, f"no *.asl.json under {STATEMACHINES}"


@pytest.mark.parametrize("asl", ASL_FILES, ids=_ids(ASL_FILES))
def test_statelint_accepts_definition(asl: Path):
    """Step Functions would accept the definition: statelint (the Makefile's `validate`) exits 0."""
    result = subprocess.run([str(STATELINT), str(asl)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"statelint rejected {asl.name}:\n{result.stdout}{result.stderr}"


def test_statelint_rejects_a_broken_definition(tmp_path: Path):
    """Control: the statelint run above really validates (a dangling Next makes it exit non-zero)."""
    broken = tmp_path / "broken.asl.json"
    broken.write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Missing"}}}))
    result = subprocess.run([str(STATELINT), str(broken)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, result.stdout + result.stderr


@pytest.mark.parametrize("asl", ASL_FILES, ids=_ids(ASL_FILES))
def test_state_graph_is_sound(asl: Path):
    """Every transition names a state, every state is reachable and can be left, Choice states
    have a Default and end with '?', and no state uses JSONata."""
    problems = check_state_machine(json.loads(asl.read_text()))
    assert problems == [], "\n".join(problems)


def test_graph_checker_reports_dangling_next_and_unreachable_state():
    """Control: the checker above can fail; it names a dangling Next and an orphaned state."""
    definition = {
        "StartAt": "Start",
        "States": {
            "Start": {"Type": "Pass", "Next": "Nowhere"},
            "Island": {"Type": "Succeed"},
            "IsItTrue": {"Type": "Choice", "Choices": [{"Variable": "$.x", "BooleanEquals": True, "Next": "Island"}]},
        },
    }
    problems = check_state_machine(definition)
    assert any("Start" in p and "'Nowhere'" in p and "not a state" in p for p in problems), problems
    assert any(p.startswith("Island: not reachable") for p in problems), problems
    assert any("IsItTrue" in p and "no Default" in p for p in problems), problems
    assert any("IsItTrue" in p and "'?'" in p for p in problems), problems


def test_graph_checker_reports_missing_next_and_jsonata_in_branches():
    """Control: a Task with no way out and JSONata inside a Parallel branch are both caught."""
    definition = {
        "StartAt": "Fork",
        "States": {
            "Fork": {
                "Type": "Parallel",
                "End": True,
                "Branches": [
                    {
                        "QueryLanguage": "JSONata",
                        "StartAt": "Work",
                        "States": {"Work": {"Type": "Task", "Resource": "x"}},
                    }
                ],
            }
        },
    }
    problems = check_state_machine(definition)
    assert any("Branches[0]: Work: Task state has neither Next nor End" in p for p in problems), problems
    assert any("Branches[0]: QueryLanguage is JSONata" in p for p in problems), problems


@pytest.mark.parametrize("asl", ASL_FILES, ids=_ids(ASL_FILES))
def test_definition_tokens_match_definition_substitutions(asl: Path):
    """Every ${Token} in the file is filled in by the template's DefinitionSubstitutions (an
    unfilled token deploys as a literal and fails at run time), and no substitution is dead."""
    machines = _state_machines_using(asl)
    assert machines, f"{asl.name} is not the DefinitionUri of any state machine in template.yaml"
    tokens = set(TOKEN.findall(asl.read_text()))
    for logical_id, props in machines.items():
        substitutions = set(props.get("DefinitionSubstitutions", {}))
        assert not tokens - substitutions, (
            f"{logical_id}: tokens without a substitution: {sorted(tokens - substitutions)}"
        )
        assert not substitutions - tokens, f"{logical_id}: substitutions never used: {sorted(substitutions - tokens)}"


def test_every_definition_uri_exists():
    """sam build/package can find every state machine's definition file."""
    machines = _template().of_type("AWS::Serverless::StateMachine")
    assert machines, "template.yaml declares no AWS::Serverless::StateMachine"
    missing = {
        logical_id: resource["Properties"].get("DefinitionUri")
        for logical_id, resource in machines.items()
        if not resource["Properties"].get("DefinitionUri")
        or not (ROOT / resource["Properties"]["DefinitionUri"]).is_file()
    }
    assert not missing, f"DefinitionUri missing or not a file: {missing}"


def test_no_orphan_definitions():
    """Every .asl.json is deployed by some state machine; none is dead, untested-in-production code."""
    used = {
        (ROOT / resource["Properties"]["DefinitionUri"]).resolve()
        for resource in _template().of_type("AWS::Serverless::StateMachine").values()
        if "DefinitionUri" in resource["Properties"]
    }
    orphans = [asl.name for asl in ASL_FILES if asl.resolve() not in used]
    assert not orphans, f"not referenced by template.yaml: {orphans}"


def _states(states: dict[str, Any]):
    for name, state in states.items():
        yield name, state
        for branch in [*state.get("Branches", []), *filter(None, [state.get("Iterator"), state.get("ItemProcessor")])]:
            yield from _states(branch["States"])


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda path: path.stem)
def test_every_send_step_retries_what_the_send_function_asks_to_retry(asl: Path):
    """SendThrottled (SES's rate limits) and SendInProgress (another attempt of the step
    holds its claim) are the send function's "try again shortly"; without a retrier the run
    would fail on them."""
    sends = {
        name: state
        for name, state in _states(json.loads(asl.read_text())["States"])
        if state.get("Parameters", {}).get("FunctionName") == "${SendMessageFunctionArn}"
    }
    batches = [
        state
        for _, state in _states(json.loads(asl.read_text())["States"])
        if state.get("Parameters", {}).get("FunctionName") == "${SendAlertsFunctionArn}"
    ]
    # A catalogue alert's batch sends through the send step's code and pauses itself when the
    # SES pacer is full (it hands back "pause"): it raises neither.
    assert sends or batches, f"{asl.name} sends nothing"
    for name, state in sends.items():
        retried = {error for retrier in state.get("Retry", []) for error in retrier["ErrorEquals"]}
        assert {"SendThrottled", "SendInProgress"} <= retried, f"{asl.name}: {name} retries only {sorted(retried)}"
