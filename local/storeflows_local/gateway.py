"""The local HTTP API: template.yaml's HttpApi routes, plus /_local/ views for developers.

Each API request becomes an API Gateway HTTP API (payload 2.0) event for the function the
template routes it to, exactly as API Gateway would build it; the function's response is
returned as API Gateway would return it. IAM-authorised routes (reports) are not
authorised locally: the API listens on 127.0.0.1 only.

POST /_local/ses/<message id>/open|proxy_open|click|bounce|complaint plays what a recipient or their
mailbox does with an email (see ses_events.py)."""

from __future__ import annotations

import base64
import html
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from moto.ses.models import ses_backends
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from storeflows_local import shop
from storeflows_local.engine import LambdaContext
from storeflows_local.stack import LocalStack
from storeflows_local.template import ACCOUNT_ID, REGION

# API Gateway HTTP APIs refuse larger bodies; the ingest function has its own lower limit.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded", "application/xml")

_local_views = Map(
    [
        Rule("/_local/", endpoint="outbox_page"),
        Rule("/_local/outbox", endpoint="outbox"),
        Rule("/_local/contacts/<store_id>/<email>", endpoint="contact"),
        Rule("/_local/ses/<message_id>/<kind>", endpoint="engagement", methods=["POST"]),
        Rule("/_local/schedules/<logical_id>", endpoint="schedule", methods=["POST"]),
        Rule("/_local/shop", endpoint="shop", defaults={"page": ""}),
        Rule("/_local/shop/img/<product_id>.svg", endpoint="shop_image"),
        Rule("/_local/shop/<path:page>", endpoint="shop"),
    ]
)


class Gateway:
    def __init__(self, stack: LocalStack):
        self.stack = stack
        self._shop_opening = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = MAX_REQUEST_BYTES
        try:
            response = self._local_view(request) if request.path.startswith("/_local") else self._api(request)
        except HTTPException as error:
            response = error.get_response()
        return response(environ, start_response)

    # --- the API as deployed ----------------------------------------------------------------

    def _api(self, request: Request) -> Response:
        for http_route in self.stack.routes:
            match = http_route.route.pattern.match(request.path)
            if match and http_route.route.method == request.method:
                event = http_api_event(request, http_route.route.method, http_route.route.path, match.groupdict())
                spec = http_route.function
                result = self.stack.handlers[spec.logical_id](
                    event, LambdaContext(spec.logical_id, spec.arn, spec.timeout)
                )
                return _http_api_response(result)
        return Response(json.dumps({"message": "Not Found"}), status=404, content_type="application/json")

    # --- developer views ----------------------------------------------------------------------

    def _local_view(self, request: Request) -> Response:
        endpoint, arguments = _local_views.bind_to_environ(request.environ).match()
        if endpoint == "outbox":
            return _json(outbox(recipient=request.args.get("to")))
        if endpoint == "outbox_page":
            return Response(outbox_page(outbox()), content_type="text/html; charset=utf-8")
        if endpoint == "engagement":
            return self._engagement(request, **arguments)
        if endpoint == "schedule":
            return self._fire_schedule(request, **arguments)
        if endpoint == "shop":
            return self._shop(request, **arguments)
        if endpoint == "shop_image":
            image = shop.product_image(arguments["product_id"])
            if image is None:
                raise NotFound("no such product")
            return Response(image, content_type="image/svg+xml")
        return self._contact(**arguments)

    def _shop(self, request: Request, page: str) -> Response:
        from storeflows_local.demo_store import open_demo_shop  # the layer is importable once the stack has started

        with self._shop_opening:  # one public key, however many pages the first visit loads at once
            public_key = open_demo_shop(self.stack.api_url)
        text = shop.shop_page(
            page, request.args.get("q", ""), origin=self.stack.api_url, store_id="demo", public_key=public_key
        )
        if text is None:
            raise NotFound(f"the demo shop has no page {page}")
        return Response(text, content_type="text/html; charset=utf-8")

    def _engagement(self, request: Request, message_id: str, kind: str) -> Response:
        try:
            assert self.stack.ses_events is not None, "the stack has started"
            known = self.stack.ses_events.simulate(
                message_id, kind, link=request.args.get("link"), bounce_type=request.args.get("type", "Permanent")
            )
        except ValueError as err:
            return Response(
                json.dumps({"error": "bad_request", "detail": str(err)}), status=400, content_type="application/json"
            )
        if not known:
            raise NotFound(f"no email {message_id} went through an event destination")
        return Response(
            json.dumps({"status": "published", "message_id": message_id, "event": kind}),
            status=202,
            content_type="application/json",
        )

    def _fire_schedule(self, request: Request, logical_id: str) -> Response:
        """Fires a schedule of template.yaml once, for the workflow time `at` (default: the
        clock's now), and returns once its target has run (storeflows_local.schedules)."""
        clock = self.stack.clock
        if clock is None or logical_id not in clock.specs:
            raise NotFound(f"template.yaml has no schedule {logical_id}")
        try:
            at = datetime.fromisoformat(request.args["at"]) if "at" in request.args else clock.now()
        except ValueError as err:
            return Response(
                json.dumps({"error": "bad_request", "detail": str(err)}), status=400, content_type="application/json"
            )
        clock.fire(logical_id, at if at.tzinfo else at.replace(tzinfo=UTC))
        return _json({"status": "fired", "schedule": logical_id, "at": at.isoformat()})

    def _contact(self, store_id: str, email: str) -> Response:
        from storeflows.storage import contacts, sends  # the layer is importable once the stack has started

        contact = contacts.get_contact(store_id, email.strip().lower())
        if contact is None:
            raise NotFound(f"no contact {email} in store {store_id}")
        history = contacts.contact_history(store_id, contact.email)
        body = contact.model_dump(mode="json")
        body["tags"] = sorted(contact.tags)
        body["orders"] = [_plain(item) for item in history if item["sk"].startswith("ORDER#")]
        body["sends"] = [_plain(item) for item in history if item["sk"].startswith("SEND#")]
        body["in_workflows"] = sends.active_runs(store_id, contact.email)
        return _json(body)


def outbox(recipient: str | None = None) -> list[dict[str, Any]]:
    """Every message SES accepted, oldest first, parsed from the raw MIME that was sent."""
    from storeflows.messaging.mail import parse_mime_message

    messages = []
    for sent in list(ses_backends[ACCOUNT_ID][REGION].sent_messages):
        raw = getattr(sent, "raw_data", None)
        if raw is None:
            continue
        parsed = parse_mime_message(raw)
        date = parsed["headers"].get("Date")
        parsed["sent_at"] = parsedate_to_datetime(date).astimezone(UTC).isoformat() if date else None
        parsed["id"] = sent.id
        parsed["accepted_at"] = getattr(sent, "accepted_at", None)  # when SES took it (engine.py, 4)
        addresses = {address.lower() for _, address in getaddresses([parsed["to"]])}
        if recipient is None or recipient.strip().lower() in addresses:
            messages.append(parsed)
    return messages


def _simulate_buttons(message_id: str) -> str:
    return " ".join(
        f'<button formaction="/_local/ses/{html.escape(message_id)}/{kind}" form="ses">{kind}</button>'
        for kind in ("open", "click", "bounce", "complaint")
    )


def outbox_page(messages: list[dict[str, Any]]) -> str:
    items = "".join(
        f"""<article><h2>{html.escape(m["subject"])}</h2>
<p><b>To</b> {html.escape(m["to"])} · <b>From</b> {html.escape(m["from"])} · \
<b>Sent</b> {html.escape(m["sent_at"] or "")}</p>
<details><summary>Headers</summary><pre>{html.escape(json.dumps(m["headers"], indent=2))}</pre></details>
<p>Simulate: {_simulate_buttons(m["id"])}</p>
<iframe sandbox srcdoc="{html.escape(m["html"] or "", quote=True)}"></iframe></article>"""
        for m in reversed(messages)
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Storeflows local outbox</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:auto}}article{{border-bottom:1px solid #ccc;padding:1rem 0}}
iframe{{width:100%;height:22rem;border:1px solid #ddd}}</style></head>
<body><h1>Local outbox ({len(messages)})</h1><form id="ses" method="post"></form>
{items or "<p>No email sent yet.</p>"}</body></html>"""


def http_api_event(request: Request, method: str, path_template: str, path_parameters: dict[str, str]) -> dict:
    """The payload 2.0 event API Gateway would hand the route's function for `request`."""
    body_bytes = request.get_data()
    content_type = request.headers.get("content-type", "")
    is_text = content_type.startswith(_TEXT_TYPES)
    try:
        body = body_bytes.decode("utf-8") if is_text else None
    except UnicodeDecodeError:
        body = None
    encoded = body is None and bool(body_bytes)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path_template}",
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode("latin-1"),
        # API Gateway lower-cases header names and joins repeated headers with commas.
        "headers": {name.lower(): ",".join(request.headers.getlist(name)) for name in request.headers.keys()},
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": request.host,
            "domainPrefix": "local",
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {path_template}",
            "stage": "$default",
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "pathParameters": path_parameters,
        "isBase64Encoded": encoded,
    }
    if request.args:
        event["queryStringParameters"] = {name: ",".join(request.args.getlist(name)) for name in request.args}
    if body_bytes:
        event["body"] = base64.b64encode(body_bytes).decode("ascii") if encoded else body
    return event


def _http_api_response(result: dict) -> Response:
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    response = Response(data, status=result.get("statusCode", 200))
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = value
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return response


def _json(body: Any) -> Response:
    return Response(json.dumps(body, indent=2, default=str), content_type="application/json")


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps({k: v for k, v in item.items() if k not in ("pk", "sk")}, default=str))
