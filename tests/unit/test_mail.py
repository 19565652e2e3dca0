import pytest

from storeflows.messaging.mail import (
    build_mime_message,
    parse_mime_message,
    sanitize_header_value,
    unsubscribe_headers,
)
from storeflows.messaging.rendering import RenderedMessage

UNSUBSCRIBE_URL = "https://api.example.com/unsubscribe?token=" + "A" * 200 + ".sig_-"


def build(**overrides) -> bytes:
    kwargs = {
        "sender_name": "Sklep Łódź",
        "sender_address": "shop@example.com",
        "to_address": "jan@example.pl",
        "reply_to": "help@example.com",
        "rendered": RenderedMessage(
            subject="Zażółć gęślą jaźń – 20% zniżki",
            html="<p>Cześć Jan!</p>",
            text="Cześć Jan!\nDo zobaczenia.",
        ),
        "extra_headers": unsubscribe_headers(UNSUBSCRIBE_URL),
    }
    kwargs.update(overrides)
    return build_mime_message(**kwargs)


def header_names(parsed: dict) -> set[str]:
    return {name.lower() for name in parsed["headers"]}


def test_round_trip():
    raw = build()
    parsed = parse_mime_message(raw)

    assert parsed["from"] == "Sklep Łódź <shop@example.com>"
    assert parsed["to"] == "jan@example.pl"
    assert parsed["reply_to"] == "help@example.com"
    assert parsed["subject"] == "Zażółć gęślą jaźń – 20% zniżki"
    assert parsed["html"] == "<p>Cześć Jan!</p>\n"
    assert parsed["text"] == "Cześć Jan!\nDo zobaczenia.\n"
    assert parsed["headers"]["List-Unsubscribe"] == f"<{UNSUBSCRIBE_URL}>"
    assert parsed["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert {"date", "mime-version"} <= header_names(parsed)
    assert parse_mime_message(raw.decode("ascii")) == parsed


def test_wire_format_is_7bit_crlf_with_text_before_html():
    raw = build()
    assert raw.isascii()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert raw.index(b"Content-Type: text/plain") < raw.index(b"Content-Type: text/html")
    assert raw.count(b"MIME-Version") == 1


def test_list_unsubscribe_url_is_sent_verbatim_on_one_line():
    # Receivers read the <URL> literally; an RFC 2047 encoded or folded URL breaks
    # one-click unsubscribe.
    assert f"\r\nList-Unsubscribe: <{UNSUBSCRIBE_URL}>\r\n".encode() in build()


def test_reply_to_is_optional():
    parsed = parse_mime_message(build(reply_to=None))
    assert parsed["reply_to"] is None
    assert "reply-to" not in header_names(parsed)


@pytest.mark.parametrize(
    "overrides",
    [
        {"sender_name": "Shop\r\nBcc: evil@x.y"},
        {"rendered": RenderedMessage(subject="Hi\r\nBcc: evil@x.y", html="h", text="t")},
        {"extra_headers": {"X-Campaign": "spring\r\nBcc: evil@x.y"}},
        {"to_address": "jan@example.pl\r\n"},
    ],
)
def test_line_breaks_in_values_cannot_inject_a_header(overrides):
    parsed = parse_mime_message(build(**overrides))
    assert "bcc" not in header_names(parsed)
    assert parsed["to"] == "jan@example.pl"


@pytest.mark.parametrize(
    "to_address",
    [
        "jan@example.pl\r\nBcc: evil@x.y",
        "jan@example.pl, evil@x.y",
        "not-an-address",
        "jan@łódź.pl",
    ],
)
def test_to_address_must_be_exactly_one_ascii_address(to_address):
    with pytest.raises(ValueError):
        build(to_address=to_address)


@pytest.mark.parametrize("name", ["X Campaign", "X-Campaign:", "X-Kampań", "", "X\r\nBcc"])
def test_extra_header_names_must_be_field_names(name):
    with pytest.raises(ValueError):
        build(extra_headers={name: "1"})


def test_extra_header_cannot_duplicate_subject():
    with pytest.raises(ValueError):
        build(extra_headers={"Subject": "second subject"})


def test_sanitize_header_value():
    assert sanitize_header_value("  a\r\n\tb\x00c\x1b  d\u2028e ") == "a bc d e"


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/unsubscribe?token=abc",
        "http://127.0.0.1:3000/unsubscribe?token=abc",
        "http://localhost:3000/unsubscribe?token=abc",
    ],
)
def test_unsubscribe_headers_accepts_https_and_local_stack(url):
    assert unsubscribe_headers(url) == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com/unsubscribe?token=abc",
        "http://localhost.example.com/unsubscribe",
        "http://localhost@example.com/unsubscribe",
        "mailto:unsubscribe@example.com",
        "https:///no-host",
        "https://example.com/u?t=a>, <https://evil.example",
        "https://example.com/u?t=a\r\nBcc: evil@x.y",
        "https://example.com/" + "a" * 1000,
    ],
)
def test_unsubscribe_headers_rejects_other_urls(url):
    with pytest.raises(ValueError):
        unsubscribe_headers(url)


# --- RFC 2047 encoded-words (CVE-2024-6923: decoded into raw CR LF by the email package) ---

# A first name, as a customer could type it at checkout.
ENCODED_BCC = "=?utf-8?q?x=0D=0ABcc:_attacker@evil.test?="
ENCODED_BODY = "=?utf-8?q?x=0D=0AReply-To:_attacker@evil.test=0D=0A=0D=0APay_at_http://evil.test?="


def top_header_lines(raw: bytes) -> list[str]:
    """The raw header block, one entry per header line (continuations joined)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line for line in head.split("\r\n") if not line.startswith((" ", "\t"))]


@pytest.mark.parametrize(
    "overrides",
    [
        {"rendered": RenderedMessage(subject=f"Thanks {ENCODED_BCC}", html="h", text="t")},
        {"rendered": RenderedMessage(subject=f"Thanks {ENCODED_BODY}", html="h", text="t")},
        {"sender_name": f"Shop {ENCODED_BCC}"},
        {"sender_name": f"Shop {ENCODED_BODY}"},
        {"extra_headers": {"X-Campaign": ENCODED_BCC}},
        # Base64 encoded-words, and one inside another.
        {"rendered": RenderedMessage(subject="=?utf-8?b?eA0KQmNjOiBhdHRhY2tlckBldmlsLnRlc3Q=?=", html="h", text="t")},
        {
            "rendered": RenderedMessage(
                subject="=?utf-8?b?PT91dGYtOD9xP3g9MEQ9MEFCY2M6X2FAZXZpbC50ZXN0Pz0=?=", html="h", text="t"
            )
        },
        # Line breaks an encoded-word may decode to besides CR LF: NEL, LS, PS, VT.
        {
            "rendered": RenderedMessage(
                subject="=?utf-8?q?x=C2=85Bcc:_a@evil.test=E2=80=A8Reply-To:_b@evil.test?=", html="h", text="t"
            )
        },
    ],
)
def test_an_encoded_word_cannot_add_a_header_or_replace_the_body(overrides):
    raw = build(**overrides)
    names = [line.split(":", 1)[0].lower() for line in top_header_lines(raw)]
    assert "bcc" not in names and names.count("reply-to") == 1, top_header_lines(raw)
    parsed = parse_mime_message(raw)
    expected_text = overrides["rendered"].text if "rendered" in overrides else "Cześć Jan!\nDo zobaczenia."
    assert parsed["text"].strip() == expected_text
    assert parsed["reply_to"] == "help@example.com"
    assert "Pay at" not in (parsed["text"] or "") and "Pay at" not in (parsed["html"] or "")


def test_what_an_encoded_word_says_stays_visible_on_one_line():
    assert sanitize_header_value(f"Hi {ENCODED_BODY}") == "Hi x Reply-To: attacker@evil.test Pay at http://evil.test"
    assert sanitize_header_value("=?utf-8?q?Za=C5=BC=C3=B3=C5=82=C4=87?=") == "Zażółć"


def test_text_that_only_looks_like_an_encoded_word_is_broken_up():
    assert sanitize_header_value("50% off =?yes") == "50% off = ?yes"
    assert sanitize_header_value("=?utf-8?q?broken") == "= ?utf-8?q?broken"


@pytest.mark.parametrize("reply_to", [f"{ENCODED_BCC}@example.com", "help@example.com\r\nBcc: a@evil.test"])
def test_an_address_holding_an_encoded_word_or_a_line_break_is_refused(reply_to):
    with pytest.raises(ValueError):
        build(reply_to=reply_to)
