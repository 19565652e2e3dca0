"""Catalogue alert step: tell the next contacts of a back-in-stock, price-drop or low-stock
run's audience, at SES's pace, for as long as this invocation lasts; hand back where it
stopped (storeflows.fanout). Each contact's send is the send step's own decision, so a retry
of the batch sends nobody a second email."""

from datetime import UTC, datetime, timedelta

from aws_lambda_powertools.utilities.typing import LambdaContext

from storeflows.fanout import AlertBatch
from storeflows.messaging.batches import send_batch
from storeflows.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    attempt_ends_at = datetime.now(UTC) + timedelta(milliseconds=context.get_remaining_time_in_millis())
    return send_batch(AlertBatch.model_validate(event), attempt_ends_at=attempt_ends_at)
