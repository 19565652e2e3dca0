"""`storeflows workflows`: the templates, apply (drafts), validate, publish, pause, status (runs in
flight, failed runs), show, delete."""

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
        saved, live = apply_workflow(workflow)
        results.append(
            {
                "store": saved.store_id,
                "workflow": saved.workflow_id,
                "template": saved.template,
                "status": saved.status.value,
                "version": saved.version,
                "live_status": live.status.value if live else None,
                "live_version": live.version if live else None,
            }
        )
        where = f"workflow {saved.workflow_id} of store {saved.store_id}: saved as draft, version {saved.version}"
        if live is None:
            lines.append(where)
        elif live.status.value == "published":
            lines.append(
                f"{where}, next to published version {live.version}, which goes on starting runs until "
                "you publish the draft"
            )
        else:
            lines.append(
                f"{where}, next to paused version {live.version} (it starts no runs; publishing the draft "
                "resumes the workflow with it)"
            )
        lines.append(
            f"  next: storeflows workflows validate {saved.store_id} {saved.workflow_id}, "
            f"then storeflows workflows publish {saved.store_id} {saved.workflow_id}"
        )
    emit(args, results, "\n".join(lines))
    return 0


def _live_note(store_id: str, workflow_id: str) -> str:
    """What runs meanwhile, when the version being checked is a draft next to a live one."""
    from storeflows.admin.workflows import workflow_versions

    versions = workflow_versions(store_id, workflow_id)
    if versions.live is None or versions.draft is None:
        return ""
    running = "goes on starting runs" if versions.live.status.value == "published" else "stays paused"
    return f"; {versions.live.status.value} version {versions.live.version} {running} until the draft is published"


def workflows_validate(args) -> int:
    from storeflows.admin.workflows import check_workflow

    workflow, problems = check_workflow(args.store, args.workflow)
    data = {
        "store": workflow.store_id,
        "workflow": workflow.workflow_id,
        "version": workflow.version,
        "status": workflow.status.value,
    }
    if problems:
        report_problems(
            args,
            problems,
            f"workflow {workflow.workflow_id} version {workflow.version}: {len(problems)} problem(s) to fix before "
            f"publishing{_live_note(args.store, args.workflow)}",
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
        workflow, replaced = publish_workflow(args.store, args.workflow)
    except PublishRefused as err:
        report_problems(
            args,
            err.problems,
            err.detail + _live_note(args.store, args.workflow),
            {"store": args.store, "workflow": args.workflow},
        )
    emit(
        args,
        {
            "store": workflow.store_id,
            "workflow": workflow.workflow_id,
            "status": workflow.status.value,
            "version": workflow.version,
            "replaced_version": replaced.version if replaced else None,
        },
        f"workflow {workflow.workflow_id} version {workflow.version}: published"
        + (f", replacing version {replaced.version}" if replaced else "")
        + "; purchases start runs with it from now on"
        + ("; runs in flight keep the settings they started with" if replaced else ""),
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
        f"workflow {workflow.workflow_id} version {workflow.version}: paused; it starts no runs, runs in flight go "
        "on (publish resumes it)",
    )
    return 0


def workflows_status(args) -> int:
    from storeflows.admin.workflows import workflow_status

    rows = workflow_status(args.store, args.workflow)
    if not rows:
        emit(args, rows, f"store {args.store} has no workflows")
        return 0
    cells = [
        {**row, "draft_version": f"v{row['draft_version']} (not published)" if row["draft_version"] else None}
        for row in rows
    ]
    lines = [
        table(
            cells,
            [
                ("workflow", "WORKFLOW"),
                ("template", "TEMPLATE"),
                ("status", "STATUS"),
                ("version", "VERSION"),
                ("draft_version", "DRAFT"),
                ("in_flight", "IN FLIGHT"),
                ("failed", "FAILED"),
            ],
        )
    ]
    failures = [(row["workflow"], failure) for row in rows for failure in row["latest_failures"]]
    if failures:
        lines.append("latest failed runs (storeflows workflows validate STORE WORKFLOW checks the settings):")
        lines += [f"  {workflow}  {failure_text(failure)}" for workflow, failure in failures]
    emit(args, rows, "\n".join(lines))
    return 0


def failure_text(failure: dict) -> str:
    """One failed run on one line: when, what it was about, the step, the error and its cause."""
    from storeflows.events.subjects import describe_key

    about = describe_key(failure["subject"]) if failure["subject"] else "?"
    if failure["email"]:
        about += f" ({failure['email']})"
    cause = " ".join((failure["cause"] or "").split())
    if len(cause) > 200:
        cause = cause[:199] + "…"
    error = ": ".join(part for part in (failure["error"], cause) if part) or "no error recorded"
    return f"{failure['failed_at']}  {about}  step {failure['step'] or '?'}: {error}"


def workflows_show(args) -> int:
    from storeflows.admin.files import workflow_file_data, workflow_yaml
    from storeflows.admin.workflows import workflow_versions

    versions = workflow_versions(args.store, args.workflow)
    shown = [(name, found) for name, found in (("live", versions.live), ("draft", versions.draft)) if found]
    data = {
        name: {"status": found.status.value, "version": found.version, **workflow_file_data(found)}
        for name, found in shown
    }
    lines = []
    for name, found in shown:
        what = "draft (not published)" if name == "draft" else found.status.value
        if name == "draft" and versions.live is None:
            what = "draft (never published)"
        lines.append(f"# version {found.version}: {what}")
        lines.append(workflow_yaml(found).rstrip())
    emit(args, data, "\n".join(lines))
    return 0


def workflows_delete(args) -> int:
    from storeflows.admin.workflows import delete_workflow

    deleted = delete_workflow(args.store, args.workflow, draft_only=args.draft, stop=args.stop_runs)
    versions = deleted.versions
    gone = [f"{found.status.value} version {found.version}" for found in (versions.live, versions.draft) if found]
    line = f"workflow {args.workflow} of store {args.store}: deleted {' and '.join(gone)}"
    if args.draft:
        line += "; the live version is unchanged"
    elif deleted.stopped:
        line += f"; its {deleted.stopped} run(s) in flight stopped"
    else:
        line += "; it starts no more runs"
    emit(
        args,
        {
            "store": args.store,
            "workflow": args.workflow,
            "deleted": [
                {"status": found.status.value, "version": found.version}
                for found in (versions.live, versions.draft)
                if found
            ],
            "runs_stopped": deleted.stopped,
        },
        line,
    )
    return 0


def register(groups: argparse._SubParsersAction, build: Build) -> None:
    workflows = build.group(
        groups,
        "workflows",
        "workflow templates, drafts, publishing, status",
        "A workflow is a template + a store + settings. apply saves a draft, validate checks it,\n"
        "publish makes it start runs, pause stops it starting runs. Applying to a published\n"
        "workflow saves a draft next to it: the published version goes on starting runs until\n"
        "the draft is published. Runs in flight keep the settings they started with (the\n"
        "dispatcher snapshots them into each run's input).",
    )
    build.command(workflows, "templates", workflows_templates, "the templates and what each does", target=False)
    build.apply_command(
        workflows,
        workflows_apply,
        "save workflow files as drafts",
        "Saves each workflow file as a draft with the next version number. A file holds\n"
        "store, workflow (its id), template and settings; durations are written 10d, 12h, 30m.\n"
        "Applying to a published (or paused) workflow saves the draft next to it: the published\n"
        "version goes on starting runs, unchanged, until you publish the draft (validate and\n"
        "publish act on the draft). Runs in flight go on with the settings they started with.\n"
        "All files are checked first: if any has a problem, nothing is saved.",
    )
    for name, handler, help_ in (
        (
            "validate",
            workflows_validate,
            "check a workflow (its draft, if it has one): messages and senders exist, template checks",
        ),
        (
            "publish",
            workflows_publish,
            "validate, then publish (the draft, if there is one): purchases start runs with it from now on",
        ),
        ("pause", workflows_pause, "stop the live version starting runs; runs in flight go on (publish resumes)"),
        ("show", workflows_show, "the live version and the draft, as workflow files (durations as 10d)"),
    ):
        sub = build.command(workflows, name, handler, help_)
        sub.add_argument("store")
        sub.add_argument("workflow")
    sub = build.command(
        workflows,
        "status",
        workflows_status,
        "status, version, draft, runs in flight, failed runs and their errors",
        "Status and version of the live version, the draft next to it, the number of runs in\n"
        "flight and of failed runs (those Step Functions still lists: 90 days after they end),\n"
        "and for the 3 latest failures of each workflow: when, the order and contact, the step\n"
        "that failed, its error and cause. One or every workflow of a store.",
    )
    sub.add_argument("store")
    sub.add_argument("workflow", nargs="?")
    sub = build.command(
        workflows,
        "delete",
        workflows_delete,
        "delete a workflow (or only its draft)",
        "Deletes the workflow, live version and draft: it starts no more runs. Refused while it\n"
        "has runs in flight (an erasure finds a contact's runs through the store's workflows, so\n"
        "none may outlive its workflow): pause it and delete it once they have ended, or pass\n"
        "--stop-runs to stop them now. --draft deletes only the draft next to a live version.",
    )
    sub.add_argument("store")
    sub.add_argument("workflow")
    scope = sub.add_mutually_exclusive_group()
    scope.add_argument("--draft", action="store_true", help="delete only the draft; the live version goes on")
    scope.add_argument("--stop-runs", action="store_true", help="stop the workflow's runs in flight, then delete it")
