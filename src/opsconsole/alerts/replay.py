"""Rules against recorded history: ``opsconsole alerts test FILE``.

The history is JSON Lines, one object per evaluation: ``{"at": <epoch seconds or ISO 8601>,
"values": {"host.cpu": 91.5, "check.api.state": "CRITICAL", "pg.main.blocked": null}}``
(null is no data). ``opsconsole watch --record-signals FILE`` writes exactly this for every
evaluation it makes (the values its rules read), so a rule can be tried against last
night's figures before it goes live; a file written by hand or a script works the same.

Bad input gets a located answer (``FILE:LINE: …``) and nothing is evaluated; a line longer
than 1 MiB or a file of more than 1,000,000 samples is refused rather than read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from opsconsole.alerts.rules import Evaluator, Transition
from opsconsole.alerts.signals import NO_DATA, SignalSet
from opsconsole.alerts.spec import AlertRule

MAX_LINE = 1 << 20
MAX_SAMPLES = 1_000_000


class HistoryError(ValueError):
    """A located problem in a history file."""


@dataclass(frozen=True)
class Sample:
    at: float
    values: dict[str, Any]


def _at(raw: Any, where: str) -> float:
    if isinstance(raw, bool):
        raise HistoryError(f"{where}: \"at\" must be epoch seconds or ISO 8601, not {raw!r}")
    if isinstance(raw, int | float) and math.isfinite(raw):
        return float(raw)
    if isinstance(raw, str):
        try:
            t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if t.tzinfo is None:
                raise HistoryError(f"{where}: \"at\" {raw!r} has no timezone (add Z or +00:00)")
            return t.timestamp()
    raise HistoryError(f"{where}: \"at\" must be epoch seconds or ISO 8601, got {raw!r}")


def read_samples(path: str | Path) -> Iterator[Sample]:
    """The samples of a history file, in order (times must not go back)."""
    p = Path(path)
    last = -math.inf
    with p.open("rb") as f:
        for n, raw in enumerate(iter(lambda: f.readline(MAX_LINE + 1), b""), start=1):
            where = f"{p}:{n}"
            if n > MAX_SAMPLES:
                raise HistoryError(f"{where}: more than {MAX_SAMPLES:,} samples; split the file")
            if len(raw) > MAX_LINE:
                raise HistoryError(f"{where}: line longer than {MAX_LINE:,} bytes")
            text = raw.decode("utf-8", "replace").strip()
            if not text or text.startswith("#"):
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise HistoryError(f"{where}:{exc.colno}: not JSON: {exc.msg}") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("values"), dict):
                raise HistoryError(f"{where}: expected {{\"at\": …, \"values\": {{signal: value}}}}")
            at = _at(obj.get("at"), where)
            if at < last:
                raise HistoryError(f"{where}: \"at\" goes back in time ({at} < {last})")
            last = at
            for k, v in obj["values"].items():
                if not (v is None or isinstance(v, str | int | float)) or isinstance(v, bool):
                    raise HistoryError(f"{where}: {k!r}: expected a number, a state or null")
            yield Sample(at, dict(obj["values"]))


def replay(rules: Iterable[AlertRule], samples: Iterable[Sample]) -> list[Transition]:
    """Every transition the rules would have made over the samples."""
    now = [0.0]
    ev = Evaluator([r for r in rules if r.enabled], lambda: now[0])
    out: list[Transition] = []
    for s in samples:
        now[0] = s.at
        out += ev.evaluate(SignalSet(values=s.values), s.at)
    return out


def sample_line(at: float, signals: SignalSet) -> str:
    """One history line from what an evaluation read (for ``watch --record-signals``)."""
    values = {}
    for key, (value, _params) in sorted(signals._cache.items()):
        values[key] = None if value is NO_DATA else (
            value if isinstance(value, str | int | float) and not isinstance(value, bool)
            else str(value))
    return json.dumps({"at": round(at, 3), "values": values}, separators=(",", ":"))
