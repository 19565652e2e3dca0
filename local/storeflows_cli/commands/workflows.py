"""`storeflows workflows`: the templates, apply (drafts), validate, publish, pause, status."""

from __future__ import annotations

import argparse

from storeflows_cli.commands import Build
from storeflows_cli.output import emit, load_files, report_problems, table


def workflows_templates(args) -> int:
    from storeflows.admin.workflows import template_description, templates

    rows = [{"template": name, "description": template_description(cls)} for name, cls in templates().items()]
    emit(args, rows, "\n".join(f"{row['template']:<24}{row['description']}" for row in rows))
    return 0


def workflows_apply(args) -> int:
    from storeflows.admin.files import load_workflow_yaml
    from storeflows.admin.stores import require_store
    from storeflows.admin.workflows import apply_workflow
    from storeflows_cli.cli import use_target

    workflows = load_files(args, lambda text, path: load_workflow_yaml(text, source=str(path), store=args.store))
    use_target(args)  # after the files: their mistakes are reported without a stack
    for store_id in {workflow.store_id for workflow in workflows}:
        require_store(store_id)  # before anything is saved
    results, lines = [], []
    for workflow in workflows:
        saved, previous = apply_workflow(workflow)
        results.append(
            {
                "store": saved.store_id,
                "workflow": saved.workflow_id,
                "template": saved.template,
                "status": saved.status.value,
                "version": saved.version,
                "previous_status": previous.status.value if previous else None,
            }
        )
        was = ""
        if previous is not None and previous.status.value == "published":
            was = " (was published: it starts no runs until you publish it again; runs in flight go on)"
        lines.append(
            f"workflow {saved.workflow_id} of store {saved.store_id}: saved as draft, version {saved.version}{was}"
        )
        lines.append(f"  next: storeflows workflows validate {saved.store_id} {saved.workflow_id}")
    emit(args, results, "\n".join(lines))
    return 0


def workflows_validate(args) -> int:
    from storeflows.admin.workflows import check_workflow

    workflow, problems = check_workflow(args.store, args.workflow)
    data = {"store": workflow.store_id, "workflow": workflow.workflow_id, "version": workflow.version}
    if problems:
        report_problems(
            args,
            problems,
            f"workflow {workflow.workflow_id}: {len(problems)} problem(s) to fix before publishing",
            data,
        )
    emit(
        args,
        {**data, "ok": True, "problems": []},
        f"workflow {workflow.workflow_id} version {workflow.version}: no problems, ready to publish",
    )
    return 0


def workflows_publish(args) -> int:
    from storeflows.admin.errors import PublishRefused
    from storeflows.admin.workflows import publish_workflow

    try:
        workflow = publish_workflow(args.store, args.workflow)
    except PublishRefused as err:
        report_problems(args, err.problems, err.detail, {"store": args.store, "workflow": args.workflow})
    emit(
        args,
        {
            "store": workflow.store_id,
            "workflow": workflow.workflow_id,
            "status": workflow.status.value,
            "version": workflow.version,
        },
        f"workflow {workflow.workflow_id} version {workflow.version}: published; purchases start runs from now on",
    )
    return 0


def workflows_pause(args) -> int:
    from storeflows.admin.workflows import pause_workflow

    workflow = pause_workflow(args.store, args.workflow)
    emit(
        args,
        {
            "store": workflow.store_id,
            "workflow": workflow.workflow_id,
            "status": workflow.status.value,
            "version": workflow.version,
        },
        f"workflow {workflow.workflow_id}: paused; it starts no runs, runs in flight go on (publish resumes it)",
    )
    return 0


def workflows_status(args) -> int:
    from storeflows.admin.workflows import workflow_status

    rows = workflow_status(args.store, args.workflow)
    text = (
        table(
            rows,
            [
                ("workflow", "WORKFLOW"),
                ("template", "TEMPLATE"),
                ("status", "STATUS"),
                ("version", "VERSION"),
                ("in_flight", "IN FLIGHT"),
            ],
        )
        if rows
        else f"store {args.store} has no workflows"
    )
    emit(args, rows, text)
    return 0


def register(groups: argparse._SubParsersAction, build: Build) -> None:
    workflows = build.group(
        groups,
        "workflows",
        "workflow templates, drafts, publishing, status",
        "A workflow is a template + a store + settings. apply saves a draft, validate checks it,\n"
        "publish makes it start runs, pause stops it starting runs. Runs in flight keep the\n"
        "settings they started with (the dispatcher snapshots them into each run's input).",
    )
    build.command(workflows, "templates", workflows_templates, "the templates and what each does", target=False)
    build.apply_command(
        workflows,
        workflows_apply,
        "save workflow files as drafts",
        "Saves each workflow file as a draft with the next version number. A file holds\n"
        "store, workflow (its id), template and settings; durations are written 10d, 12h, 30m.\n"
        "Applying to a published workflow makes it a draft: it starts no runs until you publish\n"
        "it again; its runs in flight go on with the settings they started with.\n"
        "All files are checked first: if any has a problem, nothing is saved.",
    )
    for name, handler, help_ in (
        (
            "validate",
            workflows_validate,
            "check a workflow: its messages and their senders exist, template-specific checks",
        ),
        ("publish", workflows_publish, "validate, then publish: purchases start runs from now on"),
        ("pause", workflows_pause, "stop starting runs; runs in flight go on (publish resumes)"),
    ):
        sub = build.command(workflows, name, handler, help_)
        sub.add_argument("store")
        sub.add_argument("workflow")
    sub = build.command(
        workflows,
        "status",
        workflows_status,
        "status, version, template and runs in flight",
        "Status, version, template and the number of runs in flight (running executions of the\n"
        "template's state machine for this workflow) of one or every workflow of a store.",
    )
    sub.add_argument("store")
    sub.add_argument("workflow", nargs="?")
