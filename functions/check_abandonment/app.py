"""Workflow step of checkout and cart abandonment: before each reminder, is it due (and until
when to wait), may it go, or is the run over (storeflows.abandonment.check).

A Lambda rather than a direct DynamoDB read: the due time is the recorded last activity plus
a delay from the settings (ASL cannot add a duration to a timestamp), and the purchase,
completion and cooldown rules are domain code."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from storeflows.abandonment import check
from storeflows.messaging.requests import SendRequest
from storeflows.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = SendRequest.model_validate({key: event[key] for key in ("run", "message_id", "step")})
    return check(
        request,
        delay_seconds=int(event["delay"]),
        waited_for=str(event.get("waited_for") or ""),
        cooldown_seconds=int(event.get("cooldown") or 0),
    ).as_dict()
