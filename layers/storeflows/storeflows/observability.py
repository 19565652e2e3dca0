"""One Logger, Tracer and Metrics for the whole package.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE, set once in template.yaml's Globals. Log ids (store, event,
order, workflow, message), never names, emails or message bodies."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def count_by(name: str, dimension: str, value: str) -> None:
    """One count of `name` with a dimension of its own (reason=unsubscribed) besides the
    service. Its own metric set, flushed at once: the invocation's other metrics keep theirs.
    Each distinct value is a CloudWatch metric of its own (billed per metric-month), so
    values come from short fixed lists (error codes, skip reasons), never from data."""
    counted = EphemeralMetrics()
    counted.add_dimension(name=dimension, value=value)
    counted.add_metric(name=name, unit=MetricUnit.Count, value=1)
    counted.flush_metrics()


__all__ = ["logger", "tracer", "metrics", "MetricUnit", "count_by"]
