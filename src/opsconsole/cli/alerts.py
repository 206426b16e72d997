"""``opsconsole watch`` (the headless evaluator), ``opsconsole alerts`` (what fires now, from
the store) and ``opsconsole silence add|list|expire``.

Exit status: 0 ok · 1 the store cannot be used · 2 bad input (bad config, matcher, duration,
unknown silence). Never a traceback. Only the parsers are built here; the work is imported
when a command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def register(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "watch", help="run the checks and evaluate the alert rules headless (one per store)",
        description="Run the checks, sample the host and the databases, evaluate the alert "
                    "rules, record every transition and send the notifications — without a "
                    "console. One evaluator per store: a second watch (or console) stands by "
                    "and takes over when the first one's lease runs out. Speaks systemd's "
                    "notify protocol (Type=notify, WatchdogSec=) when run by systemd.")
    common(p)
    p.add_argument("--interval", type=float, default=10.0, metavar="SECONDS",
                   help="seconds between evaluations (default 10)")
    p.add_argument("--record-signals", metavar="FILE",
                   help="append what each evaluation read to FILE (JSON Lines), for "
                        "`opsconsole alerts test FILE`")
    p.add_argument("--ticks", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(run=_wrap("cmd_watch"))

    p = sub.add_parser("alerts", help="the alerts firing, pending and silenced now",
                       description="What the evaluator (opsconsole watch, or the console "
                                   "holding the lease) last recorded: firing, pending, no "
                                   "data and silenced alerts, worst first.")
    common(p)
    p.add_argument("--json", action="store_true", help="a JSON list of objects")
    p.add_argument("--all", action="store_true", help="include inactive and resolved alerts")
    p.add_argument("action", nargs="?", choices=["test"],
                   help="test FILE: evaluate the configured rules against recorded history "
                        "(JSON Lines, as watch --record-signals writes) and print what would "
                        "have fired and when")
    p.add_argument("file", nargs="?", metavar="FILE", help=argparse.SUPPRESS)
    p.set_defaults(run=_wrap("cmd_alerts"))

    p = sub.add_parser("silence", help="silence alerts for a while (recorded)",
                       description="Silences: matched alerts still show, dimmed, but do not "
                                   "notify or escalate until the silence ends.")
    ssub = p.add_subparsers(dest="silence_command", metavar="ACTION", required=True)
    sp = ssub.add_parser("add", help="add a silence", description="add a silence")
    common(sp)
    sp.add_argument("--match", action="append", required=True, metavar="LABEL=VALUE",
                    help="a matcher (=, !=, =~, !~), e.g. check=api or alertname=~'pg-.*'; "
                         "repeat or comma-separate: all must match")
    sp.add_argument("--for", dest="duration", required=True, metavar="DURATION",
                    help="how long, e.g. 30m, 2h")
    sp.add_argument("--reason", required=True, help="why (recorded)")
    sp.set_defaults(run=_wrap("cmd_silence_add"))
    sp = ssub.add_parser("list", help="list silences", description="list silences")
    common(sp)
    sp.add_argument("--all", action="store_true", help="include expired silences")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(run=_wrap("cmd_silence_list"))
    sp = ssub.add_parser("expire", help="end a silence now", description="end a silence now")
    common(sp)
    sp.add_argument("id", help="the silence id (see `opsconsole silence list`)")
    sp.set_defaults(run=_wrap("cmd_silence_expire"))


def _wrap(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> Any:
        from opsconsole.cli import alerts_cmds

        return getattr(alerts_cmds, name)(args)

    run.__name__ = name
    return run
