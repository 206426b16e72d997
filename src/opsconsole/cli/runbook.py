"""``opsconsole runbook list | validate PATH… | run ID|PATH``. Never imports Textual.

Only the parser is built here (it is built for every ``opsconsole`` run, the console's
included); the commands, and the runbook loaders they use, are in
:mod:`opsconsole.cli.runbook_cmds`, imported when one runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def register(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("runbook", help="list, validate and run runbooks",
                       description="Runbooks: guided, recorded procedures (YAML or Markdown).")
    rsub = p.add_subparsers(dest="runbook_command", metavar="ACTION", required=True)

    ls = rsub.add_parser("list", help="list the runbooks found (shipped and runbook_dirs:)")
    common(ls)
    ls.add_argument("--json", action="store_true",
                    help="print JSON: one object per runbook (id, title, tags, steps, path) "
                         "or broken file (path, error)")
    ls.set_defaults(run=_lazy("cmd_list"))

    va = rsub.add_parser("validate", help="check runbook files; exit 2 on any error")
    common(va)
    va.add_argument("paths", nargs="*", metavar="PATH",
                    help="files or directories (default: every runbook directory)")
    va.set_defaults(run=_lazy("cmd_validate"))

    run = rsub.add_parser("run", help="run a runbook non-interactively, recording every step")
    common(run)
    run.add_argument("runbook", metavar="ID|PATH",
                     help="a runbook id (see `opsconsole runbook list`) or a runbook file")
    run.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE",
                     help="a parameter value (secret ones are better given as "
                          "$OPSCONSOLE_PARAM_NAME or typed at the prompt)")
    run.add_argument("--dry-run", action="store_true",
                     help="show what would run; run only dry_run commands and read-only checks")
    run.add_argument("--yes", "-y", action="store_true",
                     help="confirm dangerous steps without asking")
    run.add_argument("--incident", metavar="ID", help="record on this incident's timeline")
    run.add_argument("--step", metavar="N|ID", action="append", default=[],
                     help="run only these steps (number, id or title); repeatable")
    run.set_defaults(run=_lazy("cmd_run"))


def _lazy(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from opsconsole.cli import runbook_cmds

        return int(getattr(runbook_cmds, name)(args))

    return run
