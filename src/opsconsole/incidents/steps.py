"""A runbook step's two timeline entries (started, finished) folded into one row.

:func:`fold_steps` is pure: the timeline widget and the exports both use it. A finished
step keeps its ``step_finished`` event (whose sentence says result and duration) at the
place of its ``step_started``; a step still running keeps its ``started`` row. Never
imports Textual.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from opsconsole.events import RUNBOOK_FINISHED, RUNBOOK_STARTED, Event


def step_key(d: dict[str, Any]) -> tuple[str, str, str]:
    """One execution of one step: (run id or runbook, step, attempt)."""
    run = d.get("run_id") or d.get("runbook") or d.get("runbook_title") or "?"
    step = d.get("step_id") or d.get("step") or d.get("step_title") or "?"
    return str(run), str(step), str(d.get("attempt") or 1)


def fold_steps(events: Iterable[Event]) -> list[Event]:
    """``events`` with each step's ``started`` + ``finished`` pair as one entry: the
    finished event, at the time and place the step started (its duration and result in one row)."""
    evs = list(events)
    finished: dict[tuple[str, str, str], int] = {}
    for i, e in enumerate(evs):
        if e.type == RUNBOOK_FINISHED:
            finished.setdefault(step_key(e.data or {}), i)
    out: list[Event] = []
    used: set[int] = set()
    for i, e in enumerate(evs):
        if e.type == RUNBOOK_STARTED:
            j = finished.get(step_key(e.data or {}))
            if j is not None and j > i and j not in used:
                used.add(j)
                out.append(replace(evs[j], ts=e.ts))  # the row starts when the step did
                continue
        if e.type == RUNBOOK_FINISHED and i in used:
            continue
        out.append(e)
    return out
