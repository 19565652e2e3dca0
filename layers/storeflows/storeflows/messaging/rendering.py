"""Render marketer-written message templates for one customer.

Templates are Jinja2 source typed by store staff, so they run in a sandbox with
``StrictUndefined``: a typo in a variable name fails the send loudly instead of mailing
"Hi ," to every customer. The HTML body is autoescaped; subject and plain-text body are
not (escaping there would show customers ``&amp;``), the same split listmonk makes with
html/template and text/template.

Rendering is bounded, for previews, test sends and sends alike: a part renders to at most
MAX_PART_CHARS characters, takes at most MAX_RENDER_STEPS steps of the interpreter (nested
loops that print nothing would otherwise run for minutes), and the sandbox refuses before
they run the operations that would build one huge value at once (``'a' * 10**9``,
``'x'.center(10**9)``, a format width of ten digits).
"""

from __future__ import annotations

import functools
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from storeflows.errors import MessageRenderError
from storeflows.messaging.mail import sanitize_header_value
from storeflows.records import MessageContent

Part = Literal["subject", "html", "text"]

SUBJECT_MAX_LENGTH = 250
"""Longer subjects are truncated; mail clients cut them far earlier anyway."""

MAX_PART_CHARS = 1_000_000
"""A rendered subject, HTML or text part: SES takes 10 MB a message (after quoted-printable
encoding, up to three times the text); no email a store sends comes near it."""

MAX_RENDER_STEPS = 1_000_000
"""Interpreter steps (traced lines, calls and returns) one part may take: a real message
takes a few thousand; a loop of loops takes this many in about a second, then stops."""

_ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "HUF"})
_TEMPLATE_CACHE_SIZE = 256
# A width or precision of seven digits or more in a %-format or a str.format field.
_HUGE_PERCENT_FIELD = re.compile(r"%[-+ #0]*(\d{7,}|\*)|%[-+ #0]*\d*\.(\d{7,}|\*)")
_HUGE_FORMAT_FIELD = re.compile(r"\{[^{}]*:[^{}]*\d{7,}[^{}]*\}")


class RenderTooBig(MessageRenderError):
    """A part would render to more than the bounds allow (size or steps)."""


class _TooLarge(SecurityError):
    """The sandbox's refusal of an operation that would build too large a value."""


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
    quantized = amount.quantize(exponent, rounding=ROUND_HALF_UP)
    # A product whose source names no currency (Shopify's and WooCommerce's product webhooks
    # carry none) shows the amount alone, not a dangling space.
    return f"{quantized} {code}" if code else str(quantized)


def _finalize(value: Any) -> Any:
    """Print a missing-but-defined value (``None``) as nothing rather than "None"."""
    return "" if value is None else value


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, refusing the operations that build one value larger than a part may be."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`order.items` is the order's items, not the dict's method: on the mappings of the
        context a key comes before a method of the same name (`order["items"]` works too)."""
        if isinstance(obj, Mapping) and isinstance(attribute, str):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(times, int):
                    if len(sequence) * times > MAX_PART_CHARS:
                        raise _TooLarge(f"repeating a value {times} times makes it too long")
        elif operator == "**":
            if isinstance(right, int) and abs(right) > 1024:
                raise _TooLarge(f"an exponent of {right} is too large")
        elif operator == "%" and isinstance(left, str) and _HUGE_PERCENT_FIELD.search(left):
            raise _TooLarge("a %-format width or precision is too large")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's form
        _refuse_huge_arguments(getattr(__obj, "__name__", "a call"), args, kwargs)
        bound_to = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(bound_to, str) and _HUGE_FORMAT_FIELD.search(bound_to):
            raise _TooLarge("a format field width or precision is too large")
        return super().call(__context, __obj, *args, **kwargs)


def _refuse_huge_arguments(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """A number above MAX_PART_CHARS passed to a method or filter (a width, a count) would
    make a value longer than any part may be."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_PART_CHARS:
            raise _TooLarge(f"{name}: the number {value} is too large")


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that refuses huge numbers (center(10**9)) and, for `format`, huge widths in
    the format string; wraps keep the filter's Jinja pass_* marks."""

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _refuse_huge_arguments(f"filter {name}", args, kwargs)
        if name == "format" and any(isinstance(value, str) and _HUGE_PERCENT_FIELD.search(value) for value in args):
            raise _TooLarge("filter format: a width or precision is too large")
        return function(*args, **kwargs)

    return bounded


def _environment(*, autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = _BoundedEnvironment(autoescape=autoescape, undefined=StrictUndefined, finalize=_finalize)
    env.filters["money"] = _money
    env.filters = {name: _bounded_filter(name, function) for name, function in env.filters.items()}
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
        return _bounded(part, lambda: _compile(part, source).generate(context))
    except TemplateSyntaxError as exc:
        raise MessageRenderError(f"{part}: line {exc.lineno}: {exc.message}") from None
    except _TooLarge as exc:
        raise RenderTooBig(f"{part}: {exc.message}") from None
    except TemplateError as exc:
        # UndefinedError and SecurityError (sandbox refusal) land here.
        raise MessageRenderError(f"{part}: {_where(exc)}{exc.message or type(exc).__name__}") from None
    except (ArithmeticError, TypeError, ValueError) as exc:
        # Raised by template expressions themselves, e.g. {{ 1 / 0 }} or a money
        # filter applied to text that is not a number.
        raise MessageRenderError(f"{part}: {_where(exc)}{type(exc).__name__}: {exc}") from None


def _where(error: BaseException) -> str:
    """ "line N: " of the template line that failed (Jinja puts its frames in the traceback
    as the template's own lines), or nothing when none is there."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == "<template>"]
    return f"line {lines[-1]}: " if lines else ""


def _bounded(part: Part, chunks: Callable[[], Iterator[str]]) -> str:
    """The part's text, stopped once it passes MAX_PART_CHARS or MAX_RENDER_STEPS.

    Steps are counted by a trace function on this thread only (sys.settrace), so a
    render in one thread never slows another; the one that was set before is put back."""
    steps = 0

    def count(frame: Any, event: str, arg: Any) -> Any:
        nonlocal steps
        steps += 1
        if steps > MAX_RENDER_STEPS:
            raise RenderTooBig(f"{part}: takes more than {MAX_RENDER_STEPS} steps to render (a loop too long?)")
        return count

    rendered: list[str] = []
    length = 0
    previous = sys.gettrace()
    sys.settrace(count)
    try:
        for chunk in chunks():
            length += len(chunk)
            if length > MAX_PART_CHARS:
                raise RenderTooBig(f"{part}: renders to more than {MAX_PART_CHARS} characters")
            rendered.append(chunk)
    finally:
        sys.settrace(previous)
    return "".join(rendered)
