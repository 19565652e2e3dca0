"""Signature schemes against the official Standard Webhooks vectors and the computed
Shopify / WooCommerce header sets in tests/fixtures (copied from the shared fixtures, see SOURCES.md there)."""

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from storeflows.errors import InvalidSignature
from storeflows.intake.signatures import (
    STANDARD_WEBHOOKS_TOLERANCE_SECONDS,
    generate_standard_webhooks_secret,
    sign_hmac_sha256_base64,
    sign_standard_webhook,
    verify_hmac_sha256_base64,
    verify_standard_webhook,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


VECTORS = _json("standard_webhooks_vectors.json")
SIGN_VECTORS = VECTORS["sign_vectors"]
NEGATIVES = {case["name"]: case for case in VECTORS["negative_cases"]}
POSITIVES = {case["name"]: case for case in VECTORS["positive_variants"]}
# The vector every official library tests against (secret, id, body, timestamp).
DEFAULT = SIGN_VECTORS[0]


def _headers(vector: dict[str, Any], signature: str) -> dict[str, str]:
    return {
        "webhook-id": vector["msg_id"],
        "webhook-timestamp": str(vector["timestamp"]),
        "webhook-signature": signature,
    }


def _verify(headers: dict[str, str], vector: dict[str, Any] = DEFAULT, *, secret: str | None = None) -> str:
    return verify_standard_webhook(
        vector["secret"] if secret is None else secret,
        headers,
        vector["payload"].encode(),
        now=vector["timestamp"],
    )


# --- Standard Webhooks: official vectors -------------------------------------------


@pytest.mark.parametrize("vector", SIGN_VECTORS, ids=lambda v: v["name"])
def test_sign_vectors_reproduce_exactly(vector: dict[str, Any]) -> None:
    signature = sign_standard_webhook(
        vector["secret"], vector["msg_id"], vector["timestamp"], vector["payload"].encode()
    )
    assert signature == vector["expected_signature"]


@pytest.mark.parametrize("vector", SIGN_VECTORS, ids=lambda v: v["name"])
def test_sign_vectors_verify_and_return_webhook_id(vector: dict[str, Any]) -> None:
    assert _verify(_headers(vector, vector["expected_signature"]), vector) == vector["msg_id"]


def test_near_miss_signature_fails() -> None:
    case = NEGATIVES["near-miss signature (last base64 char changed) must fail"]
    assert (case["secret"], case["msg_id"], case["payload"]) == (
        DEFAULT["secret"],
        DEFAULT["msg_id"],
        DEFAULT["payload"],
    )
    with pytest.raises(InvalidSignature, match="no valid signature"):
        _verify(_headers(DEFAULT, case["webhook-signature"]))


def test_wrong_signature_fails() -> None:
    case = NEGATIVES["wrong signature (rust test_no_verify)"]
    vector = SIGN_VECTORS[1]
    assert (case["secret"], case["msg_id"], case["payload"]) == (
        vector["secret"],
        vector["msg_id"],
        vector["payload"],
    )
    with pytest.raises(InvalidSignature, match="no valid signature"):
        _verify(_headers(vector, case["webhook-signature"]), vector)


def test_garbage_base64_signature_fails() -> None:
    case = NEGATIVES["garbage base64 signature"]
    with pytest.raises(InvalidSignature, match="no valid signature"):
        _verify(_headers(DEFAULT, case["webhook-signature"]))


@pytest.mark.parametrize(
    "signature",
    ["v1,", DEFAULT["expected_signature"][:8], "v1", ",", DEFAULT["expected_signature"][3:]],
)
def test_partial_signature_fails(signature: str) -> None:
    assert "partial signature 'v1,' only / first 8 chars only" in NEGATIVES
    with pytest.raises(InvalidSignature, match="no valid signature"):
        _verify(_headers(DEFAULT, signature))


@pytest.mark.parametrize("vector", SIGN_VECTORS, ids=lambda v: v["name"])
def test_multi_signature_header_with_none_matching_fails(vector: dict[str, Any]) -> None:
    case = NEGATIVES["multi-signature header with none matching must fail"]
    with pytest.raises(InvalidSignature, match="no valid signature"):
        _verify(_headers(vector, case["webhook-signature"]), vector)


def test_timestamp_tolerance_both_ways() -> None:
    case = NEGATIVES["timestamp older than now-300s fails; newer than now+300s fails"]
    assert case["tolerance_seconds"] == STANDARD_WEBHOOKS_TOLERANCE_SECONDS == 300
    headers = _headers(DEFAULT, DEFAULT["expected_signature"])
    secret, body, ts = DEFAULT["secret"], DEFAULT["payload"].encode(), DEFAULT["timestamp"]

    for now in (ts - 300, ts + 300, ts + 299.9):
        assert verify_standard_webhook(secret, headers, body, now=now) == DEFAULT["msg_id"]
    with pytest.raises(InvalidSignature, match="too old"):
        verify_standard_webhook(secret, headers, body, now=ts + 301)
    with pytest.raises(InvalidSignature, match="too new"):
        verify_standard_webhook(secret, headers, body, now=ts - 301)


def test_now_defaults_to_the_clock() -> None:
    """The vectors date from 2021, so without an injected now they are stale."""
    headers = _headers(DEFAULT, DEFAULT["expected_signature"])
    with pytest.raises(InvalidSignature, match="too old"):
        verify_standard_webhook(DEFAULT["secret"], headers, DEFAULT["payload"].encode())


@pytest.mark.parametrize(
    "timestamp",
    [
        NEGATIVES["non-integer timestamp header fails"]["webhook-timestamp"],
        "1614265330.5",
        "-1614265330",
        "1e9",
        "１６１４２６５３３０",  # full-width digits: str.isdigit() alone accepts them
    ],
)
def test_non_integer_timestamp_fails(timestamp: str) -> None:
    headers = _headers(DEFAULT, DEFAULT["expected_signature"])
    headers["webhook-timestamp"] = timestamp
    with pytest.raises(InvalidSignature, match="webhook-timestamp is not an integer"):
        _verify(headers)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_named(missing: str) -> None:
    assert "missing webhook-id / webhook-timestamp / webhook-signature header fails" in NEGATIVES
    headers = _headers(DEFAULT, DEFAULT["expected_signature"])
    del headers[missing]
    with pytest.raises(InvalidSignature, match=f"missing {missing} header"):
        _verify(headers)


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_not base64!", "whsec_abcde"])
def test_unusable_secret_is_a_configuration_error(secret: str) -> None:
    assert "empty secret or bare 'whsec_' rejected at construction" in NEGATIVES
    with pytest.raises(ValueError):
        _verify(_headers(DEFAULT, DEFAULT["expected_signature"]), secret=secret)
    with pytest.raises(ValueError):
        sign_standard_webhook(secret, "msg", 1, b"{}")


def test_multi_signature_header_with_one_valid_entry_passes() -> None:
    name = "multi-signature header: decoys plus one valid entry passes; unknown versions (v2) ignored"
    decoy_v1, decoy_v2 = POSITIVES[name]["decoys"]
    entries = [decoy_v1, decoy_v2, DEFAULT["expected_signature"], decoy_v1]
    assert _verify(_headers(DEFAULT, " ".join(entries))) == DEFAULT["msg_id"]


def test_other_signature_versions_are_ignored() -> None:
    """A correct value under another version prefix (v2, or the asymmetric v1a of the
    spec's header example) must not be accepted as v1."""
    bare = DEFAULT["expected_signature"].removeprefix("v1,")
    spec_example = VECTORS["spec_example_headers_format_only"]["webhook-signature"]
    for header in (f"v2,{bare}", f"v1a,{bare}", bare, spec_example):
        with pytest.raises(InvalidSignature, match="no valid signature"):
            _verify(_headers(DEFAULT, header))
    v1a_entry = spec_example.split()[1]
    rotated = f"{v1a_entry} {DEFAULT['expected_signature']}"
    assert _verify(_headers(DEFAULT, rotated)) == DEFAULT["msg_id"]


def test_secret_with_or_without_prefix_and_unpadded() -> None:
    case = POSITIVES["secret accepted with and without 'whsec_' prefix, and unpadded base64"]
    body = DEFAULT["payload"].encode()
    for raw_secret in case["secrets"]:
        for secret in (raw_secret, "whsec_" + raw_secret):
            signature = sign_standard_webhook(secret, DEFAULT["msg_id"], DEFAULT["timestamp"], body)
            assert _verify(_headers(DEFAULT, signature), secret=secret) == DEFAULT["msg_id"]
    # Prefix and padding change the notation, not the key.
    assert sign_standard_webhook("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr", "m", 1, body) == sign_standard_webhook(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr==", "m", 1, body
    )
    assert (
        sign_standard_webhook(DEFAULT["secret"].removeprefix("whsec_"), DEFAULT["msg_id"], DEFAULT["timestamp"], body)
        == DEFAULT["expected_signature"]
    )


def test_header_names_are_case_insensitive() -> None:
    assert "header names are case-insensitive (lower-cased before lookup)" in POSITIVES
    headers = {
        "Webhook-Id": DEFAULT["msg_id"],
        "WEBHOOK-TIMESTAMP": str(DEFAULT["timestamp"]),
        "webhook-Signature": DEFAULT["expected_signature"],
    }
    assert _verify(headers) == DEFAULT["msg_id"]


def test_body_change_fails() -> None:
    headers = _headers(DEFAULT, DEFAULT["expected_signature"])
    with pytest.raises(InvalidSignature, match="no valid signature"):
        verify_standard_webhook(DEFAULT["secret"], headers, b'{"test": 2432232315}', now=DEFAULT["timestamp"])


def test_generated_secret_round_trips() -> None:
    secret = generate_standard_webhooks_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
    assert secret != generate_standard_webhooks_secret()
    signature = sign_standard_webhook(secret, "msg_1", 1_700_000_000, b"{}")
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": signature,
    }
    assert verify_standard_webhook(secret, headers, b"{}", now=1_700_000_000) == "msg_1"


# --- Shopify / WooCommerce base64 HMAC-SHA256 ----------------------------------------


VENDOR_CASES = [
    ("shopify_orders_create", "X-Shopify-Hmac-Sha256"),
    ("woocommerce_order_created", "X-WC-Webhook-Signature"),
]


def _vendor_request(name: str, header: str) -> tuple[str, bytes, str]:
    meta = _json(f"{name}.headers.json")
    body = (FIXTURES / f"{name}.json").read_bytes()
    return meta["computed_secret"], body, meta["computed_headers"][header]


@pytest.mark.parametrize(("name", "header"), VENDOR_CASES)
def test_vendor_computed_header_verifies_exact_file_bytes(name: str, header: str) -> None:
    secret, body, signature = _vendor_request(name, header)
    assert sign_hmac_sha256_base64(secret, body) == signature
    verify_hmac_sha256_base64(secret, body, signature)
    verify_hmac_sha256_base64(secret, body, f"  {signature}\r\n")


@pytest.mark.parametrize(("name", "header"), VENDOR_CASES)
def test_vendor_one_byte_body_change_fails(name: str, header: str) -> None:
    secret, body, signature = _vendor_request(name, header)
    for tampered in (body[:-1], body + b" ", body.replace(b"USD", b"EUR", 1)):
        with pytest.raises(InvalidSignature, match="signature does not match"):
            verify_hmac_sha256_base64(secret, tampered, signature)
    flipped = bytes([body[10] ^ 1])
    with pytest.raises(InvalidSignature, match="signature does not match"):
        verify_hmac_sha256_base64(secret, body[:10] + flipped + body[11:], signature)


@pytest.mark.parametrize(("name", "header"), VENDOR_CASES)
def test_vendor_wrong_secret_fails(name: str, header: str) -> None:
    secret, body, signature = _vendor_request(name, header)
    with pytest.raises(InvalidSignature, match="signature does not match"):
        verify_hmac_sha256_base64(secret + "x", body, signature)


def test_shopify_documented_example_value_does_not_verify() -> None:
    """The documented header value was computed over an unpublished body and secret."""
    secret, body, _ = _vendor_request(*VENDOR_CASES[0])
    documented = _json("shopify_orders_create.headers.json")["documented_example_headers"]
    with pytest.raises(InvalidSignature, match="signature does not match"):
        verify_hmac_sha256_base64(secret, body, documented["X-Shopify-Hmac-Sha256"])


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_vendor_signature(value: str | None) -> None:
    with pytest.raises(InvalidSignature, match="missing signature header"):
        verify_hmac_sha256_base64("secret", b"{}", value)


@pytest.mark.parametrize("value", ["not base64 ü", "zV113quLF6rwy21Q4qR/ACMpcPmX/oz5luIy/xWdwBE"])
def test_malformed_vendor_signature_fails(value: str) -> None:
    with pytest.raises(InvalidSignature, match="signature does not match"):
        verify_hmac_sha256_base64("secret", b"{}", value)
