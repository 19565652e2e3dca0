"""Messages: saved once their sender can send, rendered for a preview, sent as a test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storeflows.admin.contacts import recorded_orders
from storeflows.admin.errors import AdminError, InvalidDefinition
from storeflows.admin.stores import require_store
from storeflows.config import require, settings
from storeflows.errors import MessageRenderError, UnknownMessage, UnknownSender
from storeflows.events.common import Order
from storeflows.events.subjects import SAMPLE_ORDER, SubjectView, order_from_record
from storeflows.messaging import ses
from storeflows.messaging.checks import (
    SAMPLE_COUPON_CODE,
    RenderCheck,
    check_rendering,
    check_rendering_for_any,
    coupon_fallback_warning,
    sample_contact,
)
from storeflows.messaging.confirmation import CONFIRMATION_MESSAGE_ID, check_confirmation_message
from storeflows.messaging.context import message_context
from storeflows.messaging.mail import build_mime_message, unsubscribe_headers
from storeflows.messaging.rendering import RenderedMessage, render_message
from storeflows.messaging.unsubscribe_links import unsubscribe_url
from storeflows.records import Contact, Message, Purpose, Sender, StaticCoupon, within_identity
from storeflows.storage import contacts, messages
from storeflows.storage import workflows as workflow_store
from storeflows.workflows import Workflow, WorkflowStatus
from storeflows.workflows.publishing import message_references
from storeflows.workflows.templates import TEMPLATES


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
        return [
            f"sender: no sender profile {message.sender!r} in store {message.store_id} "
            f"(storeflows senders apply FILE.yaml)"
        ]
    return []


@dataclass(frozen=True)
class SavedMessage:
    message: Message
    # The published workflows sending it: their runs, also those in flight, send the new
    # content from now on.
    published_users: list[str]
    # What fails only for some sends (messaging.checks), or is likely a mistake.
    warnings: tuple[str, ...] = ()


def apply_message(message: Message) -> SavedMessage:
    """Saves the message, unless its sender cannot send or a variant does not render for
    a sample contact and the runs that may send it (InvalidDefinition)."""
    render = message_render_check(message)
    problems = message_sender_problems(message) + list(render.problems)
    if problems:
        raise InvalidDefinition(f"message {message.message_id}", problems)
    messages.put_message(message)
    users = [
        workflow.workflow_id for workflow in _workflows_sending(message) if workflow.status is WorkflowStatus.PUBLISHED
    ]
    return SavedMessage(message, sorted(users), render.warnings)


def message_problems(message: Message) -> list[str]:
    """Everything apply_message refuses the message for, to check files before any is saved."""
    return message_sender_problems(message) + list(message_render_check(message).problems)


def message_render_check(message: Message) -> RenderCheck:
    """Every variant rendered as the workflows that send it would (each template's kinds
    of run); for a message no workflow sends yet, as at least one template would."""
    store = require_store(message.store_id)
    if message.message_id == CONFIRMATION_MESSAGE_ID:
        # The store's own sign-up confirmation: sent by the dispatcher, not by a workflow.
        return check_confirmation_message(store, message)
    senders = _workflows_sending(message)
    if not senders:
        return check_rendering_for_any(store, message, {name: cls.sample_subjects() for name, cls in TEMPLATES.items()})
    subjects = {kind: view for workflow in senders for kind, view in type(workflow.settings).sample_subjects().items()}
    return check_rendering(store, message, subjects)


def _workflows_sending(message: Message) -> list[Workflow]:
    """The workflows naming the message: live versions and drafts."""
    store_id = message.store_id
    return [
        workflow
        for workflow in [*workflow_store.list_workflows(store_id), *workflow_store.list_drafts(store_id)]
        if any(message_id == message.message_id for _, message_id in message_references(workflow.settings))
    ]


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


def preview_message(
    store_id: str, message_id: str, *, email: str, order_id: str | None = None, language: str | None = None
) -> Preview:
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
    on_record = contact is not None
    if contact is None:
        contact = sample_contact(store_id, email, language)
    order, sample_order = _order_for_preview(store_id, contact, order_id, known=on_record)
    used_language, content = message.content_for(language or contact.language)
    link = None
    if message.purpose is Purpose.MARKETING:
        link = unsubscribe_url(settings().public_api_url or "https://unsubscribe.invalid", "preview-only")
    # A dynamic coupon is not claimed for a preview: a stand-in code shows where it goes.
    coupon = None
    if message.coupon is not None:
        coupon = {"code": message.coupon.code if isinstance(message.coupon, StaticCoupon) else SAMPLE_COUPON_CODE}
    context = message_context(store, contact, SubjectView.of_order(order), link, coupon)
    try:
        rendered = render_message(content, context)
    except MessageRenderError as err:
        raise AdminError(f"message {message_id} ({used_language}) does not render: {err.detail}") from None
    warning = coupon_fallback_warning(message, used_language, content, context)
    warnings = [warning] if warning else []
    return Preview(
        message, sender, rendered, used_language, contact, order, not on_record, sample_order, link, tuple(warnings)
    )


def _order_for_preview(store_id: str, contact: Contact, order_id: str | None, *, known: bool) -> tuple[Order, bool]:
    recorded = recorded_orders(store_id, contact.email) if known else []
    if order_id is not None:
        for item in recorded:
            if item["order_id"] == order_id:
                return order_from_record(item), False
        ids = ", ".join(item["order_id"] for item in recorded) or "none"
        raise AdminError(f"contact {contact.email} has no order {order_id!r} in store {store_id} (recorded: {ids})")
    if recorded:
        return order_from_record(max(recorded, key=lambda item: item.get("occurred_at", ""))), False
    return SAMPLE_ORDER, True


def send_test(
    store_id: str,
    message_id: str,
    *,
    to: str,
    email: str | None = None,
    order_id: str | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """Renders like preview_message (for contact `email`, else `to`) and sends it to `to`
    through SES with the stack's configuration set, subject prefixed "[TEST] ". Recorded on
    no contact; consent, unsubscribes and suppression are not consulted."""
    preview = preview_message(store_id, message_id, email=email or to, order_id=order_id, language=language)
    rendered = RenderedMessage(
        subject=f"[TEST] {preview.rendered.subject}", html=preview.rendered.html, text=preview.rendered.text
    )
    sender = preview.sender
    try:
        raw = build_mime_message(
            sender_name=sender.name,
            sender_address=sender.address,
            to_address=to,
            reply_to=sender.reply_to,
            rendered=rendered,
            extra_headers=unsubscribe_headers(preview.unsubscribe_link) if preview.unsubscribe_link else {},
        )
    except ValueError as err:
        raise AdminError(f"cannot build the message: {err}") from None
    ses_message_id = ses.send_raw(
        raw, sender=sender.address, recipient=to, tags=ses.tags_of_test_send(store_id=store_id, message_id=message_id)
    )
    return {
        "ses_message_id": ses_message_id,
        "to": to,
        "subject": rendered.subject,
        "language": preview.language,
        "sample_contact": preview.sample_contact,
        "sample_order": preview.sample_order,
    }


# --- the store's messages: listed, shown, deleted once no workflow names them --------------------------


def message_users(store_id: str) -> dict[str, list[str]]:
    """Message id -> the workflows naming it, each with the versions that do: "wf (published)",
    "wf (published, draft)", "wf-2 (paused)". Two Queries: the live versions and the drafts."""
    named: dict[str, dict[str, list[str]]] = {}
    for workflow in [*workflow_store.list_workflows(store_id), *workflow_store.list_drafts(store_id)]:
        for message_id in sorted({message_id for _, message_id in message_references(workflow.settings)}):
            named.setdefault(message_id, {}).setdefault(workflow.workflow_id, []).append(workflow.status.value)
    return {
        message_id: [f"{workflow_id} ({', '.join(versions)})" for workflow_id, versions in sorted(workflows.items())]
        for message_id, workflows in named.items()
    }


def list_store_messages(store_id: str) -> list[dict[str, Any]]:
    """Every message of the store: purpose, languages, sender, coupon and the workflows naming it."""
    require_store(store_id)
    users = message_users(store_id)
    return [
        {
            "store": store_id,
            "message": message.message_id,
            "purpose": message.purpose.value,
            "languages": sorted(message.variants),
            "sender": message.sender if isinstance(message.sender, str) else message.sender.address,
            "coupon": _coupon_text(message),
            "used_by": users.get(message.message_id, []),
        }
        for message in sorted(messages.list_messages(store_id), key=lambda message: message.message_id)
    ]


def _coupon_text(message: Message) -> str | None:
    if message.coupon is None:
        return None
    if isinstance(message.coupon, StaticCoupon):
        return f"static {message.coupon.code}"
    return f"pool {message.coupon.pool}"


def show_message(store_id: str, message_id: str) -> tuple[Message, list[str]]:
    """The message and the workflows naming it."""
    require_store(store_id)
    try:
        message = messages.get_message(store_id, message_id)
    except UnknownMessage:
        raise AdminError(f"no message {message_id!r} in store {store_id}") from None
    return message, message_users(store_id).get(message_id, [])


def delete_message(store_id: str, message_id: str) -> None:
    """Deletes a message no workflow names, in its live version (published, paused, never
    published) or its draft: a workflow naming a missing message fails every run that
    reaches it (UnknownMessage), so one still named is refused, with the workflows."""
    require_store(store_id)
    users = message_users(store_id).get(message_id, [])
    if users:
        raise AdminError(
            f"message {message_id} is named by workflows {', '.join(users)} of store {store_id}: point them at "
            "another message first (storeflows workflows apply FILE.yaml, then publish), or delete them"
        )
    if not messages.delete_message(store_id, message_id):
        raise AdminError(f"no message {message_id!r} in store {store_id}")
