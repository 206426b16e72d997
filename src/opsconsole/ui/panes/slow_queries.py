"""The slow queries pane: running now (pg_stat_activity) ⇄ top statements
(pg_stat_statements deltas). ``v`` switches views, ``s`` sorts the top view, ``enter``
details, ``e`` EXPLAIN, ``c`` cancel, ``K`` terminate."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text

from opsconsole.postgres.explain import param_count
from opsconsole.postgres.model import ActivitySnapshot, Backend, StatementsSnapshot
from opsconsole.postgres.redact import redact_plan
from opsconsole.postgres.statements import SORT_LABELS, SORTS
from opsconsole.postgres.view import (
    RUNNING_COLUMNS,
    TOP_COLUMNS,
    activity_hints,
    backend_details,
    running_rows,
    running_summary,
    statement_details,
    statement_rows,
)
from opsconsole.ui.actions import ActionSpec, bindings
from opsconsole.ui.console import console_app
from opsconsole.ui.panes.pg_common import PgPane, preview_line


class SlowQueriesPane(PgPane):
    pane_id = "slow"
    number = 3
    title = "Slow queries"
    COLUMNS = RUNNING_COLUMNS
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("slow-view", "v", "switch_view", "view", "Switch running now ⇄ top statements"),
        ActionSpec("slow-sort", "s", "sort", "sort", "Sort top statements (interval time, calls/s, mean, total)"),
        ActionSpec("slow-details", "enter", "details", "details", "Full text and details of the selected row"),
        ActionSpec("slow-explain", "e", "explain", "explain", "EXPLAIN the selected query (never ANALYZE unless configured)"),
        ActionSpec("slow-cancel", "c", "cancel", "cancel", "Cancel the selected backend's query (confirmed, re-checked)", dangerous=True),
        ActionSpec("slow-terminate", "K", "terminate", "terminate", "Terminate the selected backend's session (confirmed, re-checked)", dangerous=True),
        ActionSpec("slow-next-target", "T", "next_target", "next db", "Watch the next configured database target"),
    )
    # set in the class body: Textual merges BINDINGS when the class is created
    BINDINGS = bindings(ACTIONS)

    def __init__(self, source: Any = None, target_name: str = "", redact: bool = False,
                 view: str = "running", sort: str = "total") -> None:
        super().__init__(source, target_name, redact)
        self.view = view
        self.sort = sort
        self._pg_backends: dict[str, Backend] = {}
        self._pg_statements: dict[str, Any] = {}

    async def fetch(self) -> Any:
        if self.view == "top":
            return await self.source.statements(self.sort)
        return await self.source.activity()

    def show(self, snap: Any) -> None:
        if isinstance(snap, ActivitySnapshot):
            if self.view != "running":
                return
            self._pg_backends = {str(b.pid): b for b in snap.backends}
            self.summary = f"{self.target_name} · PG {snap.server.version} · {running_summary(snap)}"
            self.set_hints(activity_hints(snap))
            self.fill(running_rows(snap, self.filter_text, self.redact))
        elif isinstance(snap, StatementsSnapshot):
            if self.view != "top":
                return
            self._pg_statements = {s.row_key: s for s in snap.statements}
            self.summary = (f"{self.target_name} · top statements by {SORT_LABELS[self.sort]}")
            hints = [h for h in (snap.hint, snap.note) if h]
            self.set_hints(hints)
            self.fill(statement_rows(snap, self.filter_text, self.redact))
        self.update_header()

    def preview(self, key: str) -> Text | None:
        if self.view == "running" and key in self._pg_backends:
            b = self._pg_backends[key]
            return preview_line(f"{b.pid} {b.user or ''}@{b.database or ''}", b.query, self.redact)
        if self.view == "top" and key in self._pg_statements:
            s = self._pg_statements[key]
            return preview_line(f"{s.user}@{s.database}", s.query or "", self.redact)
        return None

    # ------------------------------------------------------------------ actions
    def action_switch_view(self) -> None:
        self.view = "top" if self.view == "running" else "running"
        self.snapshot = None
        self._set_columns(TOP_COLUMNS if self.view == "top" else RUNNING_COLUMNS)
        self.summary = "top statements…" if self.view == "top" else "running now…"
        self.set_hints([])
        self.update_header()
        if not console_app(self).paused:
            self.schedule(0)

    def action_sort(self) -> None:
        if self.view != "top":
            self.notify("Sorting applies to top statements (press v).", severity="information")
            return
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.summary = f"{self.target_name} · top statements by {SORT_LABELS[self.sort]}"
        self.update_header()
        if not console_app(self).paused:
            self.schedule(0)

    def selected_backend(self) -> Backend | None:
        if self.view != "running":
            self.notify("Cancel/terminate act on running backends: press v for running now.",
                        severity="warning")
            return None
        key = self.selected_key()
        return self._pg_backends.get(key) if key else None

    def runbook_context(self) -> dict[str, str]:
        """Pre-fills runbook parameters (``r``): the selected backend's pid (running now) and
        the database target's name."""
        out: dict[str, str] = {}
        if self.target_name:
            out["database"] = self.target_name
        key = self.selected_key() if self.view == "running" else None
        if key is not None and key in self._pg_backends:
            out["pid"] = str(self._pg_backends[key].pid)
        return out

    def action_details(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        if self.view == "running" and key in self._pg_backends:
            b = self._pg_backends[key]
            self.show_text(f"pid {b.pid} · {self.target_name}", backend_details(b, self.redact))
        elif self.view == "top" and key in self._pg_statements:
            s = self._pg_statements[key]
            self.show_text(f"statement {s.key[2]} · {self.target_name}",
                           statement_details(s, self.redact))

    def action_explain(self) -> None:
        key = self.selected_key()
        if key is None or self.source is None:
            return
        if self.view == "running" and key in self._pg_backends:
            b = self._pg_backends[key]
            query, database, title = b.query, b.database, f"EXPLAIN pid {b.pid}"
            role = b.user
        elif self.view == "top" and key in self._pg_statements:
            s = self._pg_statements[key]
            query, database, title = s.query or "", s.database, f"EXPLAIN statement {s.key[2]}"
            role = s.user
        else:
            return
        opts = getattr(self.source, "options", None)
        analyze = bool(getattr(opts, "explain_analyze", False)) and not console_app(self).read_only
        generic = param_count(query) > 0
        kind = "ANALYZE, rolled back" if analyze else ("generic plan" if generic else "plan only")
        source = self.source

        async def produce(confirmed: bool) -> str:
            plan = await source.explain(query, database, generic, analyze, role=role or None,
                                        confirmed=confirmed)
            return redact_plan(plan) if self.redact else plan

        from opsconsole.ui.screens.pg import ExplainScreen

        self.app.push_screen(ExplainScreen(f"{title} · {database} · {kind}", produce,
                                           role=role or None,
                                           can_confirm=not console_app(self).read_only))
