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
# SES without adaptive mode's client-side rate limiter: one refusal would hold back every later
# send of the environment (seconds to minutes, claims held meanwhile). The SES pacer keeps the
# pace (storeflows.messaging.pacing); what SES still refuses after a short retry goes back to
# Step Functions as SendThrottled.
_SES_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})


@cache
def client(service: str):
    return boto3.client(service, config=_SES_CONFIG if service == "sesv2" else _CONFIG)


@cache
def dynamodb_table(name: str):
    return boto3.resource("dynamodb", config=_CONFIG).Table(name)
