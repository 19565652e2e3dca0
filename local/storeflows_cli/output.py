"""What the command groups share: the errors main() turns into `storeflows: error: <reason>`
and an exit status, output for a person or as JSON (--json), reading an input file, and
the apply commands' all-or-nothing check of their files."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any


class UsageError(Exception):
    """The command line itself is wrong."""


class CliError(Exception):
    """An expected failure with a one-line reason."""


class Problems(Exception):
    """A list of problems (already printed) and a one-line summary."""


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    elif text:
        print(text)


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    cells = [[title for _, title in columns]] + [
        ["-" if row.get(key) is None else str(row.get(key)) for key, _ in columns] for row in rows
    ]
    widths = [max(len(line[index]) for line in cells) for index in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in cells
    )


def report_problems(args: argparse.Namespace, problems: list[str], summary: str, data: dict[str, Any] | None = None):
    emit(args, {**(data or {}), "ok": False, "problems": problems}, "\n".join(problems))
    raise Problems(summary)


def plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def read(path: str) -> str:
    try:
        return Path(path).read_text("utf-8")
    except OSError as err:
        raise CliError(f"cannot read {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise CliError(f"cannot read {path}: not UTF-8 text") from None


def load_files(args, loader: Callable[..., Any]) -> list[Any]:
    from storeflows.admin.errors import InvalidDefinition

    loaded, problems = [], []
    for path in args.files:
        try:
            loaded.append(loader(read(path), Path(path)))
        except InvalidDefinition as err:
            problems += [f"{path}: {line}" for line in err.problems]
        except CliError as err:
            problems.append(str(err))
    refuse(args, problems)
    return loaded


def refuse(args, problems: list[str]) -> None:
    """Ends an apply command, having saved nothing, when any of its files has a problem."""
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        report_problems(args, problems, f"nothing applied: {count} in {len(args.files)} file(s)")


def target_problems(args, loaded: list[Any], check: Callable[[Any], list[str]]) -> None:
    """Problems only the target can see (a sender profile the store does not have, a From
    outside the SES identity, a message that does not render for the runs sending it), for
    every file before anything is saved."""
    refuse(args, [f"{path}: {line}" for path, item in zip(args.files, loaded, strict=True) for line in check(item)])
