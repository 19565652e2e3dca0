"""Event queue consumer: records each purchase and starts the matching workflow runs.

Partial batch responses: a failed record returns to the queue on its own and is retried
until it succeeds or reaches the dead-letter queue. A redelivered message changes nothing:
the order is recorded only if new, consent only if newer, and run names are derived from
(store, order, workflow), so Step Functions refuses a second run (storeflows.dispatch)."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from storeflows.dispatch import dispatch_event
from storeflows.events import StoreEvent
from storeflows.observability import error_summary, logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict:
    try:
        return dispatch_event(StoreEvent.model_validate_json(record.body))
    except Exception as error:
        # The batch processor keeps the failure to itself; the operator needs it to fix the cause.
        logger.error(
            "event failed, left on the queue",
            extra={
                "sqs_message_id": record.message_id,
                "receive_count": record.attributes.approximate_receive_count,
                **error_summary(error),
            },
        )
        raise


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
