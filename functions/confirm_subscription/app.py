"""GET /subscriptions/confirm shows the sign-up's confirmation page; POST confirms it.

The link of a double opt-in email (storeflows.signups). GET changes nothing, as the
unsubscribe link's: mail scanners and link previews follow links, and a sign-up must be the
person's own click; the page's button posts. The page is in the language of the sign-up and
names the store. A link that cannot confirm anything (malformed, altered, expired, or for a
request no longer waiting) gets a page saying so, with its 4xx status, and changes nothing."""

import html

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from storeflows.observability import logger, metrics, tracer
from storeflows.signups import ConfirmLinkRefused, confirm, pending_request, read_link

app = APIGatewayHttpResolver()

_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{store}</title></head>
<body><main><p>{store}</p><h1>{heading}</h1>{body}</main></body></html>"""

_WORDS = {
    "en": {
        "ask": "Confirm your subscription",
        "ask_body": "Press the button to receive news and offers by email.",
        "button": "Yes, subscribe me",
        "done": "You are subscribed",
        "done_body": "Thank you: your subscription is confirmed.",
    },
    "pl": {
        "ask": "Potwierdź subskrypcję",
        "ask_body": "Kliknij przycisk, aby otrzymywać e-mailem nowości i oferty.",
        "button": "Tak, zapisz mnie",
        "done": "Subskrypcja potwierdzona",
        "done_body": "Dziękujemy: Twoja subskrypcja jest potwierdzona.",
    },
    "de": {
        "ask": "Abonnement bestätigen",
        "ask_body": "Klicken Sie auf die Schaltfläche, um Neuigkeiten und Angebote per E-Mail zu erhalten.",
        "button": "Ja, abonnieren",
        "done": "Abonnement bestätigt",
        "done_body": "Danke: Ihr Abonnement ist bestätigt.",
    },
}


def _language(language: str | None) -> str:
    primary = (language or "").split("-")[0].lower()
    return primary if primary in _WORDS else "en"


def _page(status: int, lang: str, store: str, heading: str, body: str) -> Response:
    page = _PAGE.format(lang=lang, store=html.escape(store), heading=html.escape(heading), body=body)
    return Response(status, content_types.TEXT_HTML, page, headers={"Cache-Control": "no-store"})


def _refused(refusal: ConfirmLinkRefused) -> Response:
    logger.info("confirmation link refused", extra={"error": refusal.code})
    return _page(
        refusal.status, "en", "Subscription", "This link does not work", f"<p>{html.escape(refusal.detail)}</p>"
    )


def _token() -> str:
    return app.current_event.get_query_string_value("token", "") or ""


@app.get("/subscriptions/confirm")
def confirm_page():
    token = _token()
    try:
        target = read_link(token)
        request = pending_request(target)
    except ConfirmLinkRefused as refusal:
        return _refused(refusal)
    lang = _language(request.language)
    words = _WORDS[lang]
    if request.confirmed_at:
        return _page(200, lang, target.store_name, words["done"], f"<p>{html.escape(words['done_body'])}</p>")
    form = (
        f"<p>{html.escape(words['ask_body'])}</p>"
        f'<form method="post" action="?token={html.escape(token)}">'
        f'<button type="submit">{html.escape(words["button"])}</button></form>'
    )
    return _page(200, lang, target.store_name, words["ask"], form)


@app.post("/subscriptions/confirm")
def confirm_subscription():
    try:
        target = read_link(_token())
        request, _ = confirm(target)
    except ConfirmLinkRefused as refusal:
        return _refused(refusal)
    lang = _language(request.language)
    words = _WORDS[lang]
    return _page(200, lang, target.store_name, words["done"], f"<p>{html.escape(words['done_body'])}</p>")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
