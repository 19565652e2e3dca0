"""One Logger, Tracer and Metrics for the whole package.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE, set once in template.yaml's Globals. Log ids (store, event,
order, workflow, message), never names, emails or message bodies."""

import traceback
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from botocore.exceptions import ClientError
from pydantic import ValidationError

# An invocation that counts nothing is normal here (a skipped send counts on a metric set of
# its own, see count_by; an SES Send event counts nothing): not worth a warning in the logs.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)

logger = Logger()
# AWS calls are all we trace; patching every library X-Ray knows (its default) imports and
# patches sqlite3, http.client and more at each cold start: 55 ms of the send function's.
tracer = Tracer(patch_modules=("botocore",))
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


def error_summary(error: Exception) -> dict[str, Any]:
    """What an operator needs of a failure, for the log, without the data it failed on:
    exception messages quote inputs (pydantic's quote the offending value, an email say),
    so only the type, the AWS error code or the fields that failed validation, and where."""
    summary: dict[str, Any] = {"error_type": type(error).__name__}
    if isinstance(error, ValidationError):
        summary["invalid_fields"] = [
            {"field": ".".join(map(str, e["loc"])), "error": e["type"]} for e in error.errors()
        ]
    elif isinstance(error, ClientError):
        summary["error_code"] = error.response.get("Error", {}).get("Code")
    summary["raised_at"] = [
        f"{frame.filename}:{frame.lineno} {frame.name}" for frame in traceback.extract_tb(error.__traceback__)
    ]
    return summary


__all__ = ["logger", "tracer", "metrics", "MetricUnit", "count_by", "error_summary"]
