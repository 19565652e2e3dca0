"""The check of a message when it is saved, and again when a workflow that sends it is
validated: every variant rendered as a send renders it (the sandbox, StrictUndefined, the
same context) for a sample contact and for each kind of run that may send it.

What fails with sample data fails for every customer, and is refused, naming the variant,
the part, the line and what failed ("variants.en.html: line 3: 'customer' is undefined").
What fails only for some data is a warning: a message whose dynamic coupon is left out once
its pool runs out, rendered without one. So is a marketing variant whose body renders
without its unsubscribe link: its email still has List-Unsubscribe (one click), but only
mail clients that show it offer a way out, and recipients who find none mark it as spam."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from storeflows.errors import MessageRenderError
from storeflows.events.subjects import SubjectView
from storeflows.messaging.context import message_context
from storeflows.messaging.rendering import RenderedMessage, render_message
from storeflows.records import (
    Contact,
    DynamicCoupon,
    Message,
    MessageContent,
    Purpose,
    StaticCoupon,
    Store,
    WhenExhausted,
)

SAMPLE_COUPON_CODE = "SAMPLE-COUPON-CODE"
"""The code a preview and the check show for a dynamic coupon (no code is taken from a pool)."""

_SAMPLE_UNSUBSCRIBE_URL = "https://unsubscribe.invalid/unsubscribe?token=sample"
_SAMPLE_BEST_SELLERS = [
    {"sku": "SAMPLE-BEST-1", "name": "Sample best seller", "units": 12},
    {"sku": "SAMPLE-BEST-2", "name": "Sample runner-up", "units": 7},
]


def _sample_catalogue(names: list[str]) -> dict[str, dict[str, Any]]:
    """Every product a message names is known, with every field set: what a send may show."""
    return {
        name: {
            "product_id": name,
            "sku": name,
            "name": "Sample product",
            "url": "https://shop.example.com/products/sample",
            "image_url": "https://shop.example.com/images/sample.jpg",
            "price": Decimal("19.90"),
            "compare_at_price": Decimal("24.90"),
            "currency": "EUR",
            "available": True,
        }
        for name in names
    }


@dataclass(frozen=True)
class RenderCheck:
    # What fails for every customer: the message cannot be saved (or published) like this.
    problems: tuple[str, ...] = ()
    # What fails only for some customers or some days.
    warnings: tuple[str, ...] = ()


def check_rendering(store: Store, message: Message, subjects: Mapping[str, SubjectView]) -> RenderCheck:
    """Renders each variant for each kind of run in `subjects` (kind -> sample view); a
    variant that fails for one of them is a problem, named with the kind when there are
    several."""
    problems: list[str] = []
    warnings: list[str] = []
    for language, content in sorted(message.variants.items()):
        for kind, subject in subjects.items():
            context = _sample_context(store, message, subject)
            try:
                rendered = render_message(content, context)
            except MessageRenderError as err:
                where = f" (in a run about {_article(kind)})" if len(subjects) > 1 else ""
                problems.append(f"variants.{language}.{err.detail}{where}")
                continue
            for warning in (
                coupon_fallback_warning(message, language, content, context),
                _unsubscribe_link_warning(message, language, rendered),
            ):
                if warning and warning not in warnings:
                    warnings.append(warning)
    return RenderCheck(tuple(problems), tuple(warnings))


def check_rendering_for_any(
    store: Store, message: Message, subjects_of_templates: Mapping[str, Mapping[str, SubjectView]]
) -> RenderCheck:
    """For a message no workflow sends yet: it must render for at least one kind of run
    some template has (template -> its sample subjects); the problems of the closest kind when
    none fits, the warnings of those that do."""
    kinds = {kind: view for subjects in subjects_of_templates.values() for kind, view in subjects.items()}
    checks = {kind: check_rendering(store, message, {kind: view}) for kind, view in kinds.items()}
    fitting = [check for check in checks.values() if not check.problems]
    if fitting:
        return RenderCheck((), tuple(dict.fromkeys(warning for check in fitting for warning in check.warnings)))
    # A kind that misses another kind's subject (`order` in a run about a cart) is not the
    # kind the message is written for: its problems would only be noise.
    subject_names = {name for view in kinds.values() for name in view.context}
    meant = {
        kind: check
        for kind, check in checks.items()
        if not any(_undefined_name(problem) in subject_names - set(kinds[kind].context) for problem in check.problems)
    } or checks
    if len(meant) == 1:
        return next(iter(meant.values()))
    # Each problem once, with the kinds of run it fails in (none named when it fails in all).
    kinds_of: dict[str, list[str]] = {}
    for kind, check in meant.items():
        for problem in check.problems:
            kinds_of.setdefault(problem, []).append(kind)
    return RenderCheck(
        tuple(
            problem
            if len(failing) == len(meant)
            else f"{problem} (in a run about {' or '.join(_article(kind) for kind in failing)})"
            for problem, failing in kinds_of.items()
        )
    )


_UNDEFINED = re.compile(r"'(\w+)' is undefined")


def _undefined_name(problem: str) -> str | None:
    found = _UNDEFINED.search(problem)
    return found.group(1) if found else None


def coupon_fallback_warning(
    message: Message, language: str, content: MessageContent, context: dict[str, Any]
) -> str | None:
    """A message that sends without its coupon once the pool runs out must render without
    one: the warning when it does not (rendered with `context`, its coupon left out)."""
    coupon = message.coupon
    if not isinstance(coupon, DynamicCoupon) or coupon.when_exhausted is not WhenExhausted.SEND_WITHOUT_COUPON:
        return None
    try:
        render_message(content, {**context, "coupon": None})
    except MessageRenderError as err:
        return (
            f"once pool {coupon.pool} runs out, the {language} variant does not render "
            f"and its sends fail ({err.detail}): show the code inside {{% if coupon %}}…{{% endif %}}"
        )
    return None


def _unsubscribe_link_warning(message: Message, language: str, rendered: RenderedMessage) -> str | None:
    if message.purpose is not Purpose.MARKETING:
        return None
    bodies = {"HTML": rendered.html, "text": rendered.text}
    missing = [part for part, body in bodies.items() if _SAMPLE_UNSUBSCRIBE_URL not in body]
    if not missing:
        return None
    return (
        f"variants.{language}: a marketing message without an unsubscribe link in its {' and '.join(missing)} "
        "body: only mail clients that show List-Unsubscribe offer one (add "
        '<a ses:no-track href="{{ unsubscribe_url }}">Unsubscribe</a>, and {{ unsubscribe_url }} to the text)'
    )


def sample_contact(store_id: str, email: str = "sample@example.com", language: str | None = None) -> Contact:
    return Contact(store_id=store_id, email=email, first_name="Alex", last_name="Sample", language=language)


def _sample_context(store: Store, message: Message, subject: SubjectView) -> dict[str, Any]:
    coupon = None
    if message.coupon is not None:
        coupon = {"code": message.coupon.code if isinstance(message.coupon, StaticCoupon) else SAMPLE_COUPON_CODE}
    link = _SAMPLE_UNSUBSCRIBE_URL if message.purpose is Purpose.MARKETING else None
    return message_context(
        store,
        sample_contact(store.store_id),
        subject,
        link,
        coupon,
        best_sellers=lambda count, days: _SAMPLE_BEST_SELLERS[:count],
        catalogue=_sample_catalogue,
    )


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
