"""The admin domain behind the `storeflows` CLI: workflow and message files, the checks before
publishing, the lifecycle draft → published → paused (moto), previews, exports."""

from __future__ import annotations

import io
import json
import types
from pathlib import Path

import pytest

from storeflows.admin.contacts import contact_summary, export_contacts, write_contacts_csv
from storeflows.admin.errors import AdminError, InvalidDefinition, PublishRefused
from storeflows.admin.files import load_message_yaml, load_sender_yaml, load_workflow_yaml
from storeflows.admin.messages import apply_message, preview_message, send_test
from storeflows.admin.stores import add_platform, create_store, retire_secret, rotate_secret, store_platforms
from storeflows.admin.workflows import (
    apply_workflow,
    pause_workflow,
    publish_workflow,
    template_description,
    templates,
    workflow_status,
)
from storeflows.records import Message, MessageContent, Purpose, Sender
from storeflows.workflows.publishing import message_references, validate_for_publish

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SENDER = Sender(name="Shop", address="shop@storeflows.test")


def message(message_id: str, purpose: str = "transactional", store_id: str = "demo", **extra) -> Message:
    return Message(
        store_id=store_id,
        message_id=message_id,
        purpose=Purpose(purpose),
        sender=SENDER,
        variants={
            "en": MessageContent(
                subject=f"{message_id} {{{{ contact.first_name }}}}",
                html="<p>{{ order.id }}</p>",
                text="{{ order.id }}",
            )
        },
        **extra,
    )


def workflow_file(template: str, settings: str, store: str = "demo", workflow: str = "wf") -> str:
    return f"store: {store}\nworkflow: {workflow}\ntemplate: {template}\nsettings:\n{settings}"


FOLLOW_UP = workflow_file(
    "purchase_follow_up", "  thank_you_message: thanks\n  follow_up_message: later\n  follow_up_after: 3d\n"
)


# --- files ----------------------------------------------------------------------------------------


def load_example_messages() -> dict[str, Message]:
    loaded = {}
    for path in sorted((EXAMPLES / "messages").glob("*.yaml")):
        loaded_message = load_message_yaml(path.read_text("utf-8"), base_dir=path.parent, source=str(path))
        loaded[loaded_message.message_id] = loaded_message
    return loaded


def test_every_example_loads_and_is_ready_to_publish():
    messages = load_example_messages()
    workflows = {
        path.stem: load_workflow_yaml(path.read_text("utf-8"), source=str(path))
        for path in sorted((EXAMPLES / "workflows").glob("*.yaml"))
    }
    (sender,) = [
        load_sender_yaml(path.read_text("utf-8"), source=str(path))
        for path in sorted((EXAMPLES / "senders").glob("*.yaml"))
    ]
    assert set(workflows) == set(templates()), "one example per template, named after it"
    for name, workflow in workflows.items():
        assert workflow.template == name and workflow.store_id == "demo"
        assert validate_for_publish(workflow, messages, [sender]) == [], name
    assert {loaded.sender for loaded in messages.values()} == {sender.sender_id}, "one sender, defined once"
    for message_id in ("first-purchase-thanks", "second-purchase-thanks", "repeat-purchase-thanks"):
        assert set(messages[message_id].variants) == {"en", "pl", "it"}
    assert all(len(loaded.variants) >= 2 for loaded in messages.values())


def test_a_workflow_file_becomes_a_draft_with_durations_in_seconds():
    workflow = load_workflow_yaml(FOLLOW_UP)
    assert (workflow.store_id, workflow.workflow_id, workflow.status.value) == ("demo", "wf", "draft")
    assert workflow.settings.follow_up_after == 3 * 86400
    assert load_workflow_yaml(FOLLOW_UP, store="other-shop").store_id == "other-shop"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            workflow_file("purchase_follow_up", "  thank_you_message: a\n  follow_up_after: ten days\n  typo: 1\n"),
            [
                "settings.follow_up_message: required",
                "settings.follow_up_after: 'ten days' is not a duration like 10d, 12h, 30m or 45s",
                "settings.typo: unknown field",
            ],
        ),
        (
            "store: Demo Shop\nworkflow: wf\ntemplate: nope\n",
            [
                "store: 'Demo Shop' is not a store id (lower-case letters, digits and -)",
                "template: no template 'nope'; one of: " + ", ".join(templates()),
            ],
        ),
        (
            workflow_file(
                "care_series",
                "  thank_you_message: a\n  delivery_check_message: b\n  care_tips_message: c\n"
                "  cross_sell_message: d\n  trigger: {}\n",
            ),
            ["settings: a care series needs a product condition: trigger.skus or trigger.categories"],
        ),
        (workflow_file("order_value", "  tiers:\n    - {min_total: 0}\n"), ["settings.tiers.0.message: required"]),
        ("store: demo\n  workflow: [\n", ["line 2: not valid YAML (mapping values are not allowed here)"]),
        ("- a list\n", ["expected a mapping with store, workflow, template, settings"]),
        (
            "store: demo\nworkflow: wf\ntemplate: targeted_post_purchase\nsetings: {}\n",
            ["setings: unknown field (expected store, workflow, template, settings)"],
        ),
        (
            "store: demo\nworkflow: a b\ntemplate: purchase_follow_up\n"
            "settings: {thank_you_message: 'x y', follow_up_message: b}\n",
            [
                "workflow: 'a b' has characters that are not allowed here",
                "settings.thank_you_message: 'x y' has characters that are not allowed here",
            ],
        ),
    ],
)
def test_workflow_file_mistakes_are_listed_one_line_each_with_their_field(text, expected):
    with pytest.raises(InvalidDefinition) as raised:
        load_workflow_yaml(text, source="wf.yaml")
    assert raised.value.problems == expected
    assert all("\n" not in line for line in raised.value.problems)


def test_a_message_file_reads_its_variants_from_files_next_to_it(tmp_path: Path):
    (tmp_path / "html").mkdir()
    (tmp_path / "html" / "pl.html").write_text("<p>Cześć {{ contact.first_name }}</p>", "utf-8")
    text = (
        "store: demo\nmessage: hello\npurpose: marketing\nsender: {name: Shop, address: shop@storeflows.test}\n"
        "fallback_language: pl\nvariants:\n  pl: {subject: Cześć, html_file: html/pl.html, text: Cześć}\n"
    )
    loaded = load_message_yaml(text, base_dir=tmp_path)
    assert loaded.default_language == "pl" and loaded.purpose is Purpose.MARKETING
    assert loaded.variants["pl"].html == "<p>Cześć {{ contact.first_name }}</p>"


def test_message_file_mistakes_are_all_listed_at_once(tmp_path: Path):
    text = (
        "store: demo\nmessage: m\npurpose: spam\nsender: {name: Shop, address: nope}\nfallback_language: pl\n"
        "variants:\n  en: {subject: s, html: '{{ x', text_file: missing.txt}\n  EN: {subject: s}\n"
    )
    with pytest.raises(InvalidDefinition) as raised:
        load_message_yaml(text, base_dir=tmp_path, source="m.yaml")
    assert raised.value.problems == [
        "variants.en.text_file: cannot read missing.txt (No such file or directory)",
        "variants.en.html: line 1: unexpected end of template, expected 'end of print statement'.",
        "variants.EN: a language is a lower-case code like en, pl or it",
        "fallback_language: 'pl' has no variant (variants: en, EN)",
        "sender.address: 'nope' is not an email address",
        "purpose: Input should be 'transactional' or 'marketing'",
    ]


# --- checks before publishing -----------------------------------------------------------------------


def test_an_unknown_message_is_named_with_its_setting():
    workflow = load_workflow_yaml(FOLLOW_UP)
    assert validate_for_publish(workflow, [message("thanks")]) == [
        "settings.follow_up_message: no message 'later' in store demo"
    ]
    assert validate_for_publish(workflow, {"thanks": message("thanks"), "later": message("later")}) == []


def test_settings_too_large_to_travel_with_every_run_are_refused():
    """Every run carries its workflow's settings, and Step Functions refuses inputs over
    256 KB: a workflow with a huge SKU tag map would start no run at all."""
    workflow = load_workflow_yaml(FOLLOW_UP)
    huge = workflow.model_copy(
        update={
            "settings": workflow.settings.model_copy(
                update={"sku_tags": {f"SKU-{n:06}": "dress_owner" for n in range(5000)}}
            )
        }
    )
    messages = [message("thanks"), message("later")]
    (problem,) = validate_for_publish(huge, messages)
    assert problem.startswith("settings: ") and "at most 65536" in problem
    assert validate_for_publish(workflow, messages) == []


def test_messages_are_found_however_deep_the_settings_hold_them():
    workflow = load_workflow_yaml(
        workflow_file(
            "order_value",
            "  tiers:\n    - {min_total: 0, max_total: 50, message: small}\n    - {min_total: 50, message: big}\n",
        )
    )
    assert message_references(workflow.settings) == [
        ("settings.tiers.0.message", "small"),
        ("settings.tiers.1.message", "big"),
    ]
    assert validate_for_publish(workflow, [message("small")]) == [
        "settings.tiers.1.message: no message 'big' in store demo"
    ]


def test_template_checks_of_the_settings_class_are_reported():
    workflow = load_workflow_yaml(
        workflow_file(
            "order_value",
            "  tiers:\n    - {min_total: 10, max_total: 50, message: small}\n    - {min_total: 60, message: big}\n",
        )
    )
    assert validate_for_publish(workflow, [message("small"), message("big")]) == [
        "settings.tiers: orders below 10 get no message (the first tier should start at 0)",
        "settings.tiers: orders from 50 to 60 get no message (gap)",
    ]


def test_customers_without_consent_need_a_transactional_confirmation():
    workflow = load_workflow_yaml(
        workflow_file(
            "consent_confirmation",
            "  eu_consented_message: a\n  eu_without_consent_message: b\n  outside_eu_message: c\n",
        )
    )
    problems = validate_for_publish(workflow, [message("a", "marketing"), message("b", "marketing"), message("c")])
    assert problems == [
        "settings.eu_without_consent_message: message 'b' is marketing; customers without marketing "
        "consent would get nothing (make it transactional)"
    ]


def test_a_message_without_its_fallback_variant_is_reported():
    broken = Message.model_construct(
        store_id="demo",
        message_id="later",
        purpose=Purpose.MARKETING,
        sender=SENDER,
        default_language="pl",
        variants={"en": message("x").variants["en"]},
    )
    problems = validate_for_publish(load_workflow_yaml(FOLLOW_UP), [message("thanks"), broken])
    assert problems == ["settings.follow_up_message: message 'later' has no variant in its fallback language 'pl'"]


def test_a_dynamic_coupon_pool_without_codes_is_reported(monkeypatch):
    from storeflows.storage import coupons as pools

    stock = {"empty": types.SimpleNamespace(remaining=0), "full": types.SimpleNamespace(remaining=12), "gone": None}
    monkeypatch.setattr(pools, "pool_stock", lambda store_id, pool: stock[pool])
    workflow = load_workflow_yaml(FOLLOW_UP)
    problems = validate_for_publish(
        workflow,
        [
            message("thanks", coupon={"type": "dynamic", "pool": "full"}),
            message("later", "marketing", coupon={"type": "dynamic", "pool": "empty"}),
        ],
    )
    assert problems == [
        "settings.follow_up_message: message 'later' hands out codes from coupon pool 'empty', which has none left"
    ]
    problems = validate_for_publish(
        workflow,
        [
            message("thanks", coupon={"type": "dynamic", "pool": "gone"}),
            message("later", coupon={"type": "static", "code": "X"}),
        ],
    )
    assert problems == [
        "settings.thank_you_message: message 'thanks' hands out codes from coupon pool 'gone', which "
        "does not exist (storeflows coupons import demo gone FILE.csv --column NAME)"
    ]


def test_templates_are_described_from_their_settings_class():
    described = {name: template_description(cls) for name, cls in templates().items()}
    assert {"targeted_post_purchase", "consent_confirmation", "purchase_follow_up", "care_series"} <= set(described)
    assert all(text and "\n" not in text and not text.startswith("Template") for text in described.values())


def test_contacts_csv_neutralises_spreadsheet_formulas():
    from storeflows.records import Contact

    stream = io.StringIO()
    count = write_contacts_csv(
        [Contact(store_id="demo", email="ana@example.com", first_name="=HYPERLINK(1)", tags={"b", "a"}, score=3)],
        stream,
    )
    header, row = stream.getvalue().splitlines()
    assert count == 1 and header.startswith("email,first_name")
    assert row.startswith("ana@example.com,'=HYPERLINK(1),,,,a b,3,0,0,no,no,")


# --- with moto ---------------------------------------------------------------------------------------


@pytest.fixture
def store(aws):
    created, secret = create_store("shop-1", "api", name="Shop One")
    assert secret.startswith("whsec_") and created.webhook_secret == secret and created.unsubscribe_key
    return created


def test_lifecycle_draft_published_paused_and_a_new_version(store):
    from storeflows.storage import workflows

    saved, live = apply_workflow(load_workflow_yaml(FOLLOW_UP, store="shop-1"))
    assert live is None and (saved.status.value, saved.version) == ("draft", 1)
    with pytest.raises(AdminError, match="is a draft"):
        pause_workflow("shop-1", "wf")
    with pytest.raises(PublishRefused) as refused:
        publish_workflow("shop-1", "wf")
    assert refused.value.problems == [
        "settings.thank_you_message: no message 'thanks' in store shop-1",
        "settings.follow_up_message: no message 'later' in store shop-1",
    ]
    assert workflows.get_workflow("shop-1", "wf").status.value == "draft"

    for message_id in ("thanks", "later"):
        apply_message(message(message_id, store_id="shop-1"))
    published, replaced = publish_workflow("shop-1", "wf")
    assert (published.status.value, replaced) == ("published", None)
    assert workflows.get_workflow("shop-1", "wf").status.value == "published"
    assert apply_message(message("later", store_id="shop-1")).published_users == ["wf"], "published users are named"

    assert pause_workflow("shop-1", "wf").status.value == "paused"
    assert workflows.get_workflow("shop-1", "wf").status.value == "paused"

    # An edit of the paused workflow is a draft next to it; pause and status see both.
    saved, live = apply_workflow(load_workflow_yaml(FOLLOW_UP, store="shop-1"))
    assert (live.status.value, live.version) == ("paused", 1) and (saved.status.value, saved.version) == ("draft", 2)
    assert (workflows.get_workflow("shop-1", "wf").status.value, workflows.get_workflow("shop-1", "wf").version) == (
        "paused",
        1,
    )
    assert pause_workflow("shop-1", "wf").version == 1, "pause acts on the live version"
    assert not workflows.set_workflow_status("shop-1", "wf", "published", version=2), "a version not live is refused"
    assert workflow_status("shop-1") == [
        {
            "store": "shop-1",
            "workflow": "wf",
            "template": "purchase_follow_up",
            "status": "paused",
            "version": 1,
            "draft_version": 2,
            "in_flight": 0,
            "failed": 0,
            "latest_failures": [],
        }
    ]
    published, replaced = publish_workflow("shop-1", "wf")
    assert (published.status.value, published.version, replaced.version) == ("published", 2, 1)
    assert workflows.get_draft("shop-1", "wf") is None
    assert workflow_status("shop-1")[0]["draft_version"] is None


def test_an_edit_with_a_mistake_keeps_the_published_version_running_until_a_good_one_is_published(store):
    from storeflows.storage import workflows

    for message_id in ("thanks", "later"):
        apply_message(message(message_id, store_id="shop-1"))
    apply_workflow(load_workflow_yaml(FOLLOW_UP, store="shop-1"))
    publish_workflow("shop-1", "wf")

    typo = FOLLOW_UP.replace("follow_up_message: later", "follow_up_message: latre")
    draft, live = apply_workflow(load_workflow_yaml(typo, store="shop-1"))
    assert (draft.version, live.status.value, live.version) == (2, "published", 1)
    (running,) = workflows.list_workflows("shop-1")
    assert (running.status.value, running.version, running.settings.follow_up_message) == ("published", 1, "later")

    with pytest.raises(PublishRefused) as refused:
        publish_workflow("shop-1", "wf")
    assert refused.value.problems == ["settings.follow_up_message: no message 'latre' in store shop-1"]
    assert workflows.list_workflows("shop-1") == [running], "a refused publish changes nothing"

    fixed, _ = apply_workflow(load_workflow_yaml(FOLLOW_UP.replace("3d", "5d"), store="shop-1"))
    assert fixed.version == 3
    published, replaced = publish_workflow("shop-1", "wf")
    assert (published.version, replaced.version) == (3, 1)
    (running,) = workflows.list_workflows("shop-1")
    assert (running.status.value, running.version, running.settings.follow_up_after) == ("published", 3, 5 * 86400)


def test_a_publish_of_a_draft_changed_meanwhile_is_refused(store, monkeypatch):
    from storeflows.admin import workflows as admin_workflows
    from storeflows.storage import workflows

    for message_id in ("thanks", "later"):
        apply_message(message(message_id, store_id="shop-1"))
    apply_workflow(load_workflow_yaml(FOLLOW_UP, store="shop-1"))
    publish_workflow("shop-1", "wf")
    apply_workflow(load_workflow_yaml(FOLLOW_UP, store="shop-1"))
    checked = admin_workflows.workflow_versions("shop-1", "wf")
    apply_workflow(load_workflow_yaml(FOLLOW_UP.replace("3d", "4d"), store="shop-1"))  # version 3, meanwhile
    monkeypatch.setattr(admin_workflows, "workflow_versions", lambda store_id, workflow_id: checked)
    with pytest.raises(AdminError, match="changed meanwhile"):
        publish_workflow("shop-1", "wf")
    assert (workflows.get_workflow("shop-1", "wf").version, workflows.get_draft("shop-1", "wf").version) == (1, 3)


def test_unknown_stores_and_workflows_are_refused_in_words(aws):
    with pytest.raises(AdminError, match="no store 'nope'"):
        apply_workflow(load_workflow_yaml(FOLLOW_UP, store="nope"))
    create_store("shop-1", "shopify", secret="s3cret")
    with pytest.raises(AdminError, match="store shop-1 exists"):
        create_store("shop-1", "api")
    with pytest.raises(AdminError, match="no workflow 'wf' in store shop-1"):
        publish_workflow("shop-1", "wf")
    with pytest.raises(AdminError, match="whsec_"):
        add_platform("shop-1", "api", secret="whsec_not-base64!")
    with pytest.raises(AdminError, match="has no api secret to rotate .*stores add-platform shop-1 --platform api"):
        rotate_secret("shop-1", "api")
    store, secret = add_platform("shop-1", "api")
    assert store_platforms(store) == ["shopify", "api"] and store.webhook_secret == secret
    assert store.previous_webhook_secret is None, "nothing old to keep"
    with pytest.raises(AdminError, match="has a api secret already .*stores rotate-secret shop-1 --platform api"):
        add_platform("shop-1", "api")


def test_a_rotation_keeps_the_old_secret_until_it_is_retired(aws):
    create_store("shop-1", "shopify", secret="first")
    rotation = rotate_secret("shop-1", "shopify", secret="second")
    assert (rotation.store.shopify_secret, rotation.store.previous_shopify_secret) == ("second", "first")
    assert not rotation.dropped_older
    rotation = rotate_secret("shop-1", "shopify", secret="third")
    assert (rotation.store.shopify_secret, rotation.store.previous_shopify_secret) == ("third", "second")
    assert rotation.dropped_older, "one old secret is kept: the oldest is dropped, and the output says so"
    with pytest.raises(AdminError, match="that is the shopify secret already"):
        rotate_secret("shop-1", "shopify", secret="third")
    assert retire_secret("shop-1", "shopify").previous_shopify_secret is None
    with pytest.raises(AdminError, match="no old shopify secret to retire"):
        retire_secret("shop-1", "shopify")


def test_two_creates_of_one_store_at_once_keep_the_first_ones_secret(aws, monkeypatch):
    from storeflows.storage import stores

    first, first_secret = create_store("shop-1", "shopify")
    # The second create read the table before the first had written: it must still not overwrite.
    monkeypatch.setattr(stores, "get_store", lambda store_id: None)
    with pytest.raises(AdminError, match="store shop-1 exists"):
        create_store("shop-1", "shopify", secret="second-secret")
    monkeypatch.undo()
    stored = stores.get_store("shop-1")
    assert (stored.shopify_secret, stored.unsubscribe_key) == (first_secret, first.unsubscribe_key)


def test_two_platforms_added_at_once_keep_both_secrets_and_two_rotations_keep_none_lost(aws, monkeypatch):
    from storeflows.storage import stores

    create_store("shop-1", "shopify", secret="s3cret")
    before = stores.get_store("shop-1")
    _, api_secret = add_platform("shop-1", "api")
    # The WooCommerce addition read the store before the API addition had written.
    monkeypatch.setattr(stores, "get_store", lambda store_id: before)
    _, woocommerce_secret = add_platform("shop-1", "woocommerce")
    # A rotation that read the store before another rotation: refused, not a lost secret.
    rotate_secret("shop-1", "shopify", secret="rotated")
    with pytest.raises(AdminError, match="changed meanwhile"):
        rotate_secret("shop-1", "shopify", secret="rotated-too")
    monkeypatch.undo()
    stored = stores.get_store("shop-1")
    assert (
        stored.shopify_secret,
        stored.previous_shopify_secret,
        stored.webhook_secret,
        stored.woocommerce_secret,
    ) == (
        "rotated",
        "s3cret",
        api_secret,
        woocommerce_secret,
    )


def test_in_flight_counts_running_executions_named_for_the_workflow(store, aws):
    import boto3

    from storeflows.workflows import runs
    from storeflows.workflows.runs import run_name

    workflow, _ = apply_workflow(
        load_workflow_yaml(
            workflow_file(
                "targeted_post_purchase",
                "  first_purchase_message: a\n  second_purchase_message: b\n  repeat_purchase_message: c\n",
            ),
            store="shop-1",
        )
    )
    sfn = boto3.client("stepfunctions")
    for order_id, workflow_id in (("1", "wf"), ("2", "wf"), ("3", "wf-other")):
        sfn.start_execution(
            stateMachineArn=aws.state_machine_arn, name=run_name("shop-1", order_id, workflow_id), input="{}"
        )
    assert runs.run_name_prefix("shop-1", "wf") == "shop-1-wf-"
    assert runs.count_in_flight(workflow) == 2, "not wf-other's runs, though they share the prefix"
    assert workflow_status("shop-1", "wf")[0]["in_flight"] == 2

    # Long ids: the readable prefix is cut at 38 characters, so runs are told apart by their input.
    long_a, long_b = "care-series-for-the-venise-dress-a", "care-series-for-the-venise-dress-b"
    assert runs.run_name_prefix("shop-1", long_a) == runs.run_name_prefix("shop-1", long_b)
    for order_id, workflow_id in (("1", long_a), ("2", long_b), ("3", long_b)):
        sfn.start_execution(
            stateMachineArn=aws.state_machine_arn,
            name=run_name("shop-1", order_id, workflow_id),
            input=json.dumps({"store_id": "shop-1", "workflow_id": workflow_id}),
        )
    assert runs.count_in_flight(workflow.model_copy(update={"workflow_id": long_b})) == 2


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


def test_export_filters_by_workflow_tag_score_and_consent(store, aws):
    from storeflows.storage import keys, orders

    apply_workflow(load_workflow_yaml(FOLLOW_UP, store="shop-1"))
    orders.record_purchase("shop-1", "e1", _purchase("in@example.com", "1"))
    orders.record_purchase("shop-1", "e2", _purchase("out@example.com", "2"))
    orders.record_purchase("shop-1", "e3", _purchase("no-consent@example.com", "3", consent=False))
    orders.record_purchase("other", "e4", _purchase("elsewhere@example.com", "4"))
    # Written as runs before subjects wrote it (order_id, not subject): still read.
    aws.table().put_item(
        Item={**keys.active_run_key("shop-1", "in@example.com", "wf", "1"), "workflow_id": "wf", "order_id": "1"}
    )
    aws.table().update_item(
        Key=keys.contact_key("shop-1", "out@example.com"),
        UpdateExpression="SET score = :s ADD tags :t",
        ExpressionAttributeValues={":s": 20, ":t": {"vip"}},
    )

    def emails(**filters):
        return sorted(contact.email for contact in export_contacts("shop-1", **filters))

    assert emails() == ["in@example.com", "no-consent@example.com", "out@example.com"]
    assert emails(not_in_workflow="wf") == ["no-consent@example.com", "out@example.com"]
    assert emails(tags=["vip"]) == emails(min_score=10) == ["out@example.com"]
    assert emails(consent_only=True, not_in_workflow="wf") == ["out@example.com"]
    with pytest.raises(AdminError, match="no workflow 'nope'"):
        emails(not_in_workflow="nope")
    summary = contact_summary("shop-1", "IN@example.com")
    assert summary["in_workflows"] == [{"workflow_id": "wf", "subject": "1"}]
    assert [order["order_id"] for order in summary["orders"]] == ["1"] and summary["marketing_allowed"] is True


def test_preview_renders_for_the_contact_and_their_order_or_sample_data(store, aws):
    from storeflows.storage import orders

    multilingual = Message(
        store_id="shop-1",
        message_id="hello",
        purpose=Purpose.MARKETING,
        sender=SENDER,
        variants={
            "en": MessageContent(
                subject="Hi {{ contact.first_name }}", html="<p>{{ order.id }} {{ unsubscribe_url }}</p>", text="-"
            ),
            "pl": MessageContent(subject="Cześć {{ contact.first_name }}", html="<p>{{ order.id }}</p>", text="-"),
        },
    )
    apply_message(multilingual)
    orders.record_purchase("shop-1", "e1", _purchase("ana@example.com", "1001"))

    preview = preview_message("shop-1", "hello", email="ana@example.com")
    assert (preview.rendered.subject, preview.rendered.html, preview.language) == ("Cześć Ana", "<p>1001</p>", "pl")
    assert not preview.sample_contact and not preview.sample_order
    english = preview_message("shop-1", "hello", email="ana@example.com", language="en")
    assert "1001 https://api.example.test/unsubscribe?token=preview-only" in english.rendered.html
    sample = preview_message("shop-1", "hello", email="nobody@example.com")
    assert sample.sample_contact and sample.sample_order and sample.rendered.subject == "Hi Alex"
    with pytest.raises(AdminError, match="has no order '9' in store shop-1 \\(recorded: 1001\\)"):
        preview_message("shop-1", "hello", email="ana@example.com", order_id="9")
    with pytest.raises(AdminError, match="no message 'nope'"):
        preview_message("shop-1", "nope", email="ana@example.com")


def test_a_test_send_goes_through_ses_and_is_recorded_on_no_contact(store, aws):
    from storeflows.messaging.mail import parse_mime_message
    from storeflows.storage import contacts, orders

    apply_message(message("thanks", store_id="shop-1"))
    orders.record_purchase("shop-1", "e1", _purchase("ana@example.com", "1001"))
    result = send_test("shop-1", "thanks", to="qa@storeflows.test", email="ana@example.com")
    (sent,) = aws.sent_emails()
    parsed = parse_mime_message(sent.raw_data)
    assert parsed["subject"] == result["subject"] == "[TEST] thanks Ana"
    assert parsed["to"] == "qa@storeflows.test" and parsed["text"].strip() == "1001"
    assert not [
        item for item in contacts.contact_history("shop-1", "ana@example.com") if item["sk"].startswith("SEND#")
    ]


def test_a_preview_never_takes_a_code_from_a_coupon_pool(store, aws):
    from storeflows.messaging import coupons
    from storeflows.storage import coupons as pools

    coupons.import_codes("shop-1", "p", "code\nREAL-1\n", column="code")
    guarded, bare = "<p>{% if coupon %}{{ coupon.code }}{% endif %}</p>", "<p>{{ coupon.code }}</p>"
    for message_id, coupon, html in (
        ("static", {"type": "static", "code": "SPRING10"}, guarded),
        ("dynamic", {"type": "dynamic", "pool": "p"}, guarded),
        ("bare", {"type": "dynamic", "pool": "p", "when_exhausted": "skip_message"}, bare),
        ("risky", {"type": "dynamic", "pool": "p"}, bare),
    ):
        apply_message(
            Message(
                store_id="shop-1",
                message_id=message_id,
                purpose=Purpose.TRANSACTIONAL,
                sender=SENDER,
                coupon=coupon,
                variants={"en": MessageContent(subject="s", html=html, text="-")},
            )
        )
    previews = {
        message_id: preview_message("shop-1", message_id, email="a@example.com")
        for message_id in ("static", "dynamic", "bare", "risky")
    }
    assert {message_id: preview.rendered.html for message_id, preview in previews.items()} == {
        "static": "<p>SPRING10</p>",
        "dynamic": "<p>SAMPLE-COUPON-CODE</p>",
        "bare": "<p>SAMPLE-COUPON-CODE</p>",
        "risky": "<p>SAMPLE-COUPON-CODE</p>",
    }
    assert [message_id for message_id, preview in previews.items() if preview.warnings] == ["risky"]
    assert (
        previews["risky"]
        .warnings[0]
        .startswith(
            "once pool p runs out, the en variant does not render and its "
            "sends fail (html: line 1: 'None' has no attribute 'code')"
        )
    )
    assert pools.pool_stock("shop-1", "p").claimed == 0


def test_a_message_that_renders_past_the_bounds_is_refused_when_saved(store):
    from storeflows.storage import messages

    bomb = message("bomb", store_id="shop-1").model_copy(
        update={
            "variants": {
                "en": MessageContent(subject="s", html="{{ 'a' * 30000000 }}", text="t"),
                "pl": MessageContent(
                    subject="s",
                    html="h",
                    text="{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
                ),
            }
        }
    )
    with pytest.raises(InvalidDefinition) as refused:
        apply_message(bomb)
    assert refused.value.problems == [
        "variants.en.html: repeating a value 30000000 times makes it too long",
        "variants.pl.text: takes more than 1000000 steps to render (a loop too long?)",
    ]
    assert messages.list_messages("shop-1") == [], "nothing saved"
    assert apply_message(message("fine", store_id="shop-1")).message.message_id == "fine"


def test_a_message_that_cannot_render_is_refused_when_saved_naming_the_variable(store):
    from storeflows.storage import messages

    typo = message("typo", store_id="shop-1").model_copy(
        update={
            "variants": {
                "en": MessageContent(
                    subject="Hi {{ contact.first_name }}", html="<p>Hi</p>\n{{ customer.first_name }}", text="t"
                ),
                "pl": MessageContent(
                    subject="{{ store.name }}", html="{{ order.total|money(order.currency) }}", text="{{ order.nr }}"
                ),
            }
        }
    )
    with pytest.raises(InvalidDefinition) as refused:
        apply_message(typo)
    # Saved before any workflow sends it, so checked for every kind of run a template has; it
    # names `order`, so it is written for runs about an order: their problems, not the noise
    # of `order` missing in a run about a cart, a session or a wishlist.
    assert refused.value.problems == [
        "variants.en.html: line 2: 'customer' is undefined",
        "variants.pl.text: line 1: 'dict object' has no attribute 'nr'",
    ]
    # A message without a coupon renders coupon.code for no one.
    couponless = message("couponless", store_id="shop-1").model_copy(
        update={"variants": {"en": MessageContent(subject="s", html="{{ coupon.code }}", text="t")}}
    )
    with pytest.raises(InvalidDefinition) as refused:
        apply_message(couponless)
    assert refused.value.problems == ["variants.en.html: line 1: 'None' has no attribute 'code'"]
    assert messages.list_messages("shop-1") == [], "nothing saved"


def test_a_message_gets_the_context_of_every_template_and_warns_about_what_fails_for_some(store):
    from storeflows.records import DynamicCoupon

    everything = message("everything", "marketing", store_id="shop-1").model_copy(
        update={
            "coupon": DynamicCoupon(pool="p", when_exhausted="send_without_coupon"),
            "variants": {
                "en": MessageContent(
                    subject="{{ contact.first_name }} {{ contact.last_name }}, {{ store.name }} thanks you",
                    html=(
                        "{% for item in order['items'] %}{{ item.name }} {{ item.price|money(order.currency) }}"
                        "{% endfor %}{{ order.total }} {{ contact.tags|join(',') }} {{ contact.score }}"
                        "{% for product in bestsellers(2, days=7) %}{{ product.name }} {{ product.units }}{% endfor %}"
                        "<a href='{{ unsubscribe_url }}'>unsubscribe</a> {{ coupon.code }}"
                    ),
                    text="{{ contact.email }} {{ contact.language }} {{ contact.country }} {{ contact.orders_count }}"
                    " {{ unsubscribe_url }}",
                )
            },
        }
    )
    saved = apply_message(everything)
    assert saved.message.message_id == "everything"
    assert saved.warnings == (
        "once pool p runs out, the en variant does not render and its sends fail "
        "(html: line 1: 'None' has no attribute 'code'): show the code inside {% if coupon %}…{% endif %}",
    )


def test_publishing_checks_the_messages_saved_before_the_render_check(store):
    from storeflows.storage import messages

    messages.put_message(
        message("thanks", store_id="shop-1").model_copy(
            update={"variants": {"en": MessageContent(subject="s", html="{{ customer.first_name }}", text="t")}}
        )
    )
    apply_message(message("later", store_id="shop-1"))
    apply_workflow(load_workflow_yaml(FOLLOW_UP, store="shop-1"))
    with pytest.raises(PublishRefused) as refused:
        publish_workflow("shop-1", "wf")
    assert refused.value.problems == [
        "settings.thank_you_message: message 'thanks': variants.en.html: line 1: 'customer' is undefined"
    ]


class FakeStepFunctions:
    """Step Functions as runs.py reads it, counting every call: executions by status, their
    input and history (oldest event first, as moto answers whatever reverseOrder says)."""

    def __init__(self, executions: list[dict]):
        self.executions = executions
        self.calls: list[str] = []

    def get_paginator(self, operation: str):
        assert operation == "list_executions"
        fake = self

        class Paginator:
            def paginate(self, stateMachineArn: str, statusFilter: str):
                fake.calls.append("ListExecutions")
                yield {"executions": [e for e in fake.executions if e["status"] == statusFilter]}

        return Paginator()

    def _find(self, arn: str) -> dict:
        return next(e for e in self.executions if e["executionArn"] == arn)

    def describe_execution(self, executionArn: str) -> dict:
        self.calls.append("DescribeExecution")
        return {"input": json.dumps(self._find(executionArn)["input"])}

    def get_execution_history(self, executionArn: str, reverseOrder: bool, maxResults: int) -> dict:
        self.calls.append("GetExecutionHistory")
        return {"events": self._find(executionArn)["history"]}


def _history(*events: tuple[str, dict]) -> list[dict]:
    return [{"id": number, "type": kind, **details} for number, (kind, details) in enumerate(events, start=1)]


def _entered(kind: str, name: str) -> tuple[str, dict]:
    return kind, {"stateEnteredEventDetails": {"name": name}}


def test_status_counts_failed_runs_and_shows_the_latest_with_their_step_and_error(store, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from storeflows.workflows import runs
    from storeflows.workflows.runs import run_name

    workflow, _ = apply_workflow(load_workflow_yaml(FOLLOW_UP, store="shop-1"))
    cause = json.dumps({"errorMessage": "html: line 1: 'customer' is undefined", "errorType": "MessageRenderError"})
    render_failure = _history(
        ("ExecutionStarted", {}),
        _entered("ChoiceStateEntered", "HasPurchaseTags?"),
        _entered("TaskStateEntered", "SendThankYou"),
        ("LambdaFunctionScheduled", {}),
        ("LambdaFunctionFailed", {"lambdaFunctionFailedEventDetails": {"error": "MessageRenderError"}}),
        ("ExecutionFailed", {"executionFailedEventDetails": {"error": "MessageRenderError", "cause": cause}}),
    )
    # A caught failure: a clean-up step and a Fail state come after the step that failed.
    caught = _history(
        ("ExecutionStarted", {}),
        _entered("TaskStateEntered", "SendDeliveryCheck"),
        ("LambdaFunctionFailed", {}),
        _entered("TaskStateEntered", "LeaveSeriesAfterFailure"),
        ("TaskSucceeded", {}),
        _entered("FailStateEntered", "CareSeriesFailed"),
        ("ExecutionFailed", {"executionFailedEventDetails": {"error": "UnknownCouponPool", "cause": "no pool"}}),
    )
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    executions = [
        {
            "executionArn": f"arn:{number}",
            "name": run_name("shop-1", f"{number}", workflow_id),
            "status": status,
            "startDate": start + timedelta(hours=number),
            "stopDate": start + timedelta(hours=number, minutes=5),
            "input": {"subject_key": f"{number}", "email": f"c{number}@example.com"},
            "history": caught if number == 5 else render_failure,
        }
        for number, workflow_id, status in [
            (1, "wf", "FAILED"),
            (2, "wf", "FAILED"),
            (3, "wf-other", "FAILED"),  # another workflow of the same template
            (4, "wf", "RUNNING"),
            (5, "wf", "FAILED"),
            (6, "wf", "FAILED"),
            (7, "wf", "FAILED"),
        ]
    ]
    fake = FakeStepFunctions(executions)
    monkeypatch.setattr(runs, "client", lambda service: fake)

    (row,) = workflow_status("shop-1", "wf")

    assert (row["in_flight"], row["failed"]) == (1, 5)
    assert [failure["subject"] for failure in row["latest_failures"]] == ["7", "6", "5"], "newest first"
    assert row["latest_failures"][0] == {
        "failed_at": "2026-12-01T17:05:00+00:00",
        "subject": "7",
        "email": "c7@example.com",
        "step": "SendThankYou",
        "error": "MessageRenderError",
        "cause": "html: line 1: 'customer' is undefined",
    }
    assert (row["latest_failures"][2]["step"], row["latest_failures"][2]["error"]) == (
        "SendDeliveryCheck",
        "UnknownCouponPool",
    ), "the step that failed, not the clean-up after it"
    # Bounded: a listing per status, then two calls per failure shown, whatever the number of failures.
    assert sorted(fake.calls) == sorted(["ListExecutions"] * 2 + ["DescribeExecution", "GetExecutionHistory"] * 3)
