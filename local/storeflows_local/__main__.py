"""python -m storeflows_local serve | demo

serve: the local stack on http://127.0.0.1:$PORT until Ctrl-C (make dev).
demo:  the local stack, scripted purchases, and a report of what happened (make demo)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from werkzeug.serving import make_server

from storeflows_local.local_file import published
from storeflows_local.persistence import LocalState, state_file_path

if TYPE_CHECKING:
    from storeflows_local.demo_store import DemoSecrets
    from storeflows_local.stack import LocalStack

DEFAULT_PORT = 3000
# Workflow seconds per real second: one day of waiting passes in one second.
DEFAULT_TIME_SCALE = 86400.0


@contextmanager
def running_stack(
    port: int, time_scale: float, quiet: bool, instrument=None, state: LocalState | None = None
) -> Iterator[tuple[LocalStack, DemoSecrets]]:
    """Binds the API port first (functions need their public URL), then starts the stack.
    `instrument` wraps every handler (see stack.Instrument); the bench measures with it.
    `state`: the table is restored from it before the demo store is made, and saved to it
    as it changes and when the stack stops (make dev)."""
    if quiet:
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        # moto logs each error a state machine's step raised, and the whole parse tree it
        # happened in, also for the ones a Catch or Retry handles; a failed run still shows
        # in its execution history and in the functions' own logs (STOREFLOWS_VERBOSE=1: all).
        logging.getLogger("moto").setLevel(logging.CRITICAL)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from storeflows_local.demo_store import create_demo_store, demo_secrets
    from storeflows_local.gateway import Gateway
    from storeflows_local.stack import LocalStack

    server = make_server("127.0.0.1", port, app=lambda environ, start: [], threaded=True)
    api_url = f"http://127.0.0.1:{server.server_port}"
    # Quiet: the functions log at WARNING, through the template's own LogLevel parameter.
    stack = LocalStack(
        api_url=api_url,
        time_scale=time_scale,
        parameters={"LogLevel": "WARNING"} if quiet else None,
        instrument=instrument,
        on_dynamodb_write=state.changed.set if state else None,
    )
    stack.start()
    if state is not None:
        state.table_name = stack.table_name
        restored = state.restore()
        print(f"Kept from the last run: {restored} items ({state.path})", file=sys.stderr)
    secrets = demo_secrets()
    create_demo_store(secrets)
    if state is not None:
        state.start_saving()
    server.app = Gateway(stack)
    thread = threading.Thread(target=server.serve_forever, name="gateway", daemon=True)
    thread.start()
    try:
        yield stack, secrets
    finally:
        server.shutdown()
        if state is not None:
            state.stop_saving()
        stack.stop()


def serve(port: int, time_scale: float) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    path = state_file_path()
    state = LocalState(path) if path is not None else None
    if state is not None and os.environ.get("STOREFLOWS_FRESH") == "1":
        state.forget()
    # .storeflows/local.json tells the storeflows CLI where this stack is, while it runs.
    with (
        running_stack(port, time_scale, quiet=os.environ.get("STOREFLOWS_VERBOSE") != "1", state=state) as (
            stack,
            secrets,
        ),
        published(stack),
    ):
        ready = {
            "api_url": stack.api_url,
            "aws_endpoint_url": stack.endpoint_url,
            "time_scale": time_scale,
            "demo_store": "demo",
            "demo_shopify_secret": secrets.shopify_secret,
            "demo_webhook_secret": secrets.webhook_secret,
            "demo_woocommerce_secret": secrets.woocommerce_secret,
        }
        fixed = "  (generated; set STOREFLOWS_DEMO_SHOPIFY_SECRET / _WOOCOMMERCE_SECRET / _WEBHOOK_SECRET to fix them)"
        kept_note = "  (make dev FRESH=1 starts empty)" if state else ""
        print(
            f"""Storeflows local stack is up (no AWS account, moto in this process).
  API                {stack.api_url}   (same routes as template.yaml)
  Outbox             {stack.api_url}/_local/        JSON: {stack.api_url}/_local/outbox
  Contacts           {stack.api_url}/_local/contacts/demo/<email>
  Demo shop          {stack.api_url}/_local/shop    (the demo store's site, with the browser snippet)
  Local AWS          AWS_ENDPOINT_URL={stack.endpoint_url}
  Time scale         {time_scale:g} workflow seconds per second
  Kept in            {state.path if state else "nothing (STOREFLOWS_KEEP_STATE=0)"}{kept_note}
  Demo store "demo"  Shopify secret: {secrets.shopify_secret}
                     WooCommerce secret: {secrets.woocommerce_secret}
                     Event API secret: {secrets.webhook_secret}{fixed if secrets.generated else ""}
Ctrl-C stops it.""",
            file=sys.stderr,
        )
        # One machine-readable line for tools and tests that start the stack.
        print("READY " + json.dumps(ready), flush=True)
        stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="storeflows_local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["serve", "demo"])
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", DEFAULT_PORT)),
        help="API port (0 picks a free one); default $PORT or 3000",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=float(os.environ.get("STOREFLOWS_TIME_SCALE", DEFAULT_TIME_SCALE)),
        help="workflow seconds per real second; default $STOREFLOWS_TIME_SCALE or 86400",
    )
    args = parser.parse_args(argv)
    if args.time_scale <= 0:
        parser.error("--time-scale must be positive")
    if args.command == "serve":
        return serve(args.port, args.time_scale)
    # The demo's customers leave the site at once: their sessions end after 3 s of silence,
    # not the 30 s `make dev` gives a person clicking through the demo shop.
    os.environ.setdefault("STOREFLOWS_SESSION_TIMEOUT", "3")
    # The date stories fire the hourly schedule hour by hour themselves, to show which tick
    # starts which run (storeflows_local.schedules).
    os.environ.setdefault("STOREFLOWS_LOCAL_SCHEDULES", "manual")
    with running_stack(args.port, args.time_scale, quiet=True) as (stack, secrets):
        # Imported once the stack has set the functions' environment (service name, log level).
        from storeflows_local.demo import run_demo

        return run_demo(stack, secrets)


if __name__ == "__main__":
    sys.exit(main())
