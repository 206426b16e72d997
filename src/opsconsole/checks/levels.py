"""A measured number against a check's ``warn``/``crit`` levels. Never imports Textual."""

from __future__ import annotations

from typing import Any

from opsconsole.checks.engine import State


def show(v: float) -> str:
    """A number for a message: ``0.0123``, ``42``, ``1.5e+09``."""
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}"


def value_state(value: float, spec: Any, what: str = "value") -> tuple[State, str]:
    """(state, sentence) of ``value`` against ``spec.warn``/``spec.crit`` (``spec.worse``:
    ``above`` (default) or ``below``)."""
    below = getattr(spec, "worse", "above") == "below"
    for state, level in (("CRITICAL", spec.crit), ("WARNING", spec.warn)):
        if level is None:
            continue
        if (value <= level) if below else (value >= level):
            word = "critical" if state == "CRITICAL" else "warning"
            side = "at or below" if below else "at or above"
            return state, f"{what} {show(value)} ({word} {side} {show(level)})"  # type: ignore[return-value]
    return "OK", f"{what} {show(value)}"


__all__ = ["show", "value_state"]
