"""Sender profiles: defined once per store (a sender file), named by messages (`sender: shop-team`),
checked against the stack's SES identity, and read at every send, preview and test send."""

from __future__ import annotations

import pytest

from storeflows.admin.errors import AdminError, InvalidDefinition
from storeflows.admin.files import load_message_yaml, load_sender_yaml
from storeflows.admin.messages import apply_message, preview_message, send_test
from storeflows.admin.senders import apply_sender, delete_sender, list_senders
from storeflows.admin.stores import create_store
from storeflows.errors import UnknownSender
from storeflows.messaging.mail import parse_mime_message
from storeflows.records import Message, MessageContent, Purpose, Sender, SenderProfile, within_identity
from storeflows.storage import keys, messages, orders
from storeflows.workflows import Workflow
from storeflows.workflows.publishing import validate_for_publish
from storeflows.workflows.templates.purchase_follow_up import PurchaseFollowUpSettings

SENDER_FILE = (
    "store: demo\nsender: shop-team\nname: Demo Store\naddress: shop@storeflows.test\nreply_to: care@storeflows.test\n"
)


def message(message_id: str, sender: Sender | str = "shop-team", store_id: str = "demo") -> Message:
    return Message(
        store_id=store_id,
        message_id=message_id,
        purpose=Purpose.TRANSACTIONAL,
        sender=sender,
        variants={
            "en": MessageContent(
                subject=f"{message_id} {{{{ contact.first_name }}}}",
                html="<p>{{ order.id }}</p>",
                text="{{ order.id }}",
            )
        },
    )


def profile(name: str = "Demo Store", address: str = "shop@storeflows.test", store_id: str = "shop-1") -> SenderProfile:
    return SenderProfile(
        store_id=store_id, sender_id="shop-team", name=name, address=address, reply_to="care@storeflows.test"
    )


# --- files and checks without AWS ---------------------------------------------------------------


def test_a_sender_file_becomes_a_profile_and_messages_name_it_or_keep_their_own():
    loaded = load_sender_yaml(SENDER_FILE)
    assert loaded == SenderProfile(
        store_id="demo",
        sender_id="shop-team",
        name="Demo Store",
        address="shop@storeflows.test",
        reply_to="care@storeflows.test",
    )
    assert load_sender_yaml(SENDER_FILE, store="other-shop").store_id == "other-shop"

    base = "store: demo\nmessage: m\npurpose: marketing\nvariants:\n  en: {subject: s, html: h, text: t}\n"
    assert load_message_yaml(base + "sender: shop-team\n", base_dir=".").sender == "shop-team"
    inline = load_message_yaml(base + "sender: {name: Shop, address: shop@storeflows.test}\n", base_dir=".")
    assert inline.sender == Sender(name="Shop", address="shop@storeflows.test")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "store: demo\nsender: shop team\nname: Shop\naddress: nope\nreply_to: care@\n",
            [
                "address: 'nope' is not an email address",
                "reply_to: 'care@' is not an email address",
                "sender: 'shop team' has characters that are not allowed here",
            ],
        ),
        ("store: demo\nname: Shop\n", ["address: required", "sender: required"]),
        (
            "store: demo\nsender: s\nname: Shop\naddress: a@b.cc\nfrom: x\n",
            ["from: unknown field (expected store, sender, name, address, reply_to)"],
        ),
    ],
)
def test_sender_file_mistakes_are_listed_one_line_each(text, expected):
    with pytest.raises(InvalidDefinition) as raised:
        load_sender_yaml(text, source="s.yaml")
    assert raised.value.problems == expected


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        (
            "shop team",
            [
                "sender: 'shop team' is neither a sender profile id (letters, digits, - and _) nor name, address "
                "and reply_to"
            ],
        ),
        (None, ["sender: required (a sender profile id like shop-team, or name, address and reply_to)"]),
        (
            "{name: Shop, address: nope, typo: 1}",
            ["sender.address: 'nope' is not an email address", "sender.typo: unknown field"],
        ),
    ],
)
def test_a_message_files_sender_mistakes_name_the_field(sender, expected):
    text = (
        "store: demo\nmessage: m\npurpose: marketing\n"
        + (f"sender: {sender}\n" if sender else "")
        + "variants:\n  en: {subject: s, html: h, text: t}\n"
    )
    with pytest.raises(InvalidDefinition) as raised:
        load_message_yaml(text, base_dir=".")
    assert raised.value.problems == expected


def test_publishing_reports_a_message_whose_sender_profile_does_not_exist():
    workflow = Workflow(
        store_id="demo",
        workflow_id="wf",
        settings=PurchaseFollowUpSettings(thank_you_message="thanks", follow_up_message="later"),
    )
    messages = [message("thanks"), message("later", sender="newsletter")]
    assert validate_for_publish(workflow, messages, [profile(store_id="demo")]) == [
        "settings.follow_up_message: message 'later' is sent from sender profile 'newsletter', which store demo does "
        "not have (storeflows senders apply FILE.yaml)"
    ]


@pytest.mark.parametrize(
    ("address", "identity", "allowed"),
    [
        ("shop@my-shop.com", "my-shop.com", True),
        ("Shop@News.My-Shop.com", "my-shop.com", True),  # SES lets a domain identity send from its subdomains
        ("shop@not-my-shop.com", "my-shop.com", False),
        ("shop@my-shop.com.evil.test", "my-shop.com", False),
        ("shop@my-shop.com", "shop@my-shop.com", True),
        ("care@my-shop.com", "shop@my-shop.com", False),  # an address identity covers that address only
    ],
)
def test_a_from_address_belongs_to_the_ses_identity_as_ses_decides(address, identity, allowed):
    assert within_identity(address, identity) is allowed


# --- with moto --------------------------------------------------------------------------------------


@pytest.fixture
def store(aws):
    created, _ = create_store("shop-1", "api", name="Shop One")
    return created


def test_applying_a_profile_names_the_messages_it_changes_and_listing_shows_them(store):
    apply_message(message("welcome", sender=Sender(name="Inline", address="hi@storeflows.test"), store_id="shop-1"))
    assert apply_sender(profile())[1] == [], "no message names it yet"
    apply_message(message("thanks", store_id="shop-1"))

    saved, users = apply_sender(profile(name="Shop One team"))
    assert users == ["thanks"] and messages.get_sender("shop-1", "shop-team") == saved
    assert list_senders("shop-1") == [
        {
            "store": "shop-1",
            "sender": "shop-team",
            "name": "Shop One team",
            "address": "shop@storeflows.test",
            "reply_to": "care@storeflows.test",
            "used_by": ["thanks"],
        }
    ]


def test_a_profile_no_message_names_can_be_deleted_one_in_use_cannot(store):
    apply_sender(profile())
    apply_message(message("thanks", store_id="shop-1"))

    with pytest.raises(AdminError, match="sender shop-team is named by messages thanks of store shop-1"):
        delete_sender("shop-1", "shop-team")
    assert messages.get_sender("shop-1", "shop-team") is not None, "a refused delete changes nothing"

    apply_message(message("thanks", sender=Sender(name="Inline", address="hi@storeflows.test"), store_id="shop-1"))
    delete_sender("shop-1", "shop-team")
    assert messages.get_sender("shop-1", "shop-team") is None
    with pytest.raises(AdminError, match="store shop-1 has no sender profile shop-team"):
        delete_sender("shop-1", "shop-team")


def test_a_from_outside_the_ses_identity_or_an_unknown_profile_is_refused_and_nothing_saved(store, aws):
    with pytest.raises(InvalidDefinition) as raised:
        apply_sender(profile(address="shop@gmail.com"))
    assert raised.value.problems == [
        "address: shop@gmail.com does not belong to the SES identity storeflows.test this stack sends from"
    ]
    with pytest.raises(InvalidDefinition) as raised:
        apply_message(message("thanks", store_id="shop-1"))
    assert raised.value.problems == [
        "sender: no sender profile 'shop-team' in store shop-1 (storeflows senders apply FILE.yaml)"
    ]
    with pytest.raises(InvalidDefinition, match="sender.address: news@other.test does not belong"):
        apply_message(message("thanks", sender=Sender(name="News", address="news@other.test"), store_id="shop-1"))
    assert [item["sk"] for item in aws.items(keys.store_pk("shop-1"))] == [keys.STORE_SK], "nothing but the store"


def test_preview_and_test_send_come_from_the_profile_as_it_is_now(store, aws):
    apply_sender(profile())
    apply_message(message("thanks", store_id="shop-1"))
    assert preview_message("shop-1", "thanks", email="ana@example.com").sender == Sender(
        name="Demo Store", address="shop@storeflows.test", reply_to="care@storeflows.test"
    )

    apply_sender(profile(name="Shop One team", address="team@storeflows.test"))
    send_test("shop-1", "thanks", to="qa@storeflows.test")
    (sent,) = aws.sent_emails()
    mail = parse_mime_message(sent.raw_data)
    assert (mail["from"], mail["reply_to"]) == ("Shop One team <team@storeflows.test>", "care@storeflows.test")


def test_a_preview_of_a_message_whose_profile_is_gone_says_so(store, aws):
    messages.put_message(message("thanks", sender="gone", store_id="shop-1"))
    with pytest.raises(AdminError, match="names sender profile gone, which store shop-1 does not have"):
        preview_message("shop-1", "thanks", email="ana@example.com")


# --- the send step ----------------------------------------------------------------------------------


@pytest.fixture
def send(load_handler, demo_store, lambda_context):
    """The send function for the demo store, whose messages name its `shop-team` profile."""
    from storeflows.events.purchase import PurchaseEvent
    from storeflows_local.signing import purchase

    assert orders.record_purchase("demo", "api:seed", PurchaseEvent.model_validate(purchase("A-1", "ana@example.com")))
    app = load_handler("send_message")

    def invoke(message_id: str, step: str) -> dict:
        order = {"id": "A-1", "total": "10.00", "currency": "EUR", "items": []}
        return app.lambda_handler(
            {
                "run": {
                    "store_id": "demo",
                    "workflow_id": "wf",
                    "email": "ana@example.com",
                    "subject": {"type": "order", "order_id": order["id"]},
                },
                "message_id": message_id,
                "step": step,
            },
            lambda_context,
        )

    return invoke


def test_every_send_comes_from_the_profile_as_it_is_at_that_send(send, aws):
    send("first-purchase-thanks", "SendFirst")
    messages.put_sender(profile(name="Demo care team", address="care@storeflows.test", store_id="demo"))
    send("first-purchase-thanks", "SendSecond")

    senders = [parse_mime_message(sent.raw_data)["from"] for sent in aws.sent_emails()]
    assert senders == ["Demo Store <shop@storeflows.test>", "Demo care team <care@storeflows.test>"]


def test_a_send_whose_profile_is_gone_fails_and_sends_nothing(send, aws):
    messages.put_message(message("orphan", sender="gone"))

    with pytest.raises(UnknownSender):
        send("orphan", "SendOrphan")
    assert aws.sent_emails() == []
