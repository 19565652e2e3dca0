"""The send step of every workflow: decide, render, send, record.

The contact is re-read right before each send (a run may have waited days), so an
unsubscribe, a suppression or withdrawn consent stops later marketing sends, and so is the
order a run is about, so nothing is sent about an order cancelled since. Every decision —
sent, or skipped and why — is recorded on the contact.

A message's coupon is resolved only once the contact may receive it (consent, suppression,
frequency cap): a dynamic code is claimed for this very send (a retry gets the same code),
so no code is used up on a contact who is skipped. A send skipped because its pool ran out,
or failing before SES took the email (a template error, say), gives its frequency-cap slot
back, so it holds back none of the workflow's later messages.

The sender is read at every send too: a message naming a sender profile goes out as the
profile is now.

No email goes out twice for one step of one run, however often Step Functions retries it:
the step's decision record is read with the rest, and a step that has one answers with it;
a send claims that record (status "sending") before SES is called and completes it after.
An attempt that died between the two may or may not have handed the email to SES; the
step then records it as skipped ("send_outcome_unknown") rather than risk a duplicate.

Every email takes a slot of the stack's SES pacer (storeflows.messaging.pacing) once the
contact may receive it, and goes out at that slot's time. When the pacer has no slot within
its horizon, the step raises SendThrottled before claiming anything (no decision, no frequency
cap slot, no coupon code used up) and Step Functions retries it later."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from storeflows import recommendations, replenishment
from storeflows.config import require
from storeflows.errors import SendInProgress, SendThrottled, UnknownMessage, UnknownStore
from storeflows.events.subjects import (
    ProductBought,
    ReorderSubject,
    SubjectView,
    UpsellSubject,
    WishlistSubject,
    order_from_record,
)
from storeflows.messaging import contact_links, coupons, pacing, ses
from storeflows.messaging.context import message_context
from storeflows.messaging.mail import build_mime_message, sendable_address, unsubscribe_headers
from storeflows.messaging.rendering import RenderedMessage, render_message
from storeflows.messaging.requests import SendRequest
from storeflows.messaging.unsubscribe_links import UnsubscribeRequest, make_unsubscribe_token, unsubscribe_url
from storeflows.observability import MetricUnit, count_by, logger, metrics
from storeflows.records import SKIP_REASONS, Contact, DynamicCoupon, Message, Purpose, Sender, Store, WhenExhausted
from storeflows.storage import browser, messages, orders, sends


def send_workflow_message(request: SendRequest, *, attempt_ends_at: datetime) -> dict[str, Any]:
    """`attempt_ends_at`: when this attempt is certain to be over (its Lambda timeout)."""
    return decide_and_send(request, attempt_ends_at=attempt_ends_at)[0]


def decide_and_send(
    request: SendRequest,
    *,
    attempt_ends_at: datetime,
    view: SubjectView | None = None,
    send_slot: Callable[[], float] | None = None,
) -> tuple[dict[str, Any], bool]:
    """The step's answer, and whether an earlier attempt of the step decided it (a batch of
    catalogue alerts counts only its own sends in a wave). A batch (storeflows.fanout) gives
    what the message sees of the run's subject (`view`, per recipient; else it is read from
    the subject's record) and where the email's pacer slot comes from (`send_slot`: slots it
    reserved a few at a time; else one is reserved for this email)."""
    if pacing.surely_full(time.time()):
        # Known without a request: the retry comes back when the burst has moved on.
        raise SendThrottled("the SES pacer is full")
    context = sends.get_send_context(
        request.store_id,
        request.message_id,
        request.email,
        request.decision_key,
        request.run.subject.record_key(request.store_id, request.email),
    )
    if context.decision is not None:
        return _earlier_decision(request, context.decision), True
    return _decide(request, context, attempt_ends_at, view, send_slot or _send_slot), False


def _decide(
    request: SendRequest,
    context: sends.SendContext,
    attempt_ends_at: datetime,
    view: SubjectView | None,
    send_slot: Callable[[], float],
) -> dict[str, Any]:
    store, message, contact = context.store, context.message, context.contact
    if store is None:
        raise UnknownStore(f"no store {request.store_id}")
    if message is None:
        raise UnknownMessage(f"store {request.store_id} has no message {request.message_id}")
    if contact is None:
        # Nothing is recorded for a contact without a profile (never known, or erased): a run
        # that outlived an erasure must not write the address back into the table.
        return _skipped(request, "unknown_contact", record=False)
    if view is None:
        view = _subject_view(request, store, context.subject)
    if view.empty:
        return _skipped(request, "nothing_to_remind")
    if view.cancelled:
        # A run the cancellation could not stop (it started in the moment the order was being
        # cancelled): nothing more goes out about a cancelled order, transactional or not.
        return _skipped(request, "order_cancelled")
    if view.not_bought_since is not None and _bought_since(contact, view.not_bought_since):
        # The flow's exit, checked before every send: a purchase since the session.
        return _skipped(request, "bought_since")
    if view.skip_reason is not None:
        return _skipped(request, view.skip_reason)
    if view.product_not_bought is not None and _bought_product_since(
        request.store_id, contact, view.product_not_bought
    ):
        return _skipped(request, "bought_since")
    since = request.run.exit_on_purchase_after
    if since is not None and contact.last_order_at is not None and contact.last_order_at >= since:
        # The run's exit rule, checked before every send (a late purchase webhook still counts).
        return _skipped(request, "bought_since")
    engaged = request.run.exit_on_engagement_after
    if engaged is not None and contact.engaged_at is not None and contact.engaged_at >= engaged:
        # The sunset's exit: the contact is not silent any more.
        return _skipped(request, "engaged_since")
    allowed, reason = contact.may_receive(message.purpose)
    if not allowed:
        return _skipped(request, reason)
    if not sendable_address(contact.email):
        # Kept from before the intake refused such addresses: SES could not take it, and
        # no retry would change that.
        return _skipped(request, "address_not_sendable")
    send_at = send_slot()
    sender = messages.message_sender(message)
    slot = None
    if request.run.frequency_cap_seconds:
        scope = request.run.frequency_cap_scope
        slot = sends.claim_send_slot(
            request.store_id,
            request.email,
            request.workflow_id if scope is None else f"{request.workflow_id}#{scope}",
            request.send_key,
            request.run.frequency_cap_seconds,
        )
        if slot is None:
            # A cap per product (a catalogue alert's cooldown) is that template's own rule.
            return _skipped(request, "frequency_cap" if scope is None else "cooldown")
    try:
        coupon_code, exhausted = _coupon_code(message, request)
        if exhausted:
            _give_back(slot)
            return _skipped(request, "coupon_pool_exhausted")
        language, raw = _compose(request, store, message, contact, sender, coupon_code, view)
        # The report day of this email: its tags carry it, so every later event of it counts there.
        sent_on = datetime.now(UTC).date()
        pacing.wait_for(send_at)
        ses_message_id = _claim_and_send(request, raw, sender.address, contact.email, sent_on, attempt_ends_at)
    except SendInProgress:
        raise  # the other attempt of this very send holds the slot too, and may send
    except Exception:
        # Nothing went out: the slot must not hold back the workflow's later messages
        # (giving back a slot already given back changes nothing).
        _give_back(slot)
        raise
    _record_decision(
        request,
        status="sent",
        ses_message_id=ses_message_id,
        language=language,
        coupon_code=coupon_code,
        sent_on=sent_on.isoformat(),
        completes_claim=True,
    )
    logger.info(
        "message sent",
        extra={
            "store_id": request.store_id,
            "workflow_id": request.workflow_id,
            "message_id": request.message_id,
            "step": request.step,
            "ses_message_id": ses_message_id,
        },
    )
    metrics.add_metric(name="EmailsSent", unit=MetricUnit.Count, value=1)
    return {"status": "sent", "ses_message_id": ses_message_id, "language": language}


def _send_slot() -> float:
    """This email's send time from the SES pacer; SendThrottled when it has none soon."""
    slots = pacing.reserve(time.time())
    if slots is None:
        raise SendThrottled("the SES pacer has no slot within its horizon")
    return slots[0]


def _subject_view(request: SendRequest, store: Store, record: dict[str, Any] | None) -> SubjectView:
    """What the message sees of the run's subject; a subject whose view needs more than its
    record (the contact's orders since, the catalogue) reads it here, at the send."""
    subject = request.run.subject
    if isinstance(subject, WishlistSubject):
        # What was bought since the oldest product went on the wishlist leaves the reminder.
        oldest = subject.oldest(record)
        bought = orders.purchases_since(request.store_id, request.email, oldest) if oldest else []
        return subject.view(record, bought)
    if isinstance(subject, UpsellSubject):
        order = None if record is None or "cancelled_at" in record else order_from_record(record)
        products = recommendations.complementary_products(store.store_id, order, subject.max_products) if order else []
        return subject.view(record, products)
    if isinstance(subject, ReorderSubject):
        return replenishment.view_at_send(store, request.email, subject, record)
    return subject.view(record)


def _bought_since(contact: Contact, moment: datetime) -> bool:
    return contact.last_order_at is not None and contact.last_order_at >= moment


def _bought_product_since(store_id: str, contact: Contact, product: ProductBought) -> bool:
    """Whether the contact bought the product since; the orders are read only when the
    profile shows a purchase since at all (most recipients of an alert have none)."""
    if not _bought_since(contact, product.since):
        return False
    return any(
        product.in_order(order) for order in orders.purchases_since(store_id, contact.email, product.since.isoformat())
    )


def _compose(
    request: SendRequest,
    store: Store,
    message: Message,
    contact: Contact,
    sender: Sender,
    coupon_code: str | None,
    subject: SubjectView,
) -> tuple[str, bytes]:
    """The email in the contact's language, rendered and as MIME: (language, raw message)."""
    language, content = message.content_for(contact.language)
    link = None
    headers: dict[str, str] = {}
    if message.purpose is Purpose.MARKETING:
        link = _unsubscribe_link(store, request)
        headers.update(unsubscribe_headers(link))
    coupon = {"code": coupon_code} if coupon_code is not None else None
    rendered = _with_contact_token(
        store, contact, render_message(content, message_context(store, contact, subject, link, coupon))
    )
    raw = build_mime_message(
        sender_name=sender.name,
        sender_address=sender.address,
        to_address=contact.email,
        reply_to=sender.reply_to,
        rendered=rendered,
        extra_headers=headers,
    )
    return language, raw


def _with_contact_token(store: Store, contact: Contact, rendered: RenderedMessage) -> RenderedMessage:
    """Links to the store's own site carry the contact token, so the store's snippet knows who
    followed them (messaging.contact_links); the ref it names is kept only when one does."""
    origins = contact_links.store_origins(store)
    if not origins:
        return rendered
    token = contact_links.make_token(store, contact.email, now=datetime.now(UTC))
    marked = contact_links.with_contact_token(rendered, origins, token)
    if marked != rendered:
        browser.keep_contact_link(store.store_id, contact.email, contact_links.contact_ref(store, contact.email))
    return marked


def _claim_and_send(
    request: SendRequest, raw: bytes, sender: str, recipient: str, sent_on: date, attempt_ends_at: datetime
) -> str:
    """Hands the email to SES under the step's claim; the SES message id. The claim is given
    back when SES did not take the email, so a retry may send it."""
    if not sends.claim_send(request.decision_key, message_id=request.message_id, attempt_ends_at=attempt_ends_at):
        raise SendInProgress(f"another attempt of step {request.step} claimed this send")
    try:
        return ses.send_raw(
            raw,
            sender=sender,
            recipient=recipient,
            tags=ses.message_tags(
                store_id=request.store_id,
                workflow_id=request.workflow_id,
                message_id=request.message_id,
                step=request.step,
                sent_on=sent_on,
                email=recipient,
            ),
        )
    except Exception:
        sends.release_send_claim(request.decision_key)
        raise


def _give_back(slot: sends.SendSlot | None) -> None:
    if slot is not None:
        sends.release_send_slot(slot)


def _coupon_code(message: Message, request: SendRequest) -> tuple[str | None, bool]:
    """The code this send carries (None: no coupon) and whether the message must be skipped
    because its pool ran out."""
    coupon = message.coupon
    if coupon is None:
        return None, False
    if not isinstance(coupon, DynamicCoupon):
        return coupon.code, False
    code = coupons.claim_code(request.store_id, coupon.pool, request.coupon_claim_key)
    if code is not None:
        return code, False
    return None, coupon.when_exhausted is WhenExhausted.SKIP_MESSAGE


def _unsubscribe_link(store: Store, request: SendRequest) -> str:
    token = make_unsubscribe_token(
        store.unsubscribe_key,
        UnsubscribeRequest(store_id=store.store_id, email=request.email, message_id=request.message_id),
    )
    return unsubscribe_url(require("public_api_url"), token)


def _earlier_decision(request: SendRequest, decision: dict[str, Any]) -> dict[str, Any]:
    """The answer of a step that an earlier attempt decided (Step Functions retried it)."""
    if decision["status"] == "sent":
        return {"status": "sent", "ses_message_id": decision["ses_message_id"], "language": decision.get("language")}
    if decision["status"] != sends.SENDING:
        return {"status": decision["status"], "reason": decision.get("reason")}
    if datetime.now(UTC) < datetime.fromisoformat(decision["attempt_ends_at"]):
        raise SendInProgress(f"an earlier attempt of step {request.step} may still be sending")
    logger.warning(
        "an earlier attempt died while sending; not sending again",
        extra={
            "store_id": request.store_id,
            "workflow_id": request.workflow_id,
            "message_id": request.message_id,
            "step": request.step,
        },
    )
    return _skipped(request, "send_outcome_unknown", completes_claim=True)


def _record_decision(request: SendRequest, **decision: Any) -> bool:
    return sends.record_send_decision(
        request.decision_key,
        workflow_id=request.workflow_id,
        subject=request.run.subject.key,
        step=request.step,
        message_id=request.message_id,
        **decision,
    )


def _skipped(
    request: SendRequest, reason: str | None, *, record: bool = True, completes_claim: bool = False
) -> dict[str, Any]:
    """Records the skip with its report counter (one transaction; nothing for a contact
    without a profile: no address is written back), counts the metric, answers the step."""
    reason = reason if reason in SKIP_REASONS else "unknown"
    if record and not sends.record_skip(
        request.decision_key,
        store_id=request.store_id,
        workflow_id=request.workflow_id,
        subject=request.run.subject.key,
        step=request.step,
        message_id=request.message_id,
        reason=reason,
        completes_claim=completes_claim,
    ):
        # A concurrent attempt of the same step decided first; the retry answers with that.
        raise SendInProgress(f"another attempt of step {request.step} decided meanwhile")
    logger.info(
        "message skipped",
        extra={
            "store_id": request.store_id,
            "workflow_id": request.workflow_id,
            "message_id": request.message_id,
            "step": request.step,
            "reason": reason,
        },
    )
    count_by("EmailsSkipped", "reason", reason)
    return {"status": "skipped", "reason": reason}
