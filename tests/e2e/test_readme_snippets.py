"""README.md's commands and Python, run as a reader runs them against the local stack
(tests/readme_blocks.py finds them; tests/unit/test_readme_blocks.py checks that every block
is run somewhere). The sh blocks run in README order, one command at a time, in a checkout of
the reader's (examples/, the venv active), with `storeflows` finding the stack as `make dev`'s;
the reader's own inputs are given only where the README says the reader has them (GIVEN,
READER_FILES, and the values a snippet says to fill in)."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from readme_blocks import NOT_RUN, ROOT, Command, every_command, of_kind

from storeflows_local.signing import post_event, post_shopify
from storeflows_local.waiting import wait_for

pytestmark = pytest.mark.e2e

FIXTURES = ROOT / "tests" / "fixtures"
# Files the README has the reader bring: "imported from a CSV file by naming the column".
READER_FILES = {"codes.csv": "code\nSPRING-0001\nSPRING-0002\nSPRING-0003\n"}
# The commands the README says are refused, and the reason their one error line must give.
REFUSED = {
    "storeflows senders delete my-shop shop-team": "sender shop-team is named by messages ",
    "storeflows messages delete my-shop how-is-it-going": "message how-is-it-going is named by workflows ",
}


def run(command: Command, cwd: Path, env: dict[str, str], stdin: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command.text], cwd=cwd, env=env, stdin=stdin, capture_output=True, text=True, timeout=120
    )


def answered_yes(command: Command, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """A command that "asks first", answered y on a terminal as a reader would."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, b"y\n")
        return run(command, cwd, env, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)


def a_checkout(tmp_path: Path) -> Path:
    """Where a reader runs the commands: the repository's examples, code and venv, their files."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("examples", "layers", "local", ".venv"):
        (checkout / name).symlink_to(ROOT / name)
    for name, text in READER_FILES.items():
        (checkout / name).write_text(text, "utf-8")
    return checkout


def reader_env(stack) -> dict[str, str]:
    """The venv active, `make dev`'s stack found through its local.json; no test settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "STOREFLOWS_"))}
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["STOREFLOWS_LOCAL_FILE"] = stack.local_file
    return env


def test_the_readme_commands_run_as_written_in_order(stack, storage, tmp_path):
    from storeflows.admin.contacts import data_requests

    checkout, env = a_checkout(tmp_path), reader_env(stack)
    shopify_secret: list[str] = []

    def ana_buys() -> None:
        # Shopify's published orders/create sample, paid, by Ana, signed with the secret that
        # `stores create my-shop --platform shopify` printed (or the rotation after it).
        order = json.loads((FIXTURES / "shopify_orders_create.json").read_text("utf-8"))
        order.update(email="ana@example.com", contact_email="ana@example.com", financial_status="paid", test=False)
        order.update(cancelled_at=None, cancel_reason=None, customer={**order["customer"], "email": "ana@example.com"})
        body = json.dumps(order).encode()
        assert post_shopify(stack.api_url, "my-shop", shopify_secret[0], body).status_code == 202
        wait_for(lambda: stack.contact("ana@example.com", "my-shop"), what="Ana's purchase recorded")

    def data_request_arrives() -> None:
        # Shopify's published customers/data_request sample: request 9999.
        body = (FIXTURES / "shopify_customers_data_request.json").read_bytes()
        answer = post_shopify(stack.api_url, "my-shop", shopify_secret[0], body, topic="customers/data_request")
        assert answer.status_code == 202
        wait_for(lambda: data_requests("my-shop"), what="the data request kept")

    # What the README says the reader has by then, keyed by the command it comes before.
    given = {
        # "Once the store's webhooks bring purchases (Ana's, say)"
        "storeflows contacts show my-shop ana@example.com": ana_buys,
        # Data protection: "Shopify's data requests", "the export answering request 9999"
        "storeflows contacts data-requests my-shop": data_request_arrives,
    }
    # The placeholders a snippet asks the reader to fill in: what they fill in here.
    filled = {"http://127.0.0.1:3000": stack.api_url, "whsec_…secret printed by make dev…": stack.webhook_secret}

    ran = []
    for command in every_command():
        if command.text in NOT_RUN:
            continue
        if command.text in given:
            given.pop(command.text)()
        for placeholder, value in filled.items():
            if placeholder in command.text:
                command = Command(command.text.replace(placeholder, value), command.comment, command.block)
        result = (answered_yes if "asks first" in command.comment else run)(command, checkout, env)
        said = f"{command.block}: {command.text}\n{result.stdout}{result.stderr}"
        if command.comment.startswith("refused"):
            assert result.returncode == 1 and result.stderr.startswith("storeflows: error: "), said
            assert command.text in REFUSED and REFUSED[command.text] in result.stderr, said
        else:
            assert result.returncode == 0 and "Traceback" not in result.stderr, said
        if command.text.startswith(
            (
                "storeflows stores create my-shop --platform shopify",
                "storeflows stores rotate-secret my-shop --platform shopify",
            )
        ):
            shopify_secret[:] = re.findall(r"^  (\S+)$", result.stdout, re.MULTILINE)
        if ".venv/bin/python - <<'EOF'" in command.text:
            status, body = result.stdout.split(" ", 1)
            assert (status, json.loads(body)["status"]) == ("202", "accepted"), said
        ran.append(command.text)
    assert given == {}, "every precondition was met before its command"
    assert set(REFUSED) == {command.text for command in every_command() if command.comment.startswith("refused")}
    assert not any(placeholder in text for text in ran for placeholder in filled), "placeholders were filled"
    assert len(ran) == len(every_command()) - len(NOT_RUN)
    # A few results a reader would look at.
    contact = stack.contact("ana@example.com", "my-shop")
    assert contact is None or not contact.get("orders"), "contacts delete erased Ana"
    assert json.loads((checkout / "answer.json").read_text("utf-8"))["email"] == "john@example.com"
    assert (checkout / "preview.html").read_text("utf-8") and (checkout / "out.csv").is_file()


def test_the_signing_example_and_the_events_post_to_a_store_of_the_event_api(stack, tmp_path):
    store = f"readme-{uuid.uuid4().hex[:8]}"
    created = subprocess.run(
        ["storeflows", "stores", "create", store, "--platform", "api", "--json"],
        env=reader_env(stack),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    secret = json.loads(created.stdout)["secret"]
    (block,) = of_kind("python")
    # The values the snippet says a reader fills in: the stack's URL, their store and its secret.
    reader = {"api": stack.api_url, "store_id": store, "secret": secret}
    text = block.text
    for name, value in reader.items():
        assignment = re.compile(rf'^{name} = "[^"\n]*"', re.MULTILINE)
        assert len(assignment.findall(text)) == 1, f"{block} assigns {name} once"
        text = assignment.sub(lambda _, name=name, value=value: f"{name} = {json.dumps(value)}", text)
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-"], input=text, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.split(" ", 1)
    assert (status, json.loads(body)["status"]) == ("202", "accepted"), result.stdout
    for block in of_kind("json"):
        decoder, at = json.JSONDecoder(), 0
        while block.text[at:].strip():
            at += len(block.text[at:]) - len(block.text[at:].lstrip())
            event, at = decoder.raw_decode(block.text, at)
            answer = post_event(stack.api_url, store, secret, event)
            assert answer.status_code == 202, f"{block}: {answer.text}"
    wait_for(lambda: (stack.contact("ana@example.com", store) or {}).get("orders"), what="Ana's purchase recorded")
