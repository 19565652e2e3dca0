"""docs/reference.md, the marketers' reference: every template's settings, the workflow,
message and sender file formats, and what a message template can use.

Generated, so it cannot drift: the settings tables come from the templates' settings models
(their fields, defaults, bounds and `Field(description=...)`), the file formats from the
loaders' field lists and the records' models, the template context from
`context.message_context` itself. What only words can say is here, and checked against the
code: a field, value or context name without its words stops the generator.

`make reference` writes the file; `python -m storeflows_cli.reference --check` (and
tests/unit/test_reference.py) fails when the committed one differs."""

from __future__ import annotations

import argparse
import enum
import json
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from storeflows.admin import files
from storeflows.events.common import LineItem, Order
from storeflows.events.subjects import SAMPLE_BASKET, SAMPLE_PRODUCTS, SAMPLE_WISHLIST, SubjectView, sample_session
from storeflows.fields import Duration, MessageId, TagName
from storeflows.messaging.confirmation import confirmation_view
from storeflows.messaging.context import message_context
from storeflows.records import Contact, DynamicCoupon, Message, Purpose, Sender, StaticCoupon, Store, WhenExhausted
from storeflows.workflows.templates import TEMPLATES
from storeflows_cli.reference_words import (
    CONTEXT,
    MESSAGE_FILE,
    PURPOSES,
    SENDER_FILE,
    VARIANT,
    WHEN_EXHAUSTED,
    WORKFLOW_FILE,
)

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference.md"
MAX_DURATION = 365 * 86400
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_NAMED = {Duration: "duration", MessageId: "message id", TagName: "tag"}
SETTING_HEADER = ("field", "required", "default", "type", "meaning")


class Drift(Exception):
    """The code has something the reference has no words for."""


# --- the settings models ---------------------------------------------------------------------------


def duration_text(seconds: int) -> str:
    """Seconds as a marketer writes them: 864000 -> "10d", 0 -> "0s"."""
    return next((f"{seconds // size}{unit}" for unit, size in _UNITS if seconds and seconds % size == 0), "0s")


def _type_text(hint: Any) -> str:
    if hint in _NAMED:
        return _NAMED[hint]
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        return _type_text(args[0])
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in args)
    if origin in (Union, types.UnionType):
        kinds = [_type_text(arg) for arg in args if arg is not type(None)]
        return " or ".join(kinds) + (", or none" if type(None) in args else "")
    if origin is list:
        if isinstance(args[0], type) and issubclass(args[0], BaseModel):
            return "list of mappings (below)"
        return f"list of {_type_text(args[0])}s"
    if origin is dict:
        return f"mapping of {_type_text(args[0])} to {_type_text(args[1])}"
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return "mapping (below)"
    simple = {bool: "true or false", int: "whole number", Decimal: "amount", str: "text"}
    if hint in simple:
        return simple[hint]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "one of " + ", ".join(f"`{member.value}`" for member in hint)
    raise Drift(f"the reference cannot describe the type {hint!r} yet")


def _bounds(field: FieldInfo, duration: bool) -> str:
    def bound(kind: type, name: str) -> list[Any]:
        return [getattr(m, name) for m in field.metadata if isinstance(m, kind)]

    low, high = max(bound(annotated_types.Ge, "ge"), default=None), min(bound(annotated_types.Le, "le"), default=None)
    shortest, longest = (
        next(iter(bound(annotated_types.MinLen, "min_length")), None),
        next(iter(bound(annotated_types.MaxLen, "max_length")), None),
    )
    show: Callable[[Any], str] = duration_text if duration else str
    said = []
    if duration:  # 0s to 365d is said of every duration once
        low, high = (None if low == 0 else low), (None if high == MAX_DURATION else high)
    if low is not None and high is not None:
        said.append(f"{show(low)} to {show(high)}")
    elif low is not None:
        said.append(f"at least {show(low)}")
    elif high is not None:
        said.append(f"at most {show(high)}")
    if shortest:
        said.append("not empty" if shortest == 1 else f"at least {shortest}")
    if longest:
        said.append(f"at most {longest} characters")
    return ", ".join(said)


def _default_text(value: Any, duration: bool) -> str:
    if duration:
        return f"`{duration_text(value)}`"
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return "none"
    if isinstance(value, BaseModel):
        return "(below)"
    if isinstance(value, list) and any(isinstance(item, BaseModel) for item in value):
        return "(in the meaning)"
    if isinstance(value, bool | int | Decimal):
        return f"`{json.dumps(value) if isinstance(value, bool) else value}`"
    return f"`{json.dumps(value)}`"


def setting_rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str, str]]:
    """(key, required, default, type, meaning) for every field of `model`, nested models
    after their field; a discriminating `type` or `template` with one value is left out."""
    rows = []
    hints = typing.get_type_hints(model, include_extras=True)
    for name, field in model.model_fields.items():
        hint = hints[name]
        if name in ("template", "type") and get_origin(hint) is Literal and len(get_args(hint)) == 1:
            continue
        if not field.description:
            raise Drift(f"{model.__name__}.{name} has no Field(description=...)")
        duration = hint is Duration
        bounds = "" if hint in _NAMED and not duration else _bounds(field, duration)
        kind = _type_text(hint) + (f" ({bounds})" if bounds else "")
        default = "" if field.is_required() else _default_text(field.default, duration)
        rows.append((f"{prefix}{name}", "required" if field.is_required() else "", default, kind, field.description))
        inner = get_args(hint)[0] if get_origin(hint) is list else hint
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            rows += setting_rows(inner, f"{prefix}{name}{'[]' if inner is not hint else ''}.")
    return rows


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines + [""]


def _same(words: Mapping[Any, Any], code: Iterable[Any], what: str) -> None:
    missing, extra = set(code) - set(words), set(words) - set(code)
    if missing or extra:
        raise Drift(
            f"{what}: no words for {sorted(map(str, missing))}; words for what is gone: {sorted(map(str, extra))}"
        )


# --- the reference ---------------------------------------------------------------------------------


def template_section(name: str, model: Any) -> list[str]:
    example = ROOT / "examples" / "workflows" / f"{name}.yaml"
    if not example.is_file():
        raise Drift(f"template {name} has no example in examples/workflows/")
    lines = [f"### `{name}`", "", model.description, "", *_table(("setting", *SETTING_HEADER[1:]), _model_rows(model))]
    notes = [
        f"`{setting}` must name a transactional message: {reason}."
        for setting, reason in model.transactional_only.items()
    ]
    if model.frequency_cap_setting:
        notes.append(
            f"`{model.frequency_cap_setting}` is a frequency cap: a contact gets at most one of this workflow's "
            "messages within it."
        )
    lines += [f"- {note}" for note in notes] + ([""] if notes else [])
    return lines + [f"Example: [examples/workflows/{name}.yaml](../examples/workflows/{name}.yaml).", ""]


def _model_rows(model: type[BaseModel]) -> list[tuple[str, str, str, str, str]]:
    return [(f"`{key}`", *rest) for key, *rest in setting_rows(model)]  # type: ignore[misc]


def message_section() -> list[str]:
    _same(MESSAGE_FILE, files.MESSAGE_FILE_FIELDS, "message file fields")
    _same(VARIANT, files.VARIANT_FIELDS, "variant fields")
    _same(PURPOSES, Purpose, "message purposes")
    _same(WHEN_EXHAUSTED, WhenExhausted, "when_exhausted values")
    model_name = {"store": "store_id", "message": "message_id", "fallback_language": "default_language"}
    rows = []
    for name, meaning in MESSAGE_FILE.items():
        field = Message.model_fields[model_name.get(name, name)]
        default = "" if field.is_required() else _default_text(field.default, False)
        rows.append((f"`{name}`", "required" if field.is_required() else "", default, meaning))
    lines = ["## Message files", "", "`storeflows messages apply FILE.yaml ...`; one message a file.", ""]
    lines += _table(("field", "required", "default", "meaning"), rows)
    lines += ["Each variant (`variants.<language>`):", ""]
    lines += _table(("field", "meaning"), [(f"`{name}`", meaning) for name, meaning in VARIANT.items()])
    lines += ["Every variant needs a subject and both bodies (inline or from a file).", ""]
    lines += ["Purposes:", ""]
    lines += _table(("purpose", "meaning"), [(f"`{purpose.value}`", words) for purpose, words in PURPOSES.items()])
    lines += ["An inline `sender`:", "", *_table(SETTING_HEADER, _model_rows(Sender))]
    for model, example in (
        (StaticCoupon, "one code for everyone: `coupon: {type: static, code: SPRING10}`"),
        (DynamicCoupon, "a unique code per email: `coupon: {type: dynamic, pool: spring-2026}`"),
    ):
        lines += [f"A coupon of `type: {model.model_fields['type'].default}`, {example}", ""]
        lines += _table(SETTING_HEADER, _model_rows(model))
    lines += _table(
        ("`when_exhausted`", "meaning"), [(f"`{value.value}`", words) for value, words in WHEN_EXHAUSTED.items()]
    )
    return lines


def sender_section() -> list[str]:
    _same(SENDER_FILE, set(files.SENDER_FILE_FIELDS) - set(Sender.model_fields), "sender file fields")
    rows = [(f"`{name}`", "required", "", "text", meaning) for name, meaning in SENDER_FILE.items()]
    rows += _model_rows(Sender)
    return [
        "## Sender files",
        "",
        "`storeflows senders apply FILE.yaml ...`; one sender profile a file, named by messages.",
        "",
        *_table(SETTING_HEADER, rows),
    ]


def context_fields() -> dict[str, set[str]]:
    """The names a message template sees and the fields of each, from message_context itself."""
    order = Order.model_validate({"id": "1001", "total": "129.90", "currency": "EUR", "items": [{"sku": "X"}]})
    context = message_context(
        Store(store_id="demo", unsubscribe_key="k"),
        Contact(store_id="demo", email="ana@example.com"),
        SubjectView.of_order(order),
        "https://example.test/unsubscribe",
        {"code": "SPRING10"},
    )
    # What other kinds of run show their messages (each template's sample subjects), and the
    # sign-up confirmation.
    for view in [
        *(view for cls in TEMPLATES.values() for view in cls.sample_subjects().values()),
        confirmation_view("https://example.test/subscriptions/confirm", 7),
    ]:
        context.update(view.context)
    found = {name: set(value) if isinstance(value, dict) else set() for name, value in context.items()}
    found["order.items"] = set(context["order"]["items"][0])
    found["wishlist.items"] = set(SAMPLE_WISHLIST.context["wishlist"]["items"][0])
    # A run about a checkout or a cart sees it instead of `order`.
    found["checkout.items"] = found["cart.items"] = set(SAMPLE_BASKET["items"][0])
    if set(LineItem.model_fields) != found["order.items"]:
        raise Drift("the order's items in the context are not its LineItem fields")
    # A run about a site session sees `session` instead of `order`.
    session = sample_session("browse").view(None).context["session"]
    found["session"] = set(session)
    found["session.products"] = set(SAMPLE_PRODUCTS[0])
    return found


def context_section() -> list[str]:
    found = context_fields()
    _same(CONTEXT, found, "message template context names")
    for name, (_, fields) in CONTEXT.items():
        if name not in ("bestsellers", "product"):  # computed when a template asks: tests/functions check them
            _same(fields, found[name], f"fields of {name}")
    lines = [
        "## What a message template can use",
        "",
        "Subjects and bodies are Jinja2, rendered in a sandbox with undefined names refused (a typo fails the "
        'send instead of mailing "Hi ,"); the HTML body is autoescaped. Fields read as `order.items` or '
        '`order["items"]` alike. Filter `money(currency)`: `{{ order.total|money(order.currency) }}` shows '
        "`129.90 EUR`.",
        "",
    ]
    for name, (meaning, fields) in CONTEXT.items():
        lines += [f"### `{name}`", "", meaning, ""]
        if fields:
            lines += _table(("field", "meaning"), [(f"`{field}`", words) for field, words in fields.items()])
    return lines


def render() -> str:
    lines = [
        "# Storeflows reference",
        "",
        "<!-- Generated by `make reference` (local/storeflows_cli/reference.py) from the code: do not edit. -->",
        "",
        "Every workflow template's settings, the workflow, message and sender file formats, and what a message "
        "template can use. How it all fits together: the [README](../README.md).",
        "",
        "## Workflow files",
        "",
        "`storeflows workflows apply FILE.yaml ...`; one workflow a file.",
        "",
        *_table(("field", "meaning"), [(f"`{name}`", words) for name, words in WORKFLOW_FILE.items()]),
        "**Durations** are written with their unit: `10d`, `12h`, `30m`, `45s` (from `0s` to `365d`). A number "
        "without its unit is refused, naming the setting. A **message id** names one of the store's messages "
        "(letters, digits, `-` and `_`, at most 64); a **tag** is letters, digits and `_:.-`, at most 64.",
        "",
        "## Workflow templates",
        "",
    ]
    _same(WORKFLOW_FILE, files.WORKFLOW_FILE_FIELDS, "workflow file fields")
    for name, model in TEMPLATES.items():
        lines += template_section(name, model)
    lines += message_section() + sender_section() + context_section()
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storeflows_cli.reference", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the file differs from what the code says")
    parser.add_argument("path", nargs="?", type=Path, default=REFERENCE)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not args.path.is_file() or args.path.read_text("utf-8") != text:
            print(f"{args.path} is out of date: run make reference", file=sys.stderr)
            return 1
        return 0
    args.path.parent.mkdir(parents=True, exist_ok=True)
    args.path.write_text(text, "utf-8")
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
