"""Webhook signature schemes: the base64 HMAC-SHA256 header used by Shopify and
WooCommerce, and Standard Webhooks (https://www.standardwebhooks.com/) for our own API.

Every comparison of a received signature is constant-time (hmac.compare_digest), and
every signature is computed over the raw body bytes exactly as received: re-serialised
JSON would not match."""

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping

from storeflows.errors import InvalidSignature

STANDARD_WEBHOOKS_TOLERANCE_SECONDS = 300
"""Maximum clock skew either way, as in every official Standard Webhooks library."""

_SECRET_PREFIX = "whsec_"
_SECRET_BYTES = 24
_HEADER_ID = "webhook-id"
_HEADER_TIMESTAMP = "webhook-timestamp"
_HEADER_SIGNATURE = "webhook-signature"


def _hmac_sha256_base64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


def _same(expected: str, received: str) -> bool:
    """Constant-time comparison that also copes with non-ASCII header text (which
    compare_digest refuses for str) by comparing bytes."""
    return hmac.compare_digest(expected.encode("ascii"), received.encode("utf-8", "replace"))


def sign_hmac_sha256_base64(secret: str, raw_body: bytes) -> str:
    """base64(HMAC-SHA256(secret, raw_body)): the value of Shopify's X-Shopify-Hmac-Sha256
    and WooCommerce's X-WC-Webhook-Signature headers."""
    return _hmac_sha256_base64(secret.encode("utf-8"), raw_body)


def verify_hmac_sha256_base64(
    secret: str, raw_body: bytes, header_value: str | None, *, also: tuple[str, ...] = ()
) -> None:
    """Raise InvalidSignature unless header_value is the base64 HMAC-SHA256 of raw_body under
    `secret` (or one of the secrets in `also`: the forms a platform may sign with)."""
    received = (header_value or "").strip()
    if not received:
        raise InvalidSignature("missing signature header")
    # Every candidate is compared, so the time taken does not tell which one came close.
    matches = [_same(sign_hmac_sha256_base64(key, raw_body), received) for key in (secret, *also)]
    if not any(matches):
        raise InvalidSignature("signature does not match")


# wp_specialchars_decode($secret, ENT_QUOTES): the entities WordPress writes for & < > " '.
_WP_SPECIAL_CHARS = {
    "&amp;": "&",
    "&#038;": "&",
    "&#x26;": "&",
    "&lt;": "<",
    "&#060;": "<",
    "&gt;": ">",
    "&#062;": ">",
    "&quot;": '"',
    "&#034;": '"',
    "&#x22;": '"',
    "&#039;": "'",
    "&#39;": "'",
    "&#x27;": "'",
}
_WP_ENTITY = re.compile("|".join(re.escape(entity) for entity in _WP_SPECIAL_CHARS), re.IGNORECASE)


def wordpress_signing_secret(secret: str) -> str:
    """The secret as WooCommerce signs with it: WordPress keeps a webhook secret HTML-escaped
    (a secret typed as a&b is stored as a&amp;b), and WooCommerce signs with
    wp_specialchars_decode() of the stored value. A secret copied from where WordPress shows
    it escaped decodes to what was signed."""
    return _WP_ENTITY.sub(lambda match: _WP_SPECIAL_CHARS[match.group(0).lower()], secret)


def generate_standard_webhooks_secret() -> str:
    """A new "whsec_" secret holding 24 random bytes (the spec's minimum key size)."""
    return _SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def _standard_webhooks_key(secret: str) -> bytes:
    """Decode a secret given with or without "whsec_"; unpadded base64 is accepted, as in
    the official libraries. A bad secret is a configuration error, hence ValueError."""
    encoded = secret.removeprefix(_SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError("Standard Webhooks secret is not valid base64") from None
    if not key:
        raise ValueError("Standard Webhooks secret is empty")
    return key


def _standard_webhook_signature(key: bytes, msg_id: str, timestamp: str, raw_body: bytes) -> str:
    signed_content = f"{msg_id}.{timestamp}.".encode() + raw_body
    return _hmac_sha256_base64(key, signed_content)


def sign_standard_webhook(secret: str, msg_id: str, timestamp: int, raw_body: bytes) -> str:
    """The webhook-signature header value ("v1,<base64>") for one message."""
    key = _standard_webhooks_key(secret)
    return "v1," + _standard_webhook_signature(key, msg_id, str(timestamp), raw_body)


def verify_standard_webhook(
    secret: str,
    headers: Mapping[str, str],
    raw_body: bytes,
    *,
    now: float | None = None,
    also: tuple[str, ...] = (),
) -> str:
    """Check a Standard Webhooks request and return its webhook-id.

    Header names are matched case-insensitively. The signature header may list several
    space-separated entries (secret rotation on the sender's side); any matching "v1" entry
    is enough and other versions (e.g. the asymmetric "v1a") are ignored. A signature made
    with one of the secrets in `also` (the one before a rotation on our side) is accepted
    too. Raises InvalidSignature for a request problem and ValueError for an unusable
    secret."""
    secret_keys = [_standard_webhooks_key(candidate) for candidate in (secret, *also)]
    lowered = {name.lower(): value for name, value in headers.items()}
    values: dict[str, str] = {}
    for name in (_HEADER_ID, _HEADER_TIMESTAMP, _HEADER_SIGNATURE):
        value = (lowered.get(name) or "").strip()
        if not value:
            raise InvalidSignature(f"missing {name} header")
        values[name] = value

    timestamp = values[_HEADER_TIMESTAMP]
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise InvalidSignature(f"{_HEADER_TIMESTAMP} is not an integer")
    current = time.time() if now is None else now
    if int(timestamp) < current - STANDARD_WEBHOOKS_TOLERANCE_SECONDS:
        raise InvalidSignature(f"{_HEADER_TIMESTAMP} is too old")
    if int(timestamp) > current + STANDARD_WEBHOOKS_TOLERANCE_SECONDS:
        raise InvalidSignature(f"{_HEADER_TIMESTAMP} is too new")

    msg_id = values[_HEADER_ID]
    expected = [_standard_webhook_signature(key, msg_id, timestamp, raw_body) for key in secret_keys]
    # Every pair is compared, so the time taken does not tell which one came close.
    matches = [
        _same(candidate, signature)
        for entry in values[_HEADER_SIGNATURE].split()
        for version, _, signature in [entry.partition(",")]
        if version == "v1"
        for candidate in expected
    ]
    if any(matches):
        return msg_id
    raise InvalidSignature("no valid signature")
