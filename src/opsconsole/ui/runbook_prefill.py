"""Where a runbook's parameters get their first values, whatever pane has focus: the root
blocker on the locks pane, the session selected on the slow queries pane, the process
selected on the resources pane, the database target the PostgreSQL panes watch — and the
runbook's defaults. Every value says where it came from (shown under its field); when the
blocker a lock runbook wants is gone, the field says so: ``no blocking session now (was
4242 at 03:12)``.

Which pane is most relevant depends on the runbook (its tags and id): a lock runbook asks
the locks pane first, a PostgreSQL one the PostgreSQL panes, a CPU/memory one the
resources pane (and only those); a runbook about none of them, the focused pane first, then
the others.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opsconsole.config import database_targets
from opsconsole.postgres.model import LockNode, LocksSnapshot
from opsconsole.text import one_line

if TYPE_CHECKING:
    from opsconsole.runbooks.model import Runbook
    from opsconsole.ui.app import OpsConsoleApp

PANE_ORDER = ("locks", "slow", "resources", "health", "incidents")
WATCHED = "the database target the PostgreSQL panes watch"


@dataclass(frozen=True)
class Prefill:
    """A parameter's first value and where it came from ("" value: nothing to offer, and
    ``source`` says why)."""

    value: str
    source: str


@dataclass(frozen=True)
class SeenBlocker:
    pid: int
    application: str
    at: datetime


_LAST_BLOCKER: weakref.WeakKeyDictionary[Any, SeenBlocker] = weakref.WeakKeyDictionary()


def top_root(snap: LocksSnapshot | None) -> LockNode | None:
    """The root blocker that blocks most (the first root in tree order on a tie)."""
    roots = [n for n in (snap.nodes if snap is not None else ()) if n.depth == 0 and n.pid > 0]
    return max(roots, key=lambda n: n.blocks, default=None)


def note_root_blocker(pane: Any, snap: LocksSnapshot, now: datetime) -> None:
    """(the locks pane, at each snapshot) Remember the last root blocker seen, so a runbook
    opened after it is gone can say which one it was."""
    root = top_root(snap)
    if root is not None:
        _LAST_BLOCKER[pane] = SeenBlocker(root.pid, root.backend.application or "", now)


def blocker_label(n: LockNode) -> str:
    b = n.backend
    who = f", app {one_line(b.application, 24)}" if b.application else (
        f", user {one_line(b.user, 24)}" if b.user else "")
    return f"root blocker pid {n.pid}{who}"


def locks_offer(pane: Any, wants_empty: bool) -> dict[str, Prefill]:
    snap = pane.snapshot
    if snap is None:  # not configured, or no answer yet
        return {}
    selected = pane.selected_node()
    root = None
    if selected is not None and selected.root > 0:
        root = next((n for n in snap.nodes if n.pid == selected.root), None)
    root = root or top_root(snap)
    if root is not None:
        return {"pid": Prefill(str(root.pid), "from the locks pane: " + blocker_label(root))}
    if not wants_empty:
        return {}
    seen = _LAST_BLOCKER.get(pane)
    was = (f" (was {seen.pid}{', app ' + one_line(seen.application, 24) if seen.application else ''}"
           f" at {seen.at.astimezone(UTC):%H:%M})") if seen else ""
    return {"pid": Prefill("", f"no blocking session now{was}")}


def slow_offer(pane: Any) -> dict[str, Prefill]:
    if pane.snapshot is None:
        return {}
    values = pane.runbook_context()
    pid = values.get("pid")
    if not pid:
        return {}
    b = pane._pg_backends.get(pane.selected_key() or "")
    app = f", app {one_line(b.application, 24)}" if b is not None and b.application else ""
    return {"pid": Prefill(pid, f"from slow queries: selected session pid {pid}{app}")}


def generic_offer(pane: Any) -> dict[str, Prefill]:
    fn = getattr(pane, "runbook_context", None)
    if fn is None:
        return {}
    try:
        values = {str(k): str(v) for k, v in (fn() or {}).items() if v is not None}
    except Exception:
        return {}
    title = str(getattr(pane, "title", pane.pane_id)).lower()
    return {k: Prefill(v, f"from the {title} pane: selected {k} {one_line(v, 30)}")
            for k, v in values.items() if k != "database"}


def relevant_panes(rb: Runbook) -> list[str]:
    words = " ".join([rb.id, *rb.tags]).lower()
    out = []
    if "lock" in words:
        out.append("locks")
    if any(w in words for w in ("postgres", "pg", "slow", "query", "sql")):
        out += ["locks", "slow"] if "slow" not in words else ["slow", "locks"]
    if any(w in words for w in ("cpu", "memory", "process", "host", "load")):
        out.append("resources")
    return list(dict.fromkeys(out))


def watched_target(app: OpsConsoleApp) -> str | None:
    """The database target the PostgreSQL panes watch now (``T`` moves it), else the first
    known target."""
    for pane_id in ("locks", "slow"):
        try:
            name = getattr(app.pane(pane_id), "target_name", "")
        except Exception:
            name = ""
        if name:
            return str(name)
    targets = database_targets(app.config, app.options.dsn)
    return targets[0].name if targets else None


def prefill(app: OpsConsoleApp, rb: Runbook) -> dict[str, Prefill]:
    """Every parameter's first value with its source (secret ones get none)."""
    relevant = relevant_panes(rb)
    # a lock runbook's pid is a blocking session, never the process the resources pane shows
    order = relevant or list(dict.fromkeys([app.current_pane, *PANE_ORDER]))
    offers: dict[str, Prefill] = {}
    wanted = {p.name for p in rb.params if not p.secret}
    for pane_id in order:
        try:
            pane = app.pane(pane_id)
        except Exception:
            continue
        if pane_id == "locks":
            offer = locks_offer(pane, wants_empty="locks" in relevant)
        elif pane_id == "slow":
            offer = slow_offer(pane)
        else:
            offer = generic_offer(pane)
        for k, v in offer.items():
            if k in wanted and k not in offers:
                offers[k] = v
    from opsconsole.runbooks.dbparams import database_params

    dbs = database_params(rb)
    watched = watched_target(app)
    for p in rb.params:
        if p.secret:
            continue
        if p.name in dbs and watched:
            offers[p.name] = Prefill(watched, WATCHED)
        elif p.name not in offers and p.default is not None:
            offers[p.name] = Prefill(str(p.default), "default")
    return offers
