"""Coupons (storeflows.messaging.coupons) against moto: importing codes from a CSV column, claiming
each at most once, running out, the low-stock metric; and the send step handing them out.

Concurrency is proven end to end in tests/e2e/test_coupon_claims.py (50 threads, one pool)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from storeflows.errors import MessageRenderError
from storeflows.events.purchase import PurchaseEvent
from storeflows.messaging import coupons
from storeflows.messaging.mail import parse_mime_message
from storeflows.observability import metrics
from storeflows.records import Message, MessageContent, Purpose
from storeflows.storage import contacts, keys, messages, orders
from storeflows.storage import coupons as pools
from storeflows_local.demo_store import DEMO_SENDER
from storeflows_local.signing import purchase
from storeflows_local.template import Template

ROOT = Path(__file__).resolve().parents[2]
STORE = "demo"
POOL = "spring-2026"
EMAIL = "ana@example.com"
ORDER_ID = "A-1001"
WORKFLOW_ID = "targeted-post-purchase"
CSV = (
    "email,voucher,note\nx@example.com,SPRING-001,first\ny@example.com, SPRING-002 ,\nz@example.com,,blank\n"
    "w@example.com,SPRING-001,again\nv@example.com,SPRING-003,\n"
)
COUPON_BLOCK = "{% if coupon %}Your code: {{ coupon.code }}{% endif %}"


def pool_codes(aws) -> list[tuple[str, str]]:
    return [(item["sk"], item["code"]) for item in aws.items(keys.coupon_codes_pk(STORE, POOL))]


def metric_values(name: str) -> list[float]:
    return list(metrics.metric_set.get(name, {}).get("Value", []))


def codes_csv(count: int, prefix: str = "C") -> str:
    return "code\n" + "".join(f"{prefix}{number:03d}\n" for number in range(count))


# --- import ---------------------------------------------------------------------------------------


def test_import_reads_the_chosen_column_strips_and_skips_blanks_and_repeats(aws):
    result = coupons.import_codes(STORE, POOL, CSV, column="voucher", low_stock_threshold=1)

    assert result == coupons.ImportResult(added=3, skipped_duplicates=1, size=3, delimiter=",")
    assert pool_codes(aws) == [
        ("CODE#000000000", "SPRING-001"),
        ("CODE#000000001", "SPRING-002"),
        ("CODE#000000002", "SPRING-003"),
    ]
    assert pools.pool_stock(STORE, POOL) == pools.PoolStock(size=3, claimed=0, remaining=3, low_stock_threshold=1)


def test_import_takes_rows_already_read_and_a_spreadsheet_header(aws):
    rows = [{"Voucher ": "A1", "n": "1"}, {"Voucher ": "A2", "n": "2"}, {"n": "3"}]

    assert coupons.import_codes(STORE, POOL, rows, column="Voucher").added == 2
    assert coupons.import_codes(STORE, "other", "\ufeffcode,x\nB1,1\n", column="code").added == 1


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        pytest.param(
            "email;voucher;value\nx@example.com;SPRING-001;5,00\ny@example.com;SPRING-002;7,50\n", ";", id="semicolons"
        ),
        pytest.param(
            "\ufeffemail;voucher\r\nx@example.com;SPRING-001\r\ny@example.com;SPRING-002\r\n", ";", id="excel"
        ),
        pytest.param("sep=;\nemail;voucher\nx@example.com;SPRING-001\ny@example.com;SPRING-002\n", ";", id="sep-line"),
        pytest.param("email\tvoucher\nx@example.com\tSPRING-001\ny@example.com\tSPRING-002\n", "\t", id="tabs"),
        pytest.param('"email","voucher"\n"x@example.com","SPRING-001"\n"y","SPRING-002"\n', ",", id="commas"),
    ],
)
def test_import_finds_the_delimiter_of_european_spreadsheets(aws, text, delimiter):
    """Spreadsheets where the comma is the decimal mark save "CSV" with semicolons."""
    result = coupons.import_codes(STORE, POOL, text, column="voucher")

    assert (result.added, result.delimiter) == (2, delimiter)
    assert [code for _, code in pool_codes(aws)] == ["SPRING-001", "SPRING-002"]


def test_a_missing_column_of_a_semicolon_file_names_its_columns(aws):
    with pytest.raises(coupons.CouponImportError) as raised:
        coupons.import_codes(STORE, POOL, "email;voucher;note\nx@example.com;A;b\n", column="code")

    assert raised.value.detail == "the CSV file has no column 'code'; its columns: 'email', 'voucher', 'note'"


def test_a_missing_column_is_refused_naming_the_columns_there_are(aws):
    with pytest.raises(coupons.CouponImportError) as raised:
        coupons.import_codes(STORE, POOL, CSV, column="code")

    assert raised.value.detail == "the CSV file has no column 'code'; its columns: 'email', 'voucher', 'note'"
    assert pools.pool_stock(STORE, POOL) is None, "a refused import creates nothing"


def test_an_empty_file_and_bad_ids_are_refused(aws):
    with pytest.raises(coupons.CouponImportError, match="header row"):
        coupons.import_codes(STORE, POOL, "", column="code")
    with pytest.raises(coupons.CouponImportError, match="not a pool id"):
        coupons.import_codes(STORE, "spring#2026", codes_csv(1), column="code")


def test_reimport_appends_after_the_codes_there_are_and_skips_those_already_in(aws):
    coupons.import_codes(STORE, POOL, codes_csv(3), column="code", low_stock_threshold=1)
    assert coupons.claim_code(STORE, POOL, "send-1") == "C000"

    again = coupons.import_codes(STORE, POOL, codes_csv(3), column="code")
    more = coupons.import_codes(STORE, POOL, "code\nC002\nD000\nD001\n", column="code")

    assert again == coupons.ImportResult(added=0, skipped_duplicates=3, size=3)
    assert more == coupons.ImportResult(added=2, skipped_duplicates=1, size=5)
    assert [code for _, code in pool_codes(aws)] == ["C000", "C001", "C002", "D000", "D001"]
    assert pools.pool_stock(STORE, POOL) == pools.PoolStock(size=5, claimed=1, remaining=4, low_stock_threshold=1)
    assert [coupons.claim_code(STORE, POOL, f"send-{n}") for n in range(2, 7)] == ["C001", "C002", "D000", "D001", None]


def test_the_low_stock_threshold_defaults_to_a_tenth_of_the_first_import(aws):
    coupons.import_codes(STORE, POOL, codes_csv(25), column="code")
    coupons.import_codes(STORE, POOL, codes_csv(100, prefix="D"), column="code")
    assert pools.pool_stock(STORE, POOL).low_stock_threshold == 3

    coupons.import_codes(STORE, POOL, "code\n", column="code", low_stock_threshold=40)
    assert pools.pool_stock(STORE, POOL) == pools.PoolStock(size=125, claimed=0, remaining=125, low_stock_threshold=40)


def test_two_imports_into_one_pool_at_once_are_refused_until_the_hold_lapses(aws):
    coupons.import_codes(STORE, POOL, codes_csv(2), column="code")
    pool_key = keys.coupon_pool_key(STORE, POOL)
    aws.table().update_item(
        Key=pool_key,
        UpdateExpression="SET importing = :t, import_started_at = :at",
        ExpressionAttributeValues={":t": "someone-else", ":at": "2999-01-01T00:00:00.000000+00:00"},
    )

    with pytest.raises(coupons.CouponImportError, match="another import"):
        coupons.import_codes(STORE, POOL, codes_csv(3, prefix="D"), column="code")
    assert pools.pool_stock(STORE, POOL).size == 2

    aws.table().update_item(
        Key=pool_key,
        UpdateExpression="SET import_started_at = :at",
        ExpressionAttributeValues={":at": "2000-01-01T00:00:00.000000+00:00"},
    )
    assert coupons.import_codes(STORE, POOL, codes_csv(3, prefix="D"), column="code").size == 5
    assert "importing" not in aws.table().get_item(Key=pool_key)["Item"]


# --- claims ---------------------------------------------------------------------------------------


def test_claims_hand_out_the_codes_in_import_order_each_once_then_none(aws):
    coupons.import_codes(STORE, POOL, codes_csv(3), column="code", low_stock_threshold=0)

    claimed = [coupons.claim_code(STORE, POOL, f"wf#order-{n}#step#{EMAIL}") for n in range(5)]

    assert claimed == ["C000", "C001", "C002", None, None]
    assert pools.pool_stock(STORE, POOL) == pools.PoolStock(size=3, claimed=3, remaining=0, low_stock_threshold=0)


def test_the_same_send_claiming_again_gets_the_same_code_and_uses_up_nothing(aws):
    coupons.import_codes(STORE, POOL, codes_csv(3), column="code")
    key = f"wf#1001#SendThanks#{EMAIL}"

    first = coupons.claim_code(STORE, POOL, key)
    again = coupons.claim_code(STORE, POOL, key)

    assert first == again == "C000"
    assert pools.pool_stock(STORE, POOL).claimed == 1
    (claim,) = aws.items(keys.coupon_claims_pk(STORE, POOL))
    assert EMAIL not in json.dumps(claim, default=str), "the claim partition holds no email address"
    assert (claim["code"], claim["index"]) == ("C000", 0)


def test_a_lost_race_for_the_same_send_returns_the_winners_code(aws, monkeypatch):
    coupons.import_codes(STORE, POOL, codes_csv(3), column="code")
    key = "wf#1001#SendThanks#" + EMAIL
    real_client = pools.client

    class OtherAttemptWinsFirst:
        """The claim-record lookup misses, then another attempt of the same send records C002."""

        def __init__(self):
            self.inner = real_client("dynamodb")
            self.looked_up = False

        def get_item(self, **kwargs):
            if not self.looked_up:
                self.looked_up = True
                aws.table().put_item(Item={**keys.coupon_claim_key(STORE, POOL, key), "code": "C002", "index": 2})
                return {}
            return self.inner.get_item(**kwargs)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    racing = OtherAttemptWinsFirst()
    monkeypatch.setattr(pools, "client", lambda service: racing)

    assert coupons.claim_code(STORE, POOL, key) == "C002"
    assert pools.pool_stock(STORE, POOL).claimed == 1, "the loser's code stays unused, never handed out"


def test_claiming_from_a_pool_that_was_never_imported_is_an_error(aws):
    with pytest.raises(coupons.UnknownCouponPool):
        coupons.claim_code(STORE, "nope", "wf#1#step#" + EMAIL)
    assert pools.pool_stock(STORE, "nope") is None


def test_low_stock_is_counted_from_the_threshold_on_and_exhaustion_counts_too(aws):
    coupons.import_codes(STORE, POOL, codes_csv(5), column="code", low_stock_threshold=2)

    for n in range(2):  # 4, then 3 left
        coupons.claim_code(STORE, POOL, f"send-{n}")
    assert metric_values("CouponPoolLow") == []
    coupons.claim_code(STORE, POOL, "send-2")  # 2 left: at the threshold
    assert metric_values("CouponPoolLow") == [1.0]
    coupons.claim_code(STORE, POOL, "send-3")
    coupons.claim_code(STORE, POOL, "send-4")  # 0 left
    assert metric_values("CouponPoolLow") == [1.0, 1.0, 1.0]
    assert metric_values("CouponPoolExhausted") == []

    assert coupons.claim_code(STORE, POOL, "send-5") is None
    assert metric_values("CouponPoolExhausted") == [1.0]
    assert metric_values("CouponPoolLow") == [1.0] * 4


# --- messages --------------------------------------------------------------------------------------


def test_a_message_coupon_is_static_or_dynamic():
    base = {
        "store_id": STORE,
        "message_id": "m",
        "purpose": "marketing",
        "sender": DEMO_SENDER.model_dump(),
        "variants": {"en": {"subject": "s", "html": "h", "text": "t"}},
    }

    assert (
        Message.model_validate({**base, "coupon": {"type": "static", "code": " SPRING10 "}}).coupon.code == "SPRING10"
    )
    dynamic = Message.model_validate({**base, "coupon": {"type": "dynamic", "pool": POOL}}).coupon
    assert (dynamic.pool, dynamic.when_exhausted.value) == (POOL, "send_without_coupon")
    for wrong in (
        {"type": "percent", "code": "X"},
        {"type": "static", "code": ""},
        {"type": "dynamic", "pool": "a#b"},
        {"type": "dynamic", "pool": POOL, "when_exhausted": "wait"},
    ):
        with pytest.raises(ValidationError):
            Message.model_validate({**base, "coupon": wrong})


# --- the send step ---------------------------------------------------------------------------------


@pytest.fixture
def send(load_handler, demo_store, lambda_context):
    app = load_handler("send_message")

    def invoke(
        message_id: str,
        *,
        email: str = EMAIL,
        step: str = "SendCoupon",
        order_id: str = ORDER_ID,
        frequency_cap_seconds: int = 0,
    ) -> dict[str, Any]:
        order = {"id": order_id, "total": "129.90", "currency": "EUR", "items": []}
        return app.lambda_handler(
            {
                "run": {
                    "store_id": STORE,
                    "workflow_id": WORKFLOW_ID,
                    "email": email,
                    "subject": {"type": "order", "order_id": order["id"]},
                    "frequency_cap_seconds": frequency_cap_seconds,
                },
                "message_id": message_id,
                "step": step,
            },
            lambda_context,
        )

    return invoke


def add_contact(email: str = EMAIL, *, accepts_marketing: bool = True) -> None:
    event = PurchaseEvent.model_validate(
        purchase(ORDER_ID, email, accepts_marketing=accepts_marketing, language="en-GB")
    )
    assert orders.record_purchase(STORE, f"api:seed-{email}", event)


def coupon_message(coupon: dict[str, Any] | None, *, message_id: str = "coupon", html: str | None = None) -> str:
    messages.put_message(
        Message(
            store_id=STORE,
            message_id=message_id,
            purpose=Purpose.MARKETING,
            sender=DEMO_SENDER,
            coupon=coupon,
            variants={
                "en": MessageContent(
                    subject="A gift for you",
                    html=html or f"<p>Thanks! {COUPON_BLOCK}</p>",
                    text=f"Thanks! {COUPON_BLOCK}",
                )
            },
        )
    )
    return message_id


def mails(aws) -> list[dict[str, Any]]:
    return [parse_mime_message(sent.raw_data) for sent in aws.sent_emails()]


def send_record(email: str = EMAIL, step: str = "SendCoupon") -> dict[str, Any]:
    return next(
        item
        for item in contacts.contact_history(STORE, email)
        if item["sk"] == keys.send_log_key(STORE, email, WORKFLOW_ID, ORDER_ID, step)["sk"]
    )


def emf_blobs(output: str) -> list[dict[str, Any]]:
    blobs = [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"_aws"' in line]
    return [blob for blob in blobs if "CloudWatchMetrics" in blob["_aws"]]


def test_a_dynamic_coupon_code_is_rendered_into_the_email_and_recorded(send, aws):
    add_contact()
    coupons.import_codes(STORE, POOL, codes_csv(2), column="code", low_stock_threshold=0)

    assert send(coupon_message({"type": "dynamic", "pool": POOL}))["status"] == "sent"

    (mail,) = mails(aws)
    assert "Your code: C000" in mail["html"] and "Your code: C000" in mail["text"]
    record = send_record()
    assert (record["status"], record["coupon_code"]) == ("sent", "C000")
    assert pools.pool_stock(STORE, POOL).claimed == 1


def test_a_static_coupon_goes_to_everyone(send, aws):
    add_contact()
    add_contact("bo@example.com")
    message = coupon_message({"type": "static", "code": "SPRING10"})

    send(message)
    send(message, email="bo@example.com")

    assert ["Your code: SPRING10" in mail["text"] for mail in mails(aws)] == [True, True]
    assert send_record("bo@example.com")["coupon_code"] == "SPRING10"


def test_a_send_retried_after_a_failure_carries_the_code_it_claimed_first(send, aws):
    add_contact()
    coupons.import_codes(STORE, POOL, codes_csv(3), column="code")
    message = coupon_message({"type": "dynamic", "pool": POOL}, html="<p>{{ coupon.code }} {{ contact.nick }}</p>")

    with pytest.raises(MessageRenderError):
        send(message)
    coupon_message({"type": "dynamic", "pool": POOL}, html="<p>{{ coupon.code }}</p>")
    send(message)

    assert "C000" in mails(aws)[0]["html"]
    assert pools.pool_stock(STORE, POOL).claimed == 1


def test_an_exhausted_pool_sends_without_the_coupon_block_when_so_configured(send, aws):
    add_contact()
    coupons.import_codes(STORE, POOL, codes_csv(1), column="code")
    coupons.claim_code(STORE, POOL, "someone-else")

    result = send(coupon_message({"type": "dynamic", "pool": POOL, "when_exhausted": "send_without_coupon"}))

    assert result["status"] == "sent"
    (mail,) = mails(aws)
    assert "Your code" not in mail["html"] and mail["text"].strip() == "Thanks!"
    assert "coupon_code" not in send_record()


def test_an_exhausted_pool_skips_the_message_when_so_configured(send, aws):
    add_contact()
    coupons.import_codes(STORE, POOL, codes_csv(1), column="code")
    coupons.claim_code(STORE, POOL, "someone-else")

    result = send(coupon_message({"type": "dynamic", "pool": POOL, "when_exhausted": "skip_message"}))

    assert result == {"status": "skipped", "reason": "coupon_pool_exhausted"}
    assert aws.sent_emails() == []
    record = send_record()
    assert (record["status"], record["reason"]) == ("skipped", "coupon_pool_exhausted")


def test_a_contact_who_may_not_get_the_message_uses_up_no_code(send, aws):
    add_contact(accepts_marketing=False)
    coupons.import_codes(STORE, POOL, codes_csv(2), column="code")

    result = send(coupon_message({"type": "dynamic", "pool": POOL, "when_exhausted": "skip_message"}))

    assert result == {"status": "skipped", "reason": "no_marketing_consent"}
    assert pools.pool_stock(STORE, POOL).claimed == 0
    assert aws.items(keys.coupon_claims_pk(STORE, POOL)) == []


WEEK = 7 * 86400


@pytest.mark.parametrize("earlier_send", [None, "targeted-post-purchase#A-0999#SendCoupon"])
def test_a_send_skipped_for_an_exhausted_pool_gives_its_frequency_cap_slot_back(send, aws, earlier_send):
    add_contact()
    coupons.import_codes(STORE, POOL, codes_csv(1), column="code")
    coupons.claim_code(STORE, POOL, "someone-else")
    coupon_message({"type": "dynamic", "pool": POOL, "when_exhausted": "skip_message"})
    coupon_message(None, message_id="plain")
    cap_key = keys.frequency_cap_key(STORE, EMAIL, WORKFLOW_ID)
    if earlier_send:  # this workflow's last message to the contact, longer ago than the cap
        aws.table().put_item(Item={**cap_key, "last_sent_at": int(time.time()) - WEEK - 60, "last_send": earlier_send})
    before = aws.table().get_item(Key=cap_key).get("Item")

    assert send("coupon", order_id="1", frequency_cap_seconds=WEEK) == {
        "status": "skipped",
        "reason": "coupon_pool_exhausted",
    }
    assert aws.table().get_item(Key=cap_key).get("Item") == before, "the slot holds what it held before"
    assert send("plain", order_id="2", frequency_cap_seconds=WEEK)["status"] == "sent", "the next message goes"
    assert send("plain", order_id="3", frequency_cap_seconds=WEEK) == {"status": "skipped", "reason": "frequency_cap"}


def test_a_contact_the_frequency_cap_holds_back_uses_up_no_code(send, aws):
    add_contact()
    coupons.import_codes(STORE, POOL, codes_csv(2), column="code")
    coupon_message(None, message_id="plain")
    coupon_message({"type": "dynamic", "pool": POOL})

    assert send("plain", order_id="1", frequency_cap_seconds=WEEK)["status"] == "sent"
    assert send("coupon", order_id="2", frequency_cap_seconds=WEEK) == {"status": "skipped", "reason": "frequency_cap"}
    assert pools.pool_stock(STORE, POOL).claimed == 0
    assert aws.items(keys.coupon_claims_pk(STORE, POOL)) == []


def test_the_low_stock_metric_is_published_as_the_alarm_in_template_yaml_reads_it(send, aws, capsys):
    add_contact()
    coupons.import_codes(STORE, POOL, codes_csv(2), column="code", low_stock_threshold=1)
    capsys.readouterr()

    send(coupon_message({"type": "dynamic", "pool": POOL}))

    blobs = [
        blob
        for blob in emf_blobs(capsys.readouterr().out)
        if any(m["Name"] == "CouponPoolLow" for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"])
    ]
    assert len(blobs) == 1, "one EMF document carrying CouponPoolLow"
    (blob,) = blobs
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    alarm = Template(ROOT, {"SenderIdentity": "example.com"}).resources["CouponStockLowAlarm"]["Properties"]
    assert alarm["Namespace"] == directive["Namespace"] == "Storeflows"
    assert alarm["MetricName"] == "CouponPoolLow" and blob["CouponPoolLow"] == [1.0]
    assert directive["Dimensions"] == [[dimension["Name"] for dimension in alarm["Dimensions"]]] == [["service"]]
    assert (
        {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        == {"service": blob["service"]}
        == {"service": "storeflows"}
    )
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == ("Sum", 0, "GreaterThanThreshold")
