"""Render marketer-written message templates for one customer.

Templates are Jinja2 source typed by store staff, so they run in a sandbox with
``StrictUndefined``: a typo in a variable name fails the send loudly instead of mailing
"Hi ," to every customer. The HTML body is autoescaped; subject and plain-text body are
not (escaping there would show customers ``&amp;``), the same split listmonk makes with
html/template and text/template.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from storeflows.errors import MessageRenderError
from storeflows.messaging.mail import sanitize_header_value
from storeflows.records import MessageContent

Part = Literal["subject", "html", "text"]

SUBJECT_MAX_LENGTH = 250
"""Longer subjects are truncated; mail clients cut them far earlier anyway."""

_ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "HUF"})
_TEMPLATE_CACHE_SIZE = 256


@dataclass(frozen=True)
class RenderedMessage:
    """A message rendered for one recipient; ``subject`` is a single header-safe line."""

    subject: str
    html: str
    text: str


def render_message(content: MessageContent, context: Mapping[str, Any]) -> RenderedMessage:
    """Render all three parts of ``content`` with ``context``.

    Raises MessageRenderError naming the failing part for any template problem (syntax
    error, undefined variable, sandbox refusal, or an error raised by an expression such
    as a division by zero): retrying cannot fix any of them.
    """
    subject = sanitize_header_value(_render("subject", content.subject, context))
    return RenderedMessage(
        subject=subject[:SUBJECT_MAX_LENGTH].rstrip(),
        html=_render("html", content.html, context),
        text=_render("text", content.text, context),
    )


def _money(value: Decimal | int | float | str, currency: str) -> str:
    """``{{ order.total|money(order.currency) }}`` -> ``"129.90 EUR"``.

    Goes through ``str`` for non-Decimal input so a float like 0.1 becomes 0.10, not its
    binary expansion.
    """
    code = str(currency).strip().upper()
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    exponent = Decimal(1) if code in _ZERO_DECIMAL_CURRENCIES else Decimal("0.01")
    return f"{amount.quantize(exponent, rounding=ROUND_HALF_UP)} {code}"


def _finalize(value: Any) -> Any:
    """Print a missing-but-defined value (``None``) as nothing rather than "None"."""
    return "" if value is None else value


def _environment(*, autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(autoescape=autoescape, undefined=StrictUndefined, finalize=_finalize)
    env.filters["money"] = _money
    return env


_HTML_ENV = _environment(autoescape=True)
_PLAIN_ENV = _environment(autoescape=False)


@functools.lru_cache(maxsize=_TEMPLATE_CACHE_SIZE)
def _compile(part: Part, source: str) -> Template:
    """Compile once per warm Lambda: the same message is rendered for every recipient."""
    env = _HTML_ENV if part == "html" else _PLAIN_ENV
    return env.from_string(source)


def _render(part: Part, source: str, context: Mapping[str, Any]) -> str:
    try:
        return _compile(part, source).render(context)
    except TemplateSyntaxError as exc:
        raise MessageRenderError(f"{part}: line {exc.lineno}: {exc.message}") from None
    except TemplateError as exc:
        # UndefinedError and SecurityError (sandbox refusal) land here.
        raise MessageRenderError(f"{part}: {exc.message or type(exc).__name__}") from None
    except (ArithmeticError, TypeError, ValueError) as exc:
        # Raised by template expressions themselves, e.g. {{ 1 / 0 }} or a money
        # filter applied to text that is not a number.
        raise MessageRenderError(f"{part}: {type(exc).__name__}: {exc}") from None
