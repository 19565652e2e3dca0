"""The hourly schedule's function: a tick (EventBridge Scheduler, `{"scheduled_time": ...}`)
hands the day partitions due in its hour to the schedule queue; each queued page job (SQS,
this function again) starts the runs due in that page and hands the next page on
(storeflows.schedules). A failed page job returns to the queue alone and is retried; run
names make a retry start nothing twice."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from storeflows import schedules
from storeflows.observability import error_summary, logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict:
    try:
        return schedules.handle_page(schedules.PageJob(**record.json_body))
    except Exception as error:
        logger.error(
            "page job failed, left on the queue",
            extra={"sqs_message_id": record.message_id, **error_summary(error)},
        )
        raise


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict[str, Any] | PartialItemFailureResponse:
    if "Records" in event:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    return schedules.handle_tick(event["scheduled_time"])
