"""The arithmetic `make bench` turns its measurements into (the bench itself is not run
here): the price file, dollars from usage, DynamoDB capacity units, who a call belongs to,
and the stated minimum calls."""

from __future__ import annotations

import json

import pytest

from storeflows_bench import costs, minimum
from storeflows_bench.calls import EVENT_SOURCE_MAPPING, LOCAL_STACK, STATE_MACHINE, classify, is_product
from storeflows_bench.dynamodb import capacity, item_size


def test_the_price_file_names_a_source_and_a_date_for_every_price():
    prices = costs.load_prices()
    for name in (
        "api_gateway_http_request",
        "lambda_request",
        "lambda_arm_gb_second",
        "step_functions_standard_transition",
        "dynamodb_write_request_unit",
        "dynamodb_read_request_unit",
        "ses_email",
        "cloudwatch_custom_metric_month",
        "xray_trace_recorded",
    ):
        assert prices.aws[name].source.startswith("https://aws.amazon.com/")
    assert {"klaviyo", "mailchimp", "getresponse"} <= set(prices.saas)


def test_a_price_without_a_source_is_refused(tmp_path):
    document = json.loads(costs.PRICES_FILE.read_text())
    document["aws"]["sqs_request"]["source"] = "somewhere"
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(document))
    with pytest.raises(costs.PriceFileError, match="sqs_request"):
        costs.load_prices(path)


def test_usage_becomes_dollars_term_by_term_with_postage_apart():
    prices = costs.load_prices()
    usage = costs.Usage({"step_functions_standard_transition": 6_000, "lambda_request": 2_000_000, "ses_email": 5})

    lines = {line.term: line.usd for line in costs.price(usage, prices)}

    assert lines == {"step_functions_standard_transition": pytest.approx(0.15), "lambda_request": pytest.approx(0.40)}
    assert costs.postage(50_000, prices).usd == pytest.approx(5.00)


def test_cold_starts_get_rarer_as_invocations_get_denser():
    rare, busy = costs.cold_start_share(100), costs.cold_start_share(1_000_000)
    assert 0.9 < rare <= 1 and busy < 0.01
    # 3,000 invocations a month of a 256 MB function importing in 0.8 s
    expected = 3_000 * costs.cold_start_share(3_000) * 0.8 * 0.25
    assert costs.init_gb_seconds({"F": 3_000}, {"F": 0.8}, {"F": 256}) == pytest.approx(expected)


def test_dynamodb_units_follow_item_size_consistency_and_transactions():
    small = {"pk": {"S": "CONTACT#s#a@x"}, "sk": {"S": "PROFILE"}, "score": {"N": "10"}}
    big = {**small, "note": {"S": "x" * 3000}}
    key = {"pk": small["pk"], "sk": small["sk"]}
    sizes = {("CONTACT#s#a@x", "PROFILE"): item_size(big)}

    assert item_size(small) == len("pk") + 13 + len("sk") + 7 + len("score") + 2
    assert capacity("GetItem", {"Key": key, "ConsistentRead": True}, sizes) == (1.0, 0.0)
    assert capacity("GetItem", {"Key": key}, sizes) == (0.5, 0.0)
    assert capacity("UpdateItem", {"Key": key}, sizes) == (0.0, 3.0), "3 KB item: 3 write units"
    order = {**small, "sk": {"S": "ORDER#1"}}
    assert capacity(
        "TransactWriteItems", {"TransactItems": [{"Put": {"Item": order}}, {"Update": {"Key": key}}]}, sizes
    ) == (0.0, 2 * 1 + 2 * 3), "each item twice its units"
    assert capacity("Query", {"ConsistentRead": True}, {}, [5000, 4000]) == (3.0, 0.0)


@pytest.mark.parametrize(
    ("created_by_state_machine", "function", "thread", "source"),
    [
        (True, None, "Thread-7", STATE_MACHINE),
        (False, "SendMessageFunction", "Thread-7", "function:SendMessageFunction"),
        (False, None, "poll-DispatchFunction", EVENT_SOURCE_MAPPING),
        (False, None, "MainThread", LOCAL_STACK),
    ],
)
def test_each_call_belongs_to_who_made_it(created_by_state_machine, function, thread, source):
    found = classify(created_by_state_machine=created_by_state_machine, function=function, thread_name=thread)
    assert found == source
    assert is_product(found) == (source == STATE_MACHINE or source.startswith("function:"))


def test_the_minimum_of_a_send_depends_on_what_it_did():
    assert minimum.send_step({"run": {}}, {"status": "sent"}) == 6
    assert minimum.send_step({"run": {}}, {"status": "skipped", "reason": "no_marketing_consent"}) == 3
    assert (
        minimum.send_step({"run": {}}, {"status": "skipped", "reason": "coupon_pool_exhausted"}) == 4
    )  # the sender was read
    capped = {"run": {"frequency_cap_seconds": 604800}}
    assert minimum.send_step(capped, {"status": "sent"}) == 7
    assert minimum.send_step(capped, {"status": "skipped", "reason": "frequency_cap"}) == 5
    assert minimum.send_step(capped, {"status": "skipped", "reason": "unsubscribed"}) == 3


def test_a_write_of_an_interest_item_counts_the_index_too():
    from pathlib import Path

    from storeflows_bench.dynamodb import INDEX_ATTRIBUTES, INDEX_PARTITION
    from storeflows_local.template import Template

    table = Template(Path(__file__).parents[2], {"SenderIdentity": "shop.example.com"}).resources["Table"]["Properties"]
    (index,) = table["GlobalSecondaryIndexes"]
    projected = {key["AttributeName"] for key in index["KeySchema"]} | set(index["Projection"]["NonKeyAttributes"])
    assert INDEX_ATTRIBUTES == projected | {"pk", "sk"} and INDEX_PARTITION == index["KeySchema"][0]["AttributeName"]
    viewed = {"pk": {"S": "CONTACT#s#a@x"}, "sk": {"S": "INTEREST#viewed#p-1#"}, "at": {"S": "2026-12-04"}}
    assert capacity("PutItem", {"Item": viewed}, {}) == (0.0, 1.0)
    indexed = {**viewed, "interest_pk": {"S": "INTEREST#s#p-1"}, "interest_sk": {"S": "viewed#2026-12-04#a@x"}}
    assert capacity("PutItem", {"Item": indexed}, {}) == (0.0, 3.0), "the table's write, and the index's two"
    fulfilled = {"Key": {"pk": viewed["pk"], "sk": viewed["sk"]}, "UpdateExpression": "SET f = :f REMOVE interest_pk"}
    assert capacity("UpdateItem", fulfilled, {}) == (0.0, 2.0)
