"""boto3 clients, created once per process on first use.

No endpoint is configured here: in AWS the SDK's defaults apply, and the local stack points
the very same code at moto through the standard AWS_ENDPOINT_URL variable."""

from __future__ import annotations

from functools import cache

import boto3
from botocore.config import Config

# Adaptive retries absorb short throttling bursts inside one invocation; what still fails
# surfaces to the caller (SQS redelivery or a Step Functions Retry), never silently.
_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 5})


@cache
def client(service: str):
    return boto3.client(service, config=_CONFIG)


@cache
def dynamodb_table(name: str):
    return boto3.resource("dynamodb", config=_CONFIG).Table(name)
