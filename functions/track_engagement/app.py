"""SES engagement events (Send, Delivery, Open, Click, Bounce, Complaint, ...) from the
configuration set's SNS topic: counted once per email, bounces and complaints suppressed.

SNS invokes this function asynchronously: an error makes Lambda retry the event twice, then
park it in the tracking dead-letter queue, so a throttled table never loses an event and a
retry never counts twice (engagement.py counts each kind of event once per email)."""

from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from storeflows.engagement import record_ses_notification
from storeflows.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> list[dict]:
    return [record_ses_notification(record.sns.message) for record in event.records]
