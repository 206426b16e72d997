"""Nagios plugin output, both ways: reading a plugin's output, writing our own.

A plugin prints its status on the first line, ``TEXT | perfdata``; later lines are long
output, until a line with a ``|``: what follows that ``|`` and every line after it is more
perfdata (Nagios' rules). Perfdata items are ``label=value[UOM];warn;crit;min;max``,
separated by spaces; a label with spaces is single-quoted, a quote in it doubled (``''``).

The reader is linear in its input and tolerant: an item it cannot read is skipped and
counted, never an exception. ``warn``/``crit`` are kept as the plugin wrote them (Nagios
ranges such as ``10``, ``@5:10``, ``~:3``); ``min``/``max`` are numbers. A value of ``U``
(undetermined) is kept with ``value`` None. Never imports Textual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_ITEMS = 256  # per output; the rest is counted as skipped
MAX_LABEL = 200

_NUM = r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?"
_VALUE = re.compile(rf"({_NUM})([a-zA-Z%]{{0,8}})")
_NUMBER = re.compile(_NUM)
_RANGE = re.compile(rf"@?(?:~|{_NUM})?(?::(?:{_NUM})?)?")


@dataclass(frozen=True)
class PerfDatum:
    """One perfdata item as a plugin reported it."""

    label: str
    value: float | None
    uom: str = ""
    warn: str | None = None
    crit: str | None = None
    min: float | None = None
    max: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "value": self.value, "uom": self.uom, "warn": self.warn,
                "crit": self.crit, "min": self.min, "max": self.max}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PerfDatum:
        return cls(str(d.get("label", "")), d.get("value"), str(d.get("uom") or ""),
                   d.get("warn"), d.get("crit"), d.get("min"), d.get("max"))


@dataclass(frozen=True)
class PluginOutput:
    """A plugin's output split the way Nagios splits it."""

    text: str  # the first line, before its '|' (Nagios' plugin_output)
    long_output: tuple[str, ...]  # later lines, up to the one carrying a second '|'
    perfdata: str  # everything after the '|'s, joined with spaces


def split_output(output: str) -> PluginOutput:
    """Split plugin output into status text, long output and perfdata (Nagios' rules).

    Leading blank lines are skipped (a plugin that prints an empty line first still has a
    status)."""
    lines = output.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return PluginOutput("", (), "")
    first, _, perf = lines[0].partition("|")
    perf_parts = [perf.strip()] if perf.strip() else []
    long_lines: list[str] = []
    in_perf = False
    for line in lines[1:]:
        if in_perf:
            if line.strip():
                perf_parts.append(line.strip())
            continue
        if "|" in line:
            before, _, after = line.partition("|")
            if before.strip():
                long_lines.append(before.rstrip())
            if after.strip():
                perf_parts.append(after.strip())
            in_perf = True
            continue
        long_lines.append(line.rstrip())
    while long_lines and not long_lines[-1].strip():
        long_lines.pop()
    return PluginOutput(first.strip(), tuple(long_lines), " ".join(perf_parts))


def _number(text: str) -> float | None:
    if not text or _NUMBER.fullmatch(text) is None:
        return None
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


def _item(label: str, rest: str) -> PerfDatum | None:
    """``rest`` is what follows ``label=``: ``value[UOM];warn;crit;min;max``."""
    if not label or len(label) > MAX_LABEL:
        return None
    fields = rest.split(";")
    if len(fields) > 5 and any(f for f in fields[5:]):
        return None
    fields += [""] * (5 - len(fields))
    raw = fields[0]
    if raw == "U":
        value, uom = None, ""
    else:
        m = _VALUE.fullmatch(raw)
        if m is None:
            return None
        value = float(m.group(1).replace(",", "."))
        uom = m.group(2)
    warn, crit = (f if f and _RANGE.fullmatch(f) else None for f in fields[1:3])
    return PerfDatum(label, value, uom, warn, crit, _number(fields[3]), _number(fields[4]))


def parse_perfdata(text: str) -> tuple[list[PerfDatum], int]:
    """Every readable item of ``text`` and how many items were skipped as malformed.

    One pass over the text: a quoted label runs to its closing quote (``''`` is a quote),
    an item runs to the next whitespace."""
    items: list[PerfDatum] = []
    skipped = 0
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        label: str | None
        if text[i] == "'":
            buf: list[str] = []
            j = i + 1
            closed = False
            while j < n:
                q = text.find("'", j)
                if q < 0:
                    j = n
                    break
                buf.append(text[j:q])
                if q + 1 < n and text[q + 1] == "'":
                    buf.append("'")
                    j = q + 2
                    continue
                j = q + 1
                closed = True
                break
            if not closed:  # unterminated quote: the rest of the text is one bad item
                skipped += 1
                break
            label = "".join(buf)
            end = j
            while end < n and not text[end].isspace():
                end += 1
            token = text[j:end]
            if not token.startswith("="):
                label = None
            rest = token[1:]
        else:
            end = i
            while end < n and not text[end].isspace():
                end += 1
            token = text[i:end]
            label, eq, rest = token.partition("=")
            if not eq:
                label = None
        i = end
        datum = _item(label, rest) if label is not None else None
        if datum is None or len(items) >= MAX_ITEMS:
            skipped += 1
        else:
            items.append(datum)
    return items, skipped


# --------------------------------------------------------------------------- writing


def clean_label(label: str) -> str:
    """A label safe to write: no control characters, newlines or '|' (which would end the
    perfdata for a reader)."""
    return "".join("_" if (ch == "|" or not ch.isprintable()) else ch for ch in label)


def quote_label(label: str) -> str:
    """The label single-quoted, a quote in it doubled: ``'it''s'``. Quoting is always
    allowed, and needed for labels with spaces, ``=`` or ``'``."""
    return "'" + clean_label(label).replace("'", "''") + "'"


def number(v: float | None) -> str:
    """A perfdata number: no exponent for ordinary sizes, no trailing zeros."""
    if v is None:
        return ""
    if v == int(v) and abs(v) < 1e18:
        return str(int(v))
    text = f"{v:.6f}".rstrip("0").rstrip(".")
    return text if text.strip("-0") else f"{v:.6g}"


def format_item(d: PerfDatum) -> str:
    """One item as a plugin writes it: ``'label'=value[UOM];warn;crit;min;max`` (trailing
    empty fields dropped)."""
    value = "U" if d.value is None else number(d.value) + d.uom
    fields = [value, d.warn or "", d.crit or "", number(d.min), number(d.max)]
    while len(fields) > 1 and not fields[-1]:
        fields.pop()
    return f"{quote_label(d.label)}={';'.join(fields)}"


def with_unit(v: float | None, uom: str) -> str:
    """A value for people: ``24489492480B`` → ``22.8 GiB``, ``0.012s`` → ``12ms``."""
    if v is None:
        return "undetermined"
    if uom == "s":
        if abs(v) < 1:
            return f"{number(round(v * 1000, 1))}ms"
        return f"{number(round(v, 3))}s"
    scale = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}.get(uom)
    if scale is not None:
        b = v * scale
        for unit, size in (("TiB", 1024 ** 4), ("GiB", 1024 ** 3), ("MiB", 1024 ** 2),
                           ("KiB", 1024)):
            if abs(b) >= size:
                return f"{b / size:.1f} {unit}"
        return f"{number(b)} B"
    if uom == "c":
        return f"{number(v)} (counter)"
    return f"{number(v)}{uom}"


__all__ = ["MAX_ITEMS", "PerfDatum", "PluginOutput", "clean_label", "format_item", "number",
           "parse_perfdata", "quote_label", "split_output", "with_unit"]


# units → the base unit (seconds, bytes) for alert signals; others are taken as written
UOM_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "B": 1.0, "KB": 1024.0, "MB": 1024.0 ** 2,
             "GB": 1024.0 ** 3, "TB": 1024.0 ** 4}


def one_bound(rng: str | None) -> float | None:
    """The threshold of a Nagios range with one bound (``10``, ``~:10``, ``:10``, ``10:``);
    None for two bounds (``5:10``) or an inside range (``@…``)."""
    if not rng or rng.startswith("@"):
        return None
    lo, colon, hi = rng.partition(":")
    try:
        if not colon:
            return float(lo)
        if lo in ("", "~"):
            return float(hi) if hi else None
        return float(lo) if not hi else None
    except ValueError:
        return None


def base_value(d: PerfDatum, sub: str = "") -> float | None:
    """The item's value (``sub`` "") or its ``min``/``max``/``warn``/``crit`` in the base
    unit of its UOM, or ``pct`` (value as a percentage of max); None when not given."""
    if sub == "pct":
        if d.value is None or not d.max:
            return None
        return d.value * 100.0 / d.max
    raw = {"": d.value, "min": d.min, "max": d.max, "warn": one_bound(d.warn),
           "crit": one_bound(d.crit)}[sub]
    return None if raw is None else float(raw) * UOM_SCALE.get(d.uom, 1.0)
