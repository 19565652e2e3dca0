"""What the `storeflows` admin CLI does, as domain code: workflow, message and sender files,
the checks before publishing, the lifecycle draft → published → paused, in-flight counts,
stores and their secrets, previews, test sends, contact exports, and data protection (one
contact's data exported or erased, data requests answered: storeflows.privacy).

Operator tooling: no Lambda function imports this module. DynamoDB goes through
storeflows.storage. PyYAML is a developer dependency, not in the layer, so it is imported only
where a file is read.

Publishing never changes a run in flight: the dispatcher snapshots a workflow's settings
into each run's input. Messages are read when a run sends, so a message applied today is
what every later send of every run uses; so is a sender profile a message names."""

from __future__ import annotations

import csv
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from jinja2 import Environment, TemplateSyntaxError
from pydantic import ValidationError

from storeflows import privacy
from storeflows.storage import contacts, messages, sends, stores, workflows
from storeflows.storage import privacy as privacy_store
from storeflows.config import require, settings
from storeflows.errors import MessageRenderError, StoreflowsError, UnknownMessage, UnknownSender
from storeflows.messaging import ses
from storeflows.messaging.mail import build_mime_message, unsubscribe_headers
from storeflows.events.common import Order
from storeflows.records import (
    SENDER_ID_PATTERN, Attribution, Contact, DataRequestRecord, DynamicCoupon, Message, Purpose, Sender, SenderProfile,
    StaticCoupon, Store, WhenExhausted, is_store_id, within_identity,
)
from storeflows.messaging.rendering import RenderedMessage, render_message
from storeflows.events.subjects import OrderSubject
from storeflows.intake.signatures import generate_standard_webhooks_secret, sign_standard_webhook
from storeflows.messaging.unsubscribe_links import generate_unsubscribe_key, unsubscribe_url
from storeflows.workflows import Workflow, WorkflowStatus
from storeflows.workflows.publishing import message_references, validate_for_publish
from storeflows.workflows.runs import count_in_flight, state_machines_known
from storeflows.workflows.templates import TEMPLATES, TemplateSettings


class AdminError(StoreflowsError):
    """An operator mistake or a refused action; `detail` fits on one line."""


class InvalidDefinition(AdminError):
    """A workflow or message file is wrong: `problems` has one line per mistake."""

    def __init__(self, source: str, problems: list[str]):
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


class PublishRefused(AdminError):
    """validate_for_publish found problems; nothing was published."""

    def __init__(self, workflow: Workflow, problems: list[str]):
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"workflow {workflow.workflow_id} of store {workflow.store_id} not published: {count}")
        self.problems = problems


# --- templates ------------------------------------------------------------------------------

def templates() -> dict[str, type[TemplateSettings]]:
    """Template name -> settings class (the registry, storeflows.workflows.templates)."""
    return dict(TEMPLATES)


def template_description(settings_class: type[TemplateSettings]) -> str:
    return settings_class.description


# --- files ----------------------------------------------------------------------------------

WORKFLOW_FILE_FIELDS = ("store", "workflow", "template", "settings")
MESSAGE_FILE_FIELDS = ("store", "message", "purpose", "sender", "fallback_language", "variants", "coupon")
SENDER_FILE_FIELDS = ("store", "sender", "name", "address", "reply_to")
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


def validation_problems(err: ValidationError, *, rename: Mapping[str, str] = {}, drop: Mapping[str, str] = {}) -> list[str]:
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
    known = templates()
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
        problems.append(f"settings.template: {settings_['template']!r} differs from template {template!r} (leave it out)")
    elif template in known:
        # Checked even when the store or id is wrong, so one run lists every mistake.
        try:
            workflow = Workflow(
                store_id=store_id if not problems else "x",
                workflow_id=str(data.get("workflow") or "x"),
                status=WorkflowStatus.DRAFT,
                settings={**settings_, "template": template},
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
    variants: dict[str, dict[str, str]] = {}
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
        unknown = sorted(set(variant) - {"subject", "html", "html_file", "text", "text_file"})
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
                    problems.append(f"{path}.{part}_file: cannot read {file_name} ({getattr(err, 'strerror', None) or err})")
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
        problems.append(f"fallback_language: {fallback!r} has no variant (variants: {', '.join(map(str, variants_in))})")
    # The other fields are checked even when the variants are wrong (a stand-in variant then),
    # so one run lists every mistake.
    stand_in = {"subject": "x", "html": "x", "text": "x"}
    sender = _file_sender(data.get("sender"), problems)
    given = {name: data[field] for field, name in (("message", "message_id"), ("purpose", "purpose"),
                                                   ("coupon", "coupon"))
             if data.get(field) is not None}
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
            err, rename={"store_id": "store", "message_id": "message", "default_language": "fallback_language"},
            drop={"coupon": coupon.get("type")} if isinstance(coupon, dict) else {},
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
        problems.append("sender: required (a sender profile id like shop-team, or name, address and reply_to)"
                        if value is None else
                        f"sender: {value!r} is neither a sender profile id (letters, digits, - and _) nor name, "
                        "address and reply_to")
        return None
    found = _address_problems(value, "sender.")
    try:
        sender = Sender.model_validate(value)
    except ValidationError as err:
        found += [f"sender.{line}" for line in validation_problems(err)]
    problems += found
    return None if found else sender


def _address_problems(fields: Mapping[str, Any], prefix: str = "") -> list[str]:
    return [f"{prefix}{name}: {fields[name]!r} is not an email address" for name in ("address", "reply_to")
            if fields.get(name) is not None and not _ADDRESS.fullmatch(str(fields[name]))]


def load_sender_yaml(text: str, *, source: str = "sender file", store: str | None = None) -> SenderProfile:
    """A sender file (store, sender, name, address, reply_to) as a SenderProfile; `store`
    overrides the file's store. Raises InvalidDefinition listing every mistake."""
    data = _yaml_mapping(text, source, SENDER_FILE_FIELDS)
    store_id = store or data.get("store")
    problems = _store_id_problems(store_id) + _address_problems(data)
    try:
        profile = SenderProfile(store_id=store_id if not problems else "x",
                                **{("sender_id" if name == "sender" else name): value
                                   for name, value in data.items() if name != "store" and value is not None})
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


# sending loads Powertools and the X-Ray SDK (half a second), which most commands never need:
# imported on first use.

def _message_context(*args: Any) -> dict[str, Any]:
    from storeflows.messaging.sending import message_context

    return message_context(*args)


# --- lifecycle --------------------------------------------------------------------------------

def require_store(store_id: str) -> Store:
    store = stores.get_store(store_id) if is_store_id(store_id) else None
    if store is None:
        raise AdminError(f"no store {store_id!r} (create it with: storeflows stores create {store_id} --platform ...)")
    return store


def require_workflow(store_id: str, workflow_id: str) -> Workflow:
    require_store(store_id)
    workflow = workflows.get_workflow(store_id, workflow_id)
    if workflow is None:
        raise AdminError(f"no workflow {workflow_id!r} in store {store_id}")
    return workflow


def apply_workflow(workflow: Workflow) -> tuple[Workflow, Workflow | None]:
    """Saves the settings as a draft with the next version; returns (saved, previous). A
    published workflow becomes a draft and starts no runs until published again; its runs
    in flight keep the settings they started with."""
    require_store(workflow.store_id)
    previous = workflows.get_workflow(workflow.store_id, workflow.workflow_id)
    saved = workflow.model_copy(update={
        "status": WorkflowStatus.DRAFT,
        "version": previous.version + 1 if previous else 1,
    })
    workflows.put_workflow(saved)
    return saved, previous


def check_workflow(store_id: str, workflow_id: str) -> tuple[Workflow, list[str]]:
    workflow = require_workflow(store_id, workflow_id)
    return workflow, validate_for_publish(workflow, messages.list_messages(store_id), messages.list_senders(store_id))


def publish_workflow(store_id: str, workflow_id: str) -> Workflow:
    """Publishes the version that passed validate_for_publish, or raises PublishRefused."""
    workflow, problems = check_workflow(store_id, workflow_id)
    if problems:
        raise PublishRefused(workflow, problems)
    return _set_status(workflow, WorkflowStatus.PUBLISHED)


def pause_workflow(store_id: str, workflow_id: str) -> Workflow:
    """A paused workflow starts no runs; runs in flight go on. Publish resumes it."""
    workflow = require_workflow(store_id, workflow_id)
    if workflow.status is WorkflowStatus.DRAFT:
        raise AdminError(f"workflow {workflow_id} is a draft: it starts no runs until it is published")
    return _set_status(workflow, WorkflowStatus.PAUSED)


def _set_status(workflow: Workflow, status: WorkflowStatus) -> Workflow:
    if not workflows.set_workflow_status(workflow.store_id, workflow.workflow_id, status.value, version=workflow.version):
        raise AdminError(f"workflow {workflow.workflow_id} changed meanwhile (another apply?): check it and try again")
    return workflow.model_copy(update={"status": status})


def workflow_status(store_id: str, workflow_id: str | None = None) -> list[dict[str, Any]]:
    """Status, version, template and runs in flight (None when the template's state machine
    is not known to this environment) of one or every workflow of a store."""
    require_store(store_id)
    found = [require_workflow(store_id, workflow_id)] if workflow_id else workflows.list_workflows(store_id)
    rows = []
    for workflow in sorted(found, key=lambda item: item.workflow_id):
        rows.append({
            "store": workflow.store_id,
            "workflow": workflow.workflow_id,
            "template": workflow.template,
            "status": workflow.status.value,
            "version": workflow.version,
            "in_flight": count_in_flight(workflow) if state_machines_known() else None,
        })
    return rows


# --- stores -------------------------------------------------------------------------------------

PLATFORM_SECRET_FIELDS = {"shopify": "shopify_secret", "api": "webhook_secret", "woocommerce": "woocommerce_secret"}


def _secret_field(platform: str) -> str:
    field = PLATFORM_SECRET_FIELDS.get(platform)
    if field is None:
        raise AdminError(f"unknown platform {platform!r}; one of: {', '.join(PLATFORM_SECRET_FIELDS)}")
    return field


def _platform_secret(platform: str, secret: str | None) -> str:
    if secret is None:
        return generate_standard_webhooks_secret() if platform == "api" else secrets.token_urlsafe(32)
    if not secret or any(ch.isspace() for ch in secret):
        raise AdminError("the secret must not be empty or contain spaces")
    if platform == "api":
        try:
            sign_standard_webhook(secret, "msg_check", 0, b"")
        except ValueError:
            raise AdminError("an event API secret is whsec_ followed by base64 (omit --secret to generate one)") from None
    return secret


def store_platforms(store: Store) -> list[str]:
    return [platform for platform, field in PLATFORM_SECRET_FIELDS.items() if getattr(store, field)]


def create_store(store_id: str, platform: str, *, secret: str | None = None, name: str = "") -> tuple[Store, str]:
    """A new store with one platform's secret (generated unless given) and its own
    unsubscribe signing key. Returns the store and the secret, to be shown once."""
    problems = _store_id_problems(store_id)
    if problems:
        raise AdminError(problems[0])
    field = _secret_field(platform)
    value = _platform_secret(platform, secret)
    store = Store(store_id=store_id, name=name, unsubscribe_key=generate_unsubscribe_key(), **{field: value})
    if not stores.create_store(store):
        raise AdminError(f"store {store_id} exists (set a platform's secret with: storeflows stores rotate-secret {store_id})")
    return store, value


def rotate_secret(store_id: str, platform: str, *, secret: str | None = None) -> tuple[Store, str]:
    """Sets (or replaces) one platform's secret; requests signed with the old one are refused
    from now on, so update the store's side at the same time."""
    field = _secret_field(platform)
    require_store(store_id)
    value = _platform_secret(platform, secret)
    updated = stores.set_store_secret(store_id, field, value)
    if updated is None:
        raise AdminError(f"store {store_id} was removed meanwhile")
    return updated, value


def set_attribution(store_id: str, *, click_window: str | None = None, open_window: str | None = None,
                    count_opens: bool | None = None) -> Store:
    """Changes the store's revenue attribution windows (those given); returns the store with
    the windows now in force. Purchases accepted from now on use them."""
    store = require_store(store_id)
    changes = {name: value for name, value in (("click_window", click_window), ("open_window", open_window),
                                               ("count_opens", count_opens)) if value is not None}
    if not changes:
        return store
    try:
        attribution = Attribution.model_validate({**store.attribution.model_dump(), **changes})
    except ValidationError as err:
        raise AdminError("; ".join(validation_problems(err))) from None
    stores.set_store_attribution(store_id, attribution)
    return store.model_copy(update={"attribution": attribution})


# --- messages -----------------------------------------------------------------------------------

def sender_problems(sender: Sender, field: str) -> list[str]:
    """SES sends only From the stack's verified identity (the SenderIdentity parameter)."""
    identity = require("sender_identity")
    if within_identity(sender.address, identity):
        return []
    return [f"{field}: {sender.address} does not belong to the SES identity {identity} this stack sends from"]


def message_sender_problems(message: Message) -> list[str]:
    """What stops the message's sender from working: a sender profile the store does not
    have, or an inline From outside the SES identity."""
    if isinstance(message.sender, Sender):
        return sender_problems(message.sender, "sender.address")
    if messages.get_sender(message.store_id, message.sender) is None:
        return [f"sender: no sender profile {message.sender!r} in store {message.store_id} "
                f"(storeflows senders apply FILE.yaml)"]
    return []


def apply_sender(profile: SenderProfile) -> tuple[SenderProfile, list[str]]:
    """Saves the sender profile; returns it with the ids of the messages naming it (each of
    their later sends comes from it, also in runs in flight)."""
    require_store(profile.store_id)
    problems = sender_problems(profile, "address")
    if problems:
        raise InvalidDefinition(f"sender {profile.sender_id}", problems)
    messages.put_sender(profile)
    return profile, _named_by(messages.list_messages(profile.store_id), profile.sender_id)


def delete_sender(store_id: str, sender_id: str) -> None:
    """Deletes a sender profile no message names: a message naming a missing profile would
    fail every send of it (UnknownSender), so one still in use is refused, with its users."""
    require_store(store_id)
    users = _named_by(messages.list_messages(store_id), sender_id)
    if users:
        raise AdminError(f"sender {sender_id} is named by messages {', '.join(users)} of store {store_id}: point them "
                         f"at another sender first (storeflows messages apply FILE.yaml)")
    if not messages.delete_sender(store_id, sender_id):
        raise AdminError(f"store {store_id} has no sender profile {sender_id}")


def list_senders(store_id: str) -> list[dict[str, Any]]:
    """The store's sender profiles and the messages naming each."""
    require_store(store_id)
    store_messages = messages.list_messages(store_id)
    return [
        {"store": store_id, "sender": profile.sender_id, "name": profile.name, "address": profile.address,
         "reply_to": profile.reply_to,
         "used_by": _named_by(store_messages, profile.sender_id)}
        for profile in sorted(messages.list_senders(store_id), key=lambda profile: profile.sender_id)
    ]


def _named_by(messages: Iterable[Message], sender_id: str) -> list[str]:
    return sorted(message.message_id for message in messages if message.sender == sender_id)


def apply_message(message: Message) -> tuple[Message, list[str]]:
    """Saves the message, unless its sender cannot send (InvalidDefinition); returns it with
    the ids of the published workflows using it (their runs, also those in flight, send the
    new content from now on)."""
    require_store(message.store_id)
    problems = message_sender_problems(message)
    if problems:
        raise InvalidDefinition(f"message {message.message_id}", problems)
    messages.put_message(message)
    users = [
        workflow.workflow_id
        for workflow in workflows.list_workflows(message.store_id)
        if workflow.status is WorkflowStatus.PUBLISHED
        and any(message_id == message.message_id for _, message_id in message_references(workflow.settings))
    ]
    return message, sorted(users)


@dataclass(frozen=True)
class Preview:
    message: Message
    sender: Sender
    rendered: RenderedMessage
    language: str
    contact: Contact
    order: Order
    sample_contact: bool
    sample_order: bool
    unsubscribe_link: str | None
    # What would go wrong in a real send, e.g. a template that needs a code its pool may not have.
    warnings: tuple[str, ...] = ()


SAMPLE_COUPON_CODE = "SAMPLE-COUPON-CODE"
SAMPLE_ORDER = Order(
    id="SAMPLE-1001", total=Decimal("129.90"), currency="EUR",
    items=[{"sku": "SAMPLE-SKU", "name": "Sample product", "category": "sample", "quantity": 1, "price": "129.90"}],
)


def preview_message(store_id: str, message_id: str, *, email: str, order_id: str | None = None,
                    language: str | None = None) -> Preview:
    """Renders a message as a send would for `email` and one of their recorded orders (the
    given one, else the latest), with sample data for what is not on record. The
    unsubscribe link of a marketing message is a placeholder that unsubscribes no one, and a
    dynamic coupon shows a stand-in code (no code is taken from the pool). A message that
    sends without its coupon once the pool runs out is also rendered without one: if that
    fails, a warning says so."""
    store = require_store(store_id)
    try:
        message = messages.get_message(store_id, message_id)
    except UnknownMessage:
        raise AdminError(f"no message {message_id!r} in store {store_id}") from None
    try:
        sender = messages.message_sender(message)
    except UnknownSender as err:
        raise AdminError(f"{err.detail} (storeflows senders apply FILE.yaml)") from None
    email = email.strip().lower()
    contact = contacts.get_contact(store_id, email)
    sample_contact = contact is None
    if contact is None:
        contact = Contact(store_id=store_id, email=email, first_name="Alex", last_name="Sample", language=language)
    order, sample_order = _order_for_preview(store_id, contact, order_id, known=not sample_contact)
    used_language, content = message.content_for(language or contact.language)
    link = None
    if message.purpose is Purpose.MARKETING:
        link = unsubscribe_url(settings().public_api_url or "https://unsubscribe.invalid", "preview-only")
    # A dynamic coupon is not claimed for a preview: a stand-in code shows where it goes.
    coupon = None
    if message.coupon is not None:
        coupon = {"code": message.coupon.code if isinstance(message.coupon, StaticCoupon) else SAMPLE_COUPON_CODE}
    try:
        rendered = render_message(content, _message_context(store, contact, OrderSubject(order=order), link, coupon))
    except MessageRenderError as err:
        raise AdminError(f"message {message_id} ({used_language}) does not render: {err.detail}") from None
    warnings = []
    if isinstance(message.coupon, DynamicCoupon) and message.coupon.when_exhausted is WhenExhausted.SEND_WITHOUT_COUPON:
        try:
            render_message(content, _message_context(store, contact, OrderSubject(order=order), link, None))
        except MessageRenderError as err:
            warnings.append(f"once pool {message.coupon.pool} runs out, the {used_language} variant does not render "
                            f"and its sends fail ({err.detail}): show the code inside {{% if coupon %}}…{{% endif %}}")
    return Preview(message, sender, rendered, used_language, contact, order, sample_contact, sample_order, link,
                   tuple(warnings))


def _order_for_preview(store_id: str, contact: Contact, order_id: str | None, *, known: bool) -> tuple[Order, bool]:
    recorded = recorded_orders(store_id, contact.email) if known else []
    if order_id is not None:
        for item in recorded:
            if item["order_id"] == order_id:
                return _order(item), False
        ids = ", ".join(item["order_id"] for item in recorded) or "none"
        raise AdminError(f"contact {contact.email} has no order {order_id!r} in store {store_id} (recorded: {ids})")
    if recorded:
        return _order(max(recorded, key=lambda item: item.get("occurred_at", ""))), False
    return SAMPLE_ORDER, True


def _order(item: dict[str, Any]) -> Order:
    return Order.model_validate({"id": item["order_id"], "total": item["total"], "currency": item["currency"],
                                 "items": item.get("items", [])})


def send_test(store_id: str, message_id: str, *, to: str, email: str | None = None, order_id: str | None = None,
              language: str | None = None) -> dict[str, Any]:
    """Renders like preview_message (for contact `email`, else `to`) and sends it to `to`
    through SES with the stack's configuration set, subject prefixed "[TEST] ". Recorded on
    no contact; consent, unsubscribes and suppression are not consulted."""
    preview = preview_message(store_id, message_id, email=email or to, order_id=order_id, language=language)
    rendered = RenderedMessage(subject=f"[TEST] {preview.rendered.subject}", html=preview.rendered.html,
                               text=preview.rendered.text)
    sender = preview.sender
    try:
        raw = build_mime_message(
            sender_name=sender.name, sender_address=sender.address, to_address=to, reply_to=sender.reply_to,
            rendered=rendered,
            extra_headers=unsubscribe_headers(preview.unsubscribe_link) if preview.unsubscribe_link else {},
        )
    except ValueError as err:
        raise AdminError(f"cannot build the message: {err}") from None
    ses_message_id = ses.send_raw(raw, sender=sender.address, recipient=to,
                                  tags=ses.tags_of_test_send(store_id=store_id, message_id=message_id))
    return {"ses_message_id": ses_message_id, "to": to, "subject": rendered.subject, "language": preview.language,
            "sample_contact": preview.sample_contact, "sample_order": preview.sample_order}


# --- contacts -----------------------------------------------------------------------------------

def recorded_orders(store_id: str, email: str) -> list[dict[str, Any]]:
    return [item for item in contacts.contact_history(store_id, email) if item["sk"].startswith("ORDER#")]


def contact_summary(store_id: str, email: str) -> dict[str, Any]:
    """Profile, tags, score, consent, orders and the workflows the contact is in right now."""
    require_store(store_id)
    email = email.strip().lower()
    contact = contacts.get_contact(store_id, email)
    if contact is None:
        erased = privacy_store.get_suppression(store_id, email)
        raise AdminError(f"no contact {email} in store {store_id}" + (f" (erased {erased.erased_at})" if erased else ""))
    may_market, why_not = contact.may_receive(Purpose.MARKETING)
    return {
        **contact.model_dump(mode="json"),
        "tags": sorted(contact.tags),
        "marketing_allowed": may_market,
        "marketing_blocked_by": why_not,
        "orders": [
            {"order_id": item["order_id"], "total": str(item["total"]), "currency": item["currency"],
             "occurred_at": item.get("occurred_at"), "delivered_at": item.get("delivered_at")}
            for item in sorted(recorded_orders(store_id, email), key=lambda item: item.get("occurred_at", ""))
        ],
        "in_workflows": sends.active_runs(store_id, email),
    }


def export_contacts(store_id: str, *, not_in_workflow: str | None = None, tags: Iterable[str] = (),
                    min_score: int | None = None, consent_only: bool = False) -> Iterator[Contact]:
    """The store's contacts that match every filter. Scans the whole table (see
    contacts.scan_contacts) plus one Query per contact when `not_in_workflow` is given."""
    require_store(store_id)
    if not_in_workflow is not None:
        require_workflow(store_id, not_in_workflow)
    wanted = set(tags)
    for contact in contacts.scan_contacts(store_id):
        if not wanted <= contact.tags:
            continue
        if min_score is not None and contact.score < min_score:
            continue
        if consent_only and not contact.may_receive(Purpose.MARKETING)[0]:
            continue
        if not_in_workflow is not None and any(
            run["workflow_id"] == not_in_workflow for run in sends.active_runs(store_id, contact.email)
        ):
            continue
        yield contact


CSV_COLUMNS = ("email", "first_name", "last_name", "language", "country", "tags", "score", "orders_count",
               "total_spent", "marketing_consent", "unsubscribed", "last_order_at")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """Text a spreadsheet will not run: customer-typed names starting with = + - @ get a
    leading apostrophe (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def write_contacts_csv(contacts: Iterable[Contact], stream: IO[str]) -> int:
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for contact in contacts:
        writer.writerow([
            _cell(contact.email), _cell(contact.first_name), _cell(contact.last_name), _cell(contact.language),
            _cell(contact.country), _cell(" ".join(sorted(contact.tags))), contact.score, contact.orders_count,
            contact.total_spent, "yes" if contact.consent and contact.consent.marketing else "no",
            "yes" if contact.unsubscribed_at else "no",
            contact.last_order_at.isoformat() if contact.last_order_at else "",
        ])
        count += 1
    return count


# --- data protection (storeflows.privacy) -------------------------------------------------------

ERASED_VIA = "storeflows contacts delete"


def contact_data(store_id: str, email: str) -> dict[str, Any]:
    """Everything held about one contact (privacy.export_contact); the export says so when
    nothing is held."""
    require_store(store_id)
    return privacy.export_contact(store_id, email.strip().lower())


def held_items(export: dict[str, Any]) -> int:
    """How many items an export shows: the profile, every record and data request."""
    return ((export["profile"] is not None) + sum(len(items) for items in export["records"].values())
            + len(export["data_requests"]))


def erase_contact(store_id: str, email: str) -> privacy.Erasure:
    """Stops the contact's runs in flight and erases their data, keeping only the suppression
    record (privacy.erase_contact)."""
    require_store(store_id)
    return privacy.erase_contact(store_id, email.strip().lower(), via=ERASED_VIA)


def data_requests(store_id: str) -> list[DataRequestRecord]:
    """The store's data requests, oldest first, answered ones included (answered_at says when)."""
    require_store(store_id)
    return sorted(privacy_store.list_data_requests(store_id), key=lambda request: request.received_at)


def data_request_export(store_id: str, request_id: str) -> tuple[DataRequestRecord, dict[str, Any]]:
    """The export answering one data request, made now. Mark it answered once it is handed on
    (mark_data_request_answered)."""
    require_store(store_id)
    found = privacy.data_request_export(store_id, request_id)
    if found is None:
        raise AdminError(f"no data request {request_id!r} in store {store_id} (list them: storeflows contacts "
                         f"data-requests {store_id})")
    return found


def mark_data_request_answered(store_id: str, request_id: str) -> None:
    privacy_store.mark_data_request_answered(store_id, request_id)
