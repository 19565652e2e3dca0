"""`storeflows contacts`: show one, export the store's as CSV or one contact's data as JSON,
erase one (delete), list and answer data requests."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from storeflows.records import SKIP_REASONS
from storeflows_cli.commands import Build
from storeflows_cli.output import CliError, UsageError, emit, table


def contacts_show(args) -> int:
    from storeflows.admin.contacts import contact_summary
    from storeflows.events.subjects import describe_key

    summary = contact_summary(args.store, args.email)
    consent = summary.get("consent") or {}
    name = " ".join(part for part in (summary.get("first_name"), summary.get("last_name")) if part) or "-"
    lines = [
        f"{summary['email']} ({name}) in store {summary['store_id']}",
        f"  language {summary.get('language') or '-'}, country {summary.get('country') or '-'}, "
        f"birthday {summary.get('birthday') or '-'}",
        f"  tags: {', '.join(summary['tags']) or '-'}",
        f"  score: {summary['score']}",
        "  marketing consent: "
        + (
            f"{'yes' if consent.get('marketing') else 'no'} ({consent.get('source')}, {consent.get('updated_at')})"
            if consent
            else "none on record"
        ),
        "  marketing allowed now: " + ("yes" if summary["marketing_allowed"] else f"no ({_blocked_by(summary)})"),
        f"  orders: {summary['orders_count']} (total spent {summary['total_spent']})",
    ]
    lines += [
        f"    {order['order_id']}  {order['total']} {order['currency']}  {order['occurred_at']}"
        + (f"  cancelled {order['cancelled_at']}" if order["cancelled_at"] else "")
        for order in summary["orders"]
    ]
    shown, total = summary["sends"], summary["sends_total"]
    lines.append(
        "  recent sends: "
        + (
            "none"
            if not total
            else "newest first"
            + (f", {len(shown)} of {total} (contacts export STORE EMAIL has them all)" if total > len(shown) else "")
        )
    )
    lines += [f"    {_decision_text(decision)}" for decision in shown]
    runs = summary["in_workflows"]
    lines.append(
        "  in workflows now: "
        + (", ".join(f"{run['workflow_id']} ({describe_key(run['subject'])})" for run in runs) if runs else "none")
    )
    emit(args, summary, "\n".join(lines))
    return 0


def _blocked_by(summary: dict[str, Any]) -> str:
    """What stops marketing, with the unsubscribe's reason when the contact did not ask (sunset)."""
    blocked_by = summary["marketing_blocked_by"]
    if blocked_by == "unsubscribed" and summary.get("unsubscribed_reason"):
        return f"unsubscribed: {summary['unsubscribed_reason']}"
    return blocked_by


def _decision_text(decision: dict[str, Any]) -> str:
    """One send decision on one line: when, workflow, what the run is about, step, message, outcome."""
    from storeflows.events.subjects import describe_key

    when = (decision["decided_at"] or "?")[:19].replace("T", " ")
    about = describe_key(decision["subject"]) if decision["subject"] else "-"
    outcome = decision["status"] or "?"
    if decision["status"] == "sent" and decision["language"]:
        outcome += f" ({decision['language']})"
    elif decision["reason"]:
        outcome += f": {decision['reason']}"
    return f"{when}  {decision['workflow_id']} ({about})  {decision['step']}  {decision['message_id']}  {outcome}"


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
    emit(args, {"out": args.out, "store": export["store_id"], "email": export["email"]}, f"wrote {what} to {args.out}")


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
        _confirm(
            f"erase the {held} item(s) held about {email} in store {args.store} and stop their runs in flight? "
            "This cannot be undone."
        )
    erasure = erase_contact(args.store, email)
    kept = erasure.suppression
    data = {
        "store": args.store,
        "email": email,
        "items_erased": erasure.items_erased,
        "runs_stopped": erasure.runs_stopped,
        "data_requests_erased": erasure.data_requests_erased,
        "kept": kept.model_dump(exclude_none=True) if kept else None,
    }
    if not erasure.items_count and not erasure.data_requests_erased:
        text = f"store {args.store} holds nothing about {email}: nothing erased" + (
            f" (erased before, {kept.erased_at})" if kept else ""
        )
        emit(args, data, text)
        return 0
    runs = ", ".join(f"{run['workflow_id']} ({describe_key(run['subject'])})" for run in erasure.runs_stopped)
    lines = [
        f"erased {email} from store {args.store}: {erasure.items_count} item(s) ({_counts(erasure.items_erased)})"
        + (f", {erasure.data_requests_erased} data request(s)" if erasure.data_requests_erased else ""),
        f"  runs stopped: {runs or 'none in flight'}",
    ]
    if kept:
        blocks = [
            name
            for name, value in (
                ("unsubscribed", kept.unsubscribed_at),
                (f"suppressed: {kept.suppressed_reason}", kept.suppressed_reason),
            )
            if value
        ]
        lines.append(
            "  kept: a suppression record under a hash of the address, "
            + (
                f"{' and '.join(blocks)} before, which a new profile for it inherits"
                if blocks
                else "so that only consent given after today allows marketing to it again"
            )
        )
    emit(args, data, "\n".join(lines))
    return 0


def contacts_data_requests(args) -> int:
    from storeflows.admin.contacts import data_request_export, data_requests, held_items, mark_data_request_answered

    if args.request is None:
        rows = [request.model_dump() for request in data_requests(args.store)]
        text = (
            table(
                rows,
                [
                    ("request_id", "REQUEST"),
                    ("email", "EMAIL"),
                    ("received_at", "RECEIVED"),
                    ("answered_at", "ANSWERED"),
                ],
            )
            if rows
            else f"store {args.store} has no data requests"
        )
        emit(args, rows, text)
        return 0
    request, export = data_request_export(args.store, args.request)
    _write_json_export(
        args,
        export,
        f"the data held about {request.email} in store {args.store} "
        f"(data request {request.request_id}: {held_items(export)} item(s))",
    )
    mark_data_request_answered(args.store, request.request_id)
    return 0


def contacts_export(args) -> int:
    from storeflows.admin.contacts import contact_data, export_contacts, held_items, write_contacts_csv
    from storeflows_cli.cli import use_target

    filters = [
        name
        for name, given in (
            ("--not-in-workflow", args.not_in_workflow),
            ("--tag", args.tag),
            ("--min-score", args.min_score is not None),
            ("--consent-only", args.consent_only),
        )
        if given
    ]
    if args.email is not None:
        if filters:
            raise UsageError(
                f"{', '.join(filters)}: filters of the audience CSV, not of one contact's data "
                "(see: storeflows contacts export --help)"
            )
        use_target(args)
        export = contact_data(args.store, args.email)
        _write_json_export(
            args, export, f"{held_items(export)} item(s) held about {export['email']} in store {args.store}"
        )
        return 0
    if args.out is None:
        raise UsageError(
            "the audience CSV needs --out FILE.csv, or give an EMAIL for one contact's data as JSON "
            "(see: storeflows contacts export --help)"
        )
    use_target(args)
    contacts = export_contacts(
        args.store,
        not_in_workflow=args.not_in_workflow,
        tags=args.tag or [],
        min_score=args.min_score,
        consent_only=args.consent_only,
    )
    try:
        with open(args.out, "w", newline="", encoding="utf-8") as stream:
            count = write_contacts_csv(contacts, stream)
    except OSError as err:
        raise CliError(f"cannot write {args.out}: {err.strerror}") from None
    emit(args, {"out": args.out, "contacts": count}, f"wrote {count} contact(s) to {args.out}")
    return 0


def register(groups: argparse._SubParsersAction, build: Build) -> None:
    contacts = build.group(
        groups, "contacts", "contacts: show, export (CSV, or one contact's data), delete, data requests"
    )
    sub = build.command(
        contacts,
        "show",
        contacts_show,
        "profile, tags, score, consent, orders, recent send decisions, workflows now",
        "A contact's profile, tags, score, consent (and whether marketing may reach them now),\n"
        "orders, their 10 latest send decisions (sent, or skipped and why:\n"
        + textwrap.fill(", ".join(SKIP_REASONS), width=90)
        + ")\nand the workflow runs they are inside right now.",
    )
    sub.add_argument("store")
    sub.add_argument("email")
    sub = build.command(
        contacts,
        "export",
        contacts_export,
        "the store's contacts as CSV, or one contact's data as JSON",
        "storeflows contacts export STORE --out FILE.csv [filters]\n"
        "  Writes the store's contacts that match every filter to CSV. Scans the whole table\n"
        "  (billed for every item of every store), plus one query per contact with\n"
        "  --not-in-workflow: run it for exports, not on a schedule every minute. Cells starting\n"
        "  with = + - @ get a leading ' so spreadsheets do not run them.\n"
        "storeflows contacts export STORE EMAIL [--out FILE.json]\n"
        "  Writes everything held about one contact as JSON (to stdout without --out): the\n"
        "  profile, every record (orders, send decisions, consent history, engagement, ...),\n"
        "  an erasure's suppression record and their data requests. For a data subject's\n"
        "  access request.",
        target=False,
    )
    sub.add_argument("store")
    sub.add_argument("email", nargs="?", help="one contact: everything held about them, as JSON")
    sub.add_argument("--out", metavar="FILE", help="FILE.csv for the contacts (required), FILE.json for one contact")
    audience = sub.add_argument_group("filters of the CSV")
    audience.add_argument(
        "--not-in-workflow", metavar="ID", help="leave out contacts inside a run of this workflow right now"
    )
    audience.add_argument(
        "--tag", action="append", metavar="T", help="only contacts with this tag (repeat: all of them)"
    )
    audience.add_argument("--min-score", type=int, metavar="N", help="only contacts with at least this score")
    audience.add_argument(
        "--consent-only",
        action="store_true",
        help="only contacts marketing may reach now: consent given, not unsubscribed, not suppressed",
    )
    sub = build.command(
        contacts,
        "delete",
        contacts_delete,
        "erase a contact: stop their runs, delete their data",
        "Erases everything held about a contact (a data subject's erasure request): stops their\n"
        "workflow runs in flight, deletes every item of their profile and history and their data\n"
        "requests. Kept, under a SHA-256 hash of the address (never the address): when it was\n"
        "erased, and whether it had unsubscribed or was suppressed before, so that a later\n"
        "purchase by the same address gets no marketing it had turned off (without an earlier\n"
        "unsubscribe, marketing needs consent given after the erasure). Asks first unless --yes.\n"
        "Step Functions keeps a run's history, which holds the address, for 90 days after the run.",
    )
    sub.add_argument("store")
    sub.add_argument("email")
    sub.add_argument("--yes", action="store_true", help="erase without asking")
    sub = build.command(
        contacts,
        "data-requests",
        contacts_data_requests,
        "customers' requests for their data: list, answer",
        "Lists the data requests Shopify sent (customers/data_request) with when each was\n"
        "received and answered. With a REQUEST_ID, writes the export answering it (everything\n"
        "held about the customer, made now; stdout without --out) and marks it answered: hand\n"
        "it to the store owner, who answers the customer. Shopify expects an answer within 30\n"
        "days.",
    )
    sub.add_argument("store")
    sub.add_argument("request", nargs="?", metavar="REQUEST_ID", help="answer this request: write its export")
    sub.add_argument("--out", metavar="FILE.json")
