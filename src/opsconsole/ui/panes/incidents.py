"""The active incidents pane: open incidents worst-first with their response-target clock.

The pane polls the store off the UI loop: one ``max(seq)`` query per poll, and only when it
moved, the new events, folded into the cached states (so several consoles on one host see
each other's changes within a poll). ``incident_rows`` is a pure function (unit-tested).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable

from opsconsole import events as ev
from opsconsole.fmt import age as fmt_age
from opsconsole.fmt import one_line
from opsconsole.incidents import timeline as tl
from opsconsole.incidents.store import worst_first
from opsconsole.ui import compat
from opsconsole.ui.actions import ActionSpec
from opsconsole.ui.console import console_app
from opsconsole.ui.panes.base import PolledPane
from opsconsole.ui.runbook_runs import with_running_step_first
from opsconsole.ui.widgets import selected_key, sync_table
from opsconsole.ui.widgets.columns import ellipsised, fit_columns

COLUMNS = ("ID", "SEV", "STATUS", "AGE", "CMDR", "RESPONSE", "TITLE")
CMDR, TITLE = COLUMNS.index("CMDR"), COLUMNS.index("TITLE")
MIN_TITLE = 24  # below this the CMDR column goes and the title starts with the commander


def incident_layout(rows: list[tuple[str, tuple[Any, ...]]], available: int
                    ) -> list[tuple[str, int]]:
    """[(column, width)]: each narrow column as wide as its widest value (a commander's name
    is never cut), TITLE the rest; CMDR is dropped when the title would get < MIN_TITLE."""
    widths = {c: max([len(c)] + [len(str(cells[i])) for _k, cells in rows])
              for i, c in enumerate(COLUMNS)}
    return fit_columns(COLUMNS, widths, available, "TITLE", ("CMDR",), MIN_TITLE)


def shown_cells(cells: tuple[Any, ...], layout: list[tuple[str, int]]) -> tuple[Any, ...]:
    """``cells`` for the columns in ``layout``: the title cut at its end only, led by the
    commander when the CMDR column was dropped."""
    title = cells[TITLE]
    if "CMDR" not in dict(layout) and str(cells[CMDR]) != "–":
        title = f"cmdr {cells[CMDR]} · {title}"
    out = []
    for col, width in layout:
        i = COLUMNS.index(col)
        out.append(ellipsised(title, width) if col == "TITLE" else cells[i])
    return tuple(out)


def coarse_clock(state: tl.IncidentState, now: datetime, target: float) -> tuple[str, bool]:
    """The response-target clock at minute precision: ``4m left``, ``OVERDUE 3m``,
    ``acked 2m``."""
    return state.response_clock(now, target, fmt=lambda s: fmt_age(s, coarse=True))


def incident_rows(states: list[tl.IncidentState], now: datetime,
                  targets: Any = None, filter_text: str = "") -> list[tuple[str, tuple[Any, ...]]]:
    """[(id, cells)] for the open incidents, worst first. Overdue clocks say OVERDUE (and are
    drawn reversed); the worst severity is bold."""
    rows = []
    f = filter_text.lower()
    order = targets.severity_names() if hasattr(targets, "severity_names") else tl.SEVERITIES
    for s in worst_first(states, order):
        hay = " ".join([s.id, s.title, s.severity, s.status, " ".join(s.services),
                        s.roles.get("commander", "")]).lower()
        if f and f not in hay:
            continue
        target = targets.for_severity(s.severity) if targets is not None else 3600.0
        clock, overdue = coarse_clock(s, now, target)
        age = fmt_age((now - s.started_at).total_seconds(), coarse=True) if s.started_at else "–"
        rank = s.rank(order)
        sev_style = "bold reverse" if rank == 0 else "bold" if rank == 1 else ""
        rows.append((s.id, (
            s.id,
            Text(one_line(s.severity), style=sev_style),
            s.status,
            age,
            one_line(s.roles.get("commander", "–")),  # whole: never cut mid-name
            Text(("! " if overdue else "") + clock, style="bold reverse" if overdue else ""),
            one_line(s.title),  # cut to the column's width when drawn
        )))
    return rows


class IncidentsPane(PolledPane):
    pane_id = "incidents"
    number = 5
    title = "Incidents"
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("open-incident", "enter", "open_selected", "open",
                   "Open the selected incident (it becomes the active incident)"),
    )

    def __init__(self, poll_interval: float = 0.5) -> None:
        super().__init__()
        self.poll_interval = poll_interval
        self.states: dict[str, tl.IncidentState] = {}
        self.seen_seq = 0
        self.generation = 0  # the store's: on a change, read again from seq 0
        self._work: dict[str, tl.IncidentState] = {}
        self._app_ref: Any = None

    @property
    def interval(self) -> float:
        return self.poll_interval

    def compose_body(self) -> ComposeResult:
        table: DataTable[Any] = DataTable(classes="incident-table", cursor_type="row",
                                          zebra_stripes=False)
        yield compat.bound_table_caches(table)

    _layout: list[tuple[str, int]] = []

    def on_resize(self) -> None:
        self.draw()

    def on_mount(self) -> None:
        self._app_ref = console_app(self)  # collect() runs in a thread, where self.app is not set
        super().on_mount()

    # ------------------------------------------------------------------ data
    def collect(self) -> dict[str, tl.IncidentState]:
        """(thread) New events since the last poll, folded; a copy for the UI."""
        store = self._app_ref.incident_store
        if store is None:
            err = self._app_ref.store_error
            if err:
                raise OSError(err)
            return self.states  # still opening (a moment at start-up)
        gen = ev.view_generation(store)
        if gen != self.generation:  # the shared store's seqs were provisional: refold
            self.generation, self.seen_seq, self._work = gen, 0, {}
        last = store.last_seq()
        if last != self.seen_seq or not self._work:
            known = set(self._work)
            for iid in store.incidents():
                if iid not in known:
                    self._work[iid] = tl.IncidentState(id=iid)
            # Only the lifecycle events: the rows need nothing else, and a store with months
            # of timelines is not read whole at every start.
            for e in store.events_after(self.seen_seq, types=ev.LIFECYCLE):
                if e.incident_id is not None:  # (declared after incidents() was read)
                    self._work.setdefault(e.incident_id,
                                          tl.IncidentState(id=e.incident_id)).apply(e)
                self.seen_seq = max(self.seen_seq, e.seq or 0)
            self.seen_seq = max(self.seen_seq, last)
            return copy.deepcopy(self._work)
        return self.states

    def show(self, snapshot: dict[str, tl.IncidentState]) -> None:
        self.states = snapshot
        self.draw()
        console_app(self).update_header()

    def now(self) -> datetime:
        return console_app(self).services.clock()

    def draw(self) -> None:
        targets = console_app(self).config.incidents
        rows = incident_rows(list(self.states.values()), self.now(), targets, self.filter_text)
        table = self.query_one(DataTable)
        layout = incident_layout(rows, self.size.width - 2)  # less a vertical scrollbar
        keep = None
        with self.app.batch_update():
            if layout != self._layout:  # the widths follow the pane's width and the values
                keep = selected_key(table)
                table.clear(columns=True)
                for col, width in layout:
                    table.add_column(col, key=col, width=width)
                self._layout = layout
            sync_table(table, [(k, shown_cells(c, layout)) for k, c in rows],
                       [c for c, _w in layout])
            if keep is not None and keep in {k for k, _c in rows}:
                table.move_cursor(row=[k for k, _c in rows].index(keep), animate=False)
        open_n = sum(1 for s in self.states.values() if s.is_open)
        overdue = sum(1 for _k, cells in rows if "OVERDUE" in str(cells[5]))
        self.summary = f"{open_n} open" + (f" · {overdue} OVERDUE" if overdue else "")
        if not rows:
            self.summary = "no open incidents · i declares one" if not self.filter_text \
                else f"{open_n} open, none match"
        self.summary = with_running_step_first(self.app, self.summary)  # ▶ runbook … 42s · …
        self.update_header()

    def apply_filter(self, text: str) -> None:
        self.draw()

    # ------------------------------------------------------------------ actions
    def selected_id(self) -> str | None:
        return selected_key(self.query_one(DataTable))

    def action_open_selected(self) -> None:
        iid = self.selected_id()
        if iid:
            from opsconsole.ui.flows import open_incident

            open_incident(self.app, iid)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value:
            from opsconsole.ui.flows import open_incident

            open_incident(self.app, str(event.row_key.value))
