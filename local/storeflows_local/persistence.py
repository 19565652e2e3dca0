"""What `make dev` keeps across restarts: every item of the stack's DynamoDB table (stores and
their secrets, sender profiles, messages, workflows, coupon pools, contacts and their
history, reports), in `.storeflows/local-state.json`.

The file is written a moment after the table changes (writes in a burst are saved once) and
when the stack stops, atomically (a new file then a rename), so an interrupted write never
leaves half a file. It is read once, when the stack starts, before the demo store is made
(the demo store is made afresh each start, with the secrets it prints). What is not in the
table does not survive a restart: runs in flight (Step Functions executions), events
waiting on the queue, and the outbox. So neither do the contacts' ACTIVE# items, which say
a run is in flight: kept, they would hold a contact out of a care series whose run is gone.

STOREFLOWS_STATE_FILE puts the file elsewhere, STOREFLOWS_KEEP_STATE=0 keeps nothing (the
end-to-end tests' stack), and `make dev FRESH=1` (STOREFLOWS_FRESH=1) starts from an empty
table, deleting the file."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import boto3

from storeflows.storage import keys
from storeflows_local.local_file import ROOT

DEFAULT_PATH = ROOT / ".storeflows" / "local-state.json"
FORMAT_VERSION = 1
# How long after a write the file is saved: writes of one purchase come in a burst.
SAVE_DELAY_SECONDS = 1.0


def state_file_path() -> Path | None:
    """Where `make dev` keeps its table; None when it keeps nothing."""
    if os.environ.get("STOREFLOWS_KEEP_STATE") == "0":
        return None
    return Path(os.environ.get("STOREFLOWS_STATE_FILE") or DEFAULT_PATH)


class LocalState:
    """The table's items on disk, for one running stack."""

    def __init__(self, path: Path, table_name: str = ""):
        self.path = path
        # Known once the stack has made its table.
        self.table_name = table_name
        self.changed = threading.Event()
        self._stopping = threading.Event()
        self._saver: threading.Thread | None = None

    def forget(self) -> None:
        """FRESH=1: what was kept is dropped."""
        self.path.unlink(missing_ok=True)

    def restore(self) -> int:
        """Puts the saved items back into the (empty, new) table; how many."""
        try:
            saved = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return 0
        if saved.get("version") != FORMAT_VERSION:
            raise ValueError(f"{self.path} is not a local state file of this version; delete it or run with FRESH=1")
        items: list[dict[str, Any]] = [
            item for item in saved["items"] if not item["sk"]["S"].startswith(keys.ACTIVE_PREFIX)
        ]
        dynamodb = boto3.client("dynamodb")
        for start in range(0, len(items), 25):
            request: dict[str, Any] = {
                self.table_name: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            }
            while request:
                request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
        self.changed.clear()
        return len(items)

    def save(self) -> int:
        """Writes every item of the table to the file; how many."""
        dynamodb = boto3.client("dynamodb")
        items: list[dict[str, Any]] = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=self.table_name, ConsistentRead=True):
            items.extend(page["Items"])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temporary.write_text(json.dumps({"version": FORMAT_VERSION, "items": items}, sort_keys=True), "utf-8")
        temporary.replace(self.path)
        return len(items)

    def start_saving(self) -> None:
        self._saver = threading.Thread(target=self._save_when_changed, name="local-state", daemon=True)
        self._saver.start()

    def stop_saving(self) -> None:
        """Stops the saver and writes the file one last time."""
        self._stopping.set()
        self.changed.set()
        if self._saver is not None:
            self._saver.join(timeout=10)
        self.save()

    def _save_when_changed(self) -> None:
        while not self._stopping.is_set():
            self.changed.wait()
            if self._stopping.wait(SAVE_DELAY_SECONDS):
                return
            self.changed.clear()
            self.save()
