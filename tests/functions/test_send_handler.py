"""SendMessageFunction (functions/send_message/app.py) as a workflow's send step, against moto.

What reaches the customer is read back from moto's SES backend and parsed as a mail client
would; every decision (sent, or skipped and why) must be on the contact's record."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from storeflows import reports
from storeflows.errors import MessageRenderError, SendInProgress, SendThrottled
from storeflows.events.purchase import PurchaseEvent
from storeflows.messaging import ses
from storeflows.messaging.mail import parse_mime_message
from storeflows.messaging.unsubscribe_links import UnsubscribeRequest, verify_unsubscribe_token
from storeflows.records import Message, MessageContent, Purpose
from storeflows.storage import contacts, dynamodb, keys, messages, orders, sends
from storeflows_local.demo_store import DEMO_SENDER
from storeflows_local.signing import purchase

EMAIL = "ana@example.com"
ORDER_ID = "A-1001"
WORKFLOW_ID = "targeted-post-purchase"
MARKETING = "second-purchase-thanks"
TRANSACTIONAL = "first-purchase-thanks"
UNSUBSCRIBE_HEADER = re.compile(r"<https://api\.example\.test/unsubscribe\?token=([A-Za-z0-9_.\-]+)>")


@pytest.fixture
def send(load_handler, demo_store, lambda_context):
    app = load_handler("send_message")

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        return app.lambda_handler(event, lambda_context)

    return invoke


def add_contact(email: str = EMAIL, *, first_name: str = "Ana", accepts_marketing: bool = True) -> None:
    """A contact as a purchase creates it (the dispatcher's code path)."""
    event = PurchaseEvent.model_validate(
        purchase(ORDER_ID, email, first_name=first_name, accepts_marketing=accepts_marketing, language="en-GB")
    )
    assert orders.record_purchase("demo", f"api:seed-{email}", event)


def send_step(
    message_id: str, *, email: str = EMAIL, step: str = "SendSecondPurchaseThanks", frequency_cap_seconds: int = 0
) -> dict[str, Any]:
    """The payload the state machine's send task passes (see the ASL): the run input's `send`,
    the message and the state's name."""
    order = {
        "id": ORDER_ID,
        "total": "129.90",
        "currency": "EUR",
        "items": [{"sku": "VENISE-DRESS", "name": "Venise dress", "quantity": 1, "price": "129.90"}],
    }
    return {
        "run": {
            "store_id": "demo",
            "workflow_id": WORKFLOW_ID,
            "email": email,
            "subject": {"type": "order", "order_id": order["id"]},
            "frequency_cap_seconds": frequency_cap_seconds,
        },
        "message_id": message_id,
        "step": step,
    }


def send_records(email: str = EMAIL) -> list[dict[str, Any]]:
    return [item for item in contacts.contact_history("demo", email) if item["sk"].startswith(keys.SEND_PREFIX)]


def only_email(aws) -> tuple[Any, dict[str, Any]]:
    sent = aws.sent_emails()
    assert len(sent) == 1, f"expected one email, SES got {len(sent)}"
    return sent[0], parse_mime_message(sent[0].raw_data)


def test_marketing_message_goes_out_with_one_click_unsubscribe(send, aws, demo_store):
    add_contact()

    result = send(send_step(MARKETING))

    assert result["status"] == "sent"
    assert result["language"] == "en"
    sent, mail = only_email(aws)
    assert result["ses_message_id"] == sent.id
    assert EMAIL in sent.destinations
    assert mail["to"] == EMAIL
    assert mail["from"] == "Demo Store <shop@storeflows.test>"
    assert mail["reply_to"] == "care@storeflows.test"
    assert mail["subject"] == "You came back! Thanks for your second order, Ana"
    assert f"#{ORDER_ID}" in mail["html"] and "Venise dress" in mail["html"]

    match = UNSUBSCRIBE_HEADER.fullmatch(mail["headers"]["List-Unsubscribe"])
    assert match, mail["headers"]["List-Unsubscribe"]
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = match.group(1)
    assert verify_unsubscribe_token(demo_store.unsubscribe_key, token) == UnsubscribeRequest(
        store_id="demo", email=EMAIL, message_id=MARKETING
    )
    # The same link in the body, for readers whose client shows no unsubscribe button.
    assert f"https://api.example.test/unsubscribe?token={token}" in mail["html"]
    assert f"https://api.example.test/unsubscribe?token={token}" in mail["text"]

    (record,) = send_records()
    assert record["sk"] == f"SEND#{WORKFLOW_ID}#{ORDER_ID}#SendSecondPurchaseThanks"
    assert (record["status"], record["message_id"], record["ses_message_id"]) == ("sent", MARKETING, sent.id)


def test_transactional_message_has_no_unsubscribe_headers(send, aws):
    add_contact()

    result = send(send_step(TRANSACTIONAL, step="SendFirstPurchaseThanks"))

    assert result["status"] == "sent"
    _, mail = only_email(aws)
    assert mail["subject"] == "Thank you for your first order, Ana!"
    assert {name.lower() for name in mail["headers"]}.isdisjoint({"list-unsubscribe", "list-unsubscribe-post"})
    (record,) = send_records()
    assert record["status"] == "sent"


def test_unsubscribed_contact_gets_no_marketing_and_the_skip_is_recorded(send, aws):
    add_contact()
    assert contacts.unsubscribe_contact("demo", EMAIL, via_message=MARKETING, at=datetime.now(UTC))

    result = send(send_step(MARKETING))

    assert result == {"status": "skipped", "reason": "unsubscribed"}
    assert aws.sent_emails() == []
    (record,) = send_records()
    assert (record["status"], record["reason"], record["message_id"]) == ("skipped", "unsubscribed", MARKETING)
    assert "ses_message_id" not in record


def test_nothing_more_is_sent_about_an_order_cancelled_since_the_run_started(send, aws):
    """A run the cancellation could not stop (it started while the order was being cancelled)."""
    add_contact()
    assert (
        orders.cancel_order("demo", EMAIL, ORDER_ID, at=datetime.now(UTC), reason="customer", event_id="shopify:c-1")
        == "cancelled"
    )

    result = send(send_step(TRANSACTIONAL, step="SendFirstPurchaseThanks"))

    assert result == {"status": "skipped", "reason": "order_cancelled"}
    assert aws.sent_emails() == []
    (record,) = send_records()
    assert (record["status"], record["reason"]) == ("skipped", "order_cancelled")


def test_unsubscribed_contact_still_gets_transactional_messages(send, aws):
    add_contact()
    contacts.unsubscribe_contact("demo", EMAIL, via_message=MARKETING, at=datetime.now(UTC))

    assert send(send_step(TRANSACTIONAL, step="SendFirstPurchaseThanks"))["status"] == "sent"
    assert len(aws.sent_emails()) == 1


def test_contact_without_marketing_consent_gets_transactional_but_not_marketing(send, aws):
    add_contact(accepts_marketing=False)

    marketing = send(send_step(MARKETING, step="SendSecondPurchaseThanks"))
    transactional = send(send_step(TRANSACTIONAL, step="SendFirstPurchaseThanks"))

    assert marketing == {"status": "skipped", "reason": "no_marketing_consent"}
    assert transactional["status"] == "sent"
    _, mail = only_email(aws)
    assert mail["subject"] == "Thank you for your first order, Ana!"
    decisions = {record["step"]: (record["status"], record.get("reason")) for record in send_records()}
    assert decisions == {
        "SendSecondPurchaseThanks": ("skipped", "no_marketing_consent"),
        "SendFirstPurchaseThanks": ("sent", None),
    }


@pytest.mark.parametrize("message_id", [MARKETING, TRANSACTIONAL])
def test_suppressed_contact_gets_nothing(send, aws, message_id):
    add_contact()
    aws.table().update_item(
        Key=keys.contact_key("demo", EMAIL),
        UpdateExpression="SET suppressed_reason = :r",
        ExpressionAttributeValues={":r": "bounce"},
    )

    assert send(send_step(message_id)) == {"status": "skipped", "reason": "suppressed"}
    assert aws.sent_emails() == []


def test_unknown_contact_is_skipped(send, aws):
    assert send(send_step(MARKETING, email="nobody@example.com")) == {"status": "skipped", "reason": "unknown_contact"}
    assert aws.sent_emails() == []


def test_a_message_edited_after_the_run_started_goes_out_as_edited(send, aws, demo_store):
    """The send reads the message (with the store and the contact) strongly consistent, at
    send time: what the marketer applied last is what goes out."""
    add_contact()
    message = messages.get_message("demo", TRANSACTIONAL)
    messages.put_message(
        message.model_copy(
            update={"variants": {"en": MessageContent(subject="Edited subject", html="<p>edited</p>", text="edited")}}
        )
    )

    assert send(send_step(TRANSACTIONAL))["status"] == "sent"

    _, mail = only_email(aws)
    assert mail["subject"] == "Edited subject"


def test_a_send_whose_read_dynamodb_leaves_partly_unprocessed_still_reaches_the_contact(send, aws, monkeypatch):
    """BatchGetItem may leave keys unprocessed under throttling; those are asked for again."""
    add_contact()
    low_level = dynamodb.table().meta.client  # the one the send step reads with
    real_batch_get = low_level.batch_get_item
    asked: list[int] = []

    def contact_left_unprocessed_once(RequestItems):
        ((table, request),) = RequestItems.items()
        asked.append(len(request["Keys"]))
        contact = [key for key in request["Keys"] if key["sk"] == keys.PROFILE_SK]
        if len(asked) > 1 or not contact:
            return real_batch_get(RequestItems=RequestItems)
        rest = [key for key in request["Keys"] if key not in contact]
        answer = real_batch_get(RequestItems={table: {**request, "Keys": rest}})
        answer["UnprocessedKeys"] = {table: {"Keys": contact, "ConsistentRead": True}}
        return answer

    monkeypatch.setattr(low_level, "batch_get_item", contact_left_unprocessed_once)

    assert send(send_step(TRANSACTIONAL))["status"] == "sent"
    assert asked == [5, 1], "one read of store, message, contact, decision and order; the contact again"
    sent, mail = only_email(aws)
    assert EMAIL in sent.destinations
    assert mail["to"] == EMAIL


def test_same_step_invoked_twice_sends_once(send, aws):
    add_contact()
    payload = send_step(MARKETING)

    first = send(payload)
    second = send(dict(payload))

    assert second == first
    assert len(aws.sent_emails()) == 1
    assert len(send_records()) == 1


def test_a_different_step_is_a_different_email(send, aws):
    add_contact()

    send(send_step(MARKETING, step="SendSecondPurchaseThanks"))
    send(send_step(MARKETING, step="SendRepeatPurchaseThanks"))

    assert len(aws.sent_emails()) == 2


def test_a_retry_after_the_contact_unsubscribed_still_answers_sent(send, aws):
    """Step Functions retries a step whose answer it lost; the email already went out."""
    add_contact()
    first = send(send_step(MARKETING))
    contacts.unsubscribe_contact("demo", EMAIL, via_message=MARKETING, at=datetime.now(UTC))

    again = send(send_step(MARKETING))

    assert again == first and first["status"] == "sent"
    (record,) = send_records()
    assert (record["status"], record["ses_message_id"]) == ("sent", first["ses_message_id"])


def claim_left_by_an_attempt(*, ends_in: timedelta) -> None:
    """What an attempt leaves when it dies between claiming its send and recording it."""
    assert sends.claim_send(
        keys.send_log_key("demo", EMAIL, WORKFLOW_ID, ORDER_ID, "SendSecondPurchaseThanks"),
        message_id=MARKETING,
        attempt_ends_at=datetime.now(UTC) + ends_in,
    )


def test_a_send_claimed_by_an_attempt_still_running_is_retried_later_not_sent(send, aws):
    add_contact()
    claim_left_by_an_attempt(ends_in=timedelta(minutes=1))

    with pytest.raises(SendInProgress):
        send(send_step(MARKETING))

    assert aws.sent_emails() == []
    assert [record["status"] for record in send_records()] == ["sending"]


def test_a_send_whose_attempt_died_after_claiming_is_never_sent_again(send, aws):
    add_contact()
    claim_left_by_an_attempt(ends_in=-timedelta(seconds=1))

    result = send(send_step(MARKETING))

    assert result == {"status": "skipped", "reason": "send_outcome_unknown"}
    assert aws.sent_emails() == []
    (record,) = send_records()
    assert (record["status"], record["reason"]) == ("skipped", "send_outcome_unknown")


def test_an_attempt_that_loses_the_claim_race_leaves_the_shared_slot_to_the_winner(send, aws, monkeypatch):
    """Two attempts of one step read no decision; the other one claims the send first."""
    add_contact()
    once_a_day = 86400
    real_claim = sends.claim_send
    monkeypatch.setattr(sends, "claim_send", lambda *args, **kwargs: False)
    with pytest.raises(SendInProgress):
        send(send_step(MARKETING, frequency_cap_seconds=once_a_day))

    monkeypatch.setattr(sends, "claim_send", real_claim)
    assert send(send_step(MARKETING, step="SendAnother", frequency_cap_seconds=once_a_day)) == {
        "status": "skipped",
        "reason": "frequency_cap",
    }, "the winner's send still holds the slot"


def test_a_throttled_send_gives_its_claim_back_so_the_retry_sends(send, aws, monkeypatch):
    add_contact()
    real_client = ses.client

    class ThrottledSES:
        def send_email(self, **_):
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "SendEmail")

    monkeypatch.setattr(ses, "client", lambda service: ThrottledSES() if service == "sesv2" else real_client(service))
    with pytest.raises(SendThrottled):
        send(send_step(MARKETING))
    assert send_records() == []

    monkeypatch.setattr(ses, "client", real_client)
    assert send(send_step(MARKETING))["status"] == "sent"
    assert len(aws.sent_emails()) == 1


def test_customer_markup_in_a_name_is_escaped_in_html(send, aws):
    add_contact(first_name="<script>alert(1)</script>")

    send(send_step(TRANSACTIONAL, step="SendFirstPurchaseThanks"))

    _, mail = only_email(aws)
    assert "<script>" not in mail["html"]
    assert "Welcome, &lt;script&gt;alert(1)&lt;/script&gt;!" in mail["html"]
    assert "Welcome, <script>alert(1)</script>!" in mail["text"]


def put_broken_message() -> Message:
    """A message whose template names a variable that does not exist."""
    broken = Message(
        store_id="demo",
        message_id="broken",
        purpose=Purpose.MARKETING,
        sender=DEMO_SENDER,
        variants={
            "en": MessageContent(
                subject="Hi {{ contact.first_name }}", html="<p>{{ contact.nick_name }}</p>", text="Hi"
            )
        },
    )
    messages.put_message(broken)
    return broken


def test_template_with_an_undefined_variable_fails_the_step_and_sends_nothing(send, aws):
    add_contact()
    broken = put_broken_message()

    with pytest.raises(MessageRenderError) as raised:
        send(send_step("broken"))

    assert "nick_name" in raised.value.detail
    assert aws.sent_emails() == []
    assert [record for record in send_records() if record["status"] == "sent"] == []

    # A failed attempt is not remembered as done: once the template is fixed, a redrive sends.
    messages.put_message(
        broken.model_copy(
            update={
                "variants": {
                    "en": MessageContent(
                        subject="Hi {{ contact.first_name }}", html="<p>{{ contact.first_name }}</p>", text="Hi"
                    )
                }
            }
        )
    )
    assert send(send_step("broken"))["status"] == "sent"
    assert len(aws.sent_emails()) == 1


def test_a_send_that_fails_before_ses_took_it_gives_its_frequency_cap_slot_back(send, aws):
    add_contact()
    put_broken_message()
    once_a_day = 86400

    with pytest.raises(MessageRenderError):
        send(send_step("broken", step="SendBroken", frequency_cap_seconds=once_a_day))

    assert send(send_step(MARKETING, frequency_cap_seconds=once_a_day))["status"] == "sent", (
        "nothing went out, so nothing is capped"
    )
    assert send(send_step(MARKETING, step="SendAnother", frequency_cap_seconds=once_a_day)) == {
        "status": "skipped",
        "reason": "frequency_cap",
    }


def test_a_skip_is_counted_by_its_reason(send, aws, capsys):
    add_contact()
    contacts.unsubscribe_contact("demo", EMAIL, via_message=MARKETING, at=datetime.now(UTC))
    capsys.readouterr()

    send(send_step(MARKETING))

    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert [(record["reason"], record["EmailsSkipped"]) for record in records if "EmailsSkipped" in record] == [
        ("unsubscribed", [1.0])
    ]
    # In the store's report too, in the row of today, the workflow and the message; once, retries or not.
    send(send_step(MARKETING))
    today = datetime.now(UTC).date()
    (row,) = reports.build_report("demo", today, today).rows
    assert (row.workflow_id, row.message_id, row.as_dict()["skipped"]) == ("targeted-post-purchase", MARKETING, 1)
    assert row.as_dict()["skipped_by_reason"]["unsubscribed"] == 1


def test_an_address_ses_cannot_take_is_skipped_with_its_reason_not_a_failed_run(send, aws):
    """Kept from before the intake refused them (a non-ASCII local part needs SMTPUTF8, which
    SES does not offer): the step records why and the run goes on."""
    address = "аna@example.com"  # Cyrillic "а"
    aws.table().put_item(
        Item={**keys.contact_key("demo", address), "store_id": "demo", "email": address, "first_name": "Ana"}
    )
    assert send(send_step(TRANSACTIONAL, email=address)) == {"status": "skipped", "reason": "address_not_sendable"}
    assert aws.sent_emails() == []
    (record,) = send_records(address)
    assert (record["status"], record["reason"]) == ("skipped", "address_not_sendable")
