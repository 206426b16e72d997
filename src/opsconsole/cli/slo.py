"""``opsconsole slo`` (each SLO's attainment, budget and burn rates, from the store's
history) and ``opsconsole slo report [--month YYYY-MM] [--json|--md]`` (compliance per SLO
for a calendar month, with the incidents of that month and the budget each burned).

Exit status: 0 ok · 1 the store cannot be used · 2 bad input. Figures come from what
``opsconsole watch`` (or a console) recorded; with nothing recorded they are "no data".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def register(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("slo", help="service level objectives: attainment, error budget, "
                                   "burn rates", description="Each SLO's attainment over its "
                       "window, the error budget left and the burn rates, from the history "
                       "the evaluator recorded. `slo report` gives a month's compliance.")
    common(p)
    p.add_argument("action", nargs="?", choices=["report"], help="report: compliance for "
                   "a calendar month")
    p.add_argument("--month", metavar="YYYY-MM", help="the month of the report (default: "
                   "the current one)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="machine-readable output")
    out.add_argument("--md", action="store_true", help="a Markdown table (report)")
    p.set_defaults(run=cmd_slo)


def _pct(v: float | None, digits: int = 3) -> str:
    return "no data" if v is None else f"{v * 100:.{digits}f}%"


def _month(text: str | None, now: float) -> tuple[float, float, str]:
    if text is None:
        d = datetime.fromtimestamp(now, UTC)
        y, m = d.year, d.month
    else:
        try:
            y, m = (int(x) for x in text.split("-"))
            datetime(y, m, 1)
        except ValueError:
            raise ValueError(f"--month: expected YYYY-MM, got {text!r}") from None
    start = datetime(y, m, 1, tzinfo=UTC)
    end = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=UTC)
    return start.timestamp(), end.timestamp(), f"{y:04d}-{m:02d}"


def cmd_slo(args: argparse.Namespace, clock: Callable[[], float] = time.time) -> int:
    import sqlite3  # here, not at the top: the parser is built on every opsconsole run

    from opsconsole.cli.common import EXIT_USAGE, load_or_exit
    from opsconsole.config import resolve_data_dir
    from opsconsole.incidents.store import NoStoreYet, StoreError, open_store
    from opsconsole.slo.engine import SloEngine
    from opsconsole.slo.history import HistoryDB

    cfg = load_or_exit(args.config)
    now = clock()
    store = None
    engine = SloEngine(cfg.slos, lambda: now)
    try:
        store = open_store(resolve_data_dir(args.data_dir, cfg), cfg.incidents.database,
                           read_only=True)
        db = HistoryDB(store.path)
        try:
            if args.action == "report":
                try:
                    start, end, label = _month(args.month, now)
                except ValueError as exc:
                    print(f"opsconsole slo: {exc}", file=sys.stderr)
                    return EXIT_USAGE
                return _report(cfg, db, store, start, end, label, args)
            engine.load(db, now)
        except sqlite3.Error:
            pass  # a store from before schema 3 has no history yet: no data
        finally:
            db.close()
    except NoStoreYet:
        if args.action == "report":
            start, end, label = _month(args.month, now)
            return _report(cfg, None, None, start, end, label, args)
    except StoreError as exc:
        print(f"opsconsole slo: {exc}", file=sys.stderr)
        return 1
    finally:
        if store is not None:
            store.close()
    rows = engine.figures(now)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no SLOs configured (slos: in the config file)")
        return 0
    print(f"{'SLO':<24} {'OBJECTIVE':>9} {'WINDOW':>6} {'ACTUAL':>9} {'BUDGET':>8} "
          f"{'BURN 1h':>8} {'BURN 6h':>8} {'EVENTS':>12}")
    for r in rows:
        b1, b6 = r["burn_rates"]["1h"], r["burn_rates"]["6h"]
        print(f"{r['name'][:24]:<24} {_pct(r['objective'], 2):>9} {r['window']:>6} "
              f"{_pct(r['attainment']):>9} {_pct(r['budget_remaining'], 1):>8} "
              f"{'-' if b1 is None else f'{b1:.2f}x':>8} {'-' if b6 is None else f'{b6:.2f}x':>8} "
              f"{int(r['events']['good'])}/{int(r['events']['total']):<6}")
    return 0


def report_rows(cfg: Any, db: Any, store: Any, start: float, end: float) -> list[dict[str, Any]]:
    """Per SLO for [start, end): target, actual, compliant, budget used, incidents."""
    from opsconsole.incidents.store import all_states
    from opsconsole.slo.engine import MinuteCounts

    incidents = []
    if store is not None:
        for st in all_states(store):
            began = st.explicit_milestones.get("started") or st.declared_at
            if began is None:
                continue
            fin = (st.explicit_milestones.get("resolved") or st.derived_milestones.get("resolved"))
            b, f = began.timestamp(), (fin.timestamp() if fin else end)
            if b < end and f >= start:
                incidents.append((st, max(b, start), min(f, end)))
    out = []
    for s in cfg.slos:
        c = MinuteCounts()
        if db is not None:
            for m, (g, t) in sorted(db.read("sli:" + s.name, int(start // 60),
                                            int(end // 60) - 1).items()):
                c.add(m, g, t)
        good, total = c.sums(int(start // 60), int(end // 60) - 1)
        actual = good / total if total > 0 else None
        used = None if actual is None else (1 - actual) / s.budget
        burned = []
        for st, b, f in incidents:
            g, t = c.sums(int(b // 60), int(f // 60))
            bad = t - g
            share = bad / (total * s.budget) if total > 0 else None
            if bad > 0:
                burned.append({"id": st.id, "title": st.title, "severity": st.severity,
                               "bad_events": bad, "budget_used": share})
        out.append({"name": s.name, "service": s.service, "target": s.objective.fraction,
                    "actual": actual, "compliant": None if actual is None
                    else actual >= s.objective.fraction, "budget_used": used,
                    "events": {"good": good, "total": total}, "incidents": burned})
    return out


def _report(cfg: Any, db: Any, store: Any, start: float, end: float, label: str,
            args: argparse.Namespace) -> int:
    from opsconsole.text import for_markdown

    rows = report_rows(cfg, db, store, start, end)
    if args.json:
        print(json.dumps({"month": label, "slos": rows}, indent=2))
        return 0
    if args.md:
        print(f"# SLO compliance, {label}\n")
        print("| SLO | Target | Actual | Compliant | Budget used | Incidents |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            comp = "no data" if r["compliant"] is None else ("yes" if r["compliant"] else "**no**")
            inc = ", ".join(f"{i['id']} ({_pct(i['budget_used'], 1)})" for i in r["incidents"])
            print(f"| {for_markdown(r['name'])} | {_pct(r['target'], 2)} | "
                  f"{_pct(r['actual'])} | {comp} | {_pct(r['budget_used'], 1)} | "
                  f"{for_markdown(inc) or '-'} |")
        return 0
    print(f"SLO compliance, {label}")
    for r in rows:
        comp = "no data" if r["compliant"] is None else ("compliant" if r["compliant"]
                                                           else "NOT compliant")
        print(f"  {r['name']}: target {_pct(r['target'], 2)}, actual {_pct(r['actual'])}, "
              f"{comp}, budget used {_pct(r['budget_used'], 1)}")
        for i in r["incidents"]:
            print(f"    {i['id']} {i['title']}: {_pct(i['budget_used'], 1)} of the budget")
    return 0
