"""The `storeflows` command line, called in-process: errors as one line and an exit status,
file mistakes before any target, templates without one; with moto as its target, one
contact's data exported, a contact erased, data requests listed and answered, coupon codes
imported."""

from __future__ import annotations

import io
import json

import pytest

from storeflows.admin.stores import create_store
from storeflows.admin.workflows import templates

FOLLOW_UP = (
    "store: demo\nworkflow: wf\ntemplate: purchase_follow_up\nsettings:\n"
    "  thank_you_message: thanks\n  follow_up_message: later\n  follow_up_after: 3d\n"
)


@pytest.fixture
def store(aws):
    return create_store("shop-1", "api", name="Shop One")[0]


def _purchase(email: str, order_id: str, *, language: str = "pl-PL", consent: bool = True):
    from storeflows.events.purchase import PurchaseEvent

    return PurchaseEvent.model_validate(
        {
            "type": "purchase",
            "occurred_at": "2026-11-20T10:00:00Z",
            "order": {
                "id": order_id,
                "total": "129.90",
                "currency": "EUR",
                "items": [{"sku": "DRESS", "name": "Venise dress", "quantity": 1, "price": "129.90"}],
            },
            "customer": {"email": email, "first_name": "Ana", "language": language, "accepts_marketing": consent},
        }
    )


# --- the command line, without a stack ----------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch, tmp_path):
    from storeflows_cli.cli import main

    monkeypatch.setenv("STOREFLOWS_LOCAL_FILE", str(tmp_path / "no-stack.json"))
    monkeypatch.delenv("STOREFLOWS_STACK", raising=False)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    return main


def test_cli_errors_are_one_line_without_a_traceback(cli, capsys):
    assert cli(["workflows", "status", "demo"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "storeflows: error: no target: pass --stack NAME (or set STOREFLOWS_STACK), "
        "or start the local stack with `make dev`\n"
    )
    assert cli(["--local", "stores", "list"]) == 1
    assert "no local stack" in capsys.readouterr().err
    assert cli(["workflows", "publish", "demo"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_cli_lists_templates_without_a_target(cli, capsys):
    assert cli(["workflows", "templates", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["template"] for row in listed] == list(templates())


def test_the_help_examples_name_workflows_and_messages_that_the_examples_define():
    """The examples of `storeflows --help` work on a store set up from examples/."""
    import re
    from pathlib import Path

    import yaml

    from storeflows_cli.cli import EPILOG

    examples = Path(__file__).resolve().parents[2] / "examples"
    workflows = {yaml.safe_load(path.read_text("utf-8"))["workflow"] for path in examples.glob("workflows/*.yaml")}
    messages = {yaml.safe_load(path.read_text("utf-8"))["message"] for path in examples.glob("messages/*.yaml")}
    named = re.findall(r"--not-in-workflow (\S+)", EPILOG) + re.findall(
        r"workflows (?:validate|publish|pause|show|delete|status) my-shop (\S+)", EPILOG
    )
    assert named and set(named) <= workflows
    previewed = re.findall(r"messages (?:preview|test-send|show|delete) my-shop (\S+)", EPILOG)
    assert previewed and set(previewed) <= messages


def test_stack_outputs_become_the_layers_environment():
    from storeflows_cli.target import stack_environment

    assert stack_environment(
        {
            "TableName": "t",
            "ApiUrl": "https://x",
            "ConfigurationSetName": "c",
            "EventQueueUrl": "q",
            "StateMachineArnPrefix": "arn:aws:states:eu-west-1:1:stateMachine:shop_",
            "CareSeriesStateMachineArn": "arn:care",
            "ShopifyWebhookUrl": "-",
            "SenderIdentity": "my-shop.com",
        }
    ) == {
        "TABLE_NAME": "t",
        "PUBLIC_API_URL": "https://x",
        "SES_CONFIGURATION_SET": "c",
        "EVENT_QUEUE_URL": "q",
        "STATE_MACHINE_ARN_PREFIX": "arn:aws:states:eu-west-1:1:stateMachine:shop_",
        "SENDER_IDENTITY": "my-shop.com",
    }


def test_cli_reports_file_mistakes_before_looking_for_a_stack(cli, capsys, tmp_path):
    bad = tmp_path / "wf.yaml"
    bad.write_text(FOLLOW_UP.replace("follow_up_after: 3d", "follow_up_after: soon"))
    assert cli(["workflows", "apply", str(bad), str(tmp_path / "missing.yaml")]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{bad}: settings.follow_up_after: 'soon' is not a duration like 10d, 12h, 30m or 45s",
        f"cannot read {tmp_path / 'missing.yaml'}: No such file or directory",
    ]
    assert err == "storeflows: error: nothing applied: 2 problems in 2 file(s)\n"


# --- data protection through the command line (moto) ----------------------------------------------


@pytest.fixture
def cli_on_moto(cli, monkeypatch, store):
    """The CLI with moto as its target: the `aws` fixture's environment is what a stack would give."""
    from storeflows_cli import cli as cli_module

    monkeypatch.setattr(cli_module, "use_target", lambda args: None)
    return cli


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_cli_exports_one_contacts_data_as_json(cli_on_moto, capsys, tmp_path):
    from storeflows.storage import orders

    orders.record_purchase("shop-1", "e1", _purchase("ana@example.com", "1001"))

    assert cli_on_moto(["contacts", "export", "shop-1", "Ana@Example.com"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["email"] == "ana@example.com" and printed["profile"]["orders_count"] == 1
    assert set(printed["records"]) == {"order"}  # its consent is on the order

    out = tmp_path / "ana.json"
    assert cli_on_moto(["contacts", "export", "shop-1", "ana@example.com", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote 2 item(s) held about ana@example.com in store shop-1 to {out}\n"
    assert json.loads(out.read_text("utf-8"))["records"]["order"][0]["order_id"] == "1001"


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (
            ["contacts", "export", "shop-1"],
            "the audience CSV needs --out FILE.csv, or give an EMAIL for one contact's data as JSON",
        ),
        (
            ["contacts", "export", "shop-1", "ana@example.com", "--tag", "vip", "--consent-only"],
            "--tag, --consent-only: filters of the audience CSV, not of one contact's data",
        ),
    ],
)
def test_cli_export_refuses_a_mixed_up_command_line_before_any_target(cli, capsys, argv, error):
    assert cli(argv) == 2
    assert capsys.readouterr().err == f"storeflows: error: {error} (see: storeflows contacts export --help)\n"


def test_cli_delete_asks_first_then_erases_and_says_what_it_kept(cli_on_moto, capsys, monkeypatch):
    from storeflows.storage import contacts, orders, stores

    orders.record_purchase("shop-1", "e1", _purchase("ana@example.com", "1001"))
    from storeflows.messaging.unsubscribe import unsubscribe
    from storeflows.messaging.unsubscribe_links import UnsubscribeRequest, make_unsubscribe_token

    assert unsubscribe(
        make_unsubscribe_token(
            stores.get_store("shop-1").unsubscribe_key,
            UnsubscribeRequest(store_id="shop-1", email="ana@example.com", message_id="news"),
        )
    )

    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert cli_on_moto(["contacts", "delete", "shop-1", "ana@example.com"]) == 1, "no terminal, no --yes"
    assert capsys.readouterr().err.endswith(
        "storeflows: error: nothing erased: not confirmed (pass --yes when there is no terminal to ask on)\n"
    )
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert cli_on_moto(["contacts", "delete", "shop-1", "ana@example.com"]) == 1
    assert "erase the 2 item(s) held about ana@example.com in store shop-1" in capsys.readouterr().err
    assert contacts.get_contact("shop-1", "ana@example.com") is not None

    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert cli_on_moto(["contacts", "delete", "shop-1", "ana@example.com"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "erased ana@example.com from store shop-1: 2 item(s) (order 1, profile 1)",
        "  runs stopped: none in flight",
        "  kept: a suppression record under a hash of the address, unsubscribed before, which a new profile for it "
        "inherits",
    ]
    assert contacts.get_contact("shop-1", "ana@example.com") is None
    assert cli_on_moto(["contacts", "show", "shop-1", "ana@example.com"]) == 1
    assert "no contact ana@example.com in store shop-1 (erased 20" in capsys.readouterr().err

    assert cli_on_moto(["contacts", "delete", "shop-1", "ana@example.com", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["items_erased"], again["runs_stopped"]) == ({}, [])
    assert set(again["kept"]) == {"erased_at", "erased_via", "unsubscribed_at"}


def test_cli_lists_and_answers_data_requests(cli_on_moto, capsys, tmp_path):
    from storeflows import privacy
    from storeflows.events.common import Customer
    from storeflows.events.privacy import DataRequest
    from storeflows.storage import orders
    from storeflows.storage import privacy as privacy_store

    orders.record_purchase("shop-1", "e1", _purchase("ana@example.com", "1001"))
    privacy.record_data_request(
        "shop-1",
        DataRequest(type="data_request", request_id="9999", customer=Customer(email="ana@example.com")),
        source="shopify:ev-1",
    )

    assert cli_on_moto(["contacts", "data-requests", "shop-1", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["request_id"], listed["email"], listed["answered_at"]) == ("9999", "ana@example.com", None)

    out = tmp_path / "answer.json"
    assert cli_on_moto(["contacts", "data-requests", "shop-1", "9999", "--out", str(out)]) == 0
    assert (
        "the data held about ana@example.com in store shop-1 (data request 9999: 3 item(s))" in capsys.readouterr().out
    )
    assert json.loads(out.read_text("utf-8"))["records"]["order"][0]["order_id"] == "1001"
    assert privacy_store.get_data_request("shop-1", "9999").answered_at is not None

    assert cli_on_moto(["contacts", "data-requests", "shop-1", "1234"]) == 1
    assert capsys.readouterr().err.startswith("storeflows: error: no data request '1234' in store shop-1")


def test_cli_imports_coupon_codes_and_shows_the_stock(cli_on_moto, capsys, tmp_path):
    codes = tmp_path / "codes.csv"
    codes.write_text("code\nA-1\nA-2\nA-1\n", "utf-8")
    assert (
        cli_on_moto(["coupons", "import", "shop-1", "spring", str(codes), "--column", "code", "--low-stock", "1"]) == 0
    )
    assert capsys.readouterr().out == (
        "pool spring of store shop-1: 2 code(s) added, 1 duplicate(s) skipped, 2 in the "
        "pool; 2 left, low-stock alarm at 1 left\n"
    )
    semicolons = tmp_path / "codes-eu.csv"
    semicolons.write_text("code;value\nB-1;5,00\nB-2;7,50\n", "utf-8")
    assert cli_on_moto(["coupons", "import", "shop-1", "spring", str(semicolons), "--column", "code"]) == 0
    assert capsys.readouterr().out.endswith("(columns separated by semicolons)\n")
    assert cli_on_moto(["coupons", "stock", "shop-1", "spring", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["remaining"] == 4
    assert cli_on_moto(["coupons", "stock", "shop-1", "autumn"]) == 1
    assert capsys.readouterr().err.startswith("storeflows: error: store shop-1 has no coupon pool 'autumn'")


def test_cli_refuses_message_files_that_cannot_render_before_saving_any(cli_on_moto, capsys, tmp_path):
    from storeflows.storage import messages

    def message_file(name: str, html: str) -> str:
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            f"store: shop-1\nmessage: {name}\npurpose: transactional\n"
            "sender: {name: Shop, address: shop@storeflows.test}\nfallback_language: en\n"
            f"variants:\n  en:\n    subject: Thanks\n    html: |\n      <p>Hello</p>\n      {html}\n    text: Thanks\n",
            "utf-8",
        )
        return str(path)

    good, bad = message_file("good", "{{ contact.first_name }}"), message_file("bad", "{{ customer.first_name }}")
    assert cli_on_moto(["messages", "apply", good, bad]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{bad}: variants.en.html: line 2: 'customer' is undefined"]
    assert err == "storeflows: error: nothing applied: 1 problem in 2 file(s)\n"
    assert messages.list_messages("shop-1") == []
    assert cli_on_moto(["messages", "apply", good]) == 0
    assert capsys.readouterr().out.startswith("message good of store shop-1: saved")


def test_cli_shows_and_sets_whether_shopify_test_orders_count(cli_on_moto, capsys):
    from storeflows.storage import stores

    assert cli_on_moto(["stores", "shopify", "shop-1"]) == 0
    assert capsys.readouterr().out == "store shop-1: Shopify test orders (test: true) count as purchases\n"
    assert cli_on_moto(["stores", "shopify", "shop-1", "--no-test-orders", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"store": "shop-1", "count_test_orders": False}
    assert stores.get_store("shop-1").shopify.count_test_orders is False
    assert cli_on_moto(["stores", "shopify", "shop-1"]) == 0
    assert capsys.readouterr().out == "store shop-1: Shopify test orders (test: true) are acknowledged and ignored\n"
    assert cli_on_moto(["stores", "shopify", "shop-2", "--test-orders"]) == 1
    assert "no store 'shop-2'" in capsys.readouterr().err


def test_cli_shows_a_contacts_cancelled_orders_outside_the_totals(cli_on_moto, capsys):
    from datetime import UTC, datetime

    from storeflows.storage import orders

    orders.record_purchase("shop-1", "e1", _purchase("ana@example.com", "1001"))
    orders.record_purchase("shop-1", "e2", _purchase("ana@example.com", "1002"))
    at = datetime(2026, 11, 21, 9, tzinfo=UTC)
    assert orders.cancel_order("shop-1", "ana@example.com", "1002", at=at, reason="customer", event_id="x") == (
        "cancelled"
    )
    # Cancelled before its purchase arrived (a pending order): no purchase is kept.
    assert orders.cancel_order("shop-1", "ana@example.com", "1003", at=at, reason=None, event_id="y") == (
        "cancelled_before_recorded"
    )

    assert cli_on_moto(["contacts", "show", "shop-1", "ana@example.com"]) == 0
    shown = capsys.readouterr().out
    assert "  orders: 1 (total spent 129.90)\n" in shown
    assert "1003" not in shown, "an order cancelled before it was recorded is no purchase"
    assert "    1001  129.90 EUR  2026-11-20T10:00:00.000000+00:00\n" in shown
    assert (
        "    1002  129.90 EUR  2026-11-20T10:00:00.000000+00:00  cancelled 2026-11-21T09:00:00.000000+00:00\n" in shown
    )


# --- workflows: a draft next to the published version, show, delete (moto) --------------------------


def _messages(store_id: str, *message_ids: str) -> None:
    from storeflows.admin.messages import apply_message
    from storeflows.records import Message, MessageContent, Purpose, Sender

    for message_id in message_ids:
        apply_message(
            Message(
                store_id=store_id,
                message_id=message_id,
                purpose=Purpose.TRANSACTIONAL,
                sender=Sender(name="Shop", address="shop@storeflows.test"),
                variants={"en": MessageContent(subject=message_id, html="<p>{{ order.id }}</p>", text="x")},
            )
        )


def test_cli_edit_of_a_published_workflow_is_a_draft_next_to_it(cli_on_moto, capsys, tmp_path):
    _messages("shop-1", "thanks", "later")
    good, typo = tmp_path / "wf.yaml", tmp_path / "typo.yaml"
    good.write_text(FOLLOW_UP)
    typo.write_text(FOLLOW_UP.replace("follow_up_message: later", "follow_up_message: latre"))
    assert cli_on_moto(["workflows", "apply", str(good), "--store", "shop-1"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "workflow wf of store shop-1: saved as draft, version 1"
    assert cli_on_moto(["workflows", "publish", "shop-1", "wf"]) == 0
    capsys.readouterr()

    assert cli_on_moto(["workflows", "apply", str(typo), "--store", "shop-1"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "workflow wf of store shop-1: saved as draft, version 2, next to published version 1, which goes on "
        "starting runs until you publish the draft",
        "  next: storeflows workflows validate shop-1 wf, then storeflows workflows publish shop-1 wf",
    ]
    assert cli_on_moto(["workflows", "validate", "shop-1", "wf"]) == 1
    out, err = capsys.readouterr()
    assert out == "settings.follow_up_message: no message 'latre' in store shop-1\n"
    assert err == (
        "storeflows: error: workflow wf version 2: 1 problem(s) to fix before publishing; published version 1 "
        "goes on starting runs until the draft is published\n"
    )
    assert cli_on_moto(["workflows", "status", "shop-1"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["WORKFLOW", "TEMPLATE", "STATUS", "VERSION", "DRAFT", "IN", "FLIGHT", "FAILED"]
    assert row.split() == ["wf", "purchase_follow_up", "published", "1", "v2", "(not", "published)", "0", "0"]

    assert cli_on_moto(["workflows", "show", "shop-1", "wf"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("# version 1: published\nstore: shop-1\nworkflow: wf\ntemplate: purchase_follow_up\n")
    assert "# version 2: draft (not published)\n" in shown and "  follow_up_message: latre\n" in shown
    assert "  follow_up_after: 3d\n" in shown, "durations as they are written"

    assert cli_on_moto(["workflows", "delete", "shop-1", "wf", "--draft"]) == 0
    assert capsys.readouterr().out == (
        "workflow wf of store shop-1: deleted draft version 2; the live version is unchanged\n"
    )
    assert cli_on_moto(["workflows", "show", "shop-1", "wf", "--json"]) == 0
    assert list(json.loads(capsys.readouterr().out)) == ["live"]


def test_cli_delete_of_a_workflow_with_runs_in_flight_is_refused_unless_they_are_stopped(cli_on_moto, capsys, aws):
    """A run that outlived its workflow could not be found by an erasure (privacy.erase_contact)."""
    import boto3

    from storeflows.admin.files import load_workflow_yaml
    from storeflows.admin.workflows import apply_workflow, publish_workflow
    from storeflows.storage import workflows
    from storeflows.workflows.runs import run_name

    _messages("shop-1", "thanks", "later")
    sfn = boto3.client("stepfunctions")
    machine = aws.state_machine_arn.replace("targeted_post_purchase", "purchase_follow_up")
    for workflow_id in ("wf", "wf-2", "wf-3"):
        apply_workflow(
            load_workflow_yaml(FOLLOW_UP.replace("workflow: wf", f"workflow: {workflow_id}"), store="shop-1")
        )
        publish_workflow("shop-1", workflow_id)
    for workflow_id in ("wf", "wf-2"):
        sfn.start_execution(stateMachineArn=machine, name=run_name("shop-1", "1001", workflow_id), input="{}")

    assert cli_on_moto(["workflows", "delete", "shop-1", "wf"]) == 1
    assert capsys.readouterr().err == (
        "storeflows: error: workflow wf has 1 run(s) in flight: pause it (storeflows workflows pause shop-1 wf) "
        "and delete it once they have ended, or pass --stop-runs to stop them now\n"
    )
    assert workflows.get_workflow("shop-1", "wf") is not None
    assert cli_on_moto(["workflows", "delete", "shop-1", "wf-2", "--stop-runs"]) == 0
    assert capsys.readouterr().out == (
        "workflow wf-2 of store shop-1: deleted published version 1; its 1 run(s) in flight stopped\n"
    )
    statuses = {item["name"]: item["status"] for item in sfn.list_executions(stateMachineArn=machine)["executions"]}
    assert statuses == {run_name("shop-1", "1001", "wf"): "RUNNING", run_name("shop-1", "1001", "wf-2"): "ABORTED"}
    assert cli_on_moto(["workflows", "delete", "shop-1", "wf-3", "--json"]) == 0
    deleted = json.loads(capsys.readouterr().out)
    assert (deleted["deleted"], deleted["runs_stopped"]) == ([{"status": "published", "version": 1}], 0)
    assert cli_on_moto(["workflows", "delete", "shop-1", "wf-3"]) == 1
    assert capsys.readouterr().err == "storeflows: error: no workflow 'wf-3' in store shop-1\n"


def test_cli_contacts_show_lists_the_latest_send_decisions_with_their_reasons(cli_on_moto, capsys, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from storeflows.storage import dynamodb, keys, orders, sends

    orders.record_purchase("shop-1", "e1", _purchase("ana@example.com", "1001"))
    start = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
    decisions = [
        ("SendThankYou", "thanks", "sent", None),
        ("SendFollowUp", "later", "skipped", "unsubscribed"),
    ] + [(f"SendTip{number}", "tip", "skipped", "frequency_cap") for number in range(10)]
    for minute, (step, message_id, status, reason) in enumerate(decisions):
        monkeypatch.setattr(dynamodb, "now", lambda minute=minute: start + timedelta(minutes=minute))
        assert sends.record_send_decision(
            keys.send_log_key("shop-1", "ana@example.com", "wf", "1001", step),
            workflow_id="wf",
            subject="1001",
            step=step,
            message_id=message_id,
            status=status,
            reason=reason,
            language="pl" if status == "sent" else None,
            ses_message_id="ses-1" if status == "sent" else None,
        )

    assert cli_on_moto(["contacts", "show", "shop-1", "ana@example.com"]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = lines.index("  recent sends: newest first, 10 of 12 (contacts export STORE EMAIL has them all)")
    assert lines[at + 1] == "    2026-12-03 18:11:00  wf (order 1001)  SendTip9  tip  skipped: frequency_cap"
    assert lines[at + 10] == "    2026-12-03 18:02:00  wf (order 1001)  SendTip0  tip  skipped: frequency_cap"
    assert lines[at + 11] == "  in workflows now: none"

    assert cli_on_moto(["contacts", "show", "shop-1", "ana@example.com", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["sends_total"] == 12 and len(shown["sends"]) == 10
    monkeypatch.setattr("storeflows.admin.contacts.RECENT_SENDS", 12)
    assert cli_on_moto(["contacts", "show", "shop-1", "ana@example.com"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-3:] == [
        "    2026-12-03 18:01:00  wf (order 1001)  SendFollowUp  later  skipped: unsubscribed",
        "    2026-12-03 18:00:00  wf (order 1001)  SendThankYou  thanks  sent (pl)",
        "  in workflows now: none",
    ]


# --- stores: a second platform, a rotation that overlaps until the old secret is retired ---------------


def test_cli_adds_a_platform_rotates_with_overlap_and_retires_the_old_secret(cli_on_moto, capsys):
    from storeflows.storage import stores

    assert cli_on_moto(["stores", "rotate-secret", "shop-1", "--platform", "shopify"]) == 1
    assert capsys.readouterr().err == (
        "storeflows: error: store shop-1 has no shopify secret to rotate (add one with: storeflows stores "
        "add-platform shop-1 --platform shopify)\n"
    )
    assert cli_on_moto(["stores", "add-platform", "shop-1", "--platform", "shopify", "--secret", "first"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "store shop-1: added a shopify secret (shown once; keep it in the store's shopify settings):",
        "  first",
        "webhook URL: https://api.example.test/webhooks/shopify/shop-1",
    ]
    assert cli_on_moto(["stores", "add-platform", "shop-1", "--platform", "shopify"]) == 1
    assert "storeflows stores rotate-secret shop-1 --platform shopify" in capsys.readouterr().err

    assert cli_on_moto(["stores", "rotate-secret", "shop-1", "--platform", "shopify", "--secret", "second"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "  second",
        "webhook URL: https://api.example.test/webhooks/shopify/shop-1",
        "the old secret is still accepted, so no webhook is refused while you switch: put the new one in the "
        "store's shopify settings, then stop accepting the old one with:",
        "  storeflows stores retire-secret shop-1 --platform shopify",
    ]
    assert cli_on_moto(["stores", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["shop-1", "Shop", "One", "shopify,", "api", "shopify"]
    assert cli_on_moto(["stores", "retire-secret", "shop-1", "--platform", "shopify"]) == 0
    assert capsys.readouterr().out == (
        "store shop-1: the old shopify secret is retired; requests signed with it are refused from now on "
        "(the current one is accepted)\n"
    )
    store = stores.get_store("shop-1")
    assert (store.shopify_secret, store.previous_shopify_secret) == ("second", None)
    assert cli_on_moto(["stores", "retire-secret", "shop-1", "--platform", "shopify"]) == 1
    assert "no old shopify secret to retire" in capsys.readouterr().err


# --- messages list, show, delete; coupons list (moto) -------------------------------------------------


def test_cli_lists_shows_and_deletes_messages_refusing_one_a_workflow_names(cli_on_moto, capsys, tmp_path):
    from storeflows.admin.files import load_workflow_yaml
    from storeflows.admin.workflows import apply_workflow, publish_workflow

    _messages("shop-1", "thanks", "later", "spare", "old")
    apply_workflow(load_workflow_yaml(FOLLOW_UP, store="shop-1"))
    publish_workflow("shop-1", "wf")
    # A draft next to the published version names another message.
    apply_workflow(
        load_workflow_yaml(FOLLOW_UP.replace("follow_up_message: later", "follow_up_message: old"), store="shop-1")
    )

    assert cli_on_moto(["messages", "list", "shop-1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["MESSAGE", "PURPOSE", "LANGUAGES", "SENDER", "COUPON", "NAMED", "BY", "WORKFLOWS"]
    assert [line.split()[0] for line in lines[1:]] == ["later", "old", "spare", "thanks"]
    assert lines[1].split()[1:] == ["transactional", "en", "shop@storeflows.test", "-", "wf", "(published)"]
    assert lines[4].split()[-3:] == ["wf", "(published,", "draft)"]

    assert cli_on_moto(["messages", "show", "shop-1", "old"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("# named by workflows wf (draft)\nstore: shop-1\nmessage: old\npurpose: transactional\n")
    saved = tmp_path / "old.yaml"
    saved.write_text(shown, "utf-8")
    assert cli_on_moto(["messages", "apply", str(saved)]) == 0, "what show prints, apply takes back"
    capsys.readouterr()

    for message_id, users in (("thanks", "wf (published, draft)"), ("old", "wf (draft)")):
        assert cli_on_moto(["messages", "delete", "shop-1", message_id]) == 1
        assert capsys.readouterr().err == (
            f"storeflows: error: message {message_id} is named by workflows {users} of store shop-1: point them "
            "at another message first (storeflows workflows apply FILE.yaml, then publish), or delete them\n"
        )
    assert cli_on_moto(["messages", "delete", "shop-1", "spare"]) == 0
    assert capsys.readouterr().out == "message spare of store shop-1: deleted\n"
    assert cli_on_moto(["messages", "delete", "shop-1", "spare"]) == 1
    assert capsys.readouterr().err == "storeflows: error: no message 'spare' in store shop-1\n"


def test_cli_lists_coupon_pools_with_their_stock_and_the_messages_using_them(cli_on_moto, capsys, tmp_path):
    from storeflows.admin.messages import apply_message
    from storeflows.records import DynamicCoupon, Message, MessageContent, Purpose, Sender

    assert cli_on_moto(["coupons", "list", "shop-1"]) == 0
    assert capsys.readouterr().out.startswith("store shop-1 has no coupon pools")
    codes = tmp_path / "codes.csv"
    codes.write_text("code\nA-1\nA-2\nA-3\n", "utf-8")
    assert cli_on_moto(["coupons", "import", "shop-1", "spring", str(codes), "--column", "code"]) == 0
    for message_id, pool in (("vip", "spring"), ("autumn-offer", "autumn")):
        apply_message(
            Message(
                store_id="shop-1",
                message_id=message_id,
                purpose=Purpose.MARKETING,
                sender=Sender(name="Shop", address="shop@storeflows.test"),
                variants={
                    "en": MessageContent(subject="x", html="{{ unsubscribe_url }}", text="{{ unsubscribe_url }}")
                },
                coupon=DynamicCoupon(pool=pool),
            )
        )
    capsys.readouterr()

    assert cli_on_moto(["coupons", "list", "shop-1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["POOL", "CODES", "HANDED", "OUT", "LEFT", "LOW-STOCK", "ALARM", "AT", "MESSAGES"]
    assert lines[1].split() == ["autumn", "-", "-", "not", "imported", "-", "autumn-offer"]
    assert lines[2].split() == ["spring", "3", "0", "3", "1", "vip"]
    assert cli_on_moto(["coupons", "list", "shop-1", "--json"]) == 0
    assert [(row["pool"], row["remaining"]) for row in json.loads(capsys.readouterr().out)] == [
        ("autumn", None),
        ("spring", 3),
    ]


def test_cli_warns_about_a_marketing_message_without_an_unsubscribe_link(cli_on_moto, capsys, tmp_path):
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples"
    assert cli_on_moto(["senders", "apply", str(examples / "senders" / "shop-team.yaml"), "--store", "shop-1"]) == 0
    files = [str(path) for path in sorted((examples / "messages").glob("*.yaml"))]
    assert cli_on_moto(["messages", "apply", *files, "--store", "shop-1"]) == 0
    assert "warning" not in capsys.readouterr().out, "every example carries its link"

    bare = tmp_path / "news.yaml"
    bare.write_text(
        "store: shop-1\nmessage: news\npurpose: marketing\nsender: shop-team\nvariants:\n"
        "  en: {subject: News, html: '<p>New in</p>', text: 'New in: {{ unsubscribe_url }}'}\n"
        "  pl: {subject: Nowości, html: '<p>{# {{ unsubscribe_url }} #}</p>', text: Nowości}\n",
        "utf-8",
    )
    assert cli_on_moto(["messages", "apply", str(bare)]) == 0, "saved: a warning, not a refusal"
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        "  warning: variants.en: a marketing message without an unsubscribe link in its HTML body: only mail "
        'clients that show List-Unsubscribe offer one (add <a ses:no-track href="{{ unsubscribe_url }}">Unsubscribe'
        "</a>, and {{ unsubscribe_url }} to the text)",
        "  warning: variants.pl: a marketing message without an unsubscribe link in its HTML and text body: only "
        'mail clients that show List-Unsubscribe offer one (add <a ses:no-track href="{{ unsubscribe_url }}">'
        "Unsubscribe</a>, and {{ unsubscribe_url }} to the text)",
    ]
    assert cli_on_moto(["messages", "apply", str(bare), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)[0]["warnings"]) == 2
