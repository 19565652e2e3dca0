"""The `storeflows` command: argparse in front of storeflows.admin.

Every command prints what it did for a person, or JSON with --json. Expected errors end
the command with a non-zero exit status and one line on stderr, `storeflows: error:
<reason>`; problems found in a file or before publishing are listed on stdout first."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Callable

PROG = "storeflows"

DESCRIPTION = """\
Configure Storeflows: stores and their webhook secrets, workflows (a template + a store +
settings), the messages they send and who sends them, and the contacts they reach.

A workflow is saved as a draft (`workflows apply`), checked (`workflows validate`) and
published (`workflows publish`); only published workflows start runs, paused ones start
none. Runs in flight keep the settings they started with: the dispatcher snapshots the
settings into each run's input, so applying, publishing or pausing never changes a run
that has started. Messages are read when a run sends, so `messages apply` changes every
later send, also of runs in flight; so does `senders apply` for the messages naming a
sender profile.

Target: --stack NAME (or STOREFLOWS_STACK) reads a deployed stack's CloudFormation
outputs with your AWS credentials (AWS_PROFILE, AWS_REGION as usual); --local uses the
local stack of `make dev`. Without either, the local stack is used if it is running."""

EPILOG = """\
examples:
  storeflows stores create my-shop --platform shopify
  storeflows workflows templates
  storeflows senders apply examples/senders/*.yaml --store my-shop
  storeflows messages apply examples/messages/*.yaml --store my-shop
  storeflows workflows apply examples/workflows/targeted_post_purchase.yaml --store my-shop
  storeflows workflows validate my-shop targeted-post-purchase
  storeflows workflows publish my-shop targeted-post-purchase
  storeflows workflows status my-shop
  storeflows messages preview my-shop first-purchase-thanks --email ana@example.com --out preview.html
  storeflows contacts export my-shop --out contacts.csv --consent-only --not-in-workflow care
  storeflows contacts export my-shop ana@example.com --out ana.json
  storeflows contacts delete my-shop ana@example.com
  storeflows --stack storeflows-prod workflows status my-shop"""


class UsageError(Exception):
    """The command line itself is wrong."""


class CliError(Exception):
    """An expected failure with a one-line reason."""


class Problems(Exception):
    """A list of problems (already printed) and a one-line summary."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print the usage and exit 2
        raise UsageError(f"{message} (see: {self.prog} --help)")


def _common_options(*, suppress: bool) -> argparse.ArgumentParser:
    """--json and the target, accepted before or after the command."""
    parser = argparse.ArgumentParser(add_help=False)
    default = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument("--json", action="store_true", help="machine-readable output", **default)
    target = parser.add_argument_group("target")
    target.add_argument("--stack", metavar="NAME", help="a deployed stack (default: $STOREFLOWS_STACK)", **default)
    target.add_argument("--local", action="store_true", help="the local stack of `make dev`", **default)
    return parser


# --- output -------------------------------------------------------------------------------------

def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    elif text:
        print(text)


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    cells = [[title for _, title in columns]] + [
        ["-" if row.get(key) is None else str(row.get(key)) for key, _ in columns] for row in rows
    ]
    widths = [max(len(line[index]) for line in cells) for index in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells)


def _problems(args: argparse.Namespace, problems: list[str], summary: str, data: dict[str, Any] | None = None):
    _emit(args, {**(data or {}), "ok": False, "problems": problems}, "\n".join(problems))
    raise Problems(summary)


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def _read(path: str) -> str:
    try:
        return Path(path).read_text("utf-8")
    except OSError as err:
        raise CliError(f"cannot read {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise CliError(f"cannot read {path}: not UTF-8 text") from None


# --- stores -------------------------------------------------------------------------------------

def _webhook_url(platform: str, store_id: str) -> str | None:
    from storeflows.config import settings

    api = settings().public_api_url
    if not api:
        return None
    path = {"api": f"/events/{store_id}", "shopify": f"/webhooks/shopify/{store_id}",
            "woocommerce": f"/webhooks/woocommerce/{store_id}"}[platform]
    return api.rstrip("/") + path


def _secret_text(verb: str, store_id: str, platform: str, secret: str) -> str:
    url = _webhook_url(platform, store_id)
    return "\n".join(line for line in (
        f"store {store_id}: {verb} {platform} secret (shown once; keep it in the store's {platform} settings):",
        f"  {secret}",
        f"webhook URL: {url}" if url else "",
    ) if line)


def stores_create(args) -> int:
    from storeflows.admin.stores import create_store

    store, secret = create_store(args.store, args.platform, secret=args.secret, name=args.name or "")
    _emit(args, {"store": store.store_id, "platform": args.platform, "secret": secret,
                 "webhook_url": _webhook_url(args.platform, store.store_id)},
          _secret_text("created with a", store.store_id, args.platform, secret))
    return 0


def stores_rotate_secret(args) -> int:
    from storeflows.admin.stores import rotate_secret

    store, secret = rotate_secret(args.store, args.platform, secret=args.secret)
    text = _secret_text("new", store.store_id, args.platform, secret)
    _emit(args, {"store": store.store_id, "platform": args.platform, "secret": secret,
                 "webhook_url": _webhook_url(args.platform, store.store_id)},
          text + "\nrequests signed with the old secret are refused from now on: update the store now")
    return 0


def stores_list(args) -> int:
    from storeflows.admin.stores import store_platforms
    from storeflows.storage import stores

    rows = [{"store": store.store_id, "name": store.name, "platforms": ", ".join(store_platforms(store))}
            for store in sorted(stores.list_stores(), key=lambda store: store.store_id)]
    _emit(args, rows, _table(rows, [("store", "STORE"), ("name", "NAME"), ("platforms", "PLATFORMS")]) if rows
          else "no stores yet: storeflows stores create <id> --platform ...")
    return 0


# --- workflows ----------------------------------------------------------------------------------

def workflows_templates(args) -> int:
    from storeflows.admin.workflows import template_description, templates

    rows = [{"template": name, "description": template_description(cls)} for name, cls in templates().items()]
    _emit(args, rows, "\n".join(f"{row['template']:<24}{row['description']}" for row in rows))
    return 0


def _load_files(args, loader: Callable[..., Any]) -> list[Any]:
    from storeflows.admin.errors import InvalidDefinition

    loaded, problems = [], []
    for path in args.files:
        try:
            loaded.append(loader(_read(path), Path(path)))
        except InvalidDefinition as err:
            problems += [f"{path}: {line}" for line in err.problems]
        except CliError as err:
            problems.append(str(err))
    _refuse(args, problems)
    return loaded


def _refuse(args, problems: list[str]) -> None:
    """Ends an apply command, having saved nothing, when any of its files has a problem."""
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        _problems(args, problems, f"nothing applied: {count} in {len(args.files)} file(s)")


def _target_problems(args, loaded: list[Any], check: Callable[[Any], list[str]]) -> None:
    """Problems only the target can see (a sender profile the store does not have, a From
    outside the SES identity), for every file before anything is saved."""
    _refuse(args, [f"{path}: {line}" for path, item in zip(args.files, loaded) for line in check(item)])


def workflows_apply(args) -> int:
    from storeflows.admin.files import load_workflow_yaml
    from storeflows.admin.stores import require_store
    from storeflows.admin.workflows import apply_workflow

    workflows = _load_files(args, lambda text, path: load_workflow_yaml(text, source=str(path), store=args.store))
    _use_target(args)  # after the files: their mistakes are reported without a stack
    for store_id in {workflow.store_id for workflow in workflows}:
        require_store(store_id)  # before anything is saved
    results, lines = [], []
    for workflow in workflows:
        saved, previous = apply_workflow(workflow)
        results.append({"store": saved.store_id, "workflow": saved.workflow_id, "template": saved.template,
                        "status": saved.status.value, "version": saved.version,
                        "previous_status": previous.status.value if previous else None})
        was = ""
        if previous is not None and previous.status.value == "published":
            was = " (was published: it starts no runs until you publish it again; runs in flight go on)"
        lines.append(f"workflow {saved.workflow_id} of store {saved.store_id}: saved as draft, version {saved.version}{was}")
        lines.append(f"  next: storeflows workflows validate {saved.store_id} {saved.workflow_id}")
    _emit(args, results, "\n".join(lines))
    return 0


def workflows_validate(args) -> int:
    from storeflows.admin.workflows import check_workflow

    workflow, problems = check_workflow(args.store, args.workflow)
    data = {"store": workflow.store_id, "workflow": workflow.workflow_id, "version": workflow.version}
    if problems:
        _problems(args, problems, f"workflow {workflow.workflow_id}: {len(problems)} problem(s) to fix before publishing", data)
    _emit(args, {**data, "ok": True, "problems": []},
          f"workflow {workflow.workflow_id} version {workflow.version}: no problems, ready to publish")
    return 0


def workflows_publish(args) -> int:
    from storeflows.admin.errors import PublishRefused
    from storeflows.admin.workflows import publish_workflow

    try:
        workflow = publish_workflow(args.store, args.workflow)
    except PublishRefused as err:
        _problems(args, err.problems, err.detail, {"store": args.store, "workflow": args.workflow})
    _emit(args, {"store": workflow.store_id, "workflow": workflow.workflow_id, "status": workflow.status.value,
                 "version": workflow.version},
          f"workflow {workflow.workflow_id} version {workflow.version}: published; purchases start runs from now on")
    return 0


def workflows_pause(args) -> int:
    from storeflows.admin.workflows import pause_workflow

    workflow = pause_workflow(args.store, args.workflow)
    _emit(args, {"store": workflow.store_id, "workflow": workflow.workflow_id, "status": workflow.status.value,
                 "version": workflow.version},
          f"workflow {workflow.workflow_id}: paused; it starts no runs, runs in flight go on (publish resumes it)")
    return 0


def workflows_status(args) -> int:
    from storeflows.admin.workflows import workflow_status

    rows = workflow_status(args.store, args.workflow)
    text = _table(rows, [("workflow", "WORKFLOW"), ("template", "TEMPLATE"), ("status", "STATUS"),
                         ("version", "VERSION"), ("in_flight", "IN FLIGHT")]) if rows else f"store {args.store} has no workflows"
    _emit(args, rows, text)
    return 0


# --- senders ------------------------------------------------------------------------------------

def senders_apply(args) -> int:
    from storeflows.admin.files import load_sender_yaml
    from storeflows.admin.messages import sender_problems
    from storeflows.admin.senders import apply_sender
    from storeflows.admin.stores import require_store

    profiles = _load_files(args, lambda text, path: load_sender_yaml(text, source=str(path), store=args.store))
    _use_target(args)  # after the files: their mistakes are reported without a stack
    for store_id in {profile.store_id for profile in profiles}:
        require_store(store_id)  # before anything is saved
    _target_problems(args, profiles, lambda profile: sender_problems(profile, "address"))
    results, lines = [], []
    for profile in profiles:
        saved, users = apply_sender(profile)
        results.append({"store": saved.store_id, "sender": saved.sender_id, "name": saved.name,
                        "address": saved.address, "reply_to": saved.reply_to, "used_by": users})
        lines.append(f"sender {saved.sender_id} of store {saved.store_id}: saved ({saved.name} <{saved.address}>"
                     + (f", replies to {saved.reply_to}" if saved.reply_to else "") + ")")
        if users:
            lines.append(f"  named by messages {', '.join(users)}: their next sends come from it")
    _emit(args, results, "\n".join(lines))
    return 0


def senders_delete(args) -> int:
    from storeflows.admin.senders import delete_sender

    delete_sender(args.store, args.sender)
    _emit(args, {"store": args.store, "sender": args.sender, "deleted": True},
          f"sender {args.sender} of store {args.store}: deleted")
    return 0


def senders_list(args) -> int:
    from storeflows.admin.senders import list_senders

    rows = list_senders(args.store)
    text = _table([{**row, "used_by": ", ".join(row["used_by"]) or None} for row in rows],
                  [("sender", "SENDER"), ("name", "NAME"), ("address", "FROM"), ("reply_to", "REPLY-TO"),
                   ("used_by", "MESSAGES")]) if rows else f"store {args.store} has no sender profiles"
    _emit(args, rows, text)
    return 0


# --- messages -----------------------------------------------------------------------------------

def messages_apply(args) -> int:
    from storeflows.admin.files import load_message_yaml
    from storeflows.admin.messages import apply_message, message_sender_problems
    from storeflows.admin.stores import require_store

    messages = _load_files(args, lambda text, path: load_message_yaml(
        text, base_dir=path.parent, source=str(path), store=args.store))
    _use_target(args)  # after the files: their mistakes are reported without a stack
    for store_id in {message.store_id for message in messages}:
        require_store(store_id)  # before anything is saved
    _target_problems(args, messages, message_sender_problems)
    results, lines = [], []
    for message in messages:
        saved, users = apply_message(message)
        languages = sorted(saved.variants)
        results.append({"store": saved.store_id, "message": saved.message_id, "purpose": saved.purpose.value,
                        "languages": languages, "fallback_language": saved.default_language,
                        "published_workflows_using_it": users})
        lines.append(f"message {saved.message_id} of store {saved.store_id}: saved ({saved.purpose.value}; "
                     f"languages {', '.join(languages)}; fallback {saved.default_language})")
        if users:
            lines.append(f"  used by published workflows {', '.join(users)}: their next sends use this content")
    _emit(args, results, "\n".join(lines))
    return 0


def messages_preview(args) -> int:
    from storeflows.admin.messages import preview_message

    preview = preview_message(args.store, args.message, email=args.email, order_id=args.order,
                              language=args.language)
    try:
        Path(args.out).write_text(preview.rendered.html, "utf-8")
    except OSError as err:
        raise CliError(f"cannot write {args.out}: {err.strerror}") from None
    data = {"out": args.out, "subject": preview.rendered.subject, "language": preview.language,
            "from": preview.sender.model_dump(), "contact": preview.contact.email, "order": preview.order.id,
            "sample_contact": preview.sample_contact, "sample_order": preview.sample_order, "text": preview.rendered.text,
            "warnings": list(preview.warnings)}
    samples = [what for what, sample in (("contact", preview.sample_contact), ("order", preview.sample_order)) if sample]
    lines = [f"wrote {args.out}", f"from: {preview.sender.name} <{preview.sender.address}>",
             f"subject: {preview.rendered.subject}",
             f"language {preview.language}, contact {preview.contact.email}, order {preview.order.id}"]
    if samples:
        lines.append(f"sample data for the {' and '.join(samples)} (none on record)")
    lines += [f"warning: {warning}" for warning in preview.warnings]
    _emit(args, data, "\n".join(lines))
    return 0


def messages_test_send(args) -> int:
    from storeflows.admin.messages import send_test

    result = send_test(args.store, args.message, to=args.to, email=args.email, order_id=args.order,
                       language=args.language)
    _emit(args, result, f"sent {result['subject']!r} to {result['to']} (language {result['language']}; "
                        f"SES message {result['ses_message_id']}); recorded on no contact")
    return 0


# --- contacts -----------------------------------------------------------------------------------

def contacts_show(args) -> int:
    from storeflows.admin.contacts import contact_summary
    from storeflows.events.subjects import describe_key

    summary = contact_summary(args.store, args.email)
    consent = summary.get("consent") or {}
    name = " ".join(part for part in (summary.get("first_name"), summary.get("last_name")) if part) or "-"
    lines = [
        f"{summary['email']} ({name}) in store {summary['store_id']}",
        f"  language {summary.get('language') or '-'}, country {summary.get('country') or '-'}",
        f"  tags: {', '.join(summary['tags']) or '-'}",
        f"  score: {summary['score']}",
        "  marketing consent: " + (f"{'yes' if consent.get('marketing') else 'no'} ({consent.get('source')}, "
                                   f"{consent.get('updated_at')})" if consent else "none on record"),
        "  marketing allowed now: " + ("yes" if summary["marketing_allowed"] else f"no ({summary['marketing_blocked_by']})"),
        f"  orders: {summary['orders_count']} (total spent {summary['total_spent']})",
    ]
    lines += [f"    {order['order_id']}  {order['total']} {order['currency']}  {order['occurred_at']}"
              for order in summary["orders"]]
    runs = summary["in_workflows"]
    lines.append("  in workflows now: " + (", ".join(f"{run['workflow_id']} ({describe_key(run['subject'])})" for run in runs)
                                           if runs else "none"))
    _emit(args, summary, "\n".join(lines))
    return 0


def _write_json_export(args, export: dict[str, Any], what: str) -> None:
    """An export to --out (and a line saying what was written), or itself to stdout."""
    text = json.dumps(export, indent=2, ensure_ascii=False) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return
    try:
        Path(args.out).write_text(text, "utf-8")
    except OSError as err:
        raise CliError(f"cannot write {args.out}: {err.strerror}") from None
    _emit(args, {"out": args.out, "store": export["store_id"], "email": export["email"]}, f"wrote {what} to {args.out}")


def _confirm(question: str) -> None:
    if not sys.stdin.isatty():
        raise CliError("nothing erased: not confirmed (pass --yes when there is no terminal to ask on)")
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise CliError("nothing erased: not confirmed")


def _counts(counted: dict[str, int]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in counted.items())


def contacts_delete(args) -> int:
    from storeflows.admin.contacts import contact_data, erase_contact, held_items
    from storeflows.events.subjects import describe_key

    export = contact_data(args.store, args.email)
    email, held = export["email"], held_items(export)
    if held and not args.yes:
        _confirm(f"erase the {held} item(s) held about {email} in store {args.store} and stop their runs in flight? "
                 "This cannot be undone.")
    erasure = erase_contact(args.store, email)
    kept = erasure.suppression
    data = {"store": args.store, "email": email, "items_erased": erasure.items_erased, "runs_stopped": erasure.runs_stopped,
            "data_requests_erased": erasure.data_requests_erased,
            "kept": kept.model_dump(exclude_none=True) if kept else None}
    if not erasure.items_count and not erasure.data_requests_erased:
        text = f"store {args.store} holds nothing about {email}: nothing erased" + (
            f" (erased before, {kept.erased_at})" if kept else "")
        _emit(args, data, text)
        return 0
    runs = ", ".join(f"{run['workflow_id']} ({describe_key(run['subject'])})" for run in erasure.runs_stopped)
    lines = [f"erased {email} from store {args.store}: {erasure.items_count} item(s) ({_counts(erasure.items_erased)})"
             + (f", {erasure.data_requests_erased} data request(s)" if erasure.data_requests_erased else ""),
             f"  runs stopped: {runs or 'none in flight'}"]
    if kept:
        blocks = [name for name, value in (("unsubscribed", kept.unsubscribed_at),
                                           (f"suppressed: {kept.suppressed_reason}", kept.suppressed_reason)) if value]
        lines.append("  kept: a suppression record under a hash of the address, "
                     + (f"{' and '.join(blocks)} before, which a new profile for it inherits" if blocks
                        else "so that only consent given after today allows marketing to it again"))
    _emit(args, data, "\n".join(lines))
    return 0


def contacts_data_requests(args) -> int:
    from storeflows.admin.contacts import data_request_export, data_requests, held_items, mark_data_request_answered

    if args.request is None:
        rows = [request.model_dump() for request in data_requests(args.store)]
        text = _table(rows, [("request_id", "REQUEST"), ("email", "EMAIL"), ("received_at", "RECEIVED"),
                             ("answered_at", "ANSWERED")]) if rows else f"store {args.store} has no data requests"
        _emit(args, rows, text)
        return 0
    request, export = data_request_export(args.store, args.request)
    _write_json_export(args, export, f"the data held about {request.email} in store {args.store} "
                                     f"(data request {request.request_id}: {held_items(export)} item(s))")
    mark_data_request_answered(args.store, request.request_id)
    return 0


def contacts_export(args) -> int:
    from storeflows.admin.contacts import contact_data, export_contacts, held_items, write_contacts_csv

    filters = [name for name, given in (("--not-in-workflow", args.not_in_workflow), ("--tag", args.tag),
                                        ("--min-score", args.min_score is not None), ("--consent-only", args.consent_only))
               if given]
    if args.email is not None:
        if filters:
            raise UsageError(f"{', '.join(filters)}: filters of the audience CSV, not of one contact's data "
                             "(see: storeflows contacts export --help)")
        _use_target(args)
        export = contact_data(args.store, args.email)
        _write_json_export(args, export, f"{held_items(export)} item(s) held about {export['email']} "
                                         f"in store {args.store}")
        return 0
    if args.out is None:
        raise UsageError("the audience CSV needs --out FILE.csv, or give an EMAIL for one contact's data as JSON "
                         "(see: storeflows contacts export --help)")
    _use_target(args)
    contacts = export_contacts(args.store, not_in_workflow=args.not_in_workflow, tags=args.tag or [],
                               min_score=args.min_score, consent_only=args.consent_only)
    try:
        with open(args.out, "w", newline="", encoding="utf-8") as stream:
            count = write_contacts_csv(contacts, stream)
    except OSError as err:
        raise CliError(f"cannot write {args.out}: {err.strerror}") from None
    _emit(args, {"out": args.out, "contacts": count}, f"wrote {count} contact(s) to {args.out}")
    return 0


# --- reports ------------------------------------------------------------------------------------

_REPORT_COLUMNS = [("workflow", "WORKFLOW"), ("message", "MESSAGE"), ("sent", "SENT"), ("delivered", "DELIVERED"),
                   ("opened", "OPENED"), ("clicked", "CLICKED"), ("ordered", "ORDERED"), ("revenue", "REVENUE"),
                   ("unsubscribed", "UNSUBSCRIBED"), ("bounced", "BOUNCED"), ("complained", "COMPLAINED"),
                   ("ctr", "CTR"), ("open_rate", "OPEN RATE"), ("click_to_open", "CLICK-TO-OPEN")]
_RATES = ("ctr", "open_rate", "click_to_open")


def _report_cells(row: dict[str, Any]) -> dict[str, Any]:
    cells = dict(row)
    cells["revenue"] = " + ".join(f"{amount} {currency}" for currency, amount in row["revenue"].items()) or "0"
    for rate in _RATES:
        cells[rate] = None if row[rate] is None else f"{row[rate] * 100:.1f}%"
    return cells


def reports_show(args) -> int:
    from storeflows import reports
    from storeflows.admin.stores import require_store

    require_store(args.store)
    first_day, last_day = reports.date_range(getattr(args, "from"), args.to)
    data = reports.build_report(args.store, first_day, last_day, workflow_id=args.workflow,
                                message_id=args.message).as_dict()
    if args.csv == "-":
        _write_report_csv(data, sys.stdout)
        return 0
    if args.csv:
        try:
            with open(args.csv, "w", newline="", encoding="utf-8") as stream:
                _write_report_csv(data, stream)
        except OSError as err:
            raise CliError(f"cannot write {args.csv}: {err.strerror}") from None
        _emit(args, {"out": args.csv, "rows": len(data["rows"])},
              f"wrote {len(data['rows'])} row(s) and a total to {args.csv}")
        return 0
    _emit(args, data, format_report(data))
    return 0


def format_report(data: dict[str, Any]) -> str:
    """A report (reports.Report.as_dict()) as a heading and a table with a total."""
    heading = f"store {data['store']}: emails sent {data['from']} to {data['to']} (each with everything that happened to it since)"
    if not data["rows"]:
        return f"{heading}\nno emails sent in that range"
    rows = [_report_cells(row) for row in data["rows"]]
    total = {**_report_cells(data["total"]), "workflow": "TOTAL", "message": ""}
    return f"{heading}\n{_table(rows + [total], _REPORT_COLUMNS)}"


def _write_report_csv(data: dict[str, Any], stream) -> None:
    import csv

    columns = [key for key, _ in _REPORT_COLUMNS]
    writer = csv.writer(stream)
    writer.writerow(["from", "to", *columns])
    for row in data["rows"] + [{**data["total"], "workflow": "TOTAL", "message": ""}]:
        cells = {**row, "revenue": " ".join(f"{amount} {currency}" for currency, amount in row["revenue"].items())}
        writer.writerow([data["from"], data["to"], *["" if cells.get(key) is None else cells[key] for key in columns]])


def stores_attribution(args) -> int:
    from storeflows.admin.stores import set_attribution

    store = set_attribution(args.store, click_window=args.click_window, open_window=args.open_window,
                            count_opens=args.opens)
    windows = store.attribution
    _emit(args, {"store": store.store_id, **windows.model_dump()},
          f"store {store.store_id}: a purchase is ordered revenue of the email the contact last clicked within "
          f"{_duration(windows.click_window)}" + (f" or opened within {_duration(windows.open_window)}"
                                                   if windows.count_opens else " (opens are not counted)"))
    return 0


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# --- coupons ------------------------------------------------------------------------------------

def coupons_import(args) -> int:
    from storeflows import coupons
    from storeflows.admin.stores import require_store
    from storeflows.storage import coupons as pools

    require_store(args.store)
    result = coupons.import_codes(args.store, args.pool, _read(args.file), args.column,
                                  low_stock_threshold=args.low_stock)
    stock = pools.pool_stock(args.store, args.pool)
    data = {"store": args.store, "pool": args.pool, **_plain(result), "stock": _plain(stock)}
    text = (f"pool {args.pool} of store {args.store}: {result.added} code(s) added, "
            f"{result.skipped_duplicates} duplicate(s) skipped, {result.size} in the pool")
    if stock is not None:
        text += f"; {stock.remaining} left, low-stock alarm at {stock.low_stock_threshold} left"
    _emit(args, data, text)
    return 0


def coupons_stock(args) -> int:
    from storeflows.admin.stores import require_store
    from storeflows.storage import coupons as pools

    require_store(args.store)
    stock = pools.pool_stock(args.store, args.pool)
    if stock is None:
        raise CliError(f"store {args.store} has no coupon pool {args.pool!r} (import codes with: storeflows coupons import)")
    _emit(args, {"store": args.store, "pool": args.pool, **_plain(stock)},
          f"pool {args.pool} of store {args.store}: {stock.remaining} of {stock.size} code(s) left "
          f"({stock.claimed} handed out; low-stock alarm at {stock.low_stock_threshold} left)")
    return 0


# --- the parser ---------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG, formatter_class=formatter,
                     parents=[_common_options(suppress=False)])
    common = [_common_options(suppress=True)]
    groups = parser.add_subparsers(dest="group", metavar="{stores,workflows,senders,messages,contacts,coupons,reports}",
                                   required=True)

    def group(name: str, help_: str, description: str = "") -> argparse._SubParsersAction:
        sub = groups.add_parser(name, help=help_, description=description or help_, formatter_class=formatter)
        return sub.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(commands, name: str, handler, help_: str, description: str = "", *, target: bool = True):
        sub = commands.add_parser(name, help=help_, description=description or help_, parents=common,
                                  formatter_class=formatter)
        sub.set_defaults(handler=handler, needs_target=target)
        return sub

    def apply_command(commands, handler, help_: str, description: str):
        # Files are checked before the target is chosen: their mistakes show without a stack.
        sub = command(commands, "apply", handler, help_, description, target=False)
        sub.add_argument("files", nargs="+", metavar="FILE.yaml")
        sub.add_argument("--store", help="apply to this store instead of the one the file names")
        return sub

    # stores
    stores = group("stores", "stores and their webhook secrets")
    platforms = ["shopify", "api", "woocommerce"]
    sub = command(stores, "create", stores_create, "create a store with one platform's webhook secret",
                  "Creates a store with one platform's webhook secret (generated unless --secret is given:\n"
                  "whsec_… for the event API, random text for Shopify and WooCommerce) and its own\n"
                  "unsubscribe signing key. The secret is printed once. Add another platform's secret\n"
                  "with `stores rotate-secret`.")
    sub.add_argument("store", help="store id: lower-case letters, digits and -")
    sub.add_argument("--platform", choices=platforms, required=True,
                     help="api: Storeflows' event API; shopify, woocommerce: their order webhooks")
    sub.add_argument("--secret", help="use this secret (Shopify: the app's signing secret) instead of a new one")
    sub.add_argument("--name", help="the store's name, as messages show it ({{ store.name }})")
    command(stores, "list", stores_list, "list the stores and which platforms have a secret",
            "Lists every store (a scan of the table) and which platforms have a secret; never the secrets.")
    sub = command(stores, "rotate-secret", stores_rotate_secret, "set or replace one platform's secret",
                  "Sets or replaces one platform's secret of a store, printed once. Requests signed with\n"
                  "the old secret are refused from then on: update the store's webhook settings at once.")
    sub.add_argument("store")
    sub.add_argument("--platform", choices=platforms, required=True)
    sub.add_argument("--secret", help="use this secret instead of a new one")
    sub = command(stores, "attribution", stores_attribution, "show or set the revenue attribution windows",
                  "A purchase counts as ordered (with its revenue) for the Storeflows email the contact last\n"
                  "clicked within the click window, or opened within the open window; the last touch wins\n"
                  "and each order counts once. Defaults: 5d and 5d. --no-opens counts clicks only (mail\n"
                  "privacy proxies such as Apple Mail open every email). Without options: show them.")
    sub.add_argument("store")
    sub.add_argument("--click-window", metavar="DURATION", help="e.g. 5d, 12h")
    sub.add_argument("--open-window", metavar="DURATION", help="e.g. 5d, 12h")
    sub.add_argument("--opens", action=argparse.BooleanOptionalAction, default=None,
                     help="count opens too (--no-opens: clicks only)")

    # workflows
    workflows = group("workflows", "workflow templates, drafts, publishing, status",
                      "A workflow is a template + a store + settings. apply saves a draft, validate checks it,\n"
                      "publish makes it start runs, pause stops it starting runs. Runs in flight keep the\n"
                      "settings they started with (the dispatcher snapshots them into each run's input).")
    command(workflows, "templates", workflows_templates, "the templates and what each does", target=False)
    apply_command(workflows, workflows_apply, "save workflow files as drafts",
                  "Saves each workflow file as a draft with the next version number. A file holds\n"
                  "store, workflow (its id), template and settings; durations are written 10d, 12h, 30m.\n"
                  "Applying to a published workflow makes it a draft: it starts no runs until you publish\n"
                  "it again; its runs in flight go on with the settings they started with.\n"
                  "All files are checked first: if any has a problem, nothing is saved.")
    for name, handler, help_ in (
        ("validate", workflows_validate, "check a workflow: its messages and their senders exist, template-specific checks"),
        ("publish", workflows_publish, "validate, then publish: purchases start runs from now on"),
        ("pause", workflows_pause, "stop starting runs; runs in flight go on (publish resumes)"),
    ):
        sub = command(workflows, name, handler, help_)
        sub.add_argument("store")
        sub.add_argument("workflow")
    sub = command(workflows, "status", workflows_status, "status, version, template and runs in flight",
                  "Status, version, template and the number of runs in flight (running executions of the\n"
                  "template's state machine for this workflow) of one or every workflow of a store.")
    sub.add_argument("store")
    sub.add_argument("workflow", nargs="?")

    # senders
    senders = group("senders", "sender profiles (name, from, reply-to), defined once, named by messages")
    apply_command(senders, senders_apply, "save sender files",
                  "Saves each sender file: store, sender (its id), name, address (the From, which must\n"
                  "belong to the stack's SES identity) and reply_to. Messages name a profile with\n"
                  "`sender: <id>`; every later send of them comes from the profile as it is then, also in\n"
                  "runs in flight. All files are checked first: if any has a problem, nothing is saved.")
    sub = command(senders, "list", senders_list, "the store's sender profiles and the messages naming each")
    sub.add_argument("store")
    sub = command(senders, "delete", senders_delete, "delete a sender profile that no message names",
                  "Deletes the profile. Refused while a message names it (every send of that message\n"
                  "would fail): the refusal lists them; apply them with another sender first.")
    sub.add_argument("store")
    sub.add_argument("sender")

    # messages
    messages = group("messages", "messages: apply, preview, test-send")
    apply_command(messages, messages_apply, "save message files",
                  "Saves each message file: store, message (its id), purpose (transactional|marketing),\n"
                  "sender (a sender profile's id, or {name, address, reply_to} inline; the From must\n"
                  "belong to the stack's SES identity), fallback_language, and variants per language\n"
                  "(en: {subject, html_file or html, text_file or text}); files are relative to the YAML\n"
                  "file. Optional coupon: {type: static, code: SPRING10} or {type: dynamic, pool: P}\n"
                  "(a pool imported with `coupons import`; publishing checks it has codes left). Runs\n"
                  "read messages when they send: the new content is used from the next send on, also\n"
                  "by runs in flight. All files are checked first: if any has a problem, nothing is\n"
                  "saved.")

    def render_options(sub):
        sub.add_argument("--order", metavar="ORDER_ID", help="one of the contact's recorded orders (default: the latest)")
        sub.add_argument("--language", help="render this language's variant (default: the contact's language)")

    sub = command(messages, "preview", messages_preview, "render a message to an HTML file",
                  "Renders a message as a send would, for an existing contact and one of their recorded\n"
                  "orders; sample data stands in for what is not on record. Writes the HTML part.")
    sub.add_argument("store")
    sub.add_argument("message")
    sub.add_argument("--email", required=True, help="the contact to render for")
    render_options(sub)
    sub.add_argument("--out", required=True, metavar="FILE.html")
    sub = command(messages, "test-send", messages_test_send, "send a rendered message to a test address",
                  "Renders like preview and sends it through SES with the stack's configuration set,\n"
                  "subject prefixed [TEST]. Recorded on no contact. With SES in the sandbox, --to must\n"
                  "be a verified address.")
    sub.add_argument("store")
    sub.add_argument("message")
    sub.add_argument("--to", required=True, metavar="ADDRESS")
    sub.add_argument("--email", metavar="CONTACT", help="render for this contact (default: --to)")
    render_options(sub)

    # contacts
    contacts = group("contacts", "contacts: show, export (CSV, or one contact's data), delete, data requests")
    sub = command(contacts, "show", contacts_show, "profile, tags, score, consent, orders, workflows now")
    sub.add_argument("store")
    sub.add_argument("email")
    sub = command(contacts, "export", contacts_export, "the store's contacts as CSV, or one contact's data as JSON",
                  "storeflows contacts export STORE --out FILE.csv [filters]\n"
                  "  Writes the store's contacts that match every filter to CSV. Scans the whole table\n"
                  "  (billed for every item of every store), plus one query per contact with\n"
                  "  --not-in-workflow: run it for exports, not on a schedule every minute. Cells starting\n"
                  "  with = + - @ get a leading ' so spreadsheets do not run them.\n"
                  "storeflows contacts export STORE EMAIL [--out FILE.json]\n"
                  "  Writes everything held about one contact as JSON (to stdout without --out): the\n"
                  "  profile, every record (orders, send decisions, consent history, engagement, ...),\n"
                  "  an erasure's suppression record and their data requests. For a data subject's\n"
                  "  access request.", target=False)
    sub.add_argument("store")
    sub.add_argument("email", nargs="?", help="one contact: everything held about them, as JSON")
    sub.add_argument("--out", metavar="FILE", help="FILE.csv for the contacts (required), FILE.json for one contact")
    audience = sub.add_argument_group("filters of the CSV")
    audience.add_argument("--not-in-workflow", metavar="ID", help="leave out contacts inside a run of this workflow right now")
    audience.add_argument("--tag", action="append", metavar="T", help="only contacts with this tag (repeat: all of them)")
    audience.add_argument("--min-score", type=int, metavar="N", help="only contacts with at least this score")
    audience.add_argument("--consent-only", action="store_true",
                          help="only contacts marketing may reach now: consent given, not unsubscribed, not suppressed")
    sub = command(contacts, "delete", contacts_delete, "erase a contact: stop their runs, delete their data",
                  "Erases everything held about a contact (a data subject's erasure request): stops their\n"
                  "workflow runs in flight, deletes every item of their profile and history and their data\n"
                  "requests. Kept, under a SHA-256 hash of the address (never the address): when it was\n"
                  "erased, and whether it had unsubscribed or was suppressed before, so that a later\n"
                  "purchase by the same address gets no marketing it had turned off (without an earlier\n"
                  "unsubscribe, marketing needs consent given after the erasure). Asks first unless --yes.\n"
                  "Step Functions keeps a run's history, which holds the address, for 90 days after the run.")
    sub.add_argument("store")
    sub.add_argument("email")
    sub.add_argument("--yes", action="store_true", help="erase without asking")
    sub = command(contacts, "data-requests", contacts_data_requests, "customers' requests for their data: list, answer",
                  "Lists the data requests Shopify sent (customers/data_request) with when each was\n"
                  "received and answered. With a REQUEST_ID, writes the export answering it (everything\n"
                  "held about the customer, made now; stdout without --out) and marks it answered: hand\n"
                  "it to the store owner, who answers the customer. Shopify expects an answer within 30\n"
                  "days.")
    sub.add_argument("store")
    sub.add_argument("request", nargs="?", metavar="REQUEST_ID", help="answer this request: write its export")
    sub.add_argument("--out", metavar="FILE.json")

    # coupons
    coupons = group("coupons", "coupon code pools for dynamic coupons")
    sub = command(coupons, "import", coupons_import, "import codes from a CSV column into a pool",
              "Adds the codes of one CSV column to the pool (created on first import). Blank cells,\n"
              "codes repeated in the file and codes already in the pool are skipped, so importing a\n"
              "file twice adds nothing.")
    sub.add_argument("store")
    sub.add_argument("pool")
    sub.add_argument("file", metavar="FILE.csv")
    sub.add_argument("--column", required=True, metavar="NAME", help="the CSV column holding the codes")
    sub.add_argument("--low-stock", type=int, metavar="N",
                     help="raise the low-stock alarm at N codes left (default: a tenth of the first import)")
    sub = command(coupons, "stock", coupons_stock, "codes left in a pool")
    sub.add_argument("store")
    sub.add_argument("pool")

    # reports
    sub = groups.add_parser("reports", help="sent, opened, clicked, ordered, revenue per workflow and message",
                            parents=common, formatter_class=formatter, description=
                            "The store's email report per workflow and message: sent, delivered, opened and clicked\n"
                            "(unique per email), ordered and revenue (attributed purchases), unsubscribed, bounced,\n"
                            "complained, CTR (clicks / delivered), open rate, click-to-open. A row counts the emails\n"
                            "SENT in the range, with everything that happened to them since.")
    sub.set_defaults(handler=reports_show, needs_target=True)
    sub.add_argument("store")
    sub.add_argument("--from", metavar="YYYY-MM-DD", help="first send day (default: the 30 days up to --to)")
    sub.add_argument("--to", metavar="YYYY-MM-DD", help="last send day (default: today)")
    sub.add_argument("--workflow", metavar="ID", help="only this workflow")
    sub.add_argument("--message", metavar="ID", help="only this message")
    sub.add_argument("--csv", metavar="FILE", help="write CSV to FILE (- for standard output)")
    return parser


def _use_target(args: argparse.Namespace) -> None:
    from storeflows import aws, config
    from storeflows_cli.target import choose

    choose(args.stack, args.local)
    # The layer caches settings and clients per process; the target has just set them.
    config.settings.cache_clear()
    aws.client.cache_clear()
    aws.dynamodb_table.cache_clear()


def _fail(reason: object, status: int = 1) -> int:
    print(f"{PROG}: error: {' '.join(str(reason).split())}", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    from storeflows.config import MissingSetting
    from storeflows.errors import StoreflowsError
    from storeflows_cli.target import TargetError

    try:
        args = build_parser().parse_args(argv)
        if args.needs_target:
            _use_target(args)
        return args.handler(args)
    except UsageError as err:
        return _fail(err, 2)
    except (CliError, Problems, TargetError, MissingSetting) as err:
        return _fail(err)
    except StoreflowsError as err:
        return _fail(err.detail or err)
    except ClientError as err:
        error = err.response.get("Error", {})
        return _fail(f"AWS {err.operation_name}: {error.get('Code')}: {error.get('Message')}")
    except EndpointConnectionError as err:
        return _fail(f"cannot reach {err.kwargs.get('endpoint_url')}: is the stack running?")
    except BotoCoreError as err:
        return _fail(err)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:  # `storeflows ... | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
