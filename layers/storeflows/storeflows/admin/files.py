"""Workflow, message and sender files (YAML) read into their records, every mistake listed at
once with the file's own field names. Only reads and checks: nothing is saved here."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, TemplateSyntaxError
from pydantic import BaseModel, ValidationError

from storeflows.admin.errors import InvalidDefinition
from storeflows.fields import WRITTEN, duration_text, is_duration
from storeflows.records import SENDER_ID_PATTERN, Message, Sender, SenderProfile, is_store_id
from storeflows.workflows import Workflow, WorkflowStatus
from storeflows.workflows.templates import TEMPLATES

WORKFLOW_FILE_FIELDS = ("store", "workflow", "template", "settings")
MESSAGE_FILE_FIELDS = ("store", "message", "purpose", "sender", "fallback_language", "variants", "coupon")
SENDER_FILE_FIELDS = ("store", "sender", "name", "address", "reply_to")
VARIANT_FIELDS = ("subject", "html", "html_file", "text", "text_file")
_LANGUAGE_KEY = re.compile(r"^[a-z]{2,3}$")
_ADDRESS = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")
_SYNTAX = Environment()


def _yaml_mapping(text: str, source: str, fields: tuple[str, ...]) -> dict[str, Any]:
    import yaml  # operator dependency (requirements-dev.txt), not in the Lambda layer

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise InvalidDefinition(source, [f"{where}not valid YAML ({getattr(err, 'problem', None) or err})"]) from None
    if not isinstance(data, dict):
        raise InvalidDefinition(source, [f"expected a mapping with {', '.join(fields)}"])
    unknown = [f"{name}: unknown field (expected {', '.join(fields)})" for name in data if name not in fields]
    if unknown:
        raise InvalidDefinition(source, unknown)
    return data


def validation_problems(
    err: ValidationError, *, rename: Mapping[str, str] = {}, drop: Mapping[str, str] = {}
) -> list[str]:
    """One "field.path: message" line per failing field, with the model's field names
    renamed to the file's (`rename`) and a union's tag dropped after a field (`drop`:
    "settings" -> "care_series" turns settings.care_series.x into settings.x)."""
    lines = []
    for error in err.errors():
        loc = [str(part) for part in error["loc"]]
        if loc and loc[0] in rename:
            loc[0] = rename[loc[0]]
        if len(loc) > 1 and drop.get(loc[0]) == loc[1]:
            del loc[1]
        if error["type"] == "missing":
            message = "required"
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "string_pattern_mismatch":
            message = f"{error['input']!r} has characters that are not allowed here"
        else:
            message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{'.'.join(loc)}: {message}" if loc else message)
    return lines


def load_workflow_yaml(text: str, *, source: str = "workflow file", store: str | None = None) -> Workflow:
    """A workflow file (store, workflow, template, settings) as a draft Workflow; `store`
    overrides the file's store. Raises InvalidDefinition listing every mistake."""
    data = _yaml_mapping(text, source, WORKFLOW_FILE_FIELDS)
    problems = []
    store_id = store or data.get("store")
    problems += _store_id_problems(store_id)
    if not data.get("workflow"):
        problems.append("workflow: required (an id of letters, digits, - and _)")
    # The registry itself (admin.workflows.templates() copies it): that module imports this one
    # through admin.stores, so it cannot be imported here.
    known = TEMPLATES
    template = data.get("template")
    if not template:
        problems.append(f"template: required, one of: {', '.join(known)}")
    elif template not in known:
        problems.append(f"template: no template {template!r}; one of: {', '.join(known)}")
    settings_ = data.get("settings")
    if settings_ is None:
        settings_ = {}
    if not isinstance(settings_, dict):
        problems.append("settings: expected a mapping of setting: value")
    elif settings_.get("template", template) != template:
        problems.append(
            f"settings.template: {settings_['template']!r} differs from template {template!r} (leave it out)"
        )
    elif template in known:
        # Checked even when the store or id is wrong, so one run lists every mistake.
        try:
            # Written by a person: durations need their unit (fields.WRITTEN).
            workflow = Workflow.model_validate(
                {
                    "store_id": store_id if not problems else "x",
                    "workflow_id": str(data.get("workflow") or "x"),
                    "status": WorkflowStatus.DRAFT,
                    "settings": {**settings_, "template": template},
                },
                context=WRITTEN,
            )
        except ValidationError as err:
            problems += validation_problems(
                err, rename={"store_id": "store", "workflow_id": "workflow"}, drop={"settings": template}
            )
        else:
            if not problems:
                return workflow
    raise InvalidDefinition(source, problems)


def load_message_yaml(text: str, *, base_dir: Path, source: str = "message file", store: str | None = None) -> Message:
    """A message file as a Message. `html_file`/`text_file` are read relative to `base_dir`
    (the file's folder); every template is checked for Jinja2 syntax errors. Raises
    InvalidDefinition listing every mistake."""
    data = _yaml_mapping(text, source, MESSAGE_FILE_FIELDS)
    problems = []
    store_id = store or data.get("store")
    problems += _store_id_problems(store_id)
    fallback = data.get("fallback_language", "en")
    variants_in = data.get("variants")
    variants: dict[str, dict[str, Any]] = {}
    if not isinstance(variants_in, dict) or not variants_in:
        problems.append("variants: required, e.g. en: {subject: ..., html_file: ..., text_file: ...}")
        variants_in = {}
    for language, variant in variants_in.items():
        path = f"variants.{language}"
        if not _LANGUAGE_KEY.fullmatch(str(language)):
            problems.append(f"{path}: a language is a lower-case code like en, pl or it")
            continue
        if not isinstance(variant, dict):
            problems.append(f"{path}: expected subject, html or html_file, text or text_file")
            continue
        unknown = sorted(set(variant) - set(VARIANT_FIELDS))
        problems += [f"{path}.{name}: unknown field" for name in unknown]
        content = {"subject": variant.get("subject")}
        if not content["subject"]:
            problems.append(f"{path}.subject: required")
        for part in ("html", "text"):
            inline, file_name = variant.get(part), variant.get(f"{part}_file")
            if inline is not None and file_name is not None:
                problems.append(f"{path}: give {part} or {part}_file, not both")
            elif file_name is not None:
                try:
                    content[part] = (base_dir / str(file_name)).read_text("utf-8")
                except (OSError, UnicodeDecodeError) as err:
                    problems.append(
                        f"{path}.{part}_file: cannot read {file_name} ({getattr(err, 'strerror', None) or err})"
                    )
            elif inline is not None:
                content[part] = str(inline)
            else:
                problems.append(f"{path}.{part}: required ({part} or {part}_file)")
        for part, source_text in content.items():
            try:
                if source_text:
                    _SYNTAX.parse(str(source_text))
            except TemplateSyntaxError as err:
                problems.append(f"{path}.{part}: line {err.lineno}: {err.message}")
        variants[language] = content
    if variants_in and fallback not in variants_in:
        problems.append(
            f"fallback_language: {fallback!r} has no variant (variants: {', '.join(map(str, variants_in))})"
        )
    # The other fields are checked even when the variants are wrong (a stand-in variant then),
    # so one run lists every mistake.
    stand_in = {"subject": "x", "html": "x", "text": "x"}
    sender = _file_sender(data.get("sender"), problems)
    given = {
        name: data[field]
        for field, name in (("message", "message_id"), ("purpose", "purpose"), ("coupon", "coupon"))
        if data.get(field) is not None
    }
    try:
        message = Message(
            store_id=store_id if not problems else "x",
            default_language=fallback if not problems else "x",
            variants=variants if not problems else {"x": stand_in},
            sender=sender if sender is not None else "x",
            **given,
        )
    except ValidationError as err:
        coupon = data.get("coupon")
        problems += validation_problems(
            err,
            rename={"store_id": "store", "message_id": "message", "default_language": "fallback_language"},
            drop={"coupon": str(coupon.get("type"))} if isinstance(coupon, dict) else {},
        )
    else:
        if not problems:
            return message
    raise InvalidDefinition(source, problems)


def _file_sender(value: Any, problems: list[str]) -> Sender | str | None:
    """A message file's sender: a sender profile id, or name, address and reply_to inline.
    None (with the reason added to `problems`) when it is neither."""
    if isinstance(value, str) and SENDER_ID_PATTERN.fullmatch(value):
        return value
    if not isinstance(value, dict):
        problems.append(
            "sender: required (a sender profile id like shop-team, or name, address and reply_to)"
            if value is None
            else f"sender: {value!r} is neither a sender profile id (letters, digits, - and _) nor name, "
            "address and reply_to"
        )
        return None
    found = _address_problems(value, "sender.")
    try:
        sender = Sender.model_validate(value)
    except ValidationError as err:
        found += [f"sender.{line}" for line in validation_problems(err)]
    problems += found
    return None if found else sender


def _address_problems(fields: Mapping[str, Any], prefix: str = "") -> list[str]:
    return [
        f"{prefix}{name}: {fields[name]!r} is not an email address"
        for name in ("address", "reply_to")
        if fields.get(name) is not None and not _ADDRESS.fullmatch(str(fields[name]))
    ]


def load_sender_yaml(text: str, *, source: str = "sender file", store: str | None = None) -> SenderProfile:
    """A sender file (store, sender, name, address, reply_to) as a SenderProfile; `store`
    overrides the file's store. Raises InvalidDefinition listing every mistake."""
    data = _yaml_mapping(text, source, SENDER_FILE_FIELDS)
    store_id = store or data.get("store")
    problems = _store_id_problems(store_id) + _address_problems(data)
    try:
        profile = SenderProfile(
            store_id=store_id if not problems else "x",
            **{
                ("sender_id" if name == "sender" else name): value
                for name, value in data.items()
                if name != "store" and value is not None
            },
        )
    except ValidationError as err:
        problems += validation_problems(err, rename={"sender_id": "sender"})
    else:
        if not problems:
            return profile
    raise InvalidDefinition(source, problems)


def _store_id_problems(store_id: Any) -> list[str]:
    if not store_id:
        return ["store: required (a store id like demo)"]
    if not isinstance(store_id, str) or not is_store_id(store_id):
        return [f"store: {store_id!r} is not a store id (lower-case letters, digits and -)"]
    return []


# --- back to a file ---------------------------------------------------------------------------------


def workflow_file_data(workflow: Workflow) -> dict[str, Any]:
    """A workflow as its file holds it (store, workflow, template, settings), durations written
    as 10d, 12h, 30m, 45s: what `workflows show` prints, and `workflows apply` takes back."""
    settings_ = _as_written(workflow.settings)
    settings_.pop("template", None)
    return {
        "store": workflow.store_id,
        "workflow": workflow.workflow_id,
        "template": workflow.template,
        "settings": settings_,
    }


def workflow_yaml(workflow: Workflow) -> str:
    import yaml

    return yaml.safe_dump(workflow_file_data(workflow), sort_keys=False, allow_unicode=True)


def _as_written(model: BaseModel) -> dict[str, Any]:
    written: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        written[name] = duration_text(value) if is_duration(field) and isinstance(value, int) else _plain(value)
    return written


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _as_written(value)
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(item) for item in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def message_file_data(message: Message) -> dict[str, Any]:
    """A message as its file holds it, with every part inline: what `messages show` prints, and
    `messages apply` takes back."""
    sender = message.sender if isinstance(message.sender, str) else message.sender.model_dump(exclude_none=True)
    data: dict[str, Any] = {
        "store": message.store_id,
        "message": message.message_id,
        "purpose": message.purpose.value,
        "sender": sender,
        "fallback_language": message.default_language,
    }
    if message.coupon is not None:
        data["coupon"] = message.coupon.model_dump(mode="json")
    data["variants"] = {
        language: {"subject": content.subject, "html": content.html, "text": content.text}
        for language, content in sorted(message.variants.items())
    }
    return data


def message_yaml(message: Message) -> str:
    import yaml

    return yaml.safe_dump(message_file_data(message), sort_keys=False, allow_unicode=True, width=1000)
