"""Event queue consumer: records each purchase and starts the matching workflow runs.

Partial batch responses: a failed record returns to the queue on its own and is retried
until it succeeds or reaches the dead-letter queue. Idempotent per (store, event id), so
a redelivered webhook or a re-received message changes nothing."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from storeflows import keys
from storeflows.config import require
from storeflows.dispatch import dispatch_event
from storeflows.ingest import StoreEvent
from storeflows.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)
persistence = DynamoDBPersistenceLayer(
    table_name=require("table_name"),
    key_attr="pk",
    sort_key_attr="sk",
    static_pk_value=keys.IDEMPOTENCY_DISPATCH,
    expiry_attr=keys.EXPIRES_AT,
)
# Stores retry deliveries for up to two days; a week covers that with room to spare.
idempotency = IdempotencyConfig(event_key_jmespath="[store_id, event_id]", expires_after_seconds=7 * 24 * 3600)


@idempotent_function(data_keyword_argument="event", persistence_store=persistence, config=idempotency)
def dispatch_once(event: StoreEvent) -> dict:
    return dispatch_event(event)


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict:
    return dispatch_once(event=StoreEvent.model_validate_json(record.body))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    idempotency.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
