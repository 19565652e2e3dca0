"""The signed one-click unsubscribe link (RFC 8058) in every marketing message; what following
it does is messaging.unsubscribe's.

A token is ``base64url(payload) + "." + base64url(HMAC-SHA256(store key, first part))``,
both without padding, where the payload is compact JSON ``{"s": store, "e": email,
"m": message}``. Each store has its own key, so the store id is readable before
verification (to look that key up). Tokens never expire: a link in a years-old email
must still unsubscribe.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from storeflows.errors import InvalidSignature

_KEY_BYTES = 32
_MAX_TOKEN_LENGTH = 4096  # far above any real token; bounds work on hostile input
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_PAYLOAD_KEYS = frozenset({"s", "e", "m"})


@dataclass(frozen=True)
class UnsubscribeRequest:
    """Who asked to unsubscribe, from which store, via which message."""

    store_id: str
    email: str
    message_id: str


def generate_unsubscribe_key() -> str:
    """A new per-store signing key: url-safe text carrying 32 random bytes."""
    return secrets.token_urlsafe(_KEY_BYTES)


def make_unsubscribe_token(key: str, request: UnsubscribeRequest) -> str:
    """Sign ``request`` with the store's ``key``; the result is url-safe."""
    payload = json.dumps(
        {"s": request.store_id, "e": request.email, "m": request.message_id},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    body = _b64encode(payload.encode("utf-8"))
    return f"{body}.{_signature(key, body)}"


def read_unsubscribe_store_id(token: str) -> str:
    """The store id in ``token``, NOT verified: use it only to find the key to verify with.

    Raises InvalidSignature("malformed token") if the token cannot be decoded.
    """
    body, _ = _split(token)
    return _decode_payload(body).store_id


def verify_unsubscribe_token(key: str, token: str) -> UnsubscribeRequest:
    """Return the request ``token`` was made for, if ``key`` signed it.

    Raises InvalidSignature("malformed token") or InvalidSignature("bad token signature").
    The signature is checked (in constant time) before the payload is decoded.
    """
    body, signature = _split(token)
    if not hmac.compare_digest(signature, _signature(key, body)):
        raise InvalidSignature("bad token signature")
    return _decode_payload(body)


def unsubscribe_url(base_url: str, token: str) -> str:
    """The public link for ``token`` under ``base_url`` (the API's public base URL)."""
    return f"{base_url.rstrip('/')}/unsubscribe?token={quote(token, safe='')}"


def _signature(key: str, body: str) -> str:
    if not key:
        raise ValueError("unsubscribe key must not be empty")
    mac = hmac.new(key.encode("utf-8"), body.encode("ascii"), hashlib.sha256)
    return _b64encode(mac.digest())


def _split(token: str) -> tuple[str, str]:
    """Split into (payload, signature), checking the alphabet so that both halves are
    ASCII, which compare_digest requires of str arguments."""
    if len(token) > _MAX_TOKEN_LENGTH or not _TOKEN_SHAPE.fullmatch(token):
        raise InvalidSignature("malformed token")
    body, signature = token.split(".")
    return body, signature


def _decode_payload(body: str) -> UnsubscribeRequest:
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, RecursionError):  # bad base64/UTF-8/JSON, absurd nesting
        raise InvalidSignature("malformed token") from None
    if (
        not isinstance(data, dict)
        or data.keys() != _PAYLOAD_KEYS
        or not all(isinstance(value, str) for value in data.values())
    ):
        raise InvalidSignature("malformed token")
    return UnsubscribeRequest(store_id=data["s"], email=data["e"], message_id=data["m"])


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
