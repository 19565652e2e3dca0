"""Workflow step: render and send one message to one contact, or record why not.

A Lambda because rendering (Jinja2 sandbox) and the consent decision are code. A Step
Functions retry of the same step never sends the same email twice: the step's decision
record is its claim (storeflows.messaging.sending)."""

from datetime import UTC, datetime, timedelta

from aws_lambda_powertools.utilities.typing import LambdaContext

from storeflows.messaging.requests import SendRequest
from storeflows.messaging.sending import send_workflow_message
from storeflows.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    attempt_ends_at = datetime.now(UTC) + timedelta(milliseconds=context.get_remaining_time_in_millis())
    return send_workflow_message(SendRequest.model_validate(event), attempt_ends_at=attempt_ends_at)
