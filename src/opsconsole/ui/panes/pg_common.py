"""What the slow queries and locks panes share: the source, the hint line, the table, and
the one guarded path for cancel/terminate (read-only check → confirm → re-check → signal →
record → tell the operator)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from opsconsole.config import database_targets
from opsconsole.postgres.config import DatabaseTarget
from opsconsole.postgres.model import Backend
from opsconsole.postgres.view import column_width, query_text
from opsconsole.text import one_line
from opsconsole.ui import compat
from opsconsole.ui.console import console_app
from opsconsole.ui.panes.base import PolledPane
from opsconsole.ui.widgets import LineBlock, selected_key, sync_table
from opsconsole.ui.widgets.columns import ellipsised, fit_columns

if TYPE_CHECKING:
    from opsconsole.ui.app import OpsConsoleApp

NOT_CONFIGURED = ("not configured yet\n"
                  "add databases: to the config file, or start with --dsn postgresql://…")


def sources_for(app: OpsConsoleApp) -> tuple[Any, str]:
    """The source a PostgreSQL pane polls (None when nothing is configured) and its name.
    ``Services.pg_source`` (fixed data for snapshots and UI tests) wins."""
    fixed = app.services.pg_source
    if fixed is not None:
        return fixed, getattr(getattr(fixed, "target", None), "name", "fixed")
    targets = database_targets(app.config, app.options.dsn)
    if not targets:
        return None, ""
    from opsconsole.postgres.source import PgSource  # asyncpg: only with a database to watch

    return PgSource(targets[0], app.config.postgres), targets[0].name


def targets_for(app: OpsConsoleApp) -> list[DatabaseTarget]:
    """Every target ``T`` cycles through (none with a fixed ``Services.pg_source``)."""
    if app.services.pg_source is not None:
        return []
    return database_targets(app.config, app.options.dsn)


def preview_line(who: str, query: str, redact: bool) -> Text:
    t = Text("▸ ", style="bold")
    t.append(one_line(who) + " ", style="bold")  # user and database names: anyone's
    t.append(query_text(query, redact, 400))
    return t


class PgPane(PolledPane):
    """Base of the two PostgreSQL panes."""

    thread_collect: ClassVar[bool] = False
    poll_timeout: ClassVar[float] = 8.0
    COLUMNS: ClassVar[tuple[str, ...]] = ()
    # narrow panes drop these first (left to right) so the QUERY column keeps ≥30 cells
    DROP: ClassVar[tuple[str, ...]] = ("CLIENT", "APP", "XACT", "WAIT", "CALLS Σ", "TIME Σ",
                                       "MEAN Σ", "ROWS", "WAITED", "BLOCKS", "DB", "USER", "WAITS FOR")

    def __init__(self, source: Any = None, target_name: str = "", redact: bool = False) -> None:
        super().__init__()
        self.source = source
        self.target_name = target_name
        self.redact = redact
        self.columns: tuple[str, ...] = self.COLUMNS
        self._last_hints: list[str] = []

    @classmethod
    def from_app(cls, app: OpsConsoleApp) -> PgPane:
        source, name = sources_for(app)
        pane = cls(source=source, target_name=name, redact=bool(app.config.redact_queries))
        pane.targets = targets_for(app)
        return pane

    targets: list[DatabaseTarget] = []
    target_index = 0

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_target" and len(self.targets) < 2:
            return False  # one target: the key is hidden
        return super().check_action(action, parameters)

    def action_next_target(self) -> None:
        """Watch the next configured database (both PostgreSQL panes follow)."""
        if len(self.targets) < 2:
            return
        index = (self.target_index + 1) % len(self.targets)
        for pane in self.screen.query(PgPane):
            pane.switch_target(index)
        self.notify(f"watching {self.targets[index].name}", title="PostgreSQL")

    def switch_target(self, index: int) -> None:
        if not self.targets:
            return
        old = self.source
        target = self.targets[index]
        self.target_index = index
        from opsconsole.postgres.source import PgSource  # asyncpg: with a database to watch

        self.source = PgSource(target, console_app(self).config.postgres)
        self.target_name = target.name
        self.snapshot = None
        self.failures = 0
        self.summary = f"{target.name} · connecting…"
        self.set_hints([])
        self.fill([])
        self.update_header()
        if old is not None and hasattr(old, "close"):
            self.run_worker(old.close(), exit_on_error=False)
        if not console_app(self).paused:
            self.schedule(0)

    # ------------------------------------------------------------------ layout
    def compose_body(self) -> ComposeResult:
        if self.source is None:
            yield Static(Text(NOT_CONFIGURED), classes="pane-body pane-empty")
            return
        yield LineBlock(classes="pg-hints")
        table: DataTable[str] = DataTable(classes="pg-table", cursor_type="row")
        yield compat.bound_table_caches(table)
        yield LineBlock(classes="pg-preview")

    def on_mount(self) -> None:
        # (Textual also runs the base classes' on_mount: PolledPane schedules the first poll)
        if self.source is not None:
            self._set_columns(self.COLUMNS)

    def poll_now(self) -> None:
        if self.source is None:  # not configured: nothing to poll, the pane says how
            self.state = "off"
            self.update_header()
            return
        super().poll_now()

    async def on_unmount(self) -> None:
        close = getattr(self.source, "close", None)
        if close is not None:
            try:
                await asyncio.wait_for(close(), 2.0)
            except Exception:
                pass

    def _fit(self, columns: tuple[str, ...]) -> list[tuple[str, int]]:
        view = "locks" if self.pane_id == "locks" else ""
        widths = {c: column_width(c, view) for c in columns}
        # the pane's width less a vertical scrollbar's
        return fit_columns(columns, widths, self.size.width - 2, "QUERY", self.DROP)

    def _set_columns(self, columns: tuple[str, ...]) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        self.all_columns = columns
        self._fitted = self._fit(columns)
        for col, width in self._fitted:
            table.add_column(col, key=col, width=width)
        self.columns = tuple(c for c, _w in self._fitted)

    def on_resize(self) -> None:
        if self.source is not None and self._fit(self.all_columns) != self._fitted:
            self._set_columns(self.all_columns)
            self.fill(self._rows)

    @property
    def table(self) -> DataTable[str]:
        return self.query_one(DataTable)

    def set_hints(self, hints: list[str]) -> None:
        self._last_hints = hints
        try:
            block = self.query_one(LineBlock)
        except Exception:
            return
        block.set_lines([Text("ⓘ " + one_line(h), style="italic") for h in hints[:3]])

    all_columns: tuple[str, ...] = ()
    _fitted: list[tuple[str, int]] = []
    _rows: list[tuple[str, tuple[str, ...]]] = []

    def fill(self, rows: list[tuple[str, tuple[str, ...]]]) -> None:
        """Show ``rows`` (cells for ``all_columns``) in the columns that fit."""
        self._rows = rows
        index = {c: i for i, c in enumerate(self.all_columns)}
        shown = [(k, tuple(ellipsised(cells[index[c]], w) if c == "QUERY" else cells[index[c]]
                           for c, w in self._fitted)) for k, cells in rows]
        with self.app.batch_update():
            sync_table(self.table, shown, self.columns)
            self.update_preview()

    def preview(self, key: str) -> Text | None:
        """One line under the table: the selected row's query (whole width)."""
        return None

    def update_preview(self) -> None:
        try:
            block = self.query_one(".pg-preview", LineBlock)
        except Exception:
            return
        key = self.selected_key()
        line = self.preview(key) if key is not None else None
        block.set_lines([line] if line is not None else [])

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.update_preview()

    def selected_key(self) -> str | None:
        return selected_key(self.table)

    # ------------------------------------------------------------------ polling
    async def fetch(self) -> Any:
        raise NotImplementedError

    async def collect_async(self) -> Any:
        if self.source is None:
            raise RuntimeError("not configured")
        for _ in range(2):  # a target switch during the poll: fetch again from the new one
            source = self.source
            snap = await asyncio.wait_for(self.fetch(), self.poll_timeout)
            if source is self.source:
                return snap
        raise RuntimeError("database target switched during the refresh")

    def on_poll_error(self, exc: BaseException) -> None:
        from opsconsole.postgres.source import PgSource

        if self.source is not None and isinstance(self.source, PgSource):
            self.state_detail = f"reconnecting · {self.state_detail}"

    def apply_filter(self, text: str) -> None:
        if self.snapshot is not None:
            self.show(self.snapshot)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_details()

    def action_details(self) -> None:
        """Subclasses: the full details of the selected row."""

    # ------------------------------------------------------------------ cancel/terminate
    def selected_backend(self) -> Backend | None:
        return None

    def action_cancel(self) -> None:
        self._confirm("cancel")

    def action_terminate(self) -> None:
        self._confirm("terminate")

    def _confirm(self, mode: str) -> None:
        if console_app(self).read_only:
            self.notify("read-only mode: cancel and terminate are disabled", severity="warning")
            return
        backend = self.selected_backend()
        if backend is None:
            self.notify("Select a backend first.", severity="warning")
            return
        if backend.pid == 0:
            self.notify("A prepared transaction holds this lock: it has no session to signal. "
                        "Run COMMIT PREPARED or ROLLBACK PREPARED (see pg_prepared_xacts).",
                        severity="warning", timeout=10)
            return
        from opsconsole.ui.confirm import ConfirmSignalScreen, stale_note

        stale = stale_note(self.state, self.last_ok, self.last_error, time.time())
        blocks, direct = self.blocking(backend.pid)
        context = {"stale": stale, "blocks": blocks, "blocks_direct": direct,
                   "application": backend.application}
        key = self.selected_key()

        def done(choice: str | None) -> None:
            self.keep_cursor(key)  # where it was: never on another session because of this
            if choice in ("cancel", "terminate"):
                self.run_worker(self._signal(backend, choice, context), group="pg-signal",
                                exit_on_error=False)

        self.app.push_screen(ConfirmSignalScreen(backend, mode, self.target_name, self.redact,
                                                 stale=stale, blocks=blocks,
                                                 blocks_direct=direct), done)

    def blocking(self, pid: int) -> tuple[int, int]:
        """How many sessions ``pid`` blocks (transitively, directly), from the locks pane's
        latest tree (0, 0 when it blocks nobody or the tree is not known)."""
        try:
            locks = console_app(self).main.panes.get("locks")
        except LookupError:
            return 0, 0
        nodes = locks.lock_nodes if isinstance(locks, PgPane) else None
        if not nodes:
            return 0, 0
        node = nodes.get(str(pid))
        if node is None:
            return 0, 0
        return node.blocks, node.blocks_direct

    def keep_cursor(self, key: str | None) -> None:
        """Put the cursor back on row ``key`` if it is still shown."""
        if key is None:
            return
        table = self.table
        for i, rk in enumerate(compat.row_order(table)):
            if rk == key:
                if table.cursor_row != i:
                    table.move_cursor(row=i, animate=False, scroll=False)
                return

    async def _signal(self, backend: Backend, mode: str, context: dict[str, Any] | None = None) -> None:
        app = console_app(self)
        try:
            result = await asyncio.wait_for(
                self.source.signal(backend, mode, sink=app.sink, read_only=app.read_only,
                                   redact=self.redact, context=context), 10.0)
        except Exception as exc:
            self.notify(f"{mode} of pid {backend.pid} failed: {type(exc).__name__}: {exc}",
                        title=mode, severity="error", timeout=10)
            return
        self.last_signal = result
        self.notify(result.message, title=f"{mode} · {result.result}",
                    severity="information" if result.ok else "error", timeout=8)
        self.poll_now()

    def show_text(self, title: str, body: str) -> None:
        from opsconsole.ui.screens.pg import TextScreen

        self.app.push_screen(TextScreen(title, body))

    last_signal: Any = None
    lock_nodes: dict[str, Any] = {}  # noqa: RUF012  (the locks pane's latest tree, by pid)
