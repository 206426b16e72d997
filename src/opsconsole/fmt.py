"""Formatting shared by the screen, the CLI and exports. Never imports Textual."""

from __future__ import annotations

from opsconsole import text as _text


def human_bytes(n: float | None, suffix: str = "") -> str:
    """1536 → '1.5K'. Binary multiples, one decimal under 10."""
    if n is None:
        return "–"
    n = float(n)
    for unit in ("B", "K", "M", "G", "T", "P"):
        if abs(n) < 1024 or unit == "P":
            if unit == "B":
                return f"{n:.0f}{unit}{suffix}"
            return (f"{n:.1f}" if abs(n) < 10 else f"{n:.0f}") + unit + suffix
        n /= 1024
    return f"{n:.0f}P{suffix}"


def one_line(text: str, width: int | None = None) -> str:
    """One safe line: control characters made visible (see :mod:`opsconsole.text`), newlines
    and tabs folded to spaces, cut to ``width`` terminal cells with an ellipsis."""
    return _text.one_line(text, width)


def age(seconds: float, coarse: bool = False) -> str:
    """How long ago, or for how long, to the second: 4s, 3m12s, 2h05m, 3d04h. ``coarse``:
    a calm age that changes once a minute: <1m, 12m, 2h05m, 3d04h (the same from an hour
    up). Negative ages are 0."""
    s = int(max(seconds, 0))
    if s < 60:
        return "<1m" if coarse else f"{s}s"
    if s < 3600:
        return f"{s // 60}m" if coarse else f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def duration(seconds: float | None) -> str:
    """Compact duration: 850ms, 4.2s, then as :func:`age`: 12s, 3m12s, 2h05m, 3d04h."""
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.1f}s"
    return age(seconds)
