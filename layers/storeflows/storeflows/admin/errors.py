"""The admin operations' errors: an operator mistake or a refused action, a wrong file (every
mistake listed), a publish that validate_for_publish refused."""

from __future__ import annotations

from storeflows.errors import StoreflowsError
from storeflows.workflows import Workflow


class AdminError(StoreflowsError):
    """An operator mistake or a refused action; `detail` fits on one line."""


class InvalidDefinition(AdminError):
    """A workflow or message file is wrong: `problems` has one line per mistake."""

    def __init__(self, source: str, problems: list[str]):
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


class PublishRefused(AdminError):
    """validate_for_publish found problems; nothing was published."""

    def __init__(self, workflow: Workflow, problems: list[str]):
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"workflow {workflow.workflow_id} of store {workflow.store_id} not published: {count}")
        self.problems = problems
