"""Part 4 of the bench: the wall time of one event in the ingest handler and in the send
step, in this process against moto (`mock_aws`: no HTTP, no network), so the figures are
the code's own cost and a regression shows.

The resources and handlers are the local stack's, built from template.yaml; the store is
the demo store. Ingest gets signed event API purchases, as API Gateway would hand them
over; the send step gets one message per event (a new step each time, so no event is
answered from an earlier decision), alternating a transactional and a marketing message. The first
WARM_UP events of each (clients and caches being created) are timed apart. Runs as its
own process (`python -m storeflows_bench.handlers EVENTS`): moto's in-process mock and the
replay's server must not meet."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from contextlib import redirect_stdout
from typing import Any

WARM_UP = 5


def measure(events: int) -> dict[str, Any]:
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        POWERTOOLS_TRACE_DISABLED="true",
    )
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    from moto import mock_aws

    # Logs and metrics go where they would in Lambda: stdout, here dropped.
    with mock_aws(), open(os.devnull, "w") as dropped, redirect_stdout(dropped):
        from storeflows_local.stack import LocalStack

        stack = LocalStack(api_url="https://api.example.test")
        stack.build()
        from storeflows_local.demo_store import create_demo_store, demo_secrets

        secrets = demo_secrets()
        create_demo_store(secrets)
        ingest = _time(stack, "IngestFunction", [_ingest_event(secrets.webhook_secret, n) for n in range(events)])
        send = _time(stack, "SendMessageFunction", _send_events(events))
    return {"events": events, "warm_up": WARM_UP, "ingest": ingest, "send_message": send}


def _time(stack: Any, function: str, events: list[dict[str, Any]]) -> dict:
    from storeflows_local.engine import LambdaContext

    spec = stack.template.function(function)
    handler = stack.handlers[function]
    timings = []
    for event in events:
        started = time.perf_counter()
        answer = handler(event, LambdaContext(spec.logical_id, spec.arn, spec.timeout))
        timings.append((time.perf_counter() - started) * 1000)
        _check(function, answer)
    steady = timings[WARM_UP:]
    return {
        "first_ms": round(timings[0], 2),
        "median_ms": round(statistics.median(steady), 2),
        "p99_ms": round(statistics.quantiles(steady, n=100)[98], 2),
    }


def _check(function: str, answer: Any) -> None:
    """Timing something that failed would time the failure."""
    ok = answer.get("statusCode") == 202 if function == "IngestFunction" else answer.get("status") == "sent"
    if not ok:
        raise RuntimeError(f"{function} answered {answer}")


def _ingest_event(secret: str, number: int) -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    from storeflows_local.demo_store import DEMO_STORE_ID
    from storeflows_local.gateway import http_api_event
    from storeflows_local.signing import purchase, signed_event

    headers, body = signed_event(secret, purchase(f"H-{number}", f"customer-{number % 50}@bench.example"))
    path = f"/events/{DEMO_STORE_ID}"
    request = EnvironBuilder(path=path, method="POST", headers=list(headers.items()), data=body).get_request()
    return http_api_event(request, "POST", "/events/{store_id}", {"store_id": DEMO_STORE_ID})


def _send_events(events: int) -> list[dict[str, Any]]:
    """Payloads as the state machines send them, to 50 contacts who bought (with consent)."""
    from storeflows.events.purchase import PurchaseEvent
    from storeflows.storage import orders as order_store
    from storeflows_local.demo_store import DEMO_STORE_ID, DEMO_WORKFLOW_ID
    from storeflows_local.signing import purchase

    orders = []
    for contact in range(50):
        body = purchase(f"S-{contact}", f"buyer-{contact}@bench.example", accepts_marketing=True)
        order_store.record_purchase(DEMO_STORE_ID, f"bench:{contact}", PurchaseEvent.model_validate(body))
        orders.append(body)
    return [
        {
            "run": {
                "store_id": DEMO_STORE_ID,
                "workflow_id": DEMO_WORKFLOW_ID,
                "email": orders[n % 50]["customer"]["email"],
                "subject": {"type": "order", "order_id": orders[n % 50]["order"]["id"]},
            },
            "step": f"BenchSend{n}",
            "message_id": "first-purchase-thanks" if n % 2 else "second-purchase-thanks",
        }
        for n in range(events)
    ]


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 300)))
