"""Sparklines and bars: plain strings of a fixed width."""

from __future__ import annotations

from collections.abc import Iterable

from opsconsole.ui.glyphs import spark_chars

SPARK = "▁▂▃▄▅▆▇█"
ASCII_SPARK = "_.-=+*#@"


def sparkline(values: Iterable[float], width: int, top: float | None = None,
              chars: str | None = None) -> str:
    """The last ``width`` values as a fixed-width sparkline (left-padded with spaces);
    block characters, or ``ASCII_SPARK`` in ASCII mode (ui/glyphs.py)."""
    chars = chars or spark_chars()
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
