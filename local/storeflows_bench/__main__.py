"""make bench [N=purchases]: cold start, handler time, then a replay of N purchases through
the local stack, a browsing workload (--sessions) and the catalogue alerts' fan-out
(--alert-recipients) on the same stack; prints the table and writes the same figures to
bench/results.json.

The cold-start imports run first, alone; then the replay (in this process) and the handler
timing (in a process of its own: moto's in-process mock) side by side on the two cores."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from storeflows_bench import coldstart, costs, flows, measure, model, replay, report
from storeflows_local.template import Template

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PURCHASES = 100
DEFAULT_SESSIONS = 100  # about 500 page views: the dispatcher on moto takes about 0.1 s an event
CONTACTS_PER_PURCHASE = 0.3  # 1,000 purchases over 300 contacts
DEFAULT_ALERT_RECIPIENTS = 300  # per catalogue alert run: 900 emails, about a minute here


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="storeflows_bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--purchases", type=int, default=DEFAULT_PURCHASES)
    parser.add_argument("--contacts", type=int, help="default: 30%% of the purchases")
    parser.add_argument("--sessions", type=int, default=DEFAULT_SESSIONS, help="browsing sessions (0: none)")
    parser.add_argument(
        "--alert-recipients", type=int, default=DEFAULT_ALERT_RECIPIENTS, help="contacts per catalogue alert (0: none)"
    )
    parser.add_argument(
        "--no-flows", action="store_true", help="skip part 7: each catalogue flow's cost per run (flows.py)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cold-runs", type=int, default=10, help="fresh interpreters per import (median)")
    parser.add_argument("--handler-events", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args(argv)
    contacts = args.contacts or max(1, round(args.purchases * CONTACTS_PER_PURCHASE))
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:5.0f} s] {message}", file=sys.stderr, flush=True)

    progress(f"cold start: {args.cold_runs} imports of each handler and of boto3, nothing else running")
    cold = coldstart.measure(args.cold_runs, progress=progress)
    # Two cores: the replay (one process, bound by its GIL) on one, the handler timing on the other.
    progress(f"handler time: {args.handler_events} events each, in a process of its own")
    timing = subprocess.Popen(
        [sys.executable, "-m", "storeflows_bench.handlers", str(args.handler_events)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ,
    )
    progress(f"replay: {args.purchases} purchases over {contacts} contacts")
    replayed = replay.replay(
        args.purchases,
        contacts,
        args.seed,
        sessions=args.sessions,
        alert_recipients=args.alert_recipients,
        flows=None if args.no_flows else flows.play,
        progress=progress,
    )
    out, err = timing.communicate()
    if timing.returncode != 0:
        print(err, file=sys.stderr)
        return 1
    handler_time = json.loads(out.strip().splitlines()[-1])

    tallies = measure.tally(replayed)
    template = Template(ROOT, {"SenderIdentity": "example.com"})
    fixed = costs.fixed_monthly(
        custom_metrics=len(replayed.custom_metrics),
        alarms=len(template.of_type("AWS::CloudWatch::Alarm")),
        dashboards=len(template.of_type("AWS::CloudWatch::Dashboard")),
    )
    fig = model.figures(
        tallies,
        measure.per_function(replayed),
        init_seconds={name: ms / 1000 for name, ms in cold.source_ms.items()},
        memory_mb=replayed.memory_mb,
        fixed=fixed,
        stored=measure.stored_bytes(replayed),
    )
    browsed = browsing_fig = None
    if replayed.browsing is not None:
        browsed = measure.browsing_tally(replayed)
        measure.check_browsing(browsed, replayed.browsing.runs)
        browsing_fig = model.browsing_figures(
            browsed,
            init_seconds={name: ms / 1000 for name, ms in cold.source_ms.items()},
            memory_mb=replayed.memory_mb,
        )
    prices = costs.load_prices()
    alert_bills = (
        model.alert_bills(measure.alerts_tallies(replayed), replayed.alerts.recipients, replayed.memory_mb, prices)
        if replayed.alerts is not None
        else None
    )
    flowed = None
    if replayed.flows is not None:
        flowed = flows.results(replayed.flows, replayed.item_sizes, replayed.memory_mb, prices)
    doc = report.results(
        replay=replayed,
        tallies=tallies,
        fig=fig,
        prices=prices,
        cold=cold,
        handler_time=handler_time,
        bench_seconds=time.perf_counter() - started,
        root=ROOT,
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        browsed=browsed,
        browsing_fig=browsing_fig,
        alert_bills=alert_bills,
        flows=flowed,
    )
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(report.table(doc))
    print(f"\nThe same figures: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
