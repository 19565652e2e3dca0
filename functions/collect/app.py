"""The browser's routes: POST /collect/{store_id} (and its CORS preflight) for the events of
the store's pages, and GET /sdk/storeflows.js, the snippet that sends them."""

import hashlib
from pathlib import Path

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from storeflows.http import install_error_handlers, json_response, raw_body
from storeflows.intake import browser
from storeflows.observability import logger, metrics, tracer

# Read once per execution environment: the snippet changes only with a deployment.
SDK = (Path(__file__).parent / "storeflows.js").read_bytes()
SDK_ETAG = '"' + hashlib.sha256(SDK).hexdigest()[:32] + '"'
# Browsers and CDNs keep it an hour, then revalidate (the ETag answers 304 when unchanged).
SDK_CACHE_CONTROL = "public, max-age=3600"

app = APIGatewayHttpResolver()
install_error_handlers(app)


@app.post("/collect/<store_id>")
@tracer.capture_method
def collect(store_id: str):
    event = app.current_event
    collected = browser.collect(store_id, event.headers, raw_body(app))
    return json_response(
        202,
        {"status": "accepted", "event_ids": collected.event_ids, "dropped": collected.dropped},
        collected.headers,
    )


@app.route("/collect/<store_id>", method="OPTIONS")
@tracer.capture_method
def collect_preflight(store_id: str):
    return Response(status_code=204, headers=browser.preflight(store_id, app.current_event.headers.get("origin")))


@app.get("/sdk/storeflows.js")
@tracer.capture_method
def sdk():
    headers = {"Cache-Control": SDK_CACHE_CONTROL, "ETag": SDK_ETAG}
    if app.current_event.headers.get("if-none-match") == SDK_ETAG:
        return Response(status_code=304, headers=headers)
    return Response(
        status_code=200, content_type="application/javascript; charset=utf-8", body=SDK.decode("utf-8"), headers=headers
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
