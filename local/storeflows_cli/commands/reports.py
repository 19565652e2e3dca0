"""`storeflows reports`: the store's email report per workflow and message, as a table, JSON
or CSV."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from storeflows_cli.commands import Build
from storeflows_cli.output import CliError, emit, table

_REPORT_COLUMNS = [
    ("workflow", "WORKFLOW"),
    ("message", "MESSAGE"),
    ("sent", "SENT"),
    ("skipped", "SKIPPED"),
    ("delivered", "DELIVERED"),
    ("opened", "OPENED"),
    ("clicked", "CLICKED"),
    ("ordered", "ORDERED"),
    ("revenue", "REVENUE"),
    ("unsubscribed", "UNSUBSCRIBED"),
    ("sunset_unsubscribed", "BY SUNSET"),  # unsubscribed by the sunset template
    ("bounced", "BOUNCED"),
    ("complained", "COMPLAINED"),
    ("ctr", "CTR"),
    ("open_rate", "OPEN RATE"),
    ("click_to_open", "CLICK-TO-OPEN"),
]
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
    data = reports.build_report(
        args.store, first_day, last_day, workflow_id=args.workflow, message_id=args.message
    ).as_dict()
    if args.csv == "-":
        _write_report_csv(data, sys.stdout)
        return 0
    if args.csv:
        try:
            with open(args.csv, "w", newline="", encoding="utf-8") as stream:
                _write_report_csv(data, stream)
        except OSError as err:
            raise CliError(f"cannot write {args.csv}: {err.strerror}") from None
        emit(
            args,
            {"out": args.csv, "rows": len(data["rows"])},
            f"wrote {len(data['rows'])} row(s) and a total to {args.csv}",
        )
        return 0
    emit(args, data, format_report(data))
    return 0


def format_report(data: dict[str, Any]) -> str:
    """A report (reports.Report.as_dict()) as a heading and a table with a total."""
    heading = (
        f"store {data['store']}: emails sent {data['from']} to {data['to']} "
        "(each with everything that happened to it since)"
    )
    if not data["rows"]:
        return f"{heading}\nno emails sent in that range"
    rows = [_report_cells(row) for row in data["rows"]]
    total = {**_report_cells(data["total"]), "workflow": "TOTAL", "message": ""}
    lines = [heading, table(rows + [total], _REPORT_COLUMNS)]
    skipped = [(row, _reasons(row)) for row in data["rows"] if row["skipped"]]
    if skipped:
        lines.append("skipped (nothing sent), by reason:")
        lines += [f"  {row['workflow']}  {row['message']}: {reasons}" for row, reasons in skipped]
    return "\n".join(lines)


def _reasons(row: dict[str, Any]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in row["skipped_by_reason"].items() if count)


def _write_report_csv(data: dict[str, Any], stream) -> None:
    import csv

    columns = [key for key, _ in _REPORT_COLUMNS]
    # One column per skip reason (every reason, in the fixed order), after the table's columns.
    reasons = list(data["total"]["skipped_by_reason"])
    writer = csv.writer(stream)
    writer.writerow(["from", "to", *columns, *(f"skipped_{reason}" for reason in reasons)])
    for row in data["rows"] + [{**data["total"], "workflow": "TOTAL", "message": ""}]:
        cells = {**row, "revenue": " ".join(f"{amount} {currency}" for currency, amount in row["revenue"].items())}
        writer.writerow(
            [
                data["from"],
                data["to"],
                *["" if cells.get(key) is None else cells[key] for key in columns],
                *(row["skipped_by_reason"].get(reason, 0) for reason in reasons),
            ]
        )


def register(groups: argparse._SubParsersAction, build: Build) -> None:
    sub = groups.add_parser(
        "reports",
        help="sent, skipped, opened, clicked, ordered, revenue per workflow and message",
        parents=build.common,
        formatter_class=build.formatter,
        description="The store's email report per workflow and message: sent, skipped (nothing sent: by\n"
        "reason under the table, one column per reason in the CSV), delivered, opened and clicked\n"
        "(unique per email), ordered and revenue (attributed purchases), unsubscribed, bounced,\n"
        "complained, CTR (clicks / delivered), open rate, click-to-open. A row counts the emails\n"
        "SENT in the range, with everything that happened to them since, and the sends skipped\n"
        "in the range.",
    )
    sub.set_defaults(handler=reports_show, needs_target=True)
    sub.add_argument("store")
    sub.add_argument("--from", metavar="YYYY-MM-DD", help="first send day (default: the 30 days up to --to)")
    sub.add_argument("--to", metavar="YYYY-MM-DD", help="last send day (default: today)")
    sub.add_argument("--workflow", metavar="ID", help="only this workflow")
    sub.add_argument("--message", metavar="ID", help="only this message")
    sub.add_argument("--csv", metavar="FILE", help="write CSV to FILE (- for standard output)")
