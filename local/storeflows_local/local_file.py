"""`.storeflows/local.json`: how other processes (the `storeflows` CLI) find a running local
stack. `serve` writes it once the stack is up and removes it when it stops; a file left by a
killed stack names a process that is gone, which readers check.

STOREFLOWS_LOCAL_FILE puts it elsewhere: the end-to-end tests do, so a test stack never
replaces (or removes) the file of the stack `make dev` runs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = ROOT / ".storeflows" / "local.json"


def local_file_path() -> Path:
    return Path(os.environ.get("STOREFLOWS_LOCAL_FILE") or DEFAULT_PATH)


def describe(stack: Any) -> dict[str, Any]:
    """What a client needs: URLs, the table, the configuration set, the SES identity and the
    state machines' common ARN prefix, read from the environment the stack gave its functions."""
    return {
        "pid": os.getpid(),
        "api_url": stack.api_url,
        "aws_endpoint_url": stack.endpoint_url,
        "region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "table_name": os.environ.get("TABLE_NAME"),
        "configuration_set": os.environ.get("SES_CONFIGURATION_SET"),
        "sender_identity": stack.template.parameters["SenderIdentity"],
        "state_machine_arn_prefix": os.environ.get("STATE_MACHINE_ARN_PREFIX"),
    }


@contextmanager
def published(stack: Any) -> Iterator[Path]:
    """Writes the file (atomically) for the life of the block, then removes it if it is
    still this process's."""
    path = local_file_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(describe(stack), indent=2) + "\n")
    temporary.replace(path)
    try:
        yield path
    finally:
        if (read_local_file(path) or {}).get("pid") == os.getpid():
            path.unlink(missing_ok=True)


def read_local_file(path: Path | None = None) -> dict[str, Any] | None:
    """The file's content, or None when there is none (or it is unreadable)."""
    try:
        return json.loads((path or local_file_path()).read_text())
    except (OSError, ValueError):
        return None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
