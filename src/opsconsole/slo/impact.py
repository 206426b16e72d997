"""The budget an incident burned: per SLO, the bad events between the incident's start
(its ``started`` milestone, else its declaration) and its resolution (else now), as a share
of the SLO's error budget over its window. For the postmortem's "SLO impact" section."""

from __future__ import annotations

import sqlite3
from typing import Any

from opsconsole.slo.engine import MinuteCounts, window_start
from opsconsole.slo.history import HistoryDB


def incident_impact(cfg: Any, store_path: str, state: Any, now: float) -> list[dict[str, Any]]:
    began = state.milestones.get("started") or state.declared_at
    if began is None or not cfg.slos:
        return []
    ended = state.milestones.get("resolved")
    b, e = began.timestamp(), (ended.timestamp() if ended else now)
    out = []
    try:
        db = HistoryDB(store_path)
    except sqlite3.Error:
        return []
    try:
        for s in cfg.slos:
            start = window_start(s, e)
            c = MinuteCounts()
            for m, (g, t) in sorted(db.read("sli:" + s.name, int(min(start, b) // 60),
                                            int(e // 60)).items()):
                c.add(m, g, t)
            g, t = c.sums(int(b // 60), int(e // 60))
            _wg, wt = c.sums(int(start // 60) + 1, int(e // 60))
            if t <= 0:
                continue
            out.append({"slo": s.name, "bad_events": t - g, "events": t,
                        "budget_used": (t - g) / (wt * s.budget) if wt > 0 else None})
    except sqlite3.Error:
        return []
    finally:
        db.close()
    return out


def impact_markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    lines = ["", "## SLO impact", "", "| SLO | bad events | events | error budget burned |",
             "|---|---|---|---|"]
    for r in rows:
        used = "-" if r["budget_used"] is None else f"{r['budget_used'] * 100:.1f}%"
        lines.append(f"| {r['slo']} | {r['bad_events']:g} | {r['events']:g} | {used} |")
    return "\n".join(lines) + "\n"
