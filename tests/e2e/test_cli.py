"""The `storeflows` admin CLI against the local stack, run as a subprocess the way an operator
runs it: a store, workflow and message files from examples/, validation, publishing, a
signed purchase, status, contacts and an export that leaves out contacts inside a care series."""

from __future__ import annotations

import csv
import json
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest

from storeflows.workflows.runs import run_name
from storeflows_local.signing import post_event, purchase
from storeflows_local.waiting import state_machine_arn, wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TARGETED = [
    str(EXAMPLES / "messages" / f"{name}.yaml")
    for name in ("first-purchase-thanks", "second-purchase-thanks", "repeat-purchase-thanks")
]
CARE = [str(EXAMPLES / "messages" / f"care-{name}.yaml") for name in ("thanks", "delivery-check", "tips", "cross-sell")]
SENDER = str(EXAMPLES / "senders" / "shop-team.yaml")


def as_json(result: subprocess.CompletedProcess):
    return json.loads(result.stdout)


def test_a_marketer_configures_publishes_and_watches_a_store(stack, storeflows, tmp_path):
    store = f"cli-{uuid.uuid4().hex[:8]}"
    ana, bea = (f"{name}-{uuid.uuid4().hex[:8]}@example.com" for name in ("ana", "bea"))

    created = as_json(storeflows("stores", "create", store, "--platform", "api", "--name", "CLI Shop", "--json"))
    secret = created["secret"]
    assert secret.startswith("whsec_") and created["webhook_url"] == f"{stack.api_url}/events/{store}"

    # A care series that lasts (a year of waiting for the parcel), published later on.
    care = tmp_path / "care.yaml"
    care.write_text(f"""store: {store}
workflow: care
template: care_series
settings:
  trigger: {{skus: [VENISE-DRESS]}}
  thank_you_message: care-thanks
  delivery_check_message: care-delivery-check
  care_tips_message: care-tips
  cross_sell_message: care-cross-sell
  delivery: {{mode: fixed, wait: 365d}}
""")
    applied = as_json(
        storeflows(
            "workflows",
            "apply",
            str(EXAMPLES / "workflows" / "targeted_post_purchase.yaml"),
            str(care),
            "--store",
            store,
            "--json",
        )
    )
    assert applied[0] == {
        "store": store,
        "workflow": "targeted-post-purchase",
        "template": "targeted_post_purchase",
        "status": "draft",
        "version": 1,
        "live_status": None,
        "live_version": None,
    }
    refused = storeflows("workflows", "validate", store, "targeted-post-purchase", ok=False)
    assert (
        f"settings.first_purchase_message: no message 'first-purchase-thanks' in store {store}"
        in refused.stdout.splitlines()
    )
    assert refused.stderr.startswith("storeflows: error: ") and refused.stderr.count("\n") == 1

    refused = storeflows("messages", "apply", *TARGETED, "--store", store, ok=False)
    assert refused.stdout.splitlines()[0] == (
        f"{TARGETED[0]}: sender: no sender profile 'shop-team' in store {store} (storeflows senders apply FILE.yaml)"
    )
    assert refused.stderr == "storeflows: error: nothing applied: 3 problems in 3 file(s)\n"
    storeflows("senders", "apply", SENDER, "--store", store)
    storeflows("messages", "apply", *TARGETED, *CARE, "--store", store)
    (sender,) = as_json(storeflows("senders", "list", store, "--json"))
    assert (sender["sender"], sender["address"], len(sender["used_by"])) == ("shop-team", "shop@storeflows.test", 7)
    storeflows("workflows", "publish", store, "targeted-post-purchase")
    response = post_event(stack.api_url, store, secret, purchase("1001", ana, first_name="Ana", language="it-IT"))
    assert response.status_code == 202, response.text
    wait_for(
        lambda: [m["subject"] for m in stack.outbox(ana)] == ["Grazie per il tuo primo ordine, Ana!"],
        what="the Italian first-purchase thanks",
    )

    # An edit with a typo is a draft next to the published version, which goes on sending.
    typo = tmp_path / "targeted.yaml"
    typo.write_text(
        (EXAMPLES / "workflows" / "targeted_post_purchase.yaml")
        .read_text("utf-8")
        .replace("second_purchase_message: second-purchase-thanks", "second_purchase_message: second-purchse-thanks"),
        "utf-8",
    )
    applied = storeflows("workflows", "apply", str(typo), "--store", store).stdout.splitlines()
    assert applied[0] == (
        f"workflow targeted-post-purchase of store {store}: saved as draft, version 2, next to published version 1, "
        "which goes on starting runs until you publish the draft"
    )
    refused = storeflows("workflows", "publish", store, "targeted-post-purchase", ok=False)
    assert refused.stderr == (
        f"storeflows: error: workflow targeted-post-purchase of store {store} not published: 1 problem; "
        "published version 1 goes on starting runs until the draft is published\n"
    )
    response = post_event(stack.api_url, store, secret, purchase("1002", ana, first_name="Ana", language="it-IT"))
    assert response.status_code == 202, response.text
    wait_for(
        lambda: (
            [m["subject"] for m in stack.outbox(ana)][1:] == ["Sei tornata/o! Grazie per il tuo secondo ordine, Ana"]
        ),
        what="the second-purchase thanks of the published version",
    )
    (shown,) = as_json(storeflows("workflows", "status", store, "targeted-post-purchase", "--json"))
    assert (shown["status"], shown["version"], shown["draft_version"]) == ("published", 1, 2)
    storeflows("workflows", "delete", store, "targeted-post-purchase", "--draft")
    assert set(as_json(storeflows("workflows", "show", store, "targeted-post-purchase", "--json"))) == {"live"}

    statuses = {row["workflow"]: row for row in as_json(storeflows("workflows", "status", store, "--json"))}
    assert statuses["targeted-post-purchase"]["status"] == "published" and statuses["care"]["status"] == "draft"
    assert statuses["targeted-post-purchase"]["version"] == 1 and statuses["targeted-post-purchase"]["in_flight"] in (
        0,
        1,
    )
    shown = as_json(storeflows("contacts", "show", store, ana, "--json"))
    assert shown["orders_count"] == 2 and [order["order_id"] for order in shown["orders"]] == ["1001", "1002"]
    assert [(send["step"], send["status"], send["language"]) for send in shown["sends"]] == [
        ("SendSecondPurchaseThanks", "sent", "it"),
        ("SendFirstPurchaseThanks", "sent", "it"),
    ]

    preview = tmp_path / "preview.html"
    described = as_json(
        storeflows(
            "messages",
            "preview",
            store,
            "first-purchase-thanks",
            "--email",
            ana,
            "--language",
            "pl",
            "--out",
            str(preview),
            "--json",
        )
    )
    assert described["subject"] == "Dziękujemy za pierwsze zamówienie, Ana!" and not described["sample_order"]
    assert described["from"]["name"] == "Demo Store"
    assert "nr 1002" in preview.read_text("utf-8"), "the latest order"

    # The sender profile changes: so does the From of every later send.
    renamed = tmp_path / "shop-team.yaml"
    renamed.write_text(Path(SENDER).read_text("utf-8").replace("name: Demo Store", "name: CLI Shop team"), "utf-8")
    applied = as_json(storeflows("senders", "apply", str(renamed), "--store", store, "--json"))
    assert "second-purchase-thanks" in applied[0]["used_by"]
    qa = f"qa-{uuid.uuid4().hex[:8]}@example.com"
    storeflows("messages", "test-send", store, "second-purchase-thanks", "--to", qa, "--email", ana)
    wait_for(lambda: [m["subject"] for m in stack.outbox(qa)], what="the test send")
    (test_mail,) = stack.outbox(qa)
    assert test_mail["subject"] == "[TEST] Sei tornata/o! Grazie per il tuo secondo ordine, Ana"
    assert test_mail["from"] == "CLI Shop team <shop@storeflows.test>"
    refused = storeflows("senders", "delete", store, "shop-team", ok=False)
    assert refused.stderr.startswith("storeflows: error: sender shop-team is named by messages ")
    assert refused.stderr.count("\n") == 1

    # Bea buys the dress once the care series is published: she is inside it, Ana is not.
    storeflows("workflows", "publish", store, "care")
    care_run = (
        state_machine_arn("_care_series").replace(":stateMachine:", ":execution:")
        + ":"
        + run_name(store, "2001", "care")
    )
    try:
        assert post_event(stack.api_url, store, secret, purchase("2001", bea, first_name="Bea")).status_code == 202
        wait_for(
            lambda: (stack.contact(bea, store_id=store) or {}).get("in_workflows"), what="Bea inside the care series"
        )

        everyone, outside = tmp_path / "everyone.csv", tmp_path / "outside.csv"
        storeflows("contacts", "export", store, "--out", str(everyone))
        exported = as_json(
            storeflows("contacts", "export", store, "--out", str(outside), "--not-in-workflow", "care", "--json")
        )
        assert exported["contacts"] == 1
        assert sorted(row["email"] for row in csv.DictReader(everyone.open())) == sorted([ana, bea])
        assert [row["email"] for row in csv.DictReader(outside.open())] == [ana]

        (care_status,) = as_json(storeflows("workflows", "status", store, "care", "--json"))
        assert (care_status["status"], care_status["in_flight"]) == ("published", 1)
        assert "in workflows now: care (order 2001)" in storeflows("contacts", "show", store, bea).stdout
    finally:
        # Other tests wait for the care state machine to be idle.
        try:
            boto3.client("stepfunctions").stop_execution(executionArn=care_run)
        except Exception:  # noqa: BLE001 - the run may not have started
            pass


def test_status_shows_failed_runs_with_the_step_and_the_error(stack, storeflows, storage, store_with_workflow, email):
    from storeflows.records import Message, MessageContent, Purpose, Sender
    from storeflows.workflows.templates.purchase_follow_up import PurchaseFollowUpSettings
    from storeflows_local.waiting import wait_for_run

    store = store_with_workflow(
        PurchaseFollowUpSettings(thank_you_message="thanks", follow_up_message="later"),
        {"thanks": "transactional", "later": "transactional"},
    )
    # A message that cannot render, written past every check of `messages apply`.
    storage.messages.put_message(
        Message(
            store_id=store,
            message_id="thanks",
            purpose=Purpose.TRANSACTIONAL,
            sender=Sender(name="Test Shop", address="shop@storeflows.test"),
            variants={"en": MessageContent(subject="thanks", html="<p>{{ customer.first_name }}</p>", text="x")},
        )
    )
    assert post_event(stack.api_url, store, stack.webhook_secret, purchase("F-1", email)).status_code == 202
    execution = wait_for_run(state_machine_arn("_purchase_follow_up"), run_name(store, "F-1", "wf"), timeout=30)
    assert execution["status"] == "FAILED"

    (row,) = as_json(storeflows("workflows", "status", store, "--json"))
    assert (row["in_flight"], row["failed"]) == (0, 1)
    (failure,) = row["latest_failures"]
    assert (failure["subject"], failure["email"], failure["step"], failure["error"]) == (
        "F-1",
        email,
        "SendThankYou",
        "MessageRenderError",
    )
    lines = storeflows("workflows", "status", store).stdout.splitlines()
    assert lines[1].split() == ["wf", "purchase_follow_up", "published", "1", "-", "0", "1"]
    assert lines[2] == "latest failed runs (storeflows workflows validate STORE WORKFLOW checks the settings):"
    assert lines[3].startswith("  wf  20")
    assert f"  order F-1 ({email})  step SendThankYou: MessageRenderError: " in lines[3]
    assert "'customer' is undefined" in lines[3]
