"""Rich styles for levels (ok / careful / warning / critical / unknown), from the theme."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# level → (theme variable, emphasis)
LEVEL_COLOURS: dict[str, tuple[str, str]] = {
    "ok": ("success", ""),
    "careful": ("accent", ""),
    "warning": ("warning", "bold "),
    "critical": ("error", "bold "),
    "unknown": ("accent", "bold "),
}


def level_styles(theme_variables: Mapping[str, str], levels: Iterable[str]) -> dict[str, str]:
    """The style of each of ``levels`` (a level left out is drawn in the text colour)."""
    out = {}
    for level in levels:
        variable, emphasis = LEVEL_COLOURS[level]
        out[level] = f"{emphasis}{theme_variables.get(variable, '')}"
    return out
