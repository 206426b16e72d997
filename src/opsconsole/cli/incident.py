"""``opsconsole incident ...``: list, show, declare, note, status, severity, milestone, set,
assign, export and comms — the same store and fold the console uses.

Exit status: 0 ok · 1 the store cannot be used (locked, read-only, corrupt, newer schema) ·
2 bad input (unknown incident, bad severity/status/time, bad config). Never a traceback.

Only the parser is built here (it is built for every ``opsconsole`` run, the console's
included); the commands and the store they use are in :mod:`opsconsole.cli.incident_cmds`,
imported when one runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from opsconsole.incidents import words


def register(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("incident", help="declare, update, show and export incidents",
                       description="Incidents: an append-only timeline in the data directory.")
    isub = p.add_subparsers(dest="incident_command", metavar="ACTION", required=True)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        sp = isub.add_parser(name, help=help, description=help)
        common(sp)
        return sp

    sp = add("list", "list incidents (open ones, worst first; --all for every one)")
    sp.add_argument("--all", action="store_true", help="include resolved and closed incidents")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(run=_wrap("cmd_list"))

    sp = add("show", "show an incident: state, durations and timeline")
    sp.add_argument("id", help="the incident id (see `opsconsole incident list`)")
    sp.add_argument("--json", action="store_true",
                    help="print the incident and its timeline as JSON")
    sp.set_defaults(run=_wrap("cmd_show"))

    sp = add("declare", "declare a new incident (prints its id)")
    sp.add_argument("--title", required=True, help="a one-line summary of the impact")
    sp.add_argument("--severity", required=True,
                    help="one of the configured severities (SEV1..SEV4 unless configured)")
    sp.add_argument("--service", action="append", default=[], dest="services",
                    help="affected service (repeat, or comma-separated)")
    sp.add_argument("--tag", action="append", default=[], dest="tags",
                    help="a tag (repeat, or comma-separated)")
    sp.add_argument("--commander", help="incident commander")
    sp.add_argument("--started", help="when impact started (backdating): now, -15m, HH:MM "
                                      "UTC or ISO 8601")
    sp.set_defaults(run=_wrap("cmd_declare"))

    sp = add("note", "add a note to an incident's timeline")
    sp.add_argument("id", help="the incident id (see `opsconsole incident list`)")
    sp.add_argument("text", help="the note (quote it)")
    sp.add_argument("--corrects", type=int, metavar="SEQ",
                    help="this note corrects note #SEQ (both stay on the timeline)")
    sp.set_defaults(run=_wrap("cmd_note"))

    sp = add("set", "change the title, services, tags or the postmortem record")
    sp.add_argument("id", help="the incident id (see `opsconsole incident list`)")
    sp.add_argument("--title", help="the new title")
    sp.add_argument("--services", help="comma-separated; replaces the list ('' for none)")
    sp.add_argument("--tags", help="comma-separated; replaces the list ('' for none)")
    for name, label in words.RECORD_LABELS.items():
        sp.add_argument("--" + name.replace("_", "-"), dest="rec_" + name, metavar="TEXT",
                        help=f"{label.lower()} ('' clears it)" + (
                            ": yes or no" if name == "postmortem_required" else ""))
    sp.set_defaults(run=_wrap("cmd_set"))

    sp = add("action", "add a postmortem action item, or change its status")
    sp.add_argument("id", help="the incident id (see `opsconsole incident list`)")
    sp.add_argument("what", metavar="TEXT|SEQ",
                    help="the new action item; with --status, the #SEQ of an existing one")
    sp.add_argument("--owner", help="who does it")
    sp.add_argument("--status", choices=words.ACTION_STATUSES,
                    help="set the status of action item SEQ")
    sp.set_defaults(run=_wrap("cmd_action"))

    sp = add("status", "change an incident's status")
    sp.add_argument("id", help="the incident id (see `opsconsole incident list`)")
    sp.add_argument("status", help="|".join(words.STATUSES))
    sp.set_defaults(run=_wrap("cmd_status"))

    sp = add("severity", "change an incident's severity")
    sp.add_argument("id", help="the incident id (see `opsconsole incident list`)")
    sp.add_argument("severity", help="one of the configured severities (SEV1..SEV4 unless "
                                     "configured)")
    sp.set_defaults(run=_wrap("cmd_severity"))

    sp = add("milestone", "set (or backdate) a milestone")
    sp.add_argument("id", help="the incident id (see `opsconsole incident list`)")
    sp.add_argument("milestone", help="|".join(words.MILESTONES))
    sp.add_argument("--at", default="now", help="now, -15m, HH:MM UTC or ISO 8601")
    sp.set_defaults(run=_wrap("cmd_milestone"))

    sp = add("assign", "assign or hand over a role")
    sp.add_argument("id", help="the incident id (see `opsconsole incident list`)")
    sp.add_argument("role", help="|".join(words.ROLES))
    sp.add_argument("person", help="who takes the role")
    sp.set_defaults(run=_wrap("cmd_assign"))

    sp = add("export", "write the postmortem draft (Markdown) or every event (JSON)")
    sp.add_argument("id", help="the incident id (see `opsconsole incident list`)")
    sp.add_argument("--format", choices=("md", "json"), default="md",
                    help="md: the postmortem draft (default); json: every event")
    sp.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    sp.set_defaults(run=_wrap("cmd_export"))

    sp = add("comms", "draft a status message from a template")
    sp.add_argument("id", help="the incident id (see `opsconsole incident list`)")
    sp.add_argument("--template", default="update",
                    help="initial, update, resolved, or one from the config")
    sp.set_defaults(run=_wrap("cmd_comms"))


def _wrap(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from opsconsole.cli.incident_cmds import run_command

        return run_command(name, args)

    return run
