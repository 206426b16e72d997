"""Database parameters: a runbook parameter that names the database target its sql steps
run on (``database: "{{ database }}"``). Its value defaults to the target the console's
PostgreSQL panes watch (the first of :func:`opsconsole.config.database_targets`), not to
whatever name the runbook's author had (the shipped runbooks say ``main``): a default that
names no known target is replaced by the watched one.

Never imports Textual.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from opsconsole.runbooks.model import Runbook, SqlStep
from opsconsole.runbooks.shellscan import TEMPLATE


def database_params(rb: Runbook) -> set[str]:
    """The parameters that name a database target: those a sql step's ``database:`` refers
    to, and one called ``database``."""
    names = {p.name for p in rb.params}
    out = {"database"} & names

    def walk(steps: Iterable[Any]) -> None:
        for step in steps:
            if isinstance(step, SqlStep):
                out.update(m.group(1) for m in TEMPLATE.finditer(step.database)
                           if m.group(1) in names)
            walk(getattr(step, "on_failure", ()) or ())

    walk(rb.steps)
    return out


def default_databases(rb: Runbook, given: dict[str, str], targets: Sequence[Any]) -> dict[str, str]:
    """Values for the database parameters ``given`` has none for: the watched target (the
    first of ``targets``) unless the runbook's default names one of the known targets."""
    if not targets:
        return {}
    known = {t.name for t in targets}
    out = {}
    for p in rb.params:
        if p.name in database_params(rb) and p.name not in given and p.default not in known:
            out[p.name] = targets[0].name
    return out
