"""Workflow step: is the contact in each of these dynamic segments right now?

A Lambda rather than a direct DynamoDB read: a Choice state cannot test set membership
against a tag name that comes from the workflow's settings, and segment definitions are
domain code shared by every template."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from storeflows.observability import logger, metrics, tracer
from storeflows.segments import evaluate_segments


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return evaluate_segments(event["store_id"], event["email"], event["segments"])
