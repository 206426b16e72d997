"""The SLO view (``L``): each SLO's attainment, budget left, a burn-rate sparkline of the
last 24 hours (one cell per hour) and the state of its burn-rate alerts.

The figures are read in a worker thread (the store's history, :class:`SloEngine`); the UI
loop never touches the file. :func:`slo_text` is pure: figures in, text out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from opsconsole.text import for_terminal
from opsconsole.ui.widgets.spark import sparkline

SPARK_W = 24


def _pct(v: float | None, digits: int = 2) -> str:
    return "no data" if v is None else f"{v * 100:.{digits}f}%"


def slo_text(figures: Sequence[Mapping[str, Any]], sparks: Mapping[str, list[float]],
             alerts: Mapping[str, str], error: str | None = None) -> Text:
    t = Text()
    t.append("service level objectives", style="bold")
    t.append("\n\n")
    if error:
        t.append(for_terminal(error) + "\n")
    if not figures:
        t.append("no SLOs configured (slos: in the config file)\n")
    for f in figures:
        t.append(f"{for_terminal(f['name'])}", style="bold")
        t.append(f"  objective {_pct(f['objective'])} over {f['window']}\n")
        budget = f["budget_remaining"]
        style = "" if budget is None else ("red" if budget < 0 else "yellow" if budget < 0.25
                                           else "green")
        t.append(f"  actual {_pct(f['attainment'], 3):>9}   budget left ")
        t.append(f"{_pct(budget, 1):>8}", style=style)
        b = f["burn_rates"]
        rates = "  ".join(f"{w} {'-' if b[w] is None else f'{b[w]:.1f}x'}" for w in b)
        t.append(f"\n  burn {rates}\n")
        t.append(f"  24h  {sparkline(sparks.get(f['name'], []), SPARK_W)}   alerts: "
                 f"{alerts.get(f['name'], 'inactive')}\n")
        t.append(f"  events {int(f['events']['good'])}/{int(f['events']['total'])}\n\n")
    t.append("escape or L closes this screen", style="italic")
    return t


def hourly_burn(engine: Any, name: str, now: float, hours: int = 24) -> list[float]:
    """The burn rate of each of the last ``hours`` hours (0 for an hour without events)."""
    slo = next(s for s in engine.slos if s.name == name)
    c = engine.counts[name]
    last = int(now // 60)
    out = []
    for h in range(hours - 1, -1, -1):
        g, tot = c.sums(last - (h + 1) * 60 + 1, last - h * 60)
        out.append(0.0 if tot <= 0 else ((tot - g) / tot) / slo.budget)
    return out


def slo_alert_states(slos: Sequence[Any], state: Mapping[str, Any] | None
                     ) -> dict[str, str]:
    """Each SLO's burn-rate rules (``slo-NAME-SUFFIX``) in the recorded evaluator state →
    ``{"api-errors": "page-fast firing, ticket pending"}`` (the rules not inactive), or
    ``"inactive"``; SLOs without recorded rules are left out (the view says inactive)."""
    alerts = (state or {}).get("alerts") or {}
    out: dict[str, str] = {}
    for s in slos:
        prefix = f"slo-{s.name}-"
        shown, seen = [], False
        for key in sorted(alerts):
            raw = alerts[key]
            rule = str(raw.get("rule") or key) if isinstance(raw, dict) else ""
            if not rule.startswith(prefix):
                continue
            seen = True
            st = str(raw.get("state") or "inactive")
            if st != "inactive":
                shown.append(f"{rule[len(prefix):]} {st}")
        if seen:
            out[s.name] = ", ".join(shown) or "inactive"
    return out


def recorded_evaluator_state(store_path: str) -> dict[str, Any] | None:
    """(thread) The last ``alert.evaluator_state`` the store recorded, read on a short-lived
    read-only connection (bounded by a busy timeout); None when there is none."""
    import json
    import sqlite3
    from pathlib import Path

    from opsconsole.alerts.core import EVALUATOR_STATE

    uri = Path(store_path).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=2.0)
    try:
        row = conn.execute("SELECT data FROM events WHERE type = ? ORDER BY seq DESC LIMIT 1",
                           (EVALUATOR_STATE,)).fetchone()
    finally:
        conn.close()
    data = json.loads(row[0]) if row else None
    return data if isinstance(data, dict) else None


def load_figures(cfg: Any, store_path: str | None, now: float
                 ) -> tuple[list[dict[str, Any]], dict[str, list[float]], str | None]:
    """(thread) The figures and sparklines from the store's history."""
    from opsconsole.slo.engine import SloEngine
    from opsconsole.slo.history import HistoryDB

    engine = SloEngine(cfg.slos, lambda: now)
    error = None
    if store_path:
        try:
            db = HistoryDB(store_path)
            try:
                engine.load(db, now)
            finally:
                db.close()
        except Exception as exc:  # an old or locked store: say so, show no data
            error = f"history not readable: {exc}"
    sparks = {s.name: hourly_burn(engine, s.name, now) for s in cfg.slos}
    return engine.figures(now), sparks, error


class SloScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,L,q", "dismiss", "close", id="slo-close")]

    def __init__(self, cfg: Any, store_path: str | None, alerts: Mapping[str, str],
                 now: float) -> None:
        super().__init__(id="slo-screen")
        self.cfg = cfg
        self.store_path = store_path
        self.alerts = dict(alerts)
        self.now = now

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="slo-body"):
            yield Static(Text("reading the SLO history…"), id="slo-text")

    def on_mount(self) -> None:
        self.run_worker(self._load, thread=True, exit_on_error=False)

    def _load(self) -> None:
        figures, sparks, error = load_figures(self.cfg, self.store_path, self.now)
        if self.store_path and not self.alerts:
            try:  # the burn-rate rules' state as the evaluator (watch or a console) recorded it
                self.alerts = slo_alert_states(self.cfg.slos,
                                               recorded_evaluator_state(self.store_path))
            except Exception as exc:  # an old or locked store: the figures still show
                error = (error + "; " if error else "") + f"alert state not readable: {exc}"
        self.app.call_from_thread(self._show, figures, sparks, error)

    def _show(self, figures: list[dict[str, Any]], sparks: dict[str, list[float]],
              error: str | None) -> None:
        self.query_one("#slo-text", Static).update(slo_text(figures, sparks, self.alerts, error))
