"""The contact token in links of Storeflows emails to the store's own site (`sf_t=`), which
the browser snippet hands to POST /collect to identify the visitor who followed the link.

A token is ``<ref>.<expires>.<mac>``:

- ``ref`` is an opaque id of the contact: base64url of HMAC-SHA256(link key, email), cut to
  128 bits. It is not the address, nor anything the address can be read from: a link ends up
  in browser histories, analytics tools and the Referer of the pages it leads to. A keyed
  hash rather than a random id so that every send of one contact's emails makes the same ref
  (kept with two idempotent writes, never a read first). The email is found again from
  DynamoDB (`CONTACTLINK#<store>#<ref>`), so an erasure, which deletes that item, makes every
  link the contact was ever sent identify nobody.
- ``expires`` (unix seconds): the link identifies for LINK_VALIDITY after the send.
- ``mac``: HMAC-SHA256(link key, "<store>.<ref>.<expires>"), 128 bits. Forging or altering
  a token (another ref, a later expiry) needs the key; the store id in it and each store's
  own key make one store's token worthless for another.

The link key is derived from the store's unsubscribe key (HMAC with a fixed label), so
every store has one without a migration, and neither key tells anything about the other.

Only links to the store's allowed origins (BrowserSettings.allowed_origins: the pages where
its snippet runs) get the token: a link to anyone else's site never carries it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from storeflows.messaging.rendering import RenderedMessage
from storeflows.records import Store

TOKEN_PARAMETER = "sf_t"
LINK_VALIDITY = timedelta(days=30)
_LABEL = b"storeflows contact link v1"
_MAC_BYTES = 16
_REF_BYTES = 16
_TOKEN_SHAPE = re.compile(r"([A-Za-z0-9_-]{22})\.([0-9]{1,12})\.([A-Za-z0-9_-]{22})")
_HREF = re.compile(r"""(\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_TEXT_URL = re.compile(r"""https?://[^\s<>"']+""", re.IGNORECASE)


@dataclass(frozen=True)
class ContactToken:
    ref: str
    expires_at: int


def contact_ref(store: Store, email: str) -> str:
    return _b64(hmac.new(_link_key(store), email.encode("utf-8"), hashlib.sha256).digest()[:_REF_BYTES])


def make_token(store: Store, email: str, *, now: datetime) -> str:
    ref = contact_ref(store, email)
    expires = int((now + LINK_VALIDITY).timestamp())
    return f"{ref}.{expires}.{_mac(store, ref, expires)}"


def verify_token(store: Store, token: str, *, now: datetime) -> ContactToken | None:
    """The ref a token names if `store` made it and it has not expired; None otherwise
    (malformed, altered, another store's, expired)."""
    match = _TOKEN_SHAPE.fullmatch(token)
    if match is None:
        return None
    ref, expires_text, mac = match.groups()
    expires = int(expires_text)
    if not hmac.compare_digest(mac, _mac(store, ref, expires)):
        return None
    if expires <= now.timestamp():
        return None
    return ContactToken(ref=ref, expires_at=expires)


def store_origins(store: Store) -> frozenset[str]:
    """The web origins whose links get the token (no "null": it is no site a link goes to)."""
    if store.browser is None:
        return frozenset()
    return frozenset(origin for origin in store.browser.allowed_origins if origin.startswith(("http://", "https://")))


def with_contact_token(rendered: RenderedMessage, origins: frozenset[str], token: str) -> RenderedMessage:
    """The message with `sf_t=<token>` added to every link to one of `origins` (an existing
    sf_t replaced), in the HTML's href attributes and the text's URLs; others left alone."""
    if not origins:
        return rendered

    def href(match: re.Match[str]) -> str:
        url = html.unescape(match.group(3))
        marked = _marked(url, origins, token)
        if marked is None:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{html.escape(marked, quote=True)}{match.group(2)}"

    def text_url(match: re.Match[str]) -> str:
        # Punctuation after a URL in running text ("see https://shop.example.com/sale.") ends
        # the sentence, not the URL.
        url = match.group(0).rstrip(".,;:!?)]}")
        marked = _marked(url, origins, token)
        return match.group(0) if marked is None else marked + match.group(0)[len(url) :]

    return replace(rendered, html=_HREF.sub(href, rendered.html), text=_TEXT_URL.sub(text_url, rendered.text))


def _marked(url: str, origins: frozenset[str], token: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
    if origin not in origins:
        return None
    # The query is kept as written (re-encoding it could change what the store's site reads),
    # only an earlier sf_t is dropped.
    kept = [field for field in parts.query.split("&") if field and field.split("=", 1)[0] != TOKEN_PARAMETER]
    query = "&".join([*kept, f"{TOKEN_PARAMETER}={token}"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))


def _link_key(store: Store) -> bytes:
    return hmac.new(store.unsubscribe_key.encode("utf-8"), _LABEL, hashlib.sha256).digest()


def _mac(store: Store, ref: str, expires: int) -> str:
    signed = f"{store.store_id}.{ref}.{expires}".encode("ascii")
    return _b64(hmac.new(_link_key(store), signed, hashlib.sha256).digest()[:_MAC_BYTES])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
