"""Command line: the console (default) and its subcommands.

Errors in what the operator gave us (config, runbooks, arguments) are printed as one located
line on stderr with exit status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace

from opsconsole import __version__
from opsconsole.cli.common import common_options, load_or_exit, seconds
from opsconsole.config import resolve_data_dir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsconsole",
        description="Terminal operations console: health, resources, PostgreSQL slow queries "
                    "and locks, incidents and runbooks on one screen.",
    )
    parser.add_argument("--version", action="version", version=f"opsconsole {__version__}")
    common_options(parser)
    parser.add_argument("--theme", metavar="NAME", help="theme name (opsconsole-dark, "
                        "opsconsole-light, opsconsole-contrast, or one of yours)")
    parser.add_argument("--refresh", metavar="SECONDS", type=seconds,
                        help="refresh interval, e.g. 2 or 2s or 500ms (default 2s)")
    parser.add_argument("--read-only", action="store_true",
                        help="watch only: every action that changes anything is removed")
    parser.add_argument("--dsn", metavar="DSN", help="watch this PostgreSQL server "
                        "(URI or key=value; PG* variables and ~/.pgpass work as in libpq)")
    parser.add_argument("--redact-queries", action="store_true",
                        help="mask literals in query text (for shared screens)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from opsconsole.cli import check, demo, incident, runbook

    for module in (check, demo, incident, runbook):
        module.register(sub, common_options)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from opsconsole.cli.output import neutralised_stdio

    # no control character from outside (arguments, incident fields, step output) reaches
    # the terminal through what the parser and the subcommands print
    with neutralised_stdio():
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command:
            return int(args.run(args) or 0)
    return run_console(args)


def run_console(args: argparse.Namespace) -> int:
    cfg = load_or_exit(args.config)
    from opsconsole.ui.app import OpsConsoleApp, RunOptions

    options = RunOptions(
        read_only=bool(args.read_only),
        theme=args.theme,
        refresh=args.refresh,
        data_dir=resolve_data_dir(args.data_dir, cfg),
        dsn=args.dsn,
    )
    if args.redact_queries:
        cfg = replace(cfg, redact_queries=True)
    app = OpsConsoleApp(cfg, options)
    app.run()
    return int(app.return_code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
