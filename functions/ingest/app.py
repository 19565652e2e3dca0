"""Webhook intake: POST /webhooks/shopify/{store_id}, /webhooks/woocommerce/{store_id}
and /events/{store_id}."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from storeflows.http import install_error_handlers, json_response, raw_body
from storeflows.intake import api, shopify, woocommerce
from storeflows.observability import logger, metrics, tracer

app = APIGatewayHttpResolver()
install_error_handlers(app, refused_metric="WebhooksRejected")


@app.post("/webhooks/shopify/<store_id>")
@tracer.capture_method
def shopify_webhook(store_id: str):
    event = app.current_event
    receipt = shopify.accept_webhook(store_id, event.headers, event.headers.get("content-type"), raw_body(app))
    return json_response(202, {"status": receipt.status, "event_id": receipt.event_id})


@app.post("/webhooks/woocommerce/<store_id>")
@tracer.capture_method
def woocommerce_webhook(store_id: str):
    event = app.current_event
    receipt = woocommerce.accept_order(store_id, event.headers, event.headers.get("content-type"), raw_body(app))
    # WooCommerce refuses to activate a webhook whose ping gets anything but 200.
    return json_response(200 if receipt.ping else 202, {"status": receipt.status, "event_id": receipt.event_id})


@app.post("/events/<store_id>")
@tracer.capture_method
def store_event(store_id: str):
    event = app.current_event
    receipt = api.accept_event(store_id, event.headers, event.headers.get("content-type"), raw_body(app))
    return json_response(202, {"status": receipt.status, "event_id": receipt.event_id})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
