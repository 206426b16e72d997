"""Column widths from the width the table has: the fixed narrow columns first, the one text
column (a query, a title) takes the rest. When even the fixed columns do not leave the text
column ``min_text`` cells, the least useful columns are dropped (in ``drop`` order) rather
than pushing the text off-screen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opsconsole.text import one_line

PADDING = 2  # a DataTable cell's padding (one cell each side)


def fit_columns(columns: Sequence[str], widths: Mapping[str, int], available: int, text: str,
                drop: Sequence[str] = (), min_text: int = 30) -> list[tuple[str, int]]:
    """[(column, width)] to show in ``available`` cells: ``text`` gets what is left over."""
    shown = list(columns)
    dropping = [c for c in drop if c in shown and c != text]

    def fixed() -> int:
        return sum(widths.get(c, 10) + PADDING for c in shown if c != text)

    while dropping and available - fixed() - PADDING < min_text:
        shown.remove(dropping.pop(0))
    rest = max(available - fixed() - PADDING, min(min_text, 12))
    return [(c, rest if c == text else widths.get(c, 10)) for c in shown]


def ellipsised(value: object, width: int) -> object:
    """A text cell cut to ``width`` with "…" at its end only (other cells as they are)."""
    if isinstance(value, str) and len(value) > width:
        return one_line(value, width)
    return value
