"""Every code block of README.md has a way to run it (tests/readme_blocks.py), and the blocks
that need no stack run here: files are read by the product's loaders, events by the event
API's models, the bench output is what bench/results.json renders to, every path of the
layout exists, the architecture names the template's functions. The commands and the Python
run against the local stack in tests/e2e/test_readme_snippets.py."""

from __future__ import annotations

import json
import re

import pytest
from readme_blocks import KINDS, NOT_RUN, ROOT, RUNNABLE, blocks, commands, every_command, of_kind

from storeflows.admin.files import load_message_yaml, load_sender_yaml, load_workflow_yaml
from storeflows.events import API_EVENT_TYPES
from storeflows.intake.api import event_from_api
from storeflows.intake.common import parse_json
from storeflows_local.signing import signed_event


def test_every_block_is_of_a_kind_that_is_run():
    found = blocks()
    assert len(found) >= 15, "the README's blocks were found"
    unknown = [str(block) for block in found if block.kind not in KINDS]
    assert unknown == [], f"no way to run these blocks (give the fence a kind of {sorted(KINDS)})"
    assert {block.kind for block in found} == set(KINDS), "a kind no block has any more: drop it"


def test_a_block_without_a_kind_or_never_closed_is_caught():
    assert [block.kind for block in blocks("```\nplain\n```\n")] == [""]
    with pytest.raises(AssertionError, match="never closed"):
        blocks("text\n```sh\nstoreflows stores list\n")


def test_every_command_is_run_unless_it_is_listed_with_the_reason():
    not_run = {command.text for command in every_command() if command.text in NOT_RUN}
    assert not_run == set(NOT_RUN), "NOT_RUN lists exactly the README's commands a test cannot run"
    cannot = [str(command.block) + ": " + command.text for command in every_command() if command.text not in NOT_RUN]
    cannot = [text for text in cannot if not RUNNABLE.match(text.split(": ", 1)[1])]
    assert cannot == [], "commands with no way to run them: run them in tests/e2e or list them in NOT_RUN"


def test_commands_are_split_from_their_comments_and_keep_their_heredoc():
    (block,) = blocks(
        "```sh\nstoreflows a '#x' b   # says what\nmake c \\\n  d  # more\n"
        "PYTHONPATH=l .venv/bin/python - <<'EOF'\nprint(1)  # kept\nEOF\n```\n"
    )
    assert [(command.text, command.comment) for command in commands(block)] == [
        ("storeflows a '#x' b", "says what"),
        ("make c d", "more"),
        ("PYTHONPATH=l .venv/bin/python - <<'EOF'\nprint(1)  # kept\nEOF", ""),
    ]


# --- yaml: the file formats ---------------------------------------------------------------------------


def test_yaml_blocks_are_files_the_product_reads():
    import yaml

    base = (ROOT / "examples" / "messages" / "purchase-thanks.yaml").read_text("utf-8")
    read = []
    for block in of_kind("yaml"):
        lines = [line for line in block.text.splitlines() if line.strip()]
        if all(line.startswith("coupon:") for line in lines):
            # A message's coupon, one way a line: each line in a message file is read as one.
            for line in lines:
                message = load_message_yaml(f"{base}\n{line}\n", base_dir=ROOT / "examples" / "messages")
                assert message.coupon is not None and message.coupon.type == yaml.safe_load(line)["coupon"]["type"]
            read.append("coupon")
            continue
        data = yaml.safe_load(block.text)
        if {"workflow", "template"} <= set(data):
            assert load_workflow_yaml(block.text, source=str(block)).store_id == data["store"]
            read.append("workflow")
        elif {"sender", "address"} <= set(data):
            assert load_sender_yaml(block.text, source=str(block)).address == data["address"]
            read.append("sender")
        elif {"message", "variants"} <= set(data):
            load_message_yaml(block.text, base_dir=ROOT / "examples" / "messages", source=str(block))
            read.append("message")
        else:
            pytest.fail(f"{block}: not a workflow, message or sender file, nor a coupon: no loader reads it")
    assert sorted(set(read)) == ["coupon", "sender", "workflow"]


# --- json: events ------------------------------------------------------------------------------------


def events_of(block) -> list[str]:
    """The JSON documents of a block, one after another, each as written."""
    documents, text, at = [], block.text, 0
    decoder = json.JSONDecoder()
    while text[at:].strip():
        at += len(text[at:]) - len(text[at:].lstrip())
        _, end = decoder.raw_decode(text, at)
        documents.append(text[at:end])
        at = end
    return documents


def test_json_blocks_are_events_the_event_api_accepts():
    types = []
    for block in of_kind("json"):
        for document in events_of(block):
            event = event_from_api(parse_json(document.encode()))
            types.append(event.type)
    # Every type the API takes has its example, the purchase first.
    assert types[0] == "purchase"
    assert sorted(set(types)) == sorted(API_EVENT_TYPES)


# --- http: the event API's headers ---------------------------------------------------------------------


def test_the_documented_headers_are_those_a_signed_request_carries():
    (block,) = of_kind("http")
    documented = [line.split(":", 1)[0] for line in block.text.splitlines()]
    headers, _ = signed_event("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", {"type": "purchase"})
    assert documented == list(headers)
    signature = next(line for line in block.text.splitlines() if line.startswith("webhook-signature:"))
    assert '"{webhook-id}.{webhook-timestamp}.{body}"' in signature and headers["webhook-signature"].startswith("v1,")


# --- text: the bench output and the layout -------------------------------------------------------------


def text_block(first_words: str):
    (block,) = [block for block in of_kind("text") if block.text.startswith(first_words)]
    return block


def test_every_text_block_is_checked():
    assert len(of_kind("text")) == 2, "a text block neither the bench output nor the layout: check it here"


def test_the_bench_output_is_what_the_committed_results_render_to():
    from storeflows_bench.report import table

    rendered = table(json.loads((ROOT / "bench" / "results.json").read_text("utf-8"))).splitlines()
    assert rendered[-1].startswith("Bench took "), "the one line the README leaves out"
    assert text_block("Storeflows bench, ").text.splitlines() == rendered[:-1]


def test_every_path_of_the_layout_exists():
    paths, parent = [], ""
    for line in text_block("template.yaml ").text.splitlines():
        indent = len(line) - len(line.lstrip())
        if indent > 4:
            continue  # a description going on
        tokens = []
        for token in line.split():
            if not re.fullmatch(r"[\w.<>\-/]+", token) or not ("." in token or token.endswith("/")):
                break
            tokens.append(token)
        assert tokens, f"no path on the layout line {line!r}"
        if indent == 0:
            parent = tokens[0] if tokens[0].endswith("/") else ""
            paths += tokens[:1]
        else:
            paths += [parent + token for token in tokens]
    assert len(paths) >= 30
    missing = [path for path in paths if not list(ROOT.glob(re.sub(r"<\w+>", "*", path.rstrip("/"))))]
    assert missing == []


def test_the_architecture_names_exactly_the_templates_functions():
    (block,) = of_kind("mermaid")
    assert block.text.startswith("flowchart ")
    template = (ROOT / "template.yaml").read_text("utf-8")
    functions = set(re.findall(r"^  (\w+Function):\n    Type: AWS::Serverless::Function$", template, re.MULTILINE))
    assert len(functions) >= 7
    assert set(re.findall(r"\b(\w+Function)\b", block.text)) == functions


# --- html: the browser snippet's install HTML ----------------------------------------------------------


def test_the_install_html_is_what_stores_browser_prints():
    from storeflows_cli.commands.stores import install_snippet

    (block,) = of_kind("html")
    assert block.text == install_snippet("https://<ApiUrl>", "my-shop", "pk_…", True) + "\n"
