"""Snapshot → table rows for the slow queries and locks panes. Pure functions (no terminal,
no Textual) so they are unit-tested directly."""

from __future__ import annotations

from collections.abc import Sequence

from opsconsole.fmt import duration, one_line
from opsconsole.postgres.model import (
    ActivitySnapshot,
    Backend,
    LockNode,
    LocksSnapshot,
    Statement,
    StatementsSnapshot,
)
from opsconsole.postgres.redact import redact_sql

RUNNING_COLUMNS = ("PID", "USER", "DB", "STATE", "AGE", "XACT", "WAIT", "QUERY", "APP", "CLIENT")
TOP_COLUMNS = ("CALLS/S", "MS/CALL", "TIME", "ROWS", "CALLS Σ", "TIME Σ", "MEAN Σ", "USER", "DB",
               "QUERY")
LOCK_COLUMNS = ("PID", "STATE", "BLOCKS", "WAITED", "WAITS FOR", "USER", "DB", "QUERY")

# Fixed column widths: values change in place every refresh (ages grow), and a fixed layout
# neither truncates a grown value nor shifts the columns under the operator's eyes.
WIDTHS = {
    "PID": 7, "USER": 10, "DB": 10, "STATE": 25, "AGE": 6, "XACT": 6, "WAIT": 18, "QUERY": 100,
    "APP": 16, "CLIENT": 15, "CALLS/S": 8, "MS/CALL": 9, "TIME": 10, "ROWS": 8, "CALLS Σ": 10,
    "TIME Σ": 11, "MEAN Σ": 9, "WAITS FOR": 34, "WAITED": 7, "BLOCKS": 6,
}
LOCK_WIDTHS = {"PID": 17}


def column_width(column: str, view: str = "") -> int:
    if view == "locks" and column in LOCK_WIDTHS:
        return LOCK_WIDTHS[column]
    return WIDTHS.get(column, 10)


STATE_SHORT = {
    "idle in transaction": "idle in xact",
    "idle in transaction (aborted)": "idle in xact (aborted)",
    "fastpath function call": "fastpath call",
}


# Cells are mostly the same strings refresh after refresh (the same queries, users,
# databases); neutralising them (and redacting: ~75 us a query) once per distinct string keeps
# a refresh of 150 sessions from redoing ~1,000 of them. Pure functions of their arguments,
# so a bounded memo changes nothing on screen.
_MEMO: dict[tuple[str, int | None, bool], str] = {}
_MEMO_MAX = 8192


def _line(text: str, width: int | None, redact: bool = False) -> str:
    key = (text, width, redact)
    out = _MEMO.get(key)
    if out is None:
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        out = _MEMO[key] = one_line(redact_sql(text) if redact else text, width)
    return out


def query_text(text: str, redact: bool, width: int | None = 200) -> str:
    return _line(text, width, redact)


def state_label(b: Backend) -> str:
    """The state as shown: exact PostgreSQL state, shortened; idle transactions with their
    idle time and a vacuum flag (``backend_xid``/``backend_xmin`` held)."""
    if b.state is None:
        return "hidden"
    s = STATE_SHORT.get(b.state, b.state)
    if b.idle_in_transaction:
        s += f" {duration(b.state_age)}"
        if b.holds_back_vacuum:
            s += " ⚠vac"
    return s


def wait_label(b: Backend) -> str:
    if not b.wait_event_type:
        return ""
    return f"{b.wait_event_type}:{b.wait_event}" if b.wait_event else b.wait_event_type


def matches(text: str, *fields: object) -> bool:
    if not text:
        return True
    f = text.lower()
    return any(f in str(x).lower() for x in fields if x is not None)


def running_rows(snap: ActivitySnapshot, filter_text: str = "", redact: bool = False
                 ) -> list[tuple[str, tuple[str, ...]]]:
    out = []
    for b in snap.backends:
        if b.state is None:
            continue  # not visible to this role; counted in the hint
        if not matches(filter_text, b.pid, b.user, b.database, b.application, b.state, b.query,
                       b.client):
            continue
        out.append((str(b.pid), (
            str(b.pid), _line(b.user or "", 12), _line(b.database or "", 12),
            state_label(b), duration(b.age), duration(b.xact_age), wait_label(b),
            _line(b.query, 400, redact), _line(b.application, 16), b.client or "local",
        )))
    return out


def hidden_count(snap: ActivitySnapshot) -> int:
    return sum(1 for b in snap.backends if b.state is None)


def running_summary(snap: ActivitySnapshot) -> str:
    shown = [b for b in snap.backends if b.state is not None]
    idle_x = sum(1 for b in shown if b.idle_in_transaction)
    parts = [f"{len(shown)} sessions ≥{duration(snap.min_duration)}"]
    if idle_x:
        parts.append(f"{idle_x} idle in xact")
    return " · ".join(parts)


def activity_hints(snap: ActivitySnapshot) -> list[str]:
    """What this role cannot see or do, with the exact GRANT that fixes it."""
    hints = snap.server.activity_hints()
    n = hidden_count(snap)
    if n and hints and not snap.server.read_all_stats:
        hints = [f"{n} session(s) of other users hidden: " + hints[0], *hints[1:]]
    return hints


def _ms(v: float | None) -> str:
    if v is None:
        return "–"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.2f}"


def _rate(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.1f}" if v < 100 else f"{v:,.0f}"


def statement_rows(snap: StatementsSnapshot, filter_text: str = "", redact: bool = False
                   ) -> list[tuple[str, tuple[str, ...]]]:
    out = []
    for s in snap.statements:
        if not matches(filter_text, s.user, s.database, s.query, s.key[2]):
            continue
        out.append((s.row_key, statement_cells(s, redact)))
    return out


def statement_cells(s: Statement, redact: bool) -> tuple[str, ...]:
    # $n placeholders are already normalised; redact masks literals left in utility statements
    return (
        _rate(s.calls_per_s), _ms(s.d_mean_ms), _ms(s.d_total_ms),
        "–" if s.d_rows is None else f"{s.d_rows:,}",
        f"{s.calls:,}", _ms(s.total_ms), _ms(s.mean_ms),
        one_line(s.user, 12), one_line(s.database, 12), query_text(s.query or "…", redact, 400),
    )


def lock_rows(snap: LocksSnapshot, filter_text: str = "", redact: bool = False
              ) -> list[tuple[str, tuple[str, ...]]]:
    keep: set[int] | None = None
    if filter_text:  # keep whole trees whose any node matches
        roots = {n.root for n in snap.nodes if matches(
            filter_text, n.pid, n.backend.user, n.backend.database, n.backend.query,
            n.relation, n.mode)}
        keep = roots
    out = []
    for n in snap.nodes:
        if keep is not None and n.root not in keep:
            continue
        out.append((str(n.pid), lock_cells(n, redact)))
    return out


def lock_cells(n: LockNode, redact: bool) -> tuple[str, ...]:
    b = n.backend
    # three levels of indentation; deeper levels (a long lock queue) say their depth
    indent = "  " * min(n.depth, 3)
    mark = "●" if n.depth == 0 else ("└" if n.depth <= 3 else f"{n.depth}└")
    return (
        f"{indent}{mark} {n.pid}", state_label(b), str(n.blocks) if n.blocks else "",
        duration(n.wait_age) if n.wait_age is not None else ("" if n.depth == 0 else "?"),
        _line(n.lock_label(), 40), _line(b.user or "", 12),
        _line(b.database or "", 12), _line(b.query, 200, redact),
    )


def locks_summary(snap: LocksSnapshot) -> str:
    roots = snap.roots
    if not roots:
        return "no blocking"
    return f"{len(roots)} root blocker(s) · {snap.waiting} waiting"


def backend_details(b: Backend, redact: bool, extra: Sequence[tuple[str, str]] = ()) -> str:
    """The full-text details screen of one backend."""
    lines = [
        f"pid            {b.pid}",
        f"user           {b.user or '(hidden)'}",
        f"database       {b.database or '(hidden)'}",
        f"application    {b.application or ''}",
        f"client         {b.client or 'local socket'}",
        f"backend type   {b.backend_type}",
        f"state          {b.state or '(hidden)'}",
        f"wait           {wait_label(b) or '—'}",
        f"query age      {duration(b.query_age)}",
        f"xact age       {duration(b.xact_age)}",
        f"in state for   {duration(b.state_age)}",
        f"backend start  {b.backend_start:%Y-%m-%d %H:%M:%S %Z}" if b.backend_start else
        "backend start  (hidden)",
        "holds back vacuum: " + (", ".join(x for x, y in (("backend_xid", b.holds_xid),
                                                         ("backend_xmin", b.holds_xmin)) if y)
                                 or "no"),
    ]
    lines += [f"{k:<14} {v}" for k, v in extra]
    lines += ["", "query:", redact_sql(b.query) if redact else b.query]
    return "\n".join(lines)


def statement_details(s: Statement, redact: bool) -> str:
    d, u, q, top = s.key
    lines = [
        f"queryid        {q}",
        f"user           {s.user}   database {s.database}   toplevel {top}",
        f"calls          {s.calls:,} since reset",
        f"total time     {_ms(s.total_ms)} ms since reset   mean {_ms(s.mean_ms)} ms",
        f"rows           {s.rows:,} since reset",
        f"last interval  {_rate(s.calls_per_s)} calls/s, {_ms(s.d_total_ms)} ms, "
        f"{_ms(s.d_mean_ms)} ms/call, {'–' if s.d_rows is None else s.d_rows} rows",
        "",
        "query:",
        (redact_sql(s.query or "") if redact else (s.query or "")),
    ]
    return "\n".join(lines)
