"""Reads template.yaml the way CloudFormation would, for the local stack.

The local stack builds every resource from the template itself, never from a second
description: this module parses it with cfn-lint's CloudFormation-aware loader, resolves
the intrinsic functions the template uses (Ref, Fn::GetAtt, Fn::Sub, pseudo parameters),
and substitutes DefinitionSubstitutions into the ASL files the way Step Functions does.
Anything it does not know fails loudly instead of being guessed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cfnlint.decode

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "storeflows-local"

PSEUDO_PARAMETERS = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": STACK_NAME,
}

_TOKEN = re.compile(r"\$\{([^}]+)\}")

# Resource types with no local counterpart: they only matter in a real account.
CLOUD_ONLY_TYPES = frozenset(
    {
        "AWS::Logs::LogGroup",
        "AWS::IAM::ManagedPolicy",
        "AWS::SNS::Subscription",
        "AWS::SNS::TopicPolicy",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::IAM::Role",
        "AWS::SQS::QueuePolicy",
    }
)


class TemplateError(ValueError):
    """template.yaml uses something the local stack cannot honour."""


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as in the template, e.g. /webhooks/shopify/{store_id}

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path)) + "$")


@dataclass
class FunctionSpec:
    logical_id: str
    code_dir: Path
    module: str
    handler: str
    timeout: int
    environment: dict[str, Any]
    routes: list[Route] = field(default_factory=list)
    sqs_queues: list[Any] = field(default_factory=list)  # unresolved queue ARN expressions
    batch_size: int = 10
    sns_topics: list[Any] = field(default_factory=list)  # unresolved topic ARN expressions
    # Asynchronous invocations (SNS): retries after an error, then this queue (unresolved ARN).
    async_retries: int = 2
    dead_letter_queue: Any = None

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.logical_id}"


class Template:
    def __init__(self, root: Path, parameters: dict[str, str] | None = None):
        self.root = root
        path = root / "template.yaml"
        document, problems = cfnlint.decode.decode(str(path))
        if problems or document is None:
            raise TemplateError(f"cannot parse {path}: {problems}")
        self.document: dict[str, Any] = document
        self.resources: dict[str, dict[str, Any]] = document["Resources"]
        self.parameters = self._parameter_values(parameters or {})
        # Logical id -> {"Ref": value, attribute: value}; filled as the stack creates resources.
        self.physical: dict[str, dict[str, str]] = {}

    def _parameter_values(self, given: dict[str, str]) -> dict[str, str]:
        values = {}
        for name, declaration in self.document.get("Parameters", {}).items():
            if name in given:
                values[name] = str(given[name])
            elif "Default" in declaration:
                values[name] = str(declaration["Default"])
            else:
                raise TemplateError(f"parameter {name} has no default; the local stack must be given a value")
        return values

    # --- inventory ----------------------------------------------------------------------

    @staticmethod
    def physical_name(logical_id: str) -> str:
        return f"{STACK_NAME}-{logical_id}"

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res["Type"] == resource_type}

    def check_types(self, supported: set[str]) -> None:
        unknown = {res["Type"] for res in self.resources.values() if res["Type"] not in supported | CLOUD_ONLY_TYPES}
        if unknown:
            raise TemplateError(f"the local stack does not know how to run {sorted(unknown)}")

    def layer_dirs(self) -> list[Path]:
        return [
            self.root / res["Properties"]["ContentUri"]
            for res in self.of_type("AWS::Serverless::LayerVersion").values()
        ]

    def functions(self) -> list[FunctionSpec]:
        globals_ = self.document.get("Globals", {}).get("Function", {})
        specs = []
        for logical_id, res in self.of_type("AWS::Serverless::Function").items():
            props = res["Properties"]
            module, handler = props["Handler"].rsplit(".", 1)
            environment = {
                **globals_.get("Environment", {}).get("Variables", {}),
                **props.get("Environment", {}).get("Variables", {}),
            }
            spec = FunctionSpec(
                logical_id=logical_id,
                code_dir=self.root / props["CodeUri"],
                module=module,
                handler=handler,
                timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
                environment=environment,
                async_retries=int(props.get("EventInvokeConfig", {}).get("MaximumRetryAttempts", 2)),
                dead_letter_queue=props.get("DeadLetterQueue", {}).get("TargetArn"),
            )
            for event in props.get("Events", {}).values():
                if event["Type"] == "HttpApi":
                    spec.routes.append(Route(event["Properties"]["Method"].upper(), event["Properties"]["Path"]))
                elif event["Type"] == "SQS":
                    spec.sqs_queues.append(event["Properties"]["Queue"])
                    spec.batch_size = int(event["Properties"].get("BatchSize", 10))
                elif event["Type"] == "SNS" and "FilterPolicy" not in event["Properties"]:
                    spec.sns_topics.append(event["Properties"]["Topic"])
                else:
                    raise TemplateError(f"{logical_id}: event type {event['Type']} has no local counterpart")
            specs.append(spec)
        return specs

    def function(self, logical_id: str) -> FunctionSpec:
        return next(spec for spec in self.functions() if spec.logical_id == logical_id)

    def placeholder_environment(self, spec: FunctionSpec) -> dict[str, str]:
        """A function's environment as the template gives it, for running its code outside a
        stack: literals and parameter defaults kept (e.g. POWERTOOLS_LOG_LEVEL -> INFO),
        references to resources, which only exist once deployed, made placeholder strings."""
        environment = {}
        for name, value in spec.environment.items():
            try:
                environment[name] = str(self.resolve(value))
            except TemplateError:
                environment[name] = f"dummy-{name.lower()}"
        return environment

    def state_machine_definition(self, logical_id: str) -> str:
        """The ASL file with its DefinitionSubstitutions applied; unknown tokens fail."""
        props = self.resources[logical_id]["Properties"]
        text = (self.root / props["DefinitionUri"]).read_text()
        substitutions = {
            name: str(self.resolve(value)) for name, value in props.get("DefinitionSubstitutions", {}).items()
        }

        def substitute(match: re.Match[str]) -> str:
            token = match.group(1)
            if token not in substitutions:
                raise TemplateError(f"{props['DefinitionUri']} uses ${{{token}}}, which DefinitionSubstitutions lacks")
            return substitutions[token]

        definition = _TOKEN.sub(substitute, text)
        json.loads(definition)  # a substitution must never break the JSON
        return definition

    # --- intrinsic functions --------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((name, argument),) = value.items()
                if name == "Ref":
                    return self._ref(argument)
                if name == "Fn::GetAtt":
                    logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                    return self._attribute(logical_id, attribute)
                if name == "Fn::Sub":
                    return self._sub(argument)
                if name.startswith("Fn::"):
                    raise TemplateError(f"intrinsic {name} is not supported by the local stack")
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    def _ref(self, name: str) -> str:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self.parameters:
            return self.parameters[name]
        return self._attribute(name, "Ref")

    def _attribute(self, logical_id: str, attribute: str) -> str:
        if logical_id not in self.resources:
            raise TemplateError(f"unknown resource {logical_id}")
        try:
            return self.physical[logical_id][attribute]
        except KeyError:
            raise TemplateError(f"{logical_id}.{attribute} is not known locally (not created yet?)") from None

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        variables = {name: self.resolve(item) for name, item in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            token = match.group(1)
            if token in variables:
                return str(variables[token])
            if "." in token and not token.startswith("AWS::"):
                return self._attribute(*token.split(".", 1))
            return self._ref(token)

        return _TOKEN.sub(substitute, text)
