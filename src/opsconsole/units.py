"""The scalar types config files are written in: durations and sizes, and the error a
converter raises. Never imports Textual.
"""

from __future__ import annotations

import difflib
import math
import re
import typing

_INT_MAX = 2**63 - 1  # int/ByteSize fields: anything larger is a mistake or an attack


class Invalid(ValueError):
    """Raised by ``__check__`` or converters; ``field`` points the error at one key."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _short(value: object, width: int = 60) -> str:
    """``repr(value)``, cut to ``width`` characters (error messages quote user input)."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def did_you_mean(word: object, choices: typing.Iterable[object]) -> str | None:
    """The valid choice nearest to a misspelt ``word``, or None."""
    if not isinstance(word, str):
        return None
    names = [c for c in choices if isinstance(c, str)]
    best = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return best[0] if best else None


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise Invalid(f"expected a finite number ({what}), got {value!r}")
    return value


# --------------------------------------------------------------------------- scalars

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


class Duration(float):
    """Seconds, written in YAML as ``2s``, ``500ms``, ``10m``, ``26h``, ``1h30m`` or a number."""

    @classmethod
    def parse(cls, value: object) -> Duration:
        if isinstance(value, bool):
            raise Invalid("expected a duration like 2s, 500ms, 10m, 26h")
        what = "a duration like 2s, 500ms, 10m"
        if isinstance(value, int | float):
            try:
                seconds = _finite(float(value), what)
            except OverflowError:
                raise Invalid(f"expected a finite number ({what}); this one is too large") from None
            if seconds < 0:
                raise Invalid("expected a duration that is not negative")
            return cls(seconds)
        if isinstance(value, str):
            text = value.strip().replace(" ", "")
            m = _DURATION_RE.match(text)
            if m:
                return cls(_finite(float(m.group(1)) * _DURATION_UNITS[m.group(2) or "s"], what))
            parts = _DURATION_PART_RE.findall(text)
            if parts and "".join(a + b for a, b in parts) == text:
                return cls(_finite(sum(float(a) * _DURATION_UNITS[b] for a, b in parts), what))
        raise Invalid(f"expected a duration like 2s, 500ms, 10m, 26h; got {_short(value)}")

    def __repr__(self) -> str:
        return f"Duration({float(self)!r})"


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?i?b?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "kib": 1024, "ki": 1024,
    "m": 1000**2, "mb": 1000**2, "mib": 1024**2, "mi": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "gi": 1024**3,
    "t": 1000**4, "tb": 1000**4, "tib": 1024**4, "ti": 1024**4,
    "p": 1000**5, "pb": 1000**5, "pib": 1024**5, "pi": 1024**5,
}


class ByteSize(int):
    """Bytes, written as ``512``, ``10MB``, ``2GiB``."""

    @classmethod
    def parse(cls, value: object) -> ByteSize:
        if isinstance(value, bool):
            raise Invalid("expected a size like 500MB or 2GiB")
        if isinstance(value, int):
            if value < 0:
                raise Invalid("expected a size that is not negative")
            if value > _INT_MAX:
                raise Invalid("expected a size below 8 EiB; this one is too large")
            return cls(value)
        if isinstance(value, str):
            m = _SIZE_RE.match(value)
            if m and m.group(2).lower() in _SIZE_UNITS:
                size = float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
                if not math.isfinite(size) or size > _INT_MAX:
                    raise Invalid("expected a size below 8 EiB; this one is too large")
                return cls(int(size))
        raise Invalid(f"expected a size like 500MB or 2GiB; got {_short(value)}")
