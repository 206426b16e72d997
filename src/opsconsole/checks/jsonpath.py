"""A small, strict path into a JSON document, for ``json`` checks. Never imports Textual.

A path is keys separated by dots, list indexes and quoted keys in brackets::

    status                       components.db.latency_ms
    checks[0].state              components["db.main"].state      $.components.db

``$`` or ``$.`` at the start is allowed (JSONPath's root) and ignored. Keys in dotted form
are letters, digits, ``_`` and ``-``; any other key goes in brackets, double-quoted
(``\\"`` and ``\\\\`` are the only escapes). No wildcards, filters, slices or recursion: one
path names one value. Errors carry the 0-based ``offset`` of the fault.
"""

from __future__ import annotations

import re
from typing import Any

from opsconsole.units import Invalid

MAX_PATH = 500
_KEY = re.compile(r"[A-Za-z0-9_-]+")
_INDEX = re.compile(r"\[(\d{1,9})\]")
_QUOTED = re.compile(r'\["((?:[^"\\]|\\["\\])*)"\]')

Step = str | int


class PathError(Invalid):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def parse_path(text: str) -> tuple[Step, ...]:
    """``"components.db.latency_ms"`` → ``("components", "db", "latency_ms")``."""
    if not isinstance(text, str) or not text.strip():
        raise PathError("expected a path like components.db.latency_ms", 0)
    if len(text) > MAX_PATH:
        raise PathError(f"path too long (the limit is {MAX_PATH} characters)", MAX_PATH)
    i = 0
    if text.startswith("$"):
        i = 2 if text.startswith("$.") else 1
    steps: list[Step] = []
    first = True
    while i < len(text):
        if text[i] == "[":
            m = _INDEX.match(text, i) or _QUOTED.match(text, i)
            if m is None:
                raise PathError('expected [N] or ["key"] here', i)
            g = m.group(1)
            steps.append(int(g) if m.re is _INDEX else re.sub(r"\\(.)", r"\1", g))
            i = m.end()
        else:
            if not first:
                if text[i] != ".":
                    raise PathError(f"expected '.', '[' or the end, got {text[i]!r}", i)
                i += 1
            m = _KEY.match(text, i)
            if m is None:
                got = repr(text[i]) if i < len(text) else "the end"
                raise PathError(f"expected a key (letters, digits, _ -; others as "
                                f'["key"]), got {got}', i)
            steps.append(m.group(0))
            i = m.end()
        first = False
    if not steps:
        raise PathError("expected a key after $", len(text))
    return tuple(steps)


def spell(steps: tuple[Step, ...]) -> str:
    out = ""
    for s in steps:
        if isinstance(s, int):
            out += f"[{s}]"
        elif _KEY.fullmatch(s):
            out += ("." if out else "") + s
        else:
            out += '["' + s.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return out


class Missing(LookupError):
    """The path leads nowhere in this document; the message says where it stopped."""


def pick(doc: Any, steps: tuple[Step, ...]) -> Any:
    """The value at ``steps`` in ``doc``; raises :class:`Missing`."""
    cur = doc
    for n, step in enumerate(steps):
        here = spell(steps[:n]) or "the document"
        if isinstance(step, int):
            if not isinstance(cur, list):
                raise Missing(f"{here} is {_kind(cur)}, not a list")
            if step >= len(cur):
                raise Missing(f"{here} has {len(cur)} items, no [{step}]")
            cur = cur[step]
        else:
            if not isinstance(cur, dict):
                raise Missing(f"{here} is {_kind(cur)}, not an object")
            if step not in cur:
                keys = ", ".join(sorted(map(str, cur))[:8])
                raise Missing(f"no {spell(steps[: n + 1])} ({here} has: {keys or 'nothing'})")
            cur = cur[step]
    return cur


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if v is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string"}.get(type(v), "a number")


__all__ = ["Missing", "PathError", "parse_path", "pick", "spell"]
