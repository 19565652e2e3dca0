"""The browser snippet as the stack serves it (GET /sdk/storeflows.js), run by Node with a
minimal stand-in for the page's window (location, storage, cookie, history, sendBeacon), posting
to the local stack's POST /collect: its batches reach the contact once the visitor identifies.
Node's fetch sets no Origin header, so the stand-in adds the page's, as a browser would."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest
import requests

from storeflows_local.waiting import wait_for

PAGE_ORIGIN = "https://shop.example.com"

# The page: the snippet's install HTML, as JavaScript; then what a visitor does on it.
PAGE = (Path(__file__).parent / "browser_page.js").read_text("utf-8")


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_snippets_batches_reach_the_contact_once_the_visitor_identifies(stack, storeflows, email):
    store_id = f"shop-{uuid.uuid4().hex[:8]}"
    storeflows("stores", "create", store_id, "--platform", "api")
    browser = json.loads(storeflows("stores", "browser", store_id, "--allow-origin", PAGE_ORIGIN, "--json").stdout)
    sdk = requests.get(f"{stack.api_url}/sdk/storeflows.js", timeout=10)
    assert sdk.headers["Content-Type"].startswith("application/javascript")

    page = subprocess.run(
        ["node", "-e", PAGE, json.dumps([sdk.text, stack.api_url, store_id, browser["public_key"], email])],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert page.returncode == 0, page.stderr
    result = json.loads(page.stdout.strip().splitlines()[-1])
    # Before consent: nothing stored in the browser, nothing sent.
    assert result["before"] == {"stored": 0, "cookie": "", "sent": 0}
    # The email link's token is out of the address bar (the rest of the URL is kept).
    assert result["url"] == "https://shop.example.com/products/venise?utm_source=x#top"
    statuses = [status for status, _ in result["answers"]]
    assert statuses and set(statuses) == {202}, result["answers"]
    accepted = [event_id for _, body in result["answers"] for event_id in body["event_ids"]]
    visitor = result["visitor"]
    assert len(accepted) == 4 and all(event_id.startswith(f"browser:{visitor}:") for event_id in accepted)
    # The made-up sf_t of the URL identifies nobody: its identify is dropped, the rest goes on.
    assert [len(body["dropped"]) for _, body in result["answers"]] == [1, 0]

    contact = wait_for(lambda: stack.contact(email, store_id), what="the identified visitor's contact")
    assert contact["email"] == email
    table = boto3.resource("dynamodb").Table("storeflows-local-Table")
    known = wait_for(
        lambda: table.get_item(Key={"pk": f"VISITOR#{store_id}#{visitor}", "sk": "VISITOR"}).get("Item"),
        what="the visitor named as the contact",
    )
    assert (known["email"], known["proof"]) == (email, "claimed")
    # "Notify me": the typed address asked for the variant, as an unproven claim.
    asked = wait_for(
        lambda: table.get_item(Key={"pk": f"CONTACT#{store_id}#{email}", "sk": "INTEREST#requested#p-1#v-2"}).get(
            "Item"
        ),
        what="the back-in-stock request",
    )
    assert (asked["kind"], asked["proof"]) == ("requested", "claimed")
