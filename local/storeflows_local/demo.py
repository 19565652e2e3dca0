"""make demo: scripted purchases against the local stack, then what happened.

Customer A buys three times and customer B once, through the signed event API, exactly as
a store would post them. Each purchase waits for its workflow run to end before the next,
as real purchases days apart would."""

from __future__ import annotations

import sys

import requests

from storeflows.dispatch import run_name
from storeflows_local.demo_store import DEMO_STORE_ID, DEMO_WORKFLOW_ID, DemoSecrets
from storeflows_local.gateway import outbox
from storeflows_local.signing import post_event, purchase
from storeflows_local.stack import LocalStack
from storeflows_local.waiting import wait_for_run

SCRIPT = [
    ("ana@example.com", "Ana", "A-1001", "129.90"),
    ("ana@example.com", "Ana", "A-1002", "59.00"),
    ("ana@example.com", "Ana", "A-1003", "240.00"),
    ("bruno@example.com", "Bruno", "B-2001", "35.50"),
]


def run_demo(stack: LocalStack, secrets: DemoSecrets) -> int:
    machine = stack.template.physical["TargetedPostPurchaseStateMachine"]["Arn"]
    print(f"Storeflows demo: store '{DEMO_STORE_ID}', workflow '{DEMO_WORKFLOW_ID}' (targeted post-purchase follow-up)\n")
    for email, first_name, order_id, total in SCRIPT:
        response = post_event(stack.api_url, DEMO_STORE_ID, secrets.webhook_secret,
                              purchase(order_id, email, first_name=first_name, total=total, language="en-GB", country="PL"))
        print(f"POST /events/demo  purchase {order_id} by {email} ({total} EUR) -> {response.status_code}")
        if response.status_code != 202:
            print(f"  unexpected answer: {response.text}", file=sys.stderr)
            return 1
        execution = wait_for_run(machine, run_name(DEMO_STORE_ID, order_id, DEMO_WORKFLOW_ID))
        print(f"  workflow run {execution['status'].lower()}")

    print("\nEmails sent:")
    for message in outbox():
        print(f"  to {message['to']:<22} {message['subject']!r}  (SES message id {message['id']})")

    print("\nContacts:")
    for email in sorted({email for email, *_ in SCRIPT}):
        contact = requests.get(f"{stack.api_url}/_local/contacts/{DEMO_STORE_ID}/{email}", timeout=10).json()
        print(f"  {email:<22} tags={sorted(contact['tags'])} score={contact['score']} orders={contact['orders_count']}")
    print(f"\nBrowse the outbox at {stack.api_url}/_local/ while `make dev` runs.")
    return 0
