"""Messages: saved once their sender can send, rendered for a preview, sent as a test."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from storeflows.admin.contacts import recorded_orders
from storeflows.admin.errors import AdminError, InvalidDefinition
from storeflows.admin.stores import require_store
from storeflows.config import require, settings
from storeflows.errors import MessageRenderError, UnknownMessage, UnknownSender
from storeflows.events.common import Order
from storeflows.events.subjects import SubjectView, order_from_record
from storeflows.messaging import ses
from storeflows.messaging.mail import build_mime_message, unsubscribe_headers
from storeflows.messaging.rendering import RenderedMessage, RenderTooBig, render_message
from storeflows.messaging.unsubscribe_links import unsubscribe_url
from storeflows.records import (
    Contact,
    DynamicCoupon,
    Message,
    Purpose,
    Sender,
    StaticCoupon,
    Store,
    WhenExhausted,
    within_identity,
)
from storeflows.storage import contacts, messages
from storeflows.storage import workflows as workflow_store
from storeflows.workflows import WorkflowStatus
from storeflows.workflows.publishing import message_references


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


def apply_message(message: Message) -> tuple[Message, list[str]]:
    """Saves the message, unless its sender cannot send or a variant renders past the bounds
    every send enforces (InvalidDefinition); returns it with the ids of the published
    workflows using it (their runs, also those in flight, send the new content from now on)."""
    store = require_store(message.store_id)
    problems = message_sender_problems(message) + bounds_problems(store, message)
    if problems:
        raise InvalidDefinition(f"message {message.message_id}", problems)
    messages.put_message(message)
    users = [
        workflow.workflow_id
        for workflow in workflow_store.list_workflows(message.store_id)
        if workflow.status is WorkflowStatus.PUBLISHED
        and any(message_id == message.message_id for _, message_id in message_references(workflow.settings))
    ]
    return message, sorted(users)


def bounds_problems(store: Store, message: Message) -> list[str]:
    """A variant that renders too long or too slowly for a sample contact and order would do
    so for every customer (rendering.RenderTooBig): refused when saved, not found by a send."""
    contact = Contact(store_id=store.store_id, email="sample@example.com", first_name="Alex", last_name="Sample")
    coupon = {"code": SAMPLE_COUPON_CODE} if message.coupon is not None else None
    context = _message_context(store, contact, SubjectView.of_order(SAMPLE_ORDER), _SAMPLE_UNSUBSCRIBE_URL, coupon)
    problems = []
    for language, content in sorted(message.variants.items()):
        try:
            render_message(content, context)
        except RenderTooBig as err:
            problems.append(f"variants.{language}.{err.detail}")
        except MessageRenderError:
            pass  # what depends on the data is found by preview (and by the send, for the data it has)
    return problems


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
_SAMPLE_UNSUBSCRIBE_URL = "https://unsubscribe.invalid/unsubscribe?token=sample"
SAMPLE_ORDER = Order(
    id="SAMPLE-1001",
    total=Decimal("129.90"),
    currency="EUR",
    items=[{"sku": "SAMPLE-SKU", "name": "Sample product", "category": "sample", "quantity": 1, "price": "129.90"}],
)


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
        rendered = render_message(content, _message_context(store, contact, SubjectView.of_order(order), link, coupon))
    except MessageRenderError as err:
        raise AdminError(f"message {message_id} ({used_language}) does not render: {err.detail}") from None
    warnings = []
    if isinstance(message.coupon, DynamicCoupon) and message.coupon.when_exhausted is WhenExhausted.SEND_WITHOUT_COUPON:
        try:
            render_message(content, _message_context(store, contact, SubjectView.of_order(order), link, None))
        except MessageRenderError as err:
            warnings.append(
                f"once pool {message.coupon.pool} runs out, the {used_language} variant does not render "
                f"and its sends fail ({err.detail}): show the code inside {{% if coupon %}}…{{% endif %}}"
            )
    return Preview(
        message, sender, rendered, used_language, contact, order, sample_contact, sample_order, link, tuple(warnings)
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


# sending loads Powertools and the X-Ray SDK (half a second), which most commands never need:
# imported on first use.


def _message_context(*args: Any) -> dict[str, Any]:
    from storeflows.messaging.sending import message_context

    return message_context(*args)


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


# --- warnings: what saves but a marketer should know ----------------------------------------------

_UNSUBSCRIBE_SENTINEL = "https://unsubscribe.invalid/unsubscribe?token=sentinel-of-messages-apply"


def message_warnings(message: Message) -> list[str]:
    """What `messages apply` saves but warns about: a marketing variant whose HTML or text body
    carries no unsubscribe link. Its email still has List-Unsubscribe (one-click), but only
    mail clients that show it offer a way out; recipients who find none mark it as spam.
    Checked by rendering for a sample contact and order with a stand-in link (the source
    itself, where that rendering fails for the sample data)."""
    if message.purpose is not Purpose.MARKETING:
        return []
    store = require_store(message.store_id)
    contact = Contact(store_id=store.store_id, email="sample@example.com", first_name="Alex", last_name="Sample")
    coupon = {"code": SAMPLE_COUPON_CODE} if message.coupon is not None else None
    context = _message_context(store, contact, SubjectView.of_order(SAMPLE_ORDER), _UNSUBSCRIBE_SENTINEL, coupon)
    warnings = []
    for language, content in sorted(message.variants.items()):
        try:
            rendered = render_message(content, context)
            bodies = {"HTML": rendered.html, "text": rendered.text}
            missing = [part for part, body in bodies.items() if _UNSUBSCRIBE_SENTINEL not in body]
        except MessageRenderError:
            missing = [
                part for part, body in (("HTML", content.html), ("text", content.text)) if "unsubscribe_url" not in body
            ]
        if missing:
            warnings.append(
                f"variants.{language}: a marketing message without an unsubscribe link in its {' and '.join(missing)} "
                "body: only mail clients that show List-Unsubscribe offer one (add "
                '<a ses:no-track href="{{ unsubscribe_url }}">Unsubscribe</a>, and {{ unsubscribe_url }} to the text)'
            )
    return warnings
