"""Command line: the console (default) and its subcommands.

Errors in what the operator gave us (config, runbooks, arguments) are printed as one located
line on stderr with exit status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, NoReturn

from opsconsole import __version__
from opsconsole.cli.common import (
    EXIT_USAGE,
    common_options,
    load_or_exit,
    seconds,
    subcommand_options,
)
from opsconsole.config import resolve_data_dir

# The modules that register subcommands, in the order --help lists them, and the
# subcommands each registers (tests/unit/test_cli_parser.py keeps the two in step).
MODULES = ("check", "demo", "incident", "runbook", "alerts", "config", "completion", "slo",
           "store", "wall", "serve")
COMMANDS: dict[str, str] = {
    "check": "check", "demo": "demo", "incident": "incident", "runbook": "runbook",
    "watch": "alerts", "alerts": "alerts", "silence": "alerts", "config": "config",
    "completion": "completion", "manpage": "completion", "slo": "slo", "store": "store",
    "wall": "wall", "serve": "serve",
}


def _top_level(parser: argparse.ArgumentParser) -> None:
    """The options given before a subcommand (the console's own)."""
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


_PROG = "opsconsole"
_DESCRIPTION = ("Terminal operations console: health, resources, PostgreSQL slow queries "
                "and locks, incidents and runbooks on one screen.")


def build_parser(modules: Sequence[str] = MODULES) -> argparse.ArgumentParser:
    """The parser, with the subcommands of ``modules`` (default: all of them)."""
    parser = argparse.ArgumentParser(prog=_PROG, description=_DESCRIPTION)
    _top_level(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in MODULES:
        if name in modules:
            importlib.import_module(f"opsconsole.cli.{name}").register(sub, subcommand_options)
    return parser


class _Unsure(Exception):
    """The probe parser cannot tell (help, version, an error): the whole parser answers."""


class _Probe(argparse.ArgumentParser):
    """Parses the options before the subcommand, and its name, exactly as the real parser
    does, but prints nothing and exits nowhere."""

    def error(self, message: str) -> NoReturn:
        raise _Unsure(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise _Unsure(message)

    def _print_message(self, message: str, file: Any = None) -> None:
        raise _Unsure(message)


def parser_for(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser for ``argv``: with only the module of the subcommand it names (none for
    the console), so that a run imports and builds one subcommand's parser, not fourteen
    (``opsconsole check``: ~25 ms here). Whatever a probe parser cannot settle — help,
    version, an unknown subcommand, a bad option value — gets the whole parser, so every
    message and exit status is the whole parser's: that subcommand's parser and the
    top-level options are built by the same code either way."""
    probe = _Probe(prog=_PROG, description=_DESCRIPTION)
    _top_level(probe)
    stubs = probe.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        stubs.add_parser(name, add_help=False)
    try:
        known, _extras = probe.parse_known_args(list(argv))
    except _Unsure:
        return build_parser()
    command = getattr(known, "command", None)
    return build_parser((COMMANDS[command],) if command else ())


def main(argv: Sequence[str] | None = None) -> int:
    from opsconsole.cli.output import neutralised_stdio

    # no control character from outside (arguments, incident fields, step output) reaches
    # the terminal through what the parser and the subcommands print
    with neutralised_stdio():
        words = sys.argv[1:] if argv is None else list(argv)
        args = parser_for(words).parse_args(words)
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
