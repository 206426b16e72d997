"""Incident store benchmark: durable appends/s, opening an incident screen with 10,000 events,
exporting it. Compared in the same run against peers: the JSONL operator journal with an
fsync per event (the foundation's sink), SQLite with synchronous=NORMAL (not durable on
power loss: the figure we give up for durability), and a Textual DataTable filled with the
same 10,000 rows (the naive way to show a timeline).

Goals (issue 5): >= 2,000 durable appends/s, open < 300 ms, export < 1 s.
Goals (issue 13, the curve at --sizes 10k/50k/100k events): opening stays < 300 ms at
100,000; the JSON export (`opsconsole incident export --format json -o FILE`, run as a
subprocess, wall and peak RSS from wait4) streams: < 60 MB peak RSS and < 1.5 s at 100,000;
compared with `sqlite3 DB .dump` of the same file in the same run.

    PYTHONPATH=src python bench/bench_incidents.py [--events 10000] [--appends 2000]
    PYTHONPATH=src python bench/bench_incidents.py --curve-only [--sizes 10000,50000,100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from opsconsole import events as ev
from opsconsole.events import Actor  # noqa: E402
from opsconsole.incidents import (
    describe,  # noqa: E402
    postmortem,  # noqa: E402
)
from opsconsole.incidents.sink import JournalSink  # noqa: E402
from opsconsole.incidents.store import SQLiteStore, load_state  # noqa: E402

ACTOR = Actor("alice", "10.0.0.5", "/dev/pts/1", "ops1")


def appends(store_or_sink, n: int, iid: str | None) -> float:
    t = time.perf_counter()
    for i in range(n):
        if isinstance(store_or_sink, SQLiteStore):
            store_or_sink.append(ev.NOTE, {"text": f"note {i}", "i": i}, incident_id=iid,
                                 actor=ACTOR)
        else:
            store_or_sink.record(ev.NOTE, {"text": f"note {i}", "i": i}, incident_id=iid)
    return n / (time.perf_counter() - t)


def bench_appends(tmp: Path, n: int, rounds: int) -> dict[str, float]:
    out: dict[str, list[float]] = {"sqlite FULL (durable)": [], "jsonl + fsync": [],
                                   "sqlite NORMAL (not durable)": []}
    for r in range(rounds):
        s = SQLiteStore(tmp / f"a{r}.db")
        iid = s.declare("bench", "SEV3", actor=ACTOR).incident_id
        out["sqlite FULL (durable)"].append(appends(s, n, iid))
        s.close()
        j = JournalSink(tmp / f"j{r}.jsonl", actor=ACTOR)
        out["jsonl + fsync"].append(appends(j, n, iid))
        s = SQLiteStore(tmp / f"n{r}.db")
        s._conn.execute("PRAGMA synchronous = NORMAL")  # type: ignore[union-attr]
        iid = s.declare("bench", "SEV3", actor=ACTOR).incident_id
        out["sqlite NORMAL (not durable)"].append(appends(s, n, iid))
        s.close()
    return {k: statistics.median(v) for k, v in out.items()}


def seed(path: Path, n: int) -> str:
    """An incident with n events of every kind (one transaction per event, as in real use)."""
    s = SQLiteStore(path)
    iid = s.declare("Checkout returns 500s", "SEV1", ["checkout", "db"], actor=ACTOR).incident_id
    kinds = [
        (ev.NOTE, {"text": "pg: sessions waiting on a lock on orders, checking pg_locks"}),
        ("health.state_changed", {"check": "checkout-http", "previous": "ok",
                                  "state": "critical", "detail": "HTTP 500"}),
        ("db.cancel", {"pid": 4242, "user": "app", "database": "shop", "ok": True}),
        ("runbook.step_finished", {"runbook": "pg-lock-storm", "step": "find",
                                   "step_title": "Find the blocker", "exit_status": 0,
                                   "duration": 1.2, "output_last": ["4242 | {}"]}),
        (ev.SNAPSHOT, {"cpu": 97.5, "load1": 7.2, "mem": 81.0, "swap": 0.0, "processes": 212}),
    ]
    for i in range(n - 1):
        typ, data = kinds[i % len(kinds)]
        s.append(typ, dict(data, i=i), incident_id=iid, actor=ACTOR)
    s.close()
    return iid


async def until(cond, what: str, pause, timeout: float = 60.0) -> None:
    """Wait for ``cond()`` (polling with ``pause``); a bench that cannot go on says why
    instead of hanging."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench_incidents: gave up after {timeout:.0f} s waiting for {what}")
        await pause()


async def open_screen(db: Path, iid: str, tmp: Path, n_events: int) -> tuple[float, float]:
    """Wall time (1) from opening the incident to the first frame with its state and the
    newest events drawn, and (2) from pressing home to the oldest page drawn."""
    from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
    from opsconsole.ui.screens.incident import IncidentScreen
    from opsconsole.ui.widgets import TimelineView

    store = SQLiteStore(db)
    app = OpsConsoleApp(options=RunOptions(data_dir=tmp),
                        services=Services(incident_store=store, hostname="bench"))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.screen.id == "main", "the main screen",
                    lambda: pilot.pause(0.01))
        # a console that is up and running: every live pane has polled at least once
        await until(lambda: all((getattr(p, "polls", 1) or 0) > 0
                                for p in app.main.panes.values()
                                if getattr(p, "state", "") != "off"),  # off: nothing configured
                    "every live pane to poll: " + ", ".join(
                        f"{k}={getattr(p, 'state', '?')}" for k, p in app.main.panes.items()),
                    lambda: pilot.pause(0.01))
        await pilot.pause(0.3)
        t = time.perf_counter()
        from opsconsole.ui.flows import open_incident

        open_incident(app, iid)
        await until(lambda: isinstance(app.screen, IncidentScreen) and app.screen.loaded
                    and app.screen.query_one(TimelineView).painted_at is not None,
                    "the incident screen's first paint", lambda: asyncio.sleep(0.001))
        view = app.screen.query_one(TimelineView)
        first = view.painted_at - t  # the compositor drew the first timeline line
        assert len(view.seqs) == app.screen.state.event_count == n_events
        await pilot.pause()
        oldest = view.seqs[0]
        t = time.perf_counter()
        focused = app.focused
        await pilot.press("home")  # jump to the oldest events: their page is read on demand
        # the oldest page read and laid out (what the next frame draws)
        await until(lambda: oldest in view.loaded and view.scroll_y == 0,
                    f"the oldest page (home went to {focused!r})", lambda: asyncio.sleep(0.001))
        full = time.perf_counter() - t
    store.close()
    return first, full


async def datatable_peer(db: Path, iid: str) -> float:
    """The naive peer: the same timeline rows added to a Textual DataTable."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    store = SQLiteStore(db)

    class T(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()

    app = T()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(DataTable)
        t = time.perf_counter()
        events = store.events(iid)
        table.add_columns("time", "actor", "event")
        table.add_rows([(e.ts.strftime("%H:%M:%S"), e.actor.user, describe.describe(e))
                        for e in events])
        await pilot.pause()
        took = time.perf_counter() - t
    store.close()
    return took


def bench_export(db: Path, iid: str, rounds: int) -> dict[str, float]:
    store = SQLiteStore(db)
    md, js, load = [], [], []
    for _ in range(rounds):
        t = time.perf_counter()
        state, events = load_state(store, iid)
        t1 = time.perf_counter()
        postmortem.markdown(state, events)
        t2 = time.perf_counter()
        postmortem.to_json(state, events)
        t3 = time.perf_counter()
        load.append(t1 - t)
        md.append(t2 - t)
        js.append((t1 - t) + (t3 - t2))
    store.close()
    return {"load + fold": statistics.median(load), "markdown (incl. load)": statistics.median(md),
            "json (incl. load)": statistics.median(js)}


def seed_bulk(path: Path, n: int) -> str:
    """Like :func:`seed`, in one transaction (100,000 durable appends take a minute; the
    curve is about reading them)."""
    s = SQLiteStore(path)
    iid = s.declare("Checkout returns 500s", "SEV1", ["checkout", "db"], actor=ACTOR).incident_id
    kinds = seed_kinds()
    conn = s._conn
    assert conn is not None
    conn.execute("BEGIN IMMEDIATE")
    for i in range(n - 1):
        typ, data = kinds[i % len(kinds)]
        s._insert(conn, typ, dict(data, i=i), iid, ACTOR, ev.utcnow())
    conn.execute("COMMIT")
    s.close()
    return iid


def seed_kinds() -> list[tuple[str, dict]]:
    return [
        (ev.NOTE, {"text": "pg: sessions waiting on a lock on orders, checking pg_locks"}),
        ("health.state_changed", {"check": "checkout-http", "previous": "ok",
                                  "state": "critical", "detail": "HTTP 500"}),
        ("db.cancel", {"pid": 4242, "user": "app", "database": "shop", "ok": True}),
        ("runbook.step_finished", {"runbook": "pg-lock-storm", "step": "find",
                                   "step_title": "Find the blocker", "exit_status": 0,
                                   "duration": 1.2, "output_last": ["4242 | {}"]}),
        (ev.SNAPSHOT, {"cpu": 97.5, "load1": 7.2, "mem": 81.0, "swap": 0.0, "processes": 212}),
    ]


def first_paint_data(db: Path, iid: str) -> float:
    """What the incident screen reads before its first paint (IncidentScreen._read): every
    sequence number, the newest page, the state folded from the events its head shows."""
    from opsconsole.ui.widgets import PAGE, timeline_width

    store = SQLiteStore(db, read_only=True)
    t = time.perf_counter()
    seqs = store.seqs(iid)
    page = store.events(iid, newest=PAGE)
    state = load_lifecycle(store, iid)
    state.event_count = len(seqs)
    timeline_width(page)
    took = time.perf_counter() - t
    store.close()
    return took


def load_lifecycle(store: SQLiteStore, iid: str):
    from opsconsole.incidents import timeline as tl
    from opsconsole.ui.screens.incident import _HEAD_TYPES

    return tl.fold(store.events(iid, types=_HEAD_TYPES), incident_id=iid)


def run_measured(cmd: list[str], out: Path, stdout=None) -> tuple[float, float, int]:
    """(wall s, peak RSS MB, exit status) of a command, as /usr/bin/time measures it (its
    wait4's ru_maxrss: the command's own peak, not this process's inherited by a fork)."""
    stats = out.with_suffix(".time")
    t = time.perf_counter()
    rc = subprocess.call(["/usr/bin/time", "-f", "%M", "-o", str(stats), *cmd],
                         stdout=stdout or subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    kb = int(stats.read_text().split()[-1])
    return wall, kb / 1024, rc


def bench_curve(tmp: Path, sizes: list[int], rounds: int) -> None:
    print(f"\n## the curve: open and export vs events (median of {rounds}; subprocess peaks)")
    print(f"  {'events':>8} {'open data':>10} {'json wall':>10} {'json RSS':>9} "
          f"{'dump wall':>10} {'dump RSS':>9} {'wall x':>7} {'RSS x':>6}  goals")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    os.environ.update(env)
    for n in sizes:
        d = tmp / f"curve{n}"
        d.mkdir()
        db = d / "incidents.db"
        iid = seed_bulk(db, n)
        opens, jw, jr, dw, dr = [], [], [], [], []
        for _ in range(rounds):
            opens.append(first_paint_data(db, iid))
            w, r, rc = run_measured([sys.executable, "-m", "opsconsole", "incident", "export",
                                     iid, "--data-dir", str(d), "--format", "json", "-o",
                                     str(tmp / "out.json")], tmp / "json")
            assert rc == 0, rc
            jw.append(w)
            jr.append(r)
            with open(tmp / "dump.sql", "wb") as f:
                w, r, rc = run_measured(["sqlite3", str(db), ".dump"], tmp / "dump", stdout=f)
            assert rc == 0, rc
            dw.append(w)
            dr.append(r)
        o, a, b = (statistics.median(x) for x in (opens, jw, jr))
        c, e = statistics.median(dw), statistics.median(dr)
        goals = []
        if n >= 100_000:
            goals = [f"open<300ms {'ok' if o < 0.3 else 'MISSED'}",
                     f"json<1.5s {'ok' if a < 1.5 else 'MISSED'}",
                     f"json<60MB {'ok' if b < 60 else 'MISSED'}"]
        print(f"  {n:>8,} {o * 1000:8.0f}ms {a:9.2f}s {b:7.0f}MB {c:9.2f}s {e:7.0f}MB "
              f"{a / c:6.1f}x {b / e:5.1f}x  {' · '.join(goals)}")
        os.unlink(db)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--appends", type=int, default=2_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", default="10000,50000,100000",
                    help="event counts for the open/export curve")
    ap.add_argument("--curve-only", action="store_true", help="only the open/export curve")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print(f"# incident store benchmark (tmp: {tmp})")
        print("# host load (1, 5, 15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
        if args.curve_only:
            bench_curve(tmp, sizes, args.rounds)
            return 0
        print(f"\n## durable appends ({args.appends} events, median of {args.rounds})")
        res = bench_appends(tmp, args.appends, args.rounds)
        base = res["sqlite FULL (durable)"]
        for k, v in res.items():
            print(f"  {k:<30} {v:9,.0f} appends/s   ratio {v / base:5.2f}x")
        print(f"  goal >= 2,000/s: {'MET' if base >= 2000 else 'MISSED'}")

        db = tmp / "big.db"
        t = time.perf_counter()
        iid = seed(db, args.events)
        print(f"\n(seeded {args.events} events in {time.perf_counter() - t:.1f}s)")

        print(f"\n## open the incident screen with {args.events} events (median of "
              f"{args.rounds})")
        small = tmp / "small.db"
        small_iid = seed(small, 1)
        walls, owns, peers, smalls = [], [], [], []
        for _ in range(args.rounds):
            w, o = asyncio.run(open_screen(db, iid, tmp, args.events))
            walls.append(w)
            owns.append(o)
            peers.append(asyncio.run(datatable_peer(db, iid)))
            smalls.append(asyncio.run(open_screen(small, small_iid, tmp, 1))[0])
        w, o, p = statistics.median(walls), statistics.median(owns), statistics.median(peers)
        one = statistics.median(smalls)
        print(f"  opsconsole: open, state + newest drawn {w * 1000:7.0f} ms")
        print(f"  opsconsole: same screen, 1 event       {one * 1000:7.0f} ms   (the fixed cost "
              f"of a screen; 10,000 events add {max(w - one, 0) * 1000:.0f} ms)")
        print(f"  opsconsole: home, oldest page drawn    {o * 1000:7.0f} ms")
        print(f"  peer: DataTable with all rows          {p * 1000:7.0f} ms   "
              f"ratio {p / w:5.1f}x")
        print(f"  goal < 300 ms: {'MET' if w < 0.3 else 'MISSED'}")

        print(f"\n## export {args.events} events (median of {args.rounds})")
        ex = bench_export(db, iid, args.rounds)
        for k, v in ex.items():
            print(f"  {k:<30} {v * 1000:8.0f} ms")
        print(f"  goal < 1 s: {'MET' if ex['markdown (incl. load)'] < 1.0 else 'MISSED'}")
        bench_curve(tmp, sizes, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
