"""Workflow step of the sunset: at the end of its series, unsubscribes from marketing (reason
sunset) a contact who stayed silent since the run started (storeflows.silence).

A Lambda rather than a direct DynamoDB write: the unsubscribe and its report counter are one
transaction, conditional on the engagement recorded since the run started."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from storeflows.observability import logger, metrics, tracer
from storeflows.silence import unsubscribe_if_still_silent


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return unsubscribe_if_still_silent(event)
