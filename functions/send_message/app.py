"""Workflow step: render and send one message to one contact, or record why not.

A Lambda because rendering (Jinja2 sandbox) and the consent decision are code. Idempotent
per (store, workflow, order, step, contact): a Step Functions retry after a timeout never
sends the same email twice."""

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent
from aws_lambda_powertools.utilities.typing import LambdaContext

from storeflows import keys
from storeflows.config import require
from storeflows.observability import logger, metrics, tracer
from storeflows.sending import SendRequest, send_workflow_message

persistence = DynamoDBPersistenceLayer(
    table_name=require("table_name"),
    key_attr="pk",
    sort_key_attr="sk",
    static_pk_value=keys.IDEMPOTENCY_SEND,
    expiry_attr=keys.EXPIRES_AT,
)
idempotency = IdempotencyConfig(
    event_key_jmespath="[store_id, workflow_id, order.id, step, email]",
    expires_after_seconds=30 * 24 * 3600,
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@idempotent(config=idempotency, persistence_store=persistence)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return send_workflow_message(SendRequest.model_validate(event))
