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
from opsconsole.cli.common import (
    EXIT_USAGE,
    common_options,
    load_or_exit,
    seconds,
    subcommand_options,
)
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
    parser.add_argument("--ascii", action="store_true",
                        help="draw ASCII only (also chosen by itself for TERM=linux and "
                        "locales that are not UTF-8, such as LANG=C)")
    dsn = parser.add_mutually_exclusive_group()
    dsn.add_argument("--dsn", metavar="DSN", help="watch this PostgreSQL server (URI, "
                     "key=value or service=NAME; PG* variables, ~/.pg_service.conf and "
                     "~/.pgpass work as in psql). Keep passwords out of it: the command "
                     "line is visible to every user in ps; use --dsn-file, PGPASSWORD or "
                     "~/.pgpass")
    dsn.add_argument("--dsn-file", metavar="PATH", help="read the DSN from this file (its "
                     "first line that is not blank or a # comment), so that a password in "
                     "it never appears in ps")
    parser.add_argument("--redact-queries", action="store_true",
                        help="mask literals in query text (for shared screens)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from opsconsole.cli import alerts, check, completion, demo, incident, runbook
    from opsconsole.cli import config as config_cmd
    from opsconsole.cli import serve as serve_cmd
    from opsconsole.cli import slo as slo_cmd
    from opsconsole.cli import store as store_cmd
    from opsconsole.cli import wall as wall_cmd

    for module in (check, demo, incident, runbook, alerts, config_cmd, completion, slo_cmd,
                   store_cmd, wall_cmd, serve_cmd):
        module.register(sub, subcommand_options)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from opsconsole.cli.output import neutralised_stdio

    # no control character from outside (arguments, incident fields, step output) reaches
    # the terminal through what the parser and the subcommands print
    with neutralised_stdio():
        parser = build_parser()
        args = parser.parse_args(argv)
        args.dsn = dsn_from_args(args, sys.argv if argv is None else None)
        if args.command:
            return int(args.run(args) or 0)
    return run_console(args)


def dsn_from_args(args: argparse.Namespace, process_argv: list[str] | None) -> str | None:
    """``--dsn`` or the DSN in ``--dsn-file`` (exit 2 with the reason if it is unreadable).

    A password given in ``--dsn`` is blanked in the process's own command line (``ps``,
    ``/proc/PID/cmdline``; see :mod:`opsconsole.cli.procargv`) and in ``sys.argv``, and a
    warning points at the ways that never show it (it was visible until opsconsole
    started)."""
    if getattr(args, "dsn_file", None):
        path = args.dsn_file
        try:
            with open(path, encoding="utf-8") as f:
                lines = [ln.strip() for ln in f.read().splitlines()]
        except OSError as exc:
            print(f"opsconsole: --dsn-file {path}: {exc.strerror}", file=sys.stderr)
            raise SystemExit(EXIT_USAGE) from None
        found = [ln for ln in lines if ln and not ln.startswith("#")]
        if not found:
            print(f"opsconsole: --dsn-file {path}: no DSN in the file", file=sys.stderr)
            raise SystemExit(EXIT_USAGE)
        return found[0]
    dsn = getattr(args, "dsn", None)
    if not dsn:
        return dsn
    from opsconsole.postgres.libpq import DsnError, parse
    from opsconsole.secrets import safe_dsn

    try:
        has_password = "password" in parse(dsn)
    except DsnError as exc:
        print(f"opsconsole: --dsn: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    if has_password:
        from opsconsole.cli.procargv import scrub_process_argv

        password = str(parse(dsn)["password"])
        blanked = scrub_process_argv(password)
        print("opsconsole: warning: the password in --dsn "
              + ("was visible to every user of this machine in `ps` output until now (it is "
                 "blanked)" if blanked else "is visible to every user of this machine in `ps` "
                 "output") + "; use --dsn-file PATH, PGPASSWORD or ~/.pgpass instead",
              file=sys.stderr)
        if process_argv is not None:
            process_argv[:] = [safe_dsn(a) if a == dsn else
                               ("--dsn=" + safe_dsn(dsn) if a == "--dsn=" + dsn else a)
                               for a in process_argv]
    return dsn


def run_console(args: argparse.Namespace) -> int:
    cfg = load_or_exit(args.config)
    from opsconsole.ui.app import OpsConsoleApp, RunOptions

    options = RunOptions(
        read_only=bool(args.read_only),
        theme=args.theme,
        refresh=args.refresh,
        data_dir=resolve_data_dir(args.data_dir, cfg),
        dsn=args.dsn,
        ascii=bool(args.ascii),
    )
    if args.redact_queries:
        cfg = replace(cfg, redact_queries=True)
    app = OpsConsoleApp(cfg, options)
    app.run()
    return int(app.return_code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
