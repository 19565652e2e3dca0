"""GET /reports/{store_id}?from=yyyy-mm-dd&to=yyyy-mm-dd&workflow=ID&message=ID: the store's
email report as JSON. The route is IAM-authorised (SigV4): for operators and their tools,
never for the public."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from storeflows import reports
from storeflows.http import install_error_handlers, json_response
from storeflows.observability import logger, metrics, tracer

app = APIGatewayHttpResolver()
install_error_handlers(app)


@app.get("/reports/<store_id>")
@tracer.capture_method
def store_report(store_id: str):
    query = app.current_event.get_query_string_value
    report = reports.store_report(
        store_id, query("from"), query("to"), workflow_id=query("workflow"), message_id=query("message")
    )
    return json_response(200, report.as_dict())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
