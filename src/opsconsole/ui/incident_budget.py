"""The incident screen's "SLO budget burned" line: the error budget each SLO lost since the
incident started (to its resolution, or now), the postmortem's "SLO impact" figures
(:func:`opsconsole.slo.impact.incident_impact`), computed in a worker thread every
:data:`EVERY` seconds; the UI loop only formats the rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from opsconsole.text import for_terminal

EVERY = 30.0  # seconds between recomputations (the history is per minute)


def budget_line(rows: Sequence[dict[str, Any]]) -> Text | None:
    """``SLO budget burned: api-errors 12.5% (40 bad of 320)`` or None (no SLO touched)."""
    if not rows:
        return None
    t = Text(" SLO budget burned:", style="bold")
    for r in rows:
        used = r.get("budget_used")
        shown = "-" if used is None else f"{used * 100:.1f}%"
        style = "" if used is None else ("red" if used >= 1 else "yellow" if used >= 0.1
                                         else "")
        t.append(f"  {for_terminal(str(r['slo']))} ")
        t.append(shown, style=style)
        t.append(f" ({r['bad_events']:g} bad of {r['events']:g})")
    return t


def start(screen: Any) -> None:
    """Recompute the line for ``screen`` (an IncidentScreen) now and every :data:`EVERY` s;
    the result goes to ``screen.budget`` and the summary is redrawn."""
    screen.budget = None
    cfg = screen.app.config
    if not getattr(cfg, "slos", None):
        return

    def work() -> None:
        from opsconsole.slo.history import history_file
        from opsconsole.slo.impact import incident_impact

        path = history_file(screen.store)  # the SQLite file (the shared store's: this host's)
        if path is None or not screen.loaded:
            return
        try:
            rows = incident_impact(cfg, str(path), screen.state, screen.now().timestamp())
        except Exception:  # noqa: BLE001 - an old or locked store: no line, never a crash
            rows = []
        screen.app.call_from_thread(_show, screen, budget_line(rows))

    def kick() -> None:
        screen.run_worker(work, thread=True, exit_on_error=False, group="incident-budget",
                          exclusive=True)

    kick()
    screen.set_interval(EVERY, kick)
    screen.set_timer(1.0, kick)  # once the timeline's first read folded the state


def _show(screen: Any, line: Text | None) -> None:
    if line is None or not screen.is_attached:
        return
    screen.budget = line
    screen.draw_summary()
