import base64
import hashlib
import hmac
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from storeflows.errors import InvalidSignature
from storeflows.messaging.unsubscribe_links import (
    UnsubscribeRequest,
    generate_unsubscribe_key,
    make_unsubscribe_token,
    read_unsubscribe_store_id,
    unsubscribe_url,
    verify_unsubscribe_token,
)

REQUEST = UnsubscribeRequest(store_id="store-1", email="jan.kowalski@example.pl", message_id="msg-42")
URL_SAFE = re.compile(r"[A-Za-z0-9_.-]+")


@pytest.fixture
def key() -> str:
    return generate_unsubscribe_key()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_keys_are_random_url_safe_and_carry_32_bytes():
    first, second = generate_unsubscribe_key(), generate_unsubscribe_key()
    assert first != second
    assert URL_SAFE.fullmatch(first)
    assert len(base64.urlsafe_b64decode(first + "=")) == 32


def test_round_trip(key):
    token = make_unsubscribe_token(key, REQUEST)
    assert URL_SAFE.fullmatch(token) and "=" not in token
    assert verify_unsubscribe_token(key, token) == REQUEST


def test_round_trip_with_non_ascii_values(key):
    request = UnsubscribeRequest(store_id="sklep-ł", email="zażółć@example.pl", message_id="")
    assert verify_unsubscribe_token(key, make_unsubscribe_token(key, request)) == request


def test_store_id_is_readable_before_verification(key):
    token = make_unsubscribe_token(key, REQUEST)
    assert read_unsubscribe_store_id(token) == "store-1"


def test_tampered_payload_is_rejected(key):
    token = make_unsubscribe_token(key, REQUEST)
    _, signature = token.split(".")
    payload = {"s": "store-1", "e": "someone.else@example.pl", "m": "msg-42"}
    forged = b64(json.dumps(payload).encode())
    with pytest.raises(InvalidSignature) as caught:
        verify_unsubscribe_token(key, f"{forged}.{signature}")
    assert caught.value.detail == "bad token signature"


def test_tampered_signature_is_rejected(key):
    token = make_unsubscribe_token(key, REQUEST)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(InvalidSignature) as caught:
        verify_unsubscribe_token(key, flipped)
    assert caught.value.detail == "bad token signature"


def test_token_from_another_store_key_is_rejected(key):
    token = make_unsubscribe_token(generate_unsubscribe_key(), REQUEST)
    with pytest.raises(InvalidSignature) as caught:
        verify_unsubscribe_token(key, token)
    assert caught.value.detail == "bad token signature"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b.c",
        ".sig",
        "payload.",
        "pay load.sig",
        "płatność.sig",
        b64(b"not json") + ".sig",
        b64(b"[1, 2]") + ".sig",
        b64(b'{"s": "store-1"}') + ".sig",
        b64(b'{"s": 1, "e": "e", "m": "m"}') + ".sig",
        b64(b"[" * 3000) + ".sig",
        "x" * 5000 + ".sig",
    ],
)
def test_garbage_is_malformed(key, token):
    with pytest.raises(InvalidSignature) as caught:
        read_unsubscribe_store_id(token)
    assert caught.value.detail == "malformed token"
    with pytest.raises(InvalidSignature):
        verify_unsubscribe_token(key, token)


def test_validly_signed_garbage_payload_is_still_malformed(key):
    # Only reachable with the key, but the decoder must not trust signed data's shape.
    body = b64(b'{"s": "store-1"}')
    signature = b64(hmac.new(key.encode(), body.encode(), hashlib.sha256).digest())
    with pytest.raises(InvalidSignature) as caught:
        verify_unsubscribe_token(key, f"{body}.{signature}")
    assert caught.value.detail == "malformed token"


def test_unsubscribe_url_carries_the_token(key):
    token = make_unsubscribe_token(key, REQUEST)
    url = unsubscribe_url("https://api.example.com/prod/", token)
    assert url.startswith("https://api.example.com/prod/unsubscribe?token=")
    parts = urlsplit(url)
    assert parse_qs(parts.query) == {"token": [token]}
