"""Which Storeflows the CLI talks to: a deployed stack (its CloudFormation outputs) or the
running local stack (its .storeflows/local.json). Either way the result is the environment
the layer's code expects (config.Settings), so the CLI runs the product's own code paths."""

from __future__ import annotations

import os
import re

from storeflows.config import Settings
from storeflows_local.local_file import local_file_path, process_alive, read_local_file


class TargetError(Exception):
    """No usable target; the message says what to do."""


# Stack outputs that are not named after their setting.
_OUTPUT_SETTINGS = {"ApiUrl": "public_api_url", "ConfigurationSetName": "ses_configuration_set"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def stack_environment(outputs: dict[str, str]) -> dict[str, str]:
    """CloudFormation outputs -> environment: TableName -> TABLE_NAME, ApiUrl ->
    PUBLIC_API_URL, ConfigurationSetName -> SES_CONFIGURATION_SET, SenderIdentity ->
    SENDER_IDENTITY, StateMachineArnPrefix -> STATE_MACHINE_ARN_PREFIX (and the outputs
    that name no setting are left out)."""
    environment = {}
    for key, value in outputs.items():
        setting = _OUTPUT_SETTINGS.get(key) or _snake(key)
        if setting in Settings.model_fields:
            environment[setting.upper()] = value
    return environment


def use_stack(name: str) -> str:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except ClientError as err:
        raise TargetError(f"stack {name}: {err.response['Error'].get('Message', err)}") from None
    except BotoCoreError as err:
        raise TargetError(f"stack {name}: {err}") from None
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
    environment = stack_environment(outputs)
    if "TABLE_NAME" not in environment:
        raise TargetError(f"stack {name} has no TableName output: is it a Storeflows stack?")
    os.environ.update(environment)
    return f"stack {name}"


def local_environment(info: dict) -> dict[str, str]:
    environment = {
        "AWS_ENDPOINT_URL": info["aws_endpoint_url"],
        # moto accepts any credentials; these keep real ones from ever being sent there.
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": info.get("region") or "us-east-1",
        "AWS_REGION": info.get("region") or "us-east-1",
        "TABLE_NAME": info["table_name"],
        "PUBLIC_API_URL": info["api_url"],
    }
    if info.get("configuration_set"):
        environment["SES_CONFIGURATION_SET"] = info["configuration_set"]
    if info.get("sender_identity"):
        environment["SENDER_IDENTITY"] = info["sender_identity"]
    if info.get("state_machine_arn_prefix"):
        environment["STATE_MACHINE_ARN_PREFIX"] = info["state_machine_arn_prefix"]
    return environment


def use_local(*, required: bool = True) -> str | None:
    path = local_file_path()
    info = read_local_file(path)
    if info is None:
        if not required:
            return None
        raise TargetError(f"no local stack ({path} is missing): start one with `make dev`, or pass --stack NAME")
    if info.get("pid") and not process_alive(int(info["pid"])):
        raise TargetError(f"the local stack in {path} is not running any more: start `make dev` again")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(local_environment(info))
    return f"local stack {info['api_url']}"


def choose(stack: str | None, local: bool) -> str:
    """--stack NAME (or STOREFLOWS_STACK), --local, else the local stack if one is running."""
    if stack and local:
        raise TargetError("pass --stack or --local, not both")
    stack = stack or (None if local else os.environ.get("STOREFLOWS_STACK"))
    if stack:
        return use_stack(stack)
    described = use_local(required=local)
    if described is None:
        raise TargetError(
            "no target: pass --stack NAME (or set STOREFLOWS_STACK), or start the local stack with `make dev`"
        )
    return described
