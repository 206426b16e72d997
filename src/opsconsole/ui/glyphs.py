"""The one glyph table: every symbol the console draws, and its ASCII fallback.

Decided once at start (:func:`configure`): ``--ascii``, ``TERM=linux`` (the Linux console's
font has no ⚠ ◷ ⚡) or a locale that is not UTF-8 (``LANG=C``) draw ASCII only. Code that
draws a symbol asks :func:`g` (``g("●")`` is ``*`` in ASCII mode); the output layer
(``compat.clean_update``) passes every cell through :func:`to_ascii` as the last line of
defence, so Textual's own borders, scrollbars and ellipses become ASCII too.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from rich.cells import get_character_cell_size

# glyph → ASCII. Symbols first, then box drawing and blocks (Textual's borders, sparklines).
ASCII: dict[str, str] = {
    "●": "*", "○": "o", "•": "*", "▶": ">", "▸": ">", "▲": "^", "■": "#", "‖": "||",
    "✓": "v", "✗": "x", "✖": "x", "⚠": "!", "⚡": "!", "◷": "@", "♥": "<3", "ⓘ": "i",
    "↷": "~>", "→": "->", "←": "<-", "↑": "^", "↓": "v", "⇄": "<>", "·": "-", "…": "...",
    "—": "--", "–": "-", "§": "S", "─": "-", "│": "|", "┃": "|", "━": "-", "═": "=",
    "║": "|", "┌": "+", "┐": "+", "└": "+", "┘": "+", "├": "+", "┤": "+", "┬": "+",
    "┴": "+", "┼": "+", "╭": "+", "╮": "+", "╰": "+", "╯": "+", "┏": "+", "┓": "+",
    "┗": "+", "┛": "+", "╔": "+", "╗": "+", "╚": "+", "╝": "+", "▔": "-", "▁": "_",
    "▂": ".", "▃": "-", "▄": "=", "▅": "+", "▆": "*", "▇": "#", "█": "@", "▌": "|",
    "▐": "|", "▎": "|", "▊": "|", "▏": "|", "▕": "|", "▀": "-", "░": ":", "▒": "%",
    "▓": "#", "\u00a0": " ", "⏎": "enter", "↵": "enter", "⇥": ">", "⌫": "<", "⇤": "<",
    "❱": ">", "✔": "v", "✘": "x", "⇣": "v", "⇡": "^", "␛": "^[", "␇": "^G", "␡": "^?", "\ufffd": "?",
    "△": "~", "≥": ">=", "≤": "<=", "≠": "!=", "↺": "@", "×": "x", "“": '"', "”": '"', "‘": "'", "’": "'",
}
for _cp in range(0x2400, 0x2420):  # control pictures (compat makes controls visible)
    ASCII.setdefault(chr(_cp), "^" + chr(_cp - 0x2400 + 0x40))
# box drawing and block elements not listed: a corner-ish +
for _cp in range(0x2500, 0x25A0):
    ASCII.setdefault(chr(_cp), "+")

# where a cell must stay a cell (the output layer): one-character fallbacks
ONE_CELL: dict[str, str] = {"⏎": "<", "↵": "<", "‖": "|", "♥": "<", "↷": ">", "→": ">", "←": "<", "⇄": "=",
                            "…": ".", "—": "-", "␛": "^", "␇": "^", "␡": "^", "≥": ">", "≤": "<",
                            "≠": "#"}

_state = {"ascii": False}


def wants_ascii(environ: Mapping[str, str], utf8_mode: bool | None = None) -> bool:
    """Whether the terminal should get ASCII only: ``TERM=linux``/``dumb``/``vt*``, or a
    locale (``LC_ALL``, else ``LC_CTYPE``, else ``LANG``) that is not UTF-8.

    Python coerces a C locale to ``C.UTF-8`` in its own environment (PEP 538) and then runs
    in UTF-8 mode; an ``LC_CTYPE=C.UTF-8`` seen together with UTF-8 mode is that coercion,
    not the user's choice, and is skipped."""
    term = environ.get("TERM", "")
    if term in ("linux", "dumb") or term.startswith("vt"):
        return True
    if utf8_mode is None:
        utf8_mode = bool(sys.flags.utf8_mode)
    name = environ.get("LC_ALL", "")
    if not name:
        ctype = environ.get("LC_CTYPE", "")
        if ctype and not (ctype == "C.UTF-8" and utf8_mode):
            name = ctype
    if not name:
        name = environ.get("LANG", "")
    norm = name.lower().replace("-", "").replace("_", "")
    return "utf8" not in norm


def configure(ascii_only: bool) -> None:
    """Set the mode for this process (the console calls it once at start)."""
    _state["ascii"] = bool(ascii_only)


def ascii_only() -> bool:
    return _state["ascii"]


def g(glyph: str) -> str:
    """``glyph`` as drawn now: itself, or its ASCII fallback."""
    return to_ascii(glyph) if _state["ascii"] else glyph


def to_ascii(text: str) -> str:
    """``text`` with every non-ASCII character replaced by its fallback (unknown ones by
    ``?``, one per cell, so a wide character keeps its width)."""
    if text.isascii():
        return text
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
        else:
            out.append(ASCII.get(ch) or "?" * max(get_character_cell_size(ch), 1))
    return "".join(out)


def cells_to_ascii(text: str) -> str:
    """``text`` in ASCII, each character keeping its cell width (for drawn cells)."""
    if text.isascii():
        return text
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
            continue
        w = get_character_cell_size(ch)
        if w <= 0:
            continue  # a combining mark: no cell of its own
        sub = ONE_CELL.get(ch) or ASCII.get(ch) or "?"
        out.append(sub[:w].ljust(w, sub[-1]))
    return "".join(out)


def spark_chars() -> str:
    """The eight sparkline levels, low to high."""
    return to_ascii("▁▂▃▄▅▆▇█") if _state["ascii"] else "▁▂▃▄▅▆▇█"
