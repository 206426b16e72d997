"""``opsconsole demo``: every pane alive in one command (the scene is :mod:`opsconsole.demo`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsconsole.cli.common import load_or_exit
from opsconsole.config import resolve_data_dir

if TYPE_CHECKING:
    from opsconsole.demo import Demo

DESCRIPTION = ("Starts a throwaway local PostgreSQL cluster, a small workload with slow statements, a "
               "lock chain and idle transactions, and opens the console on it. The cluster is "
               "removed on exit, Ctrl+C, SIGTERM and SIGHUP (even when the terminal is closed); "
               "incidents, runbook outputs and exports go to the data directory (--data-dir) "
               "and are kept.")


def demo_app_class() -> Any:
    """The console with Ctrl+C also quitting (the terminal is raw, so Ctrl+C is a key here,
    not SIGINT); quitting tears the demo down."""
    from textual.binding import Binding

    from opsconsole.ui import app as app_module
    from opsconsole.ui.app import OpsConsoleApp

    class DemoApp(OpsConsoleApp):
        CSS_PATH = str(Path(app_module.__file__).parent / OpsConsoleApp.CSS_PATH)  # type: ignore[operator]
        BINDINGS = [Binding("ctrl+c", "quit", "quit", show=False, priority=True)]
        demo_note = ""

        def on_mount(self) -> None:  # Textual also runs OpsConsoleApp.on_mount
            if self.demo_note:
                self.notify(self.demo_note, title="demo", timeout=15)

    return DemoApp


def say(text: str, err: bool = False) -> None:
    """Print, never raising: after a hang-up the terminal is gone (EIO, EPIPE) and the
    teardown must go on regardless."""
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr if err else sys.stdout, flush=True)


def _teardown(demo: Demo) -> None:
    """Stop the workload and the server and remove the cluster, with SIGHUP, SIGINT and
    SIGTERM ignored meanwhile (closing the terminal now must not leave half a cluster);
    bounded by the cluster's own fast → immediate → kill escalation."""
    ignored = {}
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):
            ignored[sig] = signal.signal(sig, signal.SIG_IGN)
    try:
        demo.stop()
    finally:
        for sig, handler in ignored.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, handler)


def _install_signal_handlers() -> dict[int, Any]:
    def bye(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            old[sig] = signal.signal(sig, bye)
        except (ValueError, OSError):
            pass
    return old


def run(args: argparse.Namespace) -> int:
    # the scene (asyncpg, the cluster) is imported when the demo runs, not whenever the
    # parser is built
    from opsconsole.demo import Demo, check_scene, demo_config
    from opsconsole.pgcluster import ClusterError

    user_cfg = load_or_exit(getattr(args, "config", None))  # a bad config: exit 2 before setup
    data_dir = resolve_data_dir(getattr(args, "data_dir", None), user_cfg)
    old = _install_signal_handlers()
    demo = Demo(log=say)
    try:
        try:
            demo.start()
        except (ClusterError, RuntimeError) as exc:
            say(f"opsconsole demo: {exc}", err=True)
            return 1
        for line in demo.connect_lines():
            say(line)
        if args.check:
            ok, lines = asyncio.run(check_scene(demo.dsn))
            print("\n".join(lines), flush=True)
            print("demo scene: " + ("complete" if ok else "INCOMPLETE"), flush=True)
            if args.hold:
                print(f"holding for {args.hold:g}s (Ctrl+C to stop)", flush=True)
                time.sleep(args.hold)
            return 0 if ok else 1
        from opsconsole.ui.app import RunOptions

        say(f"incidents, runbook outputs and exports: {data_dir} (kept after the demo)")
        redact = bool(getattr(args, "redact_queries", False) or args.demo_redact)
        read_only = bool(getattr(args, "read_only", False) or args.demo_read_only)
        app_class = demo_app_class()
        app_class.demo_note = (f"server: {demo.dsn} (no password) · incidents and exports are "
                               f"kept in {data_dir}")
        app = app_class(demo_config(demo.dsn, redact, user_cfg),
                               RunOptions(read_only=read_only, data_dir=data_dir,
                                          theme=getattr(args, "theme", None),
                                          refresh=getattr(args, "refresh", None),
                                          ascii=bool(getattr(args, "ascii", False))))
        # incidents, notes, runbook outputs and exports go to the normal data directory (or
        # --data-dir), like any console run: the demo's incidents are real records and stay
        app.run()
        return int(app.return_code or 0)
    except KeyboardInterrupt:
        say("\ninterrupted: cleaning up", err=True)
        return 130
    finally:
        _teardown(demo)
        if not args.check:
            say(f"kept: the demo's incidents, runbook outputs and exports in {data_dir}")
        for sig, handler in old.items():
            signal.signal(sig, handler)


def register(sub: argparse._SubParsersAction, common: Any) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="see every pane alive: a throwaway PostgreSQL cluster with "
                       "slow queries, a lock chain and idle transactions",
                       description=DESCRIPTION)
    common(p)
    p.add_argument("--check", action="store_true",
                   help="no UI: set up, print what the panes show, tear down (exit 0 when the "
                        "scene is complete)")
    p.add_argument("--hold", type=float, default=0.0, metavar="SECONDS",
                   help="with --check: keep the demo up this long before tearing down")
    # own dests: `opsconsole --read-only demo` (the global flag) must survive the subparser
    p.add_argument("--read-only", action="store_true", dest="demo_read_only",
                   help="open the console read-only")
    p.add_argument("--redact-queries", action="store_true", dest="demo_redact",
                   help="mask literals in query text")
    p.set_defaults(run=run)
