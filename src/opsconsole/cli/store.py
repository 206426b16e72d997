"""``opsconsole store status`` (which store, its lag, events waiting to be forwarded) and
``opsconsole store migrate --to postgresql://…`` (this host's SQLite history into the shared
store; idempotent). Exit status: 0 ok · 1 the store is unreachable · 2 bad input, or a role
that may not create the schema (the GRANT to run is printed). Never a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def register(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("store", help="the incident store: status, migrate to a shared one",
                       description="The incident store in use (SQLite in the data directory, "
                                   "or the shared PostgreSQL store of incidents.store).")
    ssub = p.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    sp = ssub.add_parser("status", help="which store, its lag, events waiting to be forwarded",
                         description="Which store is in use, whether it is reachable, its "
                                     "lag and the events of this host waiting to be "
                                     "forwarded. Creates the shared store's schema on "
                                     "first use.")
    common(sp)
    sp.add_argument("--json", action="store_true", help="one JSON object")
    sp.set_defaults(run=_wrap("cmd_status"))
    sp = ssub.add_parser("migrate", help="copy this host's SQLite history to a shared store",
                         description="Copy every event of this host's SQLite store into the "
                                     "shared PostgreSQL store. Idempotent: re-running copies "
                                     "nothing twice. Incident ids another host already uses "
                                     "are renamed (printed).")
    common(sp)
    sp.add_argument("--to", required=True, metavar="DSN",
                    help="postgresql:// URI (or a databases: name); keep passwords in "
                         "~/.pgpass or PGPASSWORD")
    sp.set_defaults(run=_wrap("cmd_migrate"))


def _wrap(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> Any:
        from opsconsole.cli import store_cmds

        return store_cmds.run(getattr(store_cmds, name), args)

    run.__name__ = name
    return run
