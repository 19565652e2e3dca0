"""`make dev` keeps what a developer set up across restarts (the table, in a file under
.storeflows/), and `FRESH=1` starts empty. Each stack here is a `storeflows_local serve`
process of its own, stopped as Ctrl-C (SIGINT) stops `make dev`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60

pytestmark = pytest.mark.e2e


def serve(state_file: Path, local_file: Path, **extra: str) -> tuple[subprocess.Popen, dict]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "STOREFLOWS_"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT / "layers" / "storeflows"), str(ROOT / "local")]),
        STOREFLOWS_STATE_FILE=str(state_file),
        STOREFLOWS_LOCAL_FILE=str(local_file),
        **extra,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "storeflows_local", "serve", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    ready: dict = {}
    started = threading.Event()

    def read_output() -> None:
        # Read to the end, not only up to READY: a pipe nobody reads fills up (the functions
        # log, the schedule ticks many times a second) and the stack then blocks on its next
        # line, Ctrl-C included.
        for line in process.stdout:
            if not started.is_set() and line.startswith("READY "):
                ready.update(json.loads(line[len("READY ") :]))
                started.set()

    threading.Thread(target=read_output, daemon=True).start()
    started.wait(STARTUP_SECONDS)
    if not ready:
        process.kill()
        pytest.fail(f"the local stack did not start within {STARTUP_SECONDS}s")
    return process, ready


def stop_as_ctrl_c(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the local stack did not stop on Ctrl-C")


def storeflows(local_file: Path, *args: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "STOREFLOWS_"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT / "layers" / "storeflows"), str(ROOT / "local")]),
        STOREFLOWS_LOCAL_FILE=str(local_file),
    )
    return subprocess.run(
        [sys.executable, "-m", "storeflows_cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_store_set_up_in_make_dev_is_there_after_a_restart_and_gone_with_fresh(tmp_path):
    state_file, local_file = tmp_path / "local-state.json", tmp_path / "local.json"
    process, _ = serve(state_file, local_file)
    try:
        created = storeflows(local_file, "stores", "create", "kept-shop", "--platform", "api", "--json")
        assert created.returncode == 0, created.stderr
        secret = json.loads(created.stdout)["secret"]
    finally:
        stop_as_ctrl_c(process)
    assert state_file.exists(), "saved when the stack stopped"

    process, _ = serve(state_file, local_file)
    try:
        listed = storeflows(local_file, "stores", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert {store["store"] for store in json.loads(listed.stdout)} >= {"demo", "kept-shop"}
        rotated = storeflows(local_file, "stores", "rotate-secret", "kept-shop", "--platform", "api", "--json")
        assert rotated.returncode == 0 and json.loads(rotated.stdout)["secret"] != secret
    finally:
        stop_as_ctrl_c(process)

    process, _ = serve(state_file, local_file, STOREFLOWS_FRESH="1")
    try:
        listed = storeflows(local_file, "stores", "list", "--json")
        assert [store["store"] for store in json.loads(listed.stdout)] == ["demo"], "FRESH=1 starts empty"
    finally:
        stop_as_ctrl_c(process)
