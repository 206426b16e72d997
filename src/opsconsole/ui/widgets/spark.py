"""Sparklines and bars: plain strings of a fixed width."""

from __future__ import annotations

from collections.abc import Iterable

SPARK = "▁▂▃▄▅▆▇█"
ASCII_SPARK = "_.-=+*#@"


def sparkline(values: Iterable[float], width: int, top: float | None = None,
              chars: str = SPARK) -> str:
    """The last ``width`` values as a fixed-width sparkline (left-padded with spaces)."""
    vals = list(values)[-width:] if width > 0 else []
    if not vals:
        return " " * max(width, 0)
    hi = top if top is not None else max(max(vals), 1e-9)
    n = len(chars) - 1
    out = []
    for v in vals:
        frac = 0.0 if hi <= 0 else min(max(v / hi, 0.0), 1.0)
        out.append(chars[round(frac * n)])
    return " " * (width - len(out)) + "".join(out)


def bar(percent: float, width: int, fill: str = "|", empty: str = " ") -> str:
    """A htop-like bar of ``width`` cells for a percentage."""
    if width <= 0:
        return ""
    n = round(min(max(percent, 0.0), 100.0) / 100.0 * width)
    return fill * n + empty * (width - n)
