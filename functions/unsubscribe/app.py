"""GET /unsubscribe shows a confirmation page; POST /unsubscribe is RFC 8058 one-click.

GET never changes anything: mail scanners follow links, and only a POST (the mailbox's
one-click, or the page's button) may unsubscribe. Every POST gets the same page, whether
the link was valid, repeated, for an erased contact, or tampered with, so the answer never
tells whether an address is on file. No cookies, no redirects: mailbox providers follow
neither."""

import html

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from storeflows.http import install_error_handlers
from storeflows.messaging.unsubscribe import unsubscribe
from storeflows.observability import logger, metrics, tracer

app = APIGatewayHttpResolver()
install_error_handlers(app)

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>Unsubscribe</title></head><body><main><h1>{heading}</h1>{body}</main></body></html>"""


def _page(heading: str, body: str) -> Response:
    return Response(
        200, content_types.TEXT_HTML, _PAGE.format(heading=heading, body=body), headers={"Cache-Control": "no-store"}
    )


@app.get("/unsubscribe")
def confirm_page():
    token = app.current_event.get_query_string_value("token", "")
    # The button posts what a mailbox's one-click posts (RFC 8058 section 3.1).
    form = (
        f'<form method="post" action="?token={html.escape(token)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe from marketing emails</button></form>'
    )
    return _page("Unsubscribe?", form)


@app.post("/unsubscribe")
def one_click():
    # The body (List-Unsubscribe=One-Click, form-encoded or multipart) is not needed: the
    # signed token says who and which message.
    unsubscribe(app.current_event.get_query_string_value("token", ""))
    return _page("You are unsubscribed", "<p>You will not receive marketing emails from this store any more.</p>")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
