"""README.md's fenced code blocks, for the tests that run them: tests/unit/test_readme_blocks.py
(the blocks that need no stack) and tests/e2e/test_readme_snippets.py (those that run against
the local stack). Every block has a kind, every kind a way to run it, and a command that cannot
run in a test is listed in NOT_RUN with the reason: a block or command added without a way to
run it fails the tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# Each kind of block and what "it runs" means for it.
KINDS = {
    "sh": "commands, run in README order in a checkout against the local stack (e2e), unless NOT_RUN says why not",
    "python": "run against the local stack, given only the values the README says a reader has (e2e)",
    "yaml": "workflow, message and sender files, or a message's coupon: read by the product's loaders",
    "json": "events: read by the event API's models, and posted signed to the local stack (e2e)",
    "http": "the event API's headers: exactly those a signed request carries",
    "text": "the bench's output (what bench/results.json renders to) or the layout tree (every path exists)",
    "mermaid": "the architecture: its functions are exactly template.yaml's",
    "html": "the browser snippet's install HTML: what `storeflows stores browser` prints",
}

# Commands of sh blocks a test cannot run, and why; every other command is run.
NOT_RUN = {
    "make demo": "starts a stack of its own and plays scenarios (tests/e2e/test_demo_stories.py drives them)",
    "make test": "is what runs this test",
    "make bench": "takes minutes on its own (its output is checked against bench/results.json instead)",
    "sam build": "needs the AWS SAM CLI (tests/template/test_build.py builds each function as Lambda would)",
    "sam deploy --guided": "needs an AWS account, and asks questions",
}
# How a command that is run starts: the admin CLI, make, curl, or Python with a heredoc.
RUNNABLE = re.compile(r"^(storeflows |make |curl |PYTHONPATH=\S+ \.venv/bin/python - <<'EOF'\n)")

_FENCE = re.compile(r"^(?P<indent> *)```(?P<kind>\S*)\s*$")


@dataclass(frozen=True)
class Block:
    kind: str  # the fence's language; "" when it has none
    text: str  # dedented by the fence's indentation
    line: int  # where the fence opens, 1-based

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.kind or 'no kind'})"


@dataclass(frozen=True)
class Command:
    text: str  # as run: without its comment, a heredoc with its lines
    comment: str  # what the README says after `#`
    block: Block


def blocks(text: str | None = None) -> list[Block]:
    lines = (README.read_text("utf-8") if text is None else text).splitlines()
    found, number = [], 0
    while number < len(lines):
        opening = _FENCE.match(lines[number])
        number += 1
        if not opening:
            continue
        indent, start, body = len(opening["indent"]), number, []
        while number < len(lines) and lines[number].strip() != "```":
            body.append(lines[number][indent:] if lines[number][:indent].strip() == "" else lines[number])
            number += 1
        if number == len(lines):
            raise AssertionError(f"README.md:{start}: the block is never closed")
        number += 1
        found.append(Block(opening["kind"], "\n".join(body) + "\n", start))
    return found


def of_kind(kind: str) -> list[Block]:
    return [block for block in blocks() if block.kind == kind]


def _without_comment(line: str) -> tuple[str, str]:
    """`cmd args   # comment` -> ("cmd args", "comment"); a # inside quotes is no comment."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip(), line[index + 1 :].strip()
    return line.rstrip(), ""


def commands(block: Block) -> list[Command]:
    found, lines = [], block.text.splitlines()
    while lines:
        text, comment = _without_comment(lines.pop(0))
        while text.endswith("\\") and lines:
            more, comment = _without_comment(lines.pop(0))
            text = text[:-1].rstrip() + " " + more.strip()
        heredoc = re.search(r"<<'?(\w+)'?$", text)
        if heredoc:
            end = lines.index(heredoc[1])
            text = "\n".join([text, *lines[: end + 1]])
            del lines[: end + 1]
        if text.strip():
            found.append(Command(text.strip(), comment, block))
    return found


def every_command() -> list[Command]:
    return [command for block in of_kind("sh") for command in commands(block)]
