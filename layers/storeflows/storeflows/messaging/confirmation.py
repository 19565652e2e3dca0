"""The sign-up confirmation email (double opt-in, storeflows.signups): the store's own
message `subscription-confirmation` if it has one, else the built-in one below, in the
person's language, rendered in the same sandbox as every message.

It is transactional (it asks for consent, it offers nothing), so it carries no unsubscribe
link, and a message of that id saved as marketing is refused. Its templates see what every
message does (`store`, `contact`) and `confirm_url` (the signed link) and
`confirm_days` (how long the link works); a variant without the link is refused too, since
nobody could confirm. Imported by the dispatcher only when it sends one (Jinja2 stays out
of its cold start otherwise)."""

from __future__ import annotations

from storeflows.errors import UnknownMessage
from storeflows.events.subjects import SubjectView
from storeflows.messaging import ses
from storeflows.messaging.checks import RenderCheck, check_rendering
from storeflows.messaging.context import message_context
from storeflows.messaging.mail import build_mime_message
from storeflows.messaging.rendering import render_message
from storeflows.records import Contact, Message, MessageContent, Purpose, Store
from storeflows.storage import messages

CONFIRMATION_MESSAGE_ID = "subscription-confirmation"
_SAMPLE_CONFIRM_URL = "https://confirm.invalid/subscriptions/confirm?token=sample"

_TEXT = {
    "en": (
        "Please confirm your subscription to {{ store.name }}",
        "Hello{% if contact.first_name %} {{ contact.first_name }}{% endif %},\n\n"
        "please confirm that you want news and offers from {{ store.name }} by email:\n"
        "{{ confirm_url }}\n\n"
        "The link works for {{ confirm_days }} days. If you did not sign up, ignore this email:"
        " without your confirmation you will not hear from us.\n",
        "Confirm my subscription",
    ),
    "pl": (
        "Potwierdź subskrypcję {{ store.name }}",
        "Dzień dobry{% if contact.first_name %} {{ contact.first_name }}{% endif %},\n\n"
        "potwierdź, że chcesz otrzymywać e-mailem nowości i oferty {{ store.name }}:\n"
        "{{ confirm_url }}\n\n"
        "Link działa przez {{ confirm_days }} dni. Jeśli to nie Ty się zapisałeś, zignoruj tę wiadomość:"
        " bez potwierdzenia nie będziemy do Ciebie pisać.\n",
        "Potwierdzam subskrypcję",
    ),
    "de": (
        "Bitte bestätigen Sie Ihr Abonnement bei {{ store.name }}",
        "Hallo{% if contact.first_name %} {{ contact.first_name }}{% endif %},\n\n"
        "bitte bestätigen Sie, dass Sie Neuigkeiten und Angebote von {{ store.name }} per E-Mail erhalten möchten:\n"
        "{{ confirm_url }}\n\n"
        "Der Link gilt {{ confirm_days }} Tage. Wenn Sie sich nicht angemeldet haben, ignorieren Sie diese E-Mail:"
        " ohne Ihre Bestätigung schreiben wir Ihnen nicht.\n",
        "Abonnement bestätigen",
    ),
}


def _builtin_variant(subject: str, text: str, button: str) -> MessageContent:
    paragraphs = text.replace("{{ confirm_url }}\n", "").split("\n\n")
    html = (
        "<p>"
        + "</p><p>".join(part.strip().replace("\n", " ") for part in paragraphs if part.strip())
        + f'</p><p><a href="{{{{ confirm_url }}}}">{button}</a></p>'
    )
    return MessageContent(subject=subject, html=html, text=text)


BUILTIN_VARIANTS = {language: _builtin_variant(*parts) for language, parts in _TEXT.items()}


def builtin_message(store_id: str, sender_id: str) -> Message:
    """The built-in confirmation (English, Polish, German; English for other languages)."""
    return Message(
        store_id=store_id,
        message_id=CONFIRMATION_MESSAGE_ID,
        purpose=Purpose.TRANSACTIONAL,
        sender=sender_id,
        default_language="en",
        variants=BUILTIN_VARIANTS,
    )


def confirmation_message(store_id: str) -> Message | None:
    """The store's own confirmation, else the built-in one from the store's first sender
    profile (by id); None when the store has neither a message nor a sender profile."""
    try:
        return messages.get_message(store_id, CONFIRMATION_MESSAGE_ID)
    except UnknownMessage:
        pass
    senders = sorted(messages.list_senders(store_id), key=lambda profile: profile.sender_id)
    return builtin_message(store_id, senders[0].sender_id) if senders else None


def confirmation_view(confirm_url: str, days: int) -> SubjectView:
    return SubjectView({"confirm_url": confirm_url, "confirm_days": days})


def check_confirmation_message(store: Store, message: Message) -> RenderCheck:
    """The check of a store's own confirmation when it is saved: transactional, rendering
    with a sample link, and showing the link in both bodies."""
    if message.purpose is not Purpose.TRANSACTIONAL:
        return RenderCheck((f"purpose: {CONFIRMATION_MESSAGE_ID} asks for consent, so it must be transactional",))
    check = check_rendering(store, message, {"sign-up confirmation": confirmation_view(_SAMPLE_CONFIRM_URL, 7)})
    if check.problems:
        return check
    problems = []
    for language, content in sorted(message.variants.items()):
        rendered = render_message(
            content,
            message_context(
                store,
                Contact(store_id=store.store_id, email="sample@example.com"),
                confirmation_view(_SAMPLE_CONFIRM_URL, 7),
                None,
                best_sellers=lambda count, days: [],
                catalogue=lambda names: {},
            ),
        )
        missing = [
            part for part, body in (("html", rendered.html), ("text", rendered.text)) if _SAMPLE_CONFIRM_URL not in body
        ]
        if missing:
            problems.append(
                f"variants.{language}: the {' and '.join(missing)} body has no "
                "{{ confirm_url }}: nobody could confirm"
            )
    return RenderCheck(tuple(problems), check.warnings)


def send_confirmation(store: Store, message: Message, contact: Contact, confirm_url: str, days: int) -> str:
    """Renders the message in the person's language and hands it to SES; the SES message id.
    Tagged with the store and message only: its SES events are not counted in reports."""
    _, content = message.content_for(contact.language)
    rendered = render_message(content, message_context(store, contact, confirmation_view(confirm_url, days), None))
    sender = messages.message_sender(message)
    raw = build_mime_message(
        sender_name=sender.name,
        sender_address=sender.address,
        to_address=contact.email,
        reply_to=sender.reply_to,
        rendered=rendered,
        extra_headers={},
    )
    return ses.send_raw(
        raw,
        sender=sender.address,
        recipient=contact.email,
        tags=[{"Name": ses.STORE_TAG, "Value": store.store_id}, {"Name": ses.MESSAGE_TAG, "Value": message.message_id}],
    )
