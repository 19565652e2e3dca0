"""Build and parse the raw MIME messages handed to SES (and to the local outbox).

Customer data (names, addresses, rendered subjects) reaches headers here, so every
header value goes through ``sanitize_header_value`` first: a CR/LF in a first name must
never become a ``Bcc:`` line.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import re
import unicodedata
from collections.abc import Mapping
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, MIMEPart
from email.policy import Policy
from email.utils import formatdate
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    # Only for annotations: rendering imports sanitize_header_value from here.
    from storeflows.messaging.rendering import RenderedMessage

_MAX_LINE_LENGTH = 998  # RFC 5322 section 2.1.1, excluding CRLF
_LIST_UNSUBSCRIBE_PREFIX = "List-Unsubscribe: <"
_MAX_UNSUBSCRIBE_URL_LENGTH = _MAX_LINE_LENGTH - len(_LIST_UNSUBSCRIBE_PREFIX) - 1
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
_WHITESPACE_RUN = re.compile(r"\s+")
_FIELD_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 ftext: printable ASCII except ":"
_URL_FORBIDDEN = frozenset("<>,")  # would end or split an RFC 2369 <URL> list
# RFC 2047: =?charset?encoding?text?=, matched loosely (a decoder would be as lenient).
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[^?\s]*\?.*?\?=", re.DOTALL)
_MAX_ENCODED_WORD_ROUNDS = 4


def sanitize_header_value(value: str) -> str:
    """Return ``value`` as one header-safe line that no mail software will read as more.

    Control characters (Unicode category Cc) are dropped, except whitespace ones (CR, LF,
    tab, NEL, the Unicode line and paragraph separators...) which count as whitespace;
    every run of whitespace becomes one space. RFC 2047 encoded-words are decoded here,
    and what they decode to is sanitised the same way: Python's email package decodes them
    when it writes a header, and before 3.12.5 (CVE-2024-6923) wrote an encoded CR LF as a
    real line break, so a first name of ``=?utf-8?q?x=0D=0ABcc:_a@evil.test?=`` became a
    Bcc line. Whatever still looks like the start of an encoded-word afterwards is broken
    up, so this holds whatever the interpreter's patch level.
    """
    text = value
    for _ in range(_MAX_ENCODED_WORD_ROUNDS):  # an encoded-word may decode to another
        decoded = _ENCODED_WORD.sub(_decoded_word, text)
        if decoded == text:
            break
        text = decoded
    visible = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) != "Cc")
    one_line = _WHITESPACE_RUN.sub(" ", visible).strip()
    return one_line.replace("=?", "= ?")


def _decoded_word(match: re.Match[str]) -> str:
    """One encoded-word as the text it stands for; one that does not decode is kept as
    text (its "=?" is broken up afterwards)."""
    try:
        return str(email.header.make_header(email.header.decode_header(match.group(0))))
    except (ValueError, LookupError, UnicodeError):
        return match.group(0)


def unsubscribe_headers(unsubscribe_url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe headers for ``unsubscribe_url``.

    Mailbox providers only POST to https URLs; plain http is allowed for the local stack.
    Raises ValueError for any other URL, or one that cannot sit verbatim in the header.
    """
    if (
        not unsubscribe_url.isascii()
        or not unsubscribe_url.isprintable()
        or any(ch.isspace() or ch in _URL_FORBIDDEN for ch in unsubscribe_url)
    ):
        raise ValueError("unsubscribe URL contains characters not allowed in List-Unsubscribe")
    if len(unsubscribe_url) > _MAX_UNSUBSCRIBE_URL_LENGTH:
        raise ValueError("unsubscribe URL is too long for one List-Unsubscribe line")
    parts = urlsplit(unsubscribe_url)
    is_https = parts.scheme == "https" and bool(parts.hostname)
    is_local = parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS
    if not (is_https or is_local):
        raise ValueError("unsubscribe URL must be https (or http on localhost)")
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


class _OneLineHeader(UnstructuredHeader):
    """Header class for List-Unsubscribe.

    The stock folder turns any token longer than 78 characters into RFC 2047
    encoded-words, and a signed unsubscribe URL always is that long; receivers read the
    <URL> literally, so an encoded one breaks one-click unsubscribe. Emit the value on
    one line whenever that is legal, and fall back to normal folding otherwise.
    """

    def fold(self, *, policy: Policy) -> str:
        line = f"{self.name}: {self}"  # type: ignore[attr-defined]  # typeshed lacks BaseHeader.name
        if line.isascii() and len(line) <= _MAX_LINE_LENGTH:
            return line + policy.linesep
        return super().fold(policy=policy)  # type: ignore[misc]  # typeshed lacks BaseHeader.fold


def _header_registry() -> HeaderRegistry:
    registry = HeaderRegistry()
    registry.map_to_type("list-unsubscribe", _OneLineHeader)  # type: ignore[arg-type]  # a header class, as the stock ones
    return registry


_POLICY = email.policy.SMTP.clone(header_factory=_header_registry())


def build_mime_message(
    *,
    sender_name: str,
    sender_address: str,
    to_address: str,
    reply_to: str | None,
    rendered: RenderedMessage,
    extra_headers: Mapping[str, str],
) -> bytes:
    """Return the raw bytes (CRLF, 7-bit clean) of a multipart/alternative message.

    Every header value is sanitised, so names and subjects never raise or inject.
    Addresses are sanitised too (a trailing CR/LF from an import is harmless), but
    must then be exactly one plain ASCII address: anything else raises ValueError, since
    guessing which part of ``"a@b.c Bcc: x@y.z"`` was meant could mail the wrong person.
    ``extra_headers`` names must be valid RFC 5322 field names (ValueError otherwise);
    the email package also raises ValueError if one duplicates a unique header such as
    Subject.
    """
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = Address(
        display_name=sanitize_header_value(sender_name),
        addr_spec=_address(sender_address).addr_spec,
    )
    msg["To"] = _address(to_address)
    if reply_to is not None:
        msg["Reply-To"] = _address(reply_to)
    msg["Subject"] = sanitize_header_value(rendered.subject)
    msg["Date"] = formatdate(localtime=False)
    msg["MIME-Version"] = "1.0"
    for name, value in extra_headers.items():
        if not _FIELD_NAME.fullmatch(name):
            raise ValueError(f"invalid header field name: {name!r}")
        msg[name] = sanitize_header_value(value)
    msg.make_alternative()
    # Parts are built separately because add_alternative() would give the html part
    # its own MIME-Version header.
    for subtype, body in (("plain", rendered.text), ("html", rendered.html)):
        part = MIMEPart(policy=_POLICY)
        # quoted-printable keeps the message 7-bit clean for any relay and stays readable.
        part.set_content(body, subtype=subtype, charset="utf-8", cte="quoted-printable")
        msg.attach(part)  # type: ignore[arg-type]  # a MIMEPart: an EmailMessage would add MIME-Version
    return msg.as_bytes()


def _address(value: str) -> Address:
    """Parse one plain ASCII ``local@domain`` address, or raise ValueError.

    SES cannot send SMTPUTF8, and the email package only fails on a non-ASCII address
    when serialising, so refuse it up front.
    """
    cleaned = sanitize_header_value(value)
    if not cleaned.isascii():
        raise ValueError(f"non-ASCII email address not supported: {cleaned!r}")
    address = Address(addr_spec=cleaned)  # ValueError if anything follows the address
    if not address.username or not address.domain:
        raise ValueError(f"invalid email address: {cleaned!r}")
    return address


def sendable_address(value: str) -> bool:
    """Whether SES can take ``value`` as a recipient (one plain ASCII address)."""
    try:
        _address(value)
    except ValueError:
        return False
    return True


def parse_mime_message(raw: bytes | str) -> dict[str, Any]:
    """Parse a message built by ``build_mime_message`` (local outbox, tests).

    Returns ``from``, ``to``, ``reply_to`` (None if absent), ``subject``, ``html`` and
    ``text`` (None if that part is absent, line endings normalised to ``\\n``) and
    ``headers``: every top-level header, decoded (a repeated header keeps its last value).
    """
    # policy.default makes the parser produce EmailMessage (get_body, decoded headers).
    if isinstance(raw, bytes):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    else:
        msg = email.message_from_string(raw, policy=email.policy.default)
    reply_to = msg["Reply-To"]
    return {
        "from": str(msg.get("From", "")),
        "to": str(msg.get("To", "")),
        "reply_to": None if reply_to is None else str(reply_to),
        "subject": str(msg.get("Subject", "")),
        "html": _body(msg, "html"),
        "text": _body(msg, "plain"),
        "headers": {name: str(value) for name, value in msg.items()},
    }


def _body(msg: EmailMessage, subtype: str) -> str | None:
    part = msg.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    return str(part.get_content()).replace("\r\n", "\n")
