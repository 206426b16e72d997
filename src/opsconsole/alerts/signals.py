"""Signals: what the console already measures, by name. Never imports Textual.

A :class:`SignalRef` names one value (``host.cpu``, ``check.api.latency``,
``pg.main.blocked``); :func:`resolve_ref` checks a name against :data:`CATALOGUE` when a rule
is parsed, so a typo is a config error, not a silent never-firing rule. A
:class:`SignalSet` reads the values from one tick's measurements (a host snapshot, check
statuses, PostgreSQL snapshots); a value that cannot be read is :data:`NO_DATA`, never OK
or 0.

The catalogue (type in brackets: percent, number, seconds, state):

- ``host.cpu`` [percent, all cores], ``host.core[N]`` [percent], ``host.cpu_max_core``,
  ``host.load1|load5|load15`` [number], ``host.load1_per_core`` (and 5, 15),
  ``host.mem`` / ``host.swap`` [percent], ``host.mem_used`` [bytes], ``host.processes``,
  ``host.uptime`` [seconds], ``host.fs["/mount"].used_pct|free_bytes|used_bytes``,
  ``host.disk.read_bps|write_bps``, ``host.net["eth0"].rx_bps|tx_bps`` [bytes/s].
- ``check.NAME.state`` [state], ``.latency`` [seconds], ``.failures`` (consecutive
  CRITICAL results), ``.perf["label"]`` or ``.perf.label`` (a Nagios plugin's perfdata
  value by label, in base units: ``ms``/``us`` → seconds, ``KB``/``MB``/``GB``/``TB`` →
  bytes (×1024), ``%`` and ``c`` counters as written), ``.perf["label"].warn|crit|min|max``
  (the plugin's levels, same units; ``warn``/``crit`` only when the range has one bound)
  and ``.perf["label"].pct`` (value / max × 100, e.g. check_disk's MB used of the size);
  ``.value`` [number]: the one number a ``promql``, ``json`` or ``sql`` check measured.
- ``promql.TARGET.QUERY`` [number]: a named query of the ``prometheus:`` target TARGET
  (``promql.fleet.error_rate``); with ``by: LABEL`` one value per series,
  ``promql.fleet.up["host-1:9100"]`` (see :mod:`opsconsole.sources.promql`). The values
  are read by the evaluator (``opsconsole watch``) and handed over in ``SignalSet.values``;
  the config loader checks that TARGET and QUERY exist (``file:line:column``).
- ``log_errors.NAME.count``: matching lines in the window of the ``log_errors`` check NAME.
- ``process.NAME.cpu|mem`` [percent, summed over the processes the ``process`` check NAME
  matched; cpu is NO DATA on the check's first sample], ``process.NAME.count``.
- ``pg.NAME.blocked`` (sessions waiting on a lock), ``.root_blocker`` (pid of the root
  blocker that blocks most), ``.oldest_xact_age``, ``.idle_in_xact_age``,
  ``.longest_query`` [seconds] from the locks and running-now snapshots (sessions younger
  than the pane's ``min_duration`` are not in the snapshot: an empty one reads 0);
  ``.connections``, ``.max_connections``, ``.connections_used_pct``, ``.cache_hit_ratio``
  [percent], ``.wraparound_age`` [transactions], ``.replication_lag`` [seconds] come from
  a :class:`PgStats`, read by :func:`opsconsole.alerts.pgstats.read_pg_stats` (one cheap
  statement; no pane runs it yet: whoever evaluates must call it, else they read NO DATA;
  ``replication_lag`` is NO DATA without replicas).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opsconsole.units import did_you_mean

if TYPE_CHECKING:
    from opsconsole.postgres.model import ActivitySnapshot, LocksSnapshot
    from opsconsole.sources.host import HostSnapshot


class _NoData:
    """The value of a signal that cannot be read. Not a number, not a state, not False."""

    _instance: _NoData | None = None

    def __new__(cls) -> _NoData:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_DATA"

    def __str__(self) -> str:
        return "no data"

    def __reduce__(self) -> str:
        return "NO_DATA"


NO_DATA = _NoData()


class SignalType:
    PERCENT = "percent"
    NUMBER = "number"
    SECONDS = "seconds"
    STATE = "state"


P, N, S, ST = SignalType.PERCENT, SignalType.NUMBER, SignalType.SECONDS, SignalType.STATE

# family -> shape -> {field: type}. Shapes: "" (host.cpu), "[i]" (host.core[0]),
# "[i].f" (host.fs["/"].used_pct), "sub.f" (host.disk.read_bps), "NAME.f" (check.api.state),
# "NAME.f[i]" (check.api.perf["time"]).
HOST_FIELDS = {
    "cpu": P, "cpu_max_core": P, "load1": N, "load5": N, "load15": N, "load1_per_core": N,
    "load5_per_core": N, "load15_per_core": N, "mem": P, "mem_used": N, "swap": P,
    "processes": N, "uptime": S,
}
HOST_INDEXED = {"core": {"": P}, "fs": {"used_pct": P, "free_bytes": N, "used_bytes": N},
                "net": {"rx_bps": N, "tx_bps": N}}
HOST_SUB = {"disk": {"read_bps": N, "write_bps": N}}
NAMED_FIELDS = {
    "check": {"state": ST, "latency": S, "failures": N, "perf": N, "value": N},
    "log_errors": {"count": N},
    "process": {"cpu": P, "mem": P, "count": N},
    "pg": {"connections": N, "max_connections": N, "connections_used_pct": P, "blocked": N,
           "root_blocker": N, "oldest_xact_age": S, "idle_in_xact_age": S, "longest_query": S,
           "cache_hit_ratio": P, "wraparound_age": N, "replication_lag": S},
    # issue 15: figures of an SLO (opsconsole.slo.engine), handed over in SignalSet.values;
    # metrics.NAME.up: 1 when the last scrape of that metrics: source worked, else NO DATA;
    # metrics.NAME.QUERY [number]: a value: or rate: query declared under that source
    # (opsconsole.metrics.queries; the config checks the name exists)
    "slo": {"attainment": P, "budget_remaining": N, "burn_5m": N, "burn_30m": N,
            "burn_1h": N, "burn_6h": N, "burn_3d": N},
    "metrics": {"up": N},
}
FAMILIES = ("host", *NAMED_FIELDS, "promql")
PERF_FIELDS = ("warn", "crit", "min", "max", "pct")
CATALOGUE = {"host": {**HOST_FIELDS, **{f"{k}[…]": v for k, v in HOST_INDEXED.items()},
                      **{f"{k}.…": v for k, v in HOST_SUB.items()}}, **NAMED_FIELDS}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_PARAM_OF = {"check": "check", "log_errors": "check", "process": "check", "pg": "database",
             "slo": "slo", "metrics": "source", "promql": "prometheus"}


class RefError(Exception):
    """A signal name that is not in the catalogue; ``offset`` points at the bad part."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class SignalRef:
    """One named signal. ``key`` is its canonical spelling (the history key)."""

    family: str
    name: str | None  # the check / database / process-check name
    field: str
    index: str | int | None  # mount, core, interface, perfdata label
    type: str
    key: str

    def params(self) -> dict[str, str]:
        """The template parameters this signal fills by its name alone."""
        out: dict[str, str] = {}
        if self.name is not None:
            out[_PARAM_OF[self.family]] = self.name
        if self.family == "host" and self.index is not None:
            out[{"fs": "mount", "net": "interface", "core": "core"}[self.field]] = str(self.index)
        if self.family == "check" and self.field.startswith("perf"):
            out["label"] = str(self.index)
        if self.family == "promql" and self.index is not None:
            out["series"] = str(self.index)
        return out


def _spell(part: str | int, bracketed: bool = False) -> str:
    if isinstance(part, int):
        return f"[{part}]"
    return f".{part}" if _NAME.match(part) and not bracketed else f"[{json.dumps(part)}]"


def _choices(message: str, word: str, choices: Any) -> str:
    names = sorted(choices)
    guess = did_you_mean(word, names)
    hint = f"; did you mean {guess!r}?" if guess else ""
    return f"{message}{hint} (expected one of: {', '.join(names)})"


def resolve_ref(parts: list[tuple[str | int, int, bool]]) -> SignalRef:
    """``[(text, offset, bracketed), ...]`` → a SignalRef, or :class:`RefError`."""
    fam, fam_at, _ = parts[0]
    fam = str(fam)
    if fam not in FAMILIES:
        raise RefError(_choices(f"unknown signal family {fam!r}", fam, FAMILIES), fam_at)
    end = parts[-1][1]
    if len(parts) < 2:
        raise RefError(f"{fam} needs a field, e.g. {_example(fam)}", end)
    if fam == "host":
        return _host(parts)
    if fam == "promql":
        return _promql(parts)
    name, name_at, _ = parts[1]
    if isinstance(name, int):
        name = str(name)
    if fam == "metrics" and len(parts) == 3 and not parts[2][2] \
            and str(parts[2][0]) not in NAMED_FIELDS[fam]:
        # a named query of the metrics: source (its existence is the config's to check)
        return SignalRef(fam, name, str(parts[2][0]), None, N,
                         f"metrics{_spell(name)}.{parts[2][0]}")
    fields = NAMED_FIELDS[fam]
    what = "database" if fam == "pg" else "check"
    if len(parts) < 3:
        raise RefError(f"{fam}.{name} needs a field after the {what} name, e.g. "
                       f"{_example(fam)}", name_at)
    fld, fld_at, bracketed = parts[2]
    if bracketed or str(fld) not in fields:
        raise RefError(_choices(f"unknown field {fld!r} of {fam}.{name}", str(fld), fields),
                       fld_at)
    fld = str(fld)
    index: str | int | None = None
    rest = parts[3:]
    sub = ""
    if fam == "check" and fld == "perf":
        if not rest:
            raise RefError('check.NAME.perf needs a perfdata label: perf["time"] or perf.time',
                           fld_at)
        index = str(rest[0][0])
        if len(rest) > 1:
            sub_part = rest[1]
            if sub_part[2] or str(sub_part[0]) not in PERF_FIELDS:
                raise RefError(_choices(f"unknown perfdata field {sub_part[0]!r}",
                                        str(sub_part[0]), PERF_FIELDS), sub_part[1])
            sub = "." + str(sub_part[0])
        rest = rest[2:]
    if rest:
        raise RefError(f"unexpected {_spell(rest[0][0], rest[0][2])} after {fam}.{name}.{fld}", rest[0][1])
    key = fam + _spell(name) + "." + fld + (f"[{json.dumps(index)}]" if index is not None else "")
    return SignalRef(fam, name, fld + sub, index, fields[fld], key + sub)


def _promql(parts: list[tuple[str | int, int, bool]]) -> SignalRef:
    """``promql.TARGET.QUERY`` or ``promql.TARGET.QUERY["label value"]``; whether TARGET
    and QUERY exist is the config's to check (they are declared there)."""
    example = "promql.fleet.error_rate"
    if len(parts) < 3 or parts[1][2] or parts[2][2]:
        at = parts[2][1] if len(parts) >= 3 else parts[-1][1]
        raise RefError(f"promql needs a prometheus: target and a query name, e.g. {example}",
                       at)
    target, query = str(parts[1][0]), str(parts[2][0])
    index: str | None = None
    rest = parts[3:]
    if rest:
        if not rest[0][2] or len(rest) > 1:
            bad = rest[0] if not rest[0][2] else rest[1]
            raise RefError(f"unexpected {_spell(bad[0], bad[2])} after promql.{target}.{query}"
                           ' (a series is picked by its label value: ["host-1:9100"])', bad[1])
        index = str(rest[0][0])
    key = "promql" + _spell(target) + _spell(query) + (
        f"[{json.dumps(index)}]" if index is not None else "")
    return SignalRef("promql", target, query, index, N, key)


def _example(fam: str) -> str:
    return {"host": "host.cpu", "check": "check.api.state", "log_errors": "log_errors.app.count",
            "process": "process.nginx.cpu", "pg": "pg.main.blocked",
            "slo": "slo.api-errors.burn_1h", "metrics": "metrics.app.up",
            "promql": "promql.fleet.error_rate"}.get(fam, fam)


def _host(parts: list[tuple[str | int, int, bool]]) -> SignalRef:
    fld, at, bracketed = parts[1]
    fld = str(fld)
    all_fields = [*HOST_FIELDS, *HOST_INDEXED, *HOST_SUB]
    if bracketed or fld not in all_fields:
        raise RefError(_choices(f"unknown host signal {fld!r}", fld, all_fields), at)
    rest = parts[2:]
    if fld in HOST_FIELDS:
        if rest:
            raise RefError(f"unexpected {_spell(rest[0][0], rest[0][2])} after host.{fld}", rest[0][1])
        return SignalRef("host", None, fld, None, HOST_FIELDS[fld], f"host.{fld}")
    if fld in HOST_SUB:
        subs = HOST_SUB[fld]
        if len(rest) != 1 or rest[0][2] or str(rest[0][0]) not in subs:
            bad = rest[0] if rest else (fld, at, False)
            raise RefError(_choices(f"host.{fld} needs one of its fields", str(bad[0]), subs),
                           bad[1])
        sub = str(rest[0][0])
        return SignalRef("host", None, f"{fld}.{sub}", None, subs[sub], f"host.{fld}.{sub}")
    subs = HOST_INDEXED[fld]
    example = {"core": "host.core[0]", "fs": 'host.fs["/"].used_pct',
               "net": 'host.net["eth0"].rx_bps'}[fld]
    if not rest or not rest[0][2]:
        raise RefError(f"host.{fld} needs an index in brackets: {example}",
                       rest[0][1] if rest else at)
    index = rest[0][0]
    if fld == "core" and not isinstance(index, int):
        raise RefError("host.core takes a core number: host.core[0]", rest[0][1])
    if fld != "core":
        index = str(index)
    tail = rest[1:]
    if fld == "core":
        if tail:
            raise RefError(f"unexpected {_spell(tail[0][0], tail[0][2])} after host.core[{index}]",
                           tail[0][1])
        return SignalRef("host", None, "core", index, P, f"host.core[{index}]")
    if len(tail) != 1 or tail[0][2] or str(tail[0][0]) not in subs:
        bad = tail[0] if tail else rest[0]
        raise RefError(_choices(f"host.{fld}[…] needs a field, e.g. {example}", str(bad[0]),
                                subs), bad[1])
    sub = str(tail[0][0])
    return SignalRef("host", None, fld, index, subs[sub],
                     f"host.{fld}[{json.dumps(index)}].{sub}")


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class PgStats:
    """Server-wide figures of one PostgreSQL target (None: not read), from
    :func:`opsconsole.alerts.pgstats.read_pg_stats`; handed over in :class:`PgReadings`."""

    connections: int | None = None
    max_connections: int | None = None
    cache_hit_ratio: float | None = None  # percent
    wraparound_age: int | None = None  # max(age(datfrozenxid))
    replication_lag: float | None = None  # seconds, worst replica


@dataclass(frozen=True)
class PgReadings:
    """What the console has from one target this tick (None: not read, e.g. unreachable)."""

    activity: ActivitySnapshot | None = None
    locks: LocksSnapshot | None = None
    stats: PgStats | None = None


def _f(v: Any) -> Any:
    if v is None or isinstance(v, bool | str):
        return NO_DATA
    return float(v)


def _perf(d: Any, sub: str) -> Any:
    """A perfdata item's value (or ``sub`` field) in its UOM's base unit, else NO DATA."""
    from opsconsole.checks.perfdata import base_value

    v = base_value(d, sub)
    return NO_DATA if v is None else v


@dataclass
class SignalSet:
    """One tick's measurements, read by name. ``checks`` maps a check name to its
    :class:`~opsconsole.checks.tracker.CheckStatus` (or a bare CheckResult); ``values``
    gives already-read values by key (``{"host.cpu": 85.0}``; None is NO_DATA). Values are
    cached for the tick, so 1,000 rules over 20 signals read 20 values."""

    host: HostSnapshot | None = None
    checks: Mapping[str, Any] = field(default_factory=dict)
    pg: Mapping[str, PgReadings] = field(default_factory=dict)
    # already-read values by signal key (recorded history replayed, another evaluator's
    # figures); they win over the measurements. None means NO_DATA.
    values: Mapping[str, Any] = field(default_factory=dict)
    _cache: dict[str, tuple[Any, dict[str, str]]] = field(default_factory=dict, repr=False)

    def read(self, ref: SignalRef) -> Any:
        return self.reading(ref)[0]

    def reading(self, ref: SignalRef) -> tuple[Any, dict[str, str]]:
        """(value or NO_DATA, template parameters such as the root blocker's pid)."""
        hit = self._cache.get(ref.key)
        if hit is None and ref.key in self.values:
            v = self.values[ref.key]
            hit = (NO_DATA if v is None else v, ref.params())
            self._cache[ref.key] = hit
        if hit is None:
            try:
                value, extra = getattr(self, "_" + ref.family)(ref)
            except (AttributeError, KeyError, IndexError, TypeError, ValueError):
                value, extra = NO_DATA, {}  # a malformed measurement is no data, not a crash
            hit = (value, {**ref.params(), **extra})
            self._cache[ref.key] = hit
        return hit

    # one method per family: (value, extra params)
    def _host(self, ref: SignalRef) -> tuple[Any, dict[str, str]]:
        h = self.host
        if h is None:
            return NO_DATA, {}
        f = ref.field
        simple = {
            "cpu": lambda: h.cpu_total, "cpu_max_core": lambda: max(h.per_core),
            "load1": lambda: h.load[0], "load5": lambda: h.load[1], "load15": lambda: h.load[2],
            "load1_per_core": lambda: h.load[0] / max(h.cores, 1),
            "load5_per_core": lambda: h.load[1] / max(h.cores, 1),
            "load15_per_core": lambda: h.load[2] / max(h.cores, 1),
            "mem": lambda: h.mem_percent, "mem_used": lambda: h.mem_used,
            "swap": lambda: h.swap_percent, "processes": lambda: h.process_count,
            "uptime": lambda: h.uptime, "disk.read_bps": lambda: h.disk_read,
            "disk.write_bps": lambda: h.disk_write,
        }
        if f in simple:
            return _f(simple[f]()), {}
        if f == "core":
            i = int(ref.index)  # type: ignore[arg-type]
            return (_f(h.per_core[i]) if 0 <= i < len(h.per_core) else NO_DATA), {}
        sub = ref.key.rsplit(".", 1)[1]
        if f == "fs":
            for fs in h.filesystems:
                if fs.mountpoint == ref.index:
                    v = {"used_pct": fs.percent, "free_bytes": fs.free, "used_bytes": fs.used}
                    return _f(v[sub]), {"device": fs.device}
            return NO_DATA, {}
        for n in h.net:
            if n.name == ref.index:
                return _f(n.rx if sub == "rx_bps" else n.tx), {}
        return NO_DATA, {}

    def _status(self, ref: SignalRef) -> tuple[Any, Any]:
        """(status or None, result or None) of the check ``ref.name``."""
        st = self.checks.get(ref.name or "")
        if st is None:
            return None, None
        if hasattr(st, "failures"):  # a CheckStatus
            if st.state == "PENDING" or st.result is None:
                return st, None
            return st, st.result
        return None, st  # a bare CheckResult

    def _check(self, ref: SignalRef) -> tuple[Any, dict[str, str]]:
        status, result = self._status(ref)
        if result is None:
            return NO_DATA, {}
        f = ref.field
        if f == "state":
            state = status.state if status is not None else result.state
            return (state if state in ("OK", "WARNING", "CRITICAL", "UNKNOWN") else NO_DATA), {}
        if f == "latency":
            return _f(result.latency), {}
        if f == "failures":
            if status is not None:
                return float(status.failures), {}
            return (1.0 if result.state == "CRITICAL" else 0.0), {}
        if f == "value":
            return _f(result.details.get("value")), {}
        for d in result.perfdata:
            if d.label == ref.index:
                return _perf(d, f.partition(".")[2]), ({"uom": d.uom} if d.uom else {})
        return NO_DATA, {}

    def _log_errors(self, ref: SignalRef) -> tuple[Any, dict[str, str]]:
        _status, result = self._status(ref)
        if result is None or result.kind != "log_errors":
            return NO_DATA, {}
        return _f(result.details.get("count")), {}

    def _process(self, ref: SignalRef) -> tuple[Any, dict[str, str]]:
        _status, result = self._status(ref)
        if result is None or result.kind != "process" or "processes" not in result.details:
            return NO_DATA, {}
        procs = result.details["processes"]
        if ref.field == "count":
            return float(len(procs)), {}
        values = [p.get(ref.field) for p in procs]
        if any(v is None for v in values):
            return NO_DATA, {}  # cpu on the first sample: unknown, not 0 %
        top = max(procs, key=lambda p: p.get(ref.field) or 0, default=None)
        return float(sum(values)), ({"pid": str(top["pid"])} if top else {})

    def _pg(self, ref: SignalRef) -> tuple[Any, dict[str, str]]:
        r = self.pg.get(ref.name or "")
        if r is None:
            return NO_DATA, {}
        f = ref.field
        if f in ("blocked", "root_blocker"):
            if r.locks is None:
                return NO_DATA, {}
            if f == "blocked":
                waiting = sum(1 for n in r.locks.nodes if n.depth > 0) or r.locks.waiting
                root = max(r.locks.roots, key=lambda n: n.blocks, default=None)
                return float(waiting), ({"pid": str(root.pid)} if root else {})
            root = max(r.locks.roots, key=lambda n: n.blocks, default=None)
            return (NO_DATA if root is None else float(root.pid)), (
                {"pid": str(root.pid)} if root else {})
        if f in ("oldest_xact_age", "idle_in_xact_age", "longest_query"):
            if r.activity is None:
                return NO_DATA, {}
            rows = r.activity.backends
            if f == "oldest_xact_age":
                pairs = [(b.xact_age, b.pid) for b in rows if b.xact_age is not None]
            elif f == "idle_in_xact_age":
                pairs = [(b.state_age, b.pid) for b in rows
                         if b.idle_in_transaction and b.state_age is not None]
            else:
                pairs = [(b.query_age, b.pid) for b in rows
                         if b.state == "active" and b.query_age is not None]
            if not pairs:
                return 0.0, {}
            age, pid = max(pairs)
            return float(age), {"pid": str(pid)}
        s = r.stats
        if s is None:
            return NO_DATA, {}
        if f == "connections_used_pct":
            if s.connections is None or not s.max_connections:
                return NO_DATA, {}
            return s.connections * 100.0 / s.max_connections, {}
        return _f(getattr(s, f)), {}
