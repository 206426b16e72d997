"""The alerts strip of the health pane ("Health & alerts"): firing and pending alerts worst
first — state, rule, value against its threshold, for how long, the suggested runbook —
silenced ones dimmed with who silenced them and until when, acknowledged ones marked. Every
outside string (rule names, labels, silence reasons) goes through :func:`one_line`.

Keys on an alert row: ``enter`` opens its runbook with the parameters pre-filled from the
alert, ``a`` acknowledges, ``S`` silences (duration + reason). Both are hidden and refused
in ``--read-only``. ``alert_rows`` is a pure function (unit-testable without a terminal).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from opsconsole.alerts.rules import format_value
from opsconsole.fmt import duration, one_line
from opsconsole.ui.actions import ActionSpec, bindings
from opsconsole.ui.glyphs import g

COLUMNS = ("ALERT", "RULE", "VALUE", "FOR", "RUNBOOK")
MAX_SHOWN = 5  # rows of the strip before it scrolls

ALERT_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("alert-runbook", "enter", "alert_runbook", "runbook",
               "Open the alert's runbook with its parameters filled in"),
    ActionSpec("alert-ack", "a", "alert_ack", "ack",
               "Acknowledge the alert (recorded; stops its escalation)", dangerous=True, rank=1),
    ActionSpec("alert-silence", "S", "alert_silence", "silence",
               "Silence the alert for a while, with a reason (recorded)", dangerous=True,
               key_display="S", rank=1),
)


def state_word(row: dict[str, Any]) -> str:
    if row.get("silenced_by"):
        return f"{g('‖')} SILENCED"
    s = row["state"]
    if s == "firing":
        return f"{g('▲')} FIRING" + ("+ACK" if row.get("acked_by") else "")
    if s == "pending":
        return f"{g('◷')} PENDING"
    return "NO DATA" if s == "nodata" else s.upper()


def alert_rows(rows: list[dict[str, Any]], styles: dict[str, str] | None = None
               ) -> list[tuple[str, tuple[Any, ...]]]:
    """[(alert key, cells)] for the strip, in the view's order (worst first)."""
    st = styles or {}
    out = []
    for r in rows:
        silenced = bool(r.get("silenced_by"))
        level = "dim" if silenced else st.get(r["severity"], "")
        state = Text(state_word(r), style=level or ("bold" if r["state"] == "firing" else ""))
        th = r.get("threshold")
        value = format_value(r.get("value"))
        if th is not None:
            value += f" / {format_value(th)}"
        name = one_line(str(r["name"]), 28)
        if r.get("acked_by"):
            name += f" ack {one_line(str(r['acked_by']).split('@')[0], 16)}"
        if silenced:
            name += f" ({one_line(str(r['silenced_by']), 60)})"
        rb = one_line(str(r.get("runbook") or "–"), 28)
        cells = (state, Text(name, style="dim" if silenced else ""), one_line(value, 24),
                 duration(r["for"]) if r.get("for") is not None else "–", rb)
        out.append((str(r["name"]), cells))
    return out


class AlertsTable(DataTable[Any]):
    """The alert rows (focusable; its keys act on the highlighted alert)."""

    BINDINGS = bindings(ALERT_ACTIONS)  # type: ignore[assignment]
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = ALERT_ACTIONS

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("alert_ack", "alert_silence") and getattr(self.app, "read_only", True):
            return False
        if action.startswith("alert_") and not self.row_count:
            return False  # no alert shown: its keys are not offered
        return True

    def _row(self) -> dict[str, Any] | None:
        from opsconsole.ui.widgets import selected_key

        key = selected_key(self)
        rows = {str(r["name"]): r for r in self.app.alerts.view.rows}  # type: ignore[attr-defined]
        return rows.get(key or "")

    def action_alert_runbook(self) -> None:
        row = self._row()
        if row is not None:
            open_alert_runbook(self.app, row)

    def action_alert_ack(self) -> None:
        row = self._row()
        if row is None:
            return
        if row["state"] != "firing":
            self.notify(f"{row['name']} is {row['state']}: only a firing alert is "
                        "acknowledged", title="alert", severity="warning")
            return
        self.app.alerts.acknowledge(row)  # type: ignore[attr-defined]

    def action_alert_silence(self) -> None:
        row = self._row()
        if row is None:
            return

        def done(result: tuple[float, str] | None) -> None:
            if result is not None:
                self.app.alerts.silence(row, *result)  # type: ignore[attr-defined]

        from opsconsole.ui.silence_modal import SilenceModal

        self.app.push_screen(SilenceModal(str(row["name"])), done)


class AlertsStrip(Vertical):
    """The strip above the checks: hidden while nothing fires, is pending or silenced."""

    DEFAULT_CSS = """
    AlertsStrip { height: auto; max-height: 8; display: none; }
    AlertsStrip.-shown { display: block; }
    AlertsStrip AlertsTable { height: auto; max-height: 7; }
    AlertsStrip .alerts-title { height: 1; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", classes="alerts-title")
        table = AlertsTable(cursor_type="row", zebra_stripes=False, id="alerts-table")
        yield table

    def on_mount(self) -> None:
        table = self.query_one(AlertsTable)
        for col in COLUMNS:
            table.add_column(col, key=col)

    def show_rows(self, rows: list[dict[str, Any]], title: Text,
                  styles: dict[str, str] | None = None) -> None:
        from opsconsole.ui.widgets import sync_table

        self.set_class(bool(rows), "-shown")
        self.query_one(".alerts-title", Static).update(title)
        table = self.query_one(AlertsTable)
        had = bool(table.row_count)
        sync_table(table, alert_rows(rows, styles), COLUMNS)
        if had != bool(table.row_count):
            table.refresh_bindings()  # the footer offers the alert keys only with alerts


def open_alert_runbook(app: Any, row: dict[str, Any]) -> None:
    """``enter`` on an alert: its rule's runbook, the parameters pre-filled from the alert."""
    import asyncio

    rb_id = row.get("runbook")
    if not rb_id:
        app.notify(f"{row['name']}: its rule names no runbook (runbook: in the rule)",
                   title="alert", severity="warning")
        return
    params = app.alerts.params_of(row)

    async def go() -> None:
        from opsconsole.ui.runbook_prefill import Prefill
        from opsconsole.ui.screens.runbook_picker import load_runbooks, open_runbook

        loaded = await asyncio.to_thread(load_runbooks, app.config)
        rb = next((i.runbook for i in loaded if i.runbook and i.runbook.id == rb_id), None)
        if rb is None:
            app.notify(f"{row['name']}: no runbook with id {one_line(str(rb_id))!r}",
                       title="alert", severity="error", timeout=10)
            return
        where = f"from the alert {one_line(str(row['name']), 40)}"
        open_runbook(app, rb, given={k: Prefill(v, f"{where}: {k} {one_line(v, 30)}")
                                     for k, v in params.items()})

    app.run_worker(go(), exit_on_error=False, group="alert-runbook")
