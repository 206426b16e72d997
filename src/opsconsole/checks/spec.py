"""Typed health-check configuration (``checks:`` in the config file).

Every check kind is a frozen dataclass with a ``kind: Literal[...]`` field;
:data:`CheckSpec` is their union, told apart by ``kind`` (the config loader picks the class
from it, and :data:`opsconsole.checks.probes.PROBES` the code that runs it).
Never imports Textual.

Every rule that can be checked without touching the outside world is checked here, so a bad
config fails at load time with ``file:line:col`` (unknown kind, missing URL, bad threshold,
bad address, bad regex...), never later as a crash.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from opsconsole.schema import ByteSize, Duration, Invalid, field, non_negative, positive, regex


def _nonempty(v: str) -> str | None:
    return None if v.strip() else "expected a non-empty value"


def _url(v: str) -> str | None:
    try:
        parts = urlsplit(v)
    except ValueError as exc:
        return f"expected an http:// or https:// URL: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"expected an http:// or https:// URL with a host, got {v!r}"
    try:
        _ = parts.port
    except ValueError:
        return f"expected a port number between 0 and 65535 in {v!r}"
    return None


_ADDR_RE = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\s]+)):(?P<port>\d{1,5})$")


def split_address(v: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` → (host, port). Raises Invalid."""
    m = _ADDR_RE.match(v.strip())
    if not m:
        raise Invalid(f"expected host:port (e.g. 127.0.0.1:5432 or [::1]:80), got {v!r}")
    port = int(m.group("port"))
    if not 0 < port < 65536:
        raise Invalid(f"expected a port between 1 and 65535, got {port}")
    return (m.group("v6") or m.group("host"), port)


def _address(v: str) -> str | None:
    try:
        split_address(v)
    except Invalid as exc:
        return str(exc)
    return None


_STATUS_RE = re.compile(r"^([1-5])xx$|^(\d{3})\s*-\s*(\d{3})$|^(\d{3})$")


def status_matcher(spec: int | str) -> list[tuple[int, int]]:
    """``200`` / ``"2xx"`` / ``"200-299"`` / ``"200,204,3xx"`` → inclusive ranges."""
    if isinstance(spec, int):
        return [(spec, spec)]
    out = []
    for part in str(spec).split(","):
        m = _STATUS_RE.match(part.strip())
        if not m:
            raise Invalid(f"expected a status like 200, 2xx, 200-299 or 200,204; got {spec!r}")
        if m.group(1):
            lo = int(m.group(1)) * 100
            out.append((lo, lo + 99))
        elif m.group(2):
            lo, hi = int(m.group(2)), int(m.group(3))
            if lo > hi:
                raise Invalid(f"expected a range low-high, got {part.strip()!r}")
            out.append((lo, hi))
        else:
            out.append((int(m.group(4)),) * 2)
    for lo, hi in out:
        if lo < 100 or hi > 599:
            raise Invalid(f"expected HTTP statuses between 100 and 599, got {spec!r}")
    return out


def _status(v: int | str) -> str | None:
    try:
        status_matcher(v)
    except Invalid as exc:
        return str(exc)
    return None


class FreeSpace:
    """A free-space threshold: ``"10%"`` of the filesystem or an absolute size ``"5GB"``."""

    def __init__(self, percent: float | None = None, size: int | None = None):
        self.percent = percent
        self.size = size

    @classmethod
    def parse(cls, value: object) -> FreeSpace:
        if isinstance(value, str) and value.strip().endswith("%"):
            try:
                pct = float(value.strip()[:-1])
            except ValueError:
                pct = -1.0
            if not 0 <= pct <= 100:
                raise Invalid(f"expected a percentage between 0% and 100%, got {value!r}")
            return cls(percent=pct)
        # A bare number is ambiguous (20 bytes? 20%?): a unit is required.
        if isinstance(value, str) and re.search(r"[kmgtpb]i?b?\s*$", value.strip(), re.I):
            try:
                return cls(size=int(ByteSize.parse(value)))
            except Invalid:
                pass
        raise Invalid(f"expected free space as a percentage (10%) or a size (5GB), got {value!r}")

    def breached(self, free: int, total: int) -> bool:
        if self.percent is not None:
            return total > 0 and free * 100.0 / total < self.percent
        return free < (self.size or 0)

    def __str__(self) -> str:
        if self.percent is not None:
            return f"{self.percent:g}%"
        from opsconsole.fmt import human_bytes

        return human_bytes(self.size or 0)

    def __repr__(self) -> str:
        return f"FreeSpace({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FreeSpace) and (self.percent, self.size) == (other.percent, other.size)

    def __hash__(self) -> int:
        return hash((self.percent, self.size))


def _latency_pair(obj: object) -> None:
    warn = getattr(obj, "warn_latency", None)
    crit = getattr(obj, "crit_latency", None)
    if warn is not None and crit is not None and warn > crit:
        raise Invalid(f"expected warn_latency ({warn:g}s) <= crit_latency ({crit:g}s)",
                      "warn_latency")


@dataclass(frozen=True, kw_only=True)
class _Common:
    name: str = field(check=_nonempty)
    interval: Duration = field(Duration(30.0), check=positive)
    timeout: Duration = field(Duration(5.0), check=positive)
    failures_before_critical: int = field(1, check=positive)
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class HttpCheck(_Common):
    """GET (or any method) a URL; status, body, latency and TLS certificate expiry."""

    kind: Literal["http"] = "http"
    url: str = field(check=_url)
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    expect_status: int | str = field(200, check=_status)
    body_contains: str | None = None
    body_regex: str | None = field(None, check=lambda v: v and regex(v))
    headers: dict[str, str] = field({})
    warn_latency: Duration | None = field(None, check=lambda v: v is not None and positive(v))
    crit_latency: Duration | None = field(None, check=lambda v: v is not None and positive(v))
    cert_warn_days: int = field(14, check=non_negative)
    cert_crit_days: int = field(7, check=non_negative)
    verify_tls: bool = True
    ca_file: str | None = None  # trust this CA bundle (e.g. an internal CA) instead of the system's
    follow_redirects: bool = False
    max_body: ByteSize = field(ByteSize(1024 * 1024), check=positive)

    def __check__(self) -> None:
        _latency_pair(self)
        if self.cert_crit_days > self.cert_warn_days:
            raise Invalid(f"expected cert_crit_days ({self.cert_crit_days}) <= cert_warn_days "
                          f"({self.cert_warn_days})", "cert_crit_days")


@dataclass(frozen=True, kw_only=True)
class TcpCheck(_Common):
    """Open a TCP connection to ``host:port``."""

    kind: Literal["tcp"] = "tcp"
    address: str = field(check=_address)
    warn_latency: Duration | None = field(None, check=lambda v: v is not None and positive(v))
    crit_latency: Duration | None = field(None, check=lambda v: v is not None and positive(v))

    def __check__(self) -> None:
        _latency_pair(self)


@dataclass(frozen=True, kw_only=True)
class PostgresCheck(_Common):
    """Connect to a named ``databases:`` target and run ``SELECT 1``."""

    kind: Literal["postgres"] = "postgres"
    database: str = field(check=_nonempty)
    warn_latency: Duration | None = field(None, check=lambda v: v is not None and positive(v))
    crit_latency: Duration | None = field(None, check=lambda v: v is not None and positive(v))

    def __check__(self) -> None:
        _latency_pair(self)


@dataclass(frozen=True, kw_only=True)
class ProcessCheck(_Common):
    """Count processes whose name (or whole command line) matches a regular expression."""

    kind: Literal["process"] = "process"
    pattern: str = field(check=lambda v: _nonempty(v) or regex(v))
    match: Literal["name", "cmdline"] = "name"
    min_count: int = field(1, check=non_negative)
    max_count: int | None = field(None, check=lambda v: v is not None and non_negative(v))

    def __check__(self) -> None:
        if self.max_count is not None and self.max_count < self.min_count:
            raise Invalid(f"expected max_count >= min_count ({self.min_count})", "max_count")


def _command(v: str) -> str | None:
    if not v.strip():
        return "expected a command line"
    try:
        shlex.split(v)
    except ValueError as exc:
        return f"expected a command line: {exc}"
    return None


@dataclass(frozen=True, kw_only=True)
class CommandCheck(_Common):
    """Run a Nagios-style plugin: exit 0 OK, 1 WARNING, 2 CRITICAL, else UNKNOWN."""

    kind: Literal["command"] = "command"
    command: str = field(check=_command)
    shell: bool = False
    max_output: ByteSize = field(ByteSize(64 * 1024), check=positive)


@dataclass(frozen=True, kw_only=True)
class DiskCheck(_Common):
    """Free space on the filesystem holding ``path``."""

    kind: Literal["disk"] = "disk"
    path: str = field("/", check=_nonempty)
    warn_free: FreeSpace = field(FreeSpace(percent=20.0))
    crit_free: FreeSpace = field(FreeSpace(percent=10.0))

    def __check__(self) -> None:
        w, c = self.warn_free, self.crit_free
        if w.percent is not None and c.percent is not None and c.percent > w.percent:
            raise Invalid(f"expected crit_free ({c}) <= warn_free ({w})", "crit_free")
        if w.size is not None and c.size is not None and c.size > w.size:
            raise Invalid(f"expected crit_free ({c}) <= warn_free ({w})", "crit_free")


@dataclass(frozen=True, kw_only=True)
class FileAgeCheck(_Common):
    """The newest file matching a glob is younger than ``max_age`` (and big enough)."""

    kind: Literal["file_age"] = "file_age"
    path: str = field(check=_nonempty)
    max_age: Duration = field(check=positive)
    warn_age: Duration | None = field(None, check=lambda v: v is not None and positive(v))
    min_size: ByteSize | None = None

    def __check__(self) -> None:
        if self.warn_age is not None and self.warn_age > self.max_age:
            raise Invalid(f"expected warn_age <= max_age ({self.max_age:g}s)", "warn_age")


@dataclass(frozen=True, kw_only=True)
class LogErrorsCheck(_Common):
    """Lines matching ``pattern`` appended to a log within the last ``window``."""

    kind: Literal["log_errors"] = "log_errors"
    path: str = field(check=_nonempty)
    pattern: str = field("ERROR", check=lambda v: _nonempty(v) or regex(v))
    window: Duration = field(Duration(300.0), check=positive)
    warning: int = field(1, check=positive)
    critical: int | None = field(None, check=lambda v: v is not None and positive(v))

    def __check__(self) -> None:
        if self.critical is not None and self.critical < self.warning:
            raise Invalid(f"expected critical >= warning ({self.warning})", "critical")


# --------------------------------------------------------------------------- one number

class JsonPath(str):
    """A path into a JSON body (:mod:`opsconsole.checks.jsonpath`), checked at load."""

    steps: tuple[str | int, ...]

    @classmethod
    def parse(cls, value: object) -> JsonPath:
        from opsconsole.checks.jsonpath import parse_path

        steps = parse_path(value)  # type: ignore[arg-type]
        out = cls(value)
        out.steps = steps
        return out


@dataclass(frozen=True, kw_only=True)
class _Levels:
    """Levels for a measured number: WARNING at ``warn``, CRITICAL at ``crit``; with
    ``worse: below`` lower is worse (a cache hit ratio)."""

    warn: float | None = None
    crit: float | None = None
    worse: Literal["above", "below"] = "above"

    def _check_levels(self) -> None:
        w, c = self.warn, self.crit
        if w is not None and c is not None:
            if self.worse == "above" and w > c:
                raise Invalid(f"expected warn ({w:g}) <= crit ({c:g}) (higher is worse; "
                              "worse: below for the other way)", "warn")
            if self.worse == "below" and w < c:
                raise Invalid(f"expected warn ({w:g}) >= crit ({c:g}) with worse: below",
                              "warn")


@dataclass(frozen=True, kw_only=True)
class PromqlCheck(_Common, _Levels):
    """A PromQL query on a ``prometheus:`` target; its number against warn/crit. Several
    series: ``by: LABEL`` judges each (the worst counts), ``aggregate:`` makes one."""

    kind: Literal["promql"] = "promql"
    prometheus: str = field(check=_nonempty)
    query: str = field(check=_nonempty)
    by: str | None = None
    aggregate: Literal["max", "min", "sum", "avg", "count"] | None = None
    range: Duration | None = field(None, check=lambda v: v is not None and positive(v))
    step: Duration | None = field(None, check=lambda v: v is not None and positive(v))
    over: Literal["avg", "max", "min", "last"] = "avg"
    no_data: Literal["UNKNOWN", "OK", "WARNING", "CRITICAL"] = "UNKNOWN"

    def __check__(self) -> None:
        self._check_levels()
        if self.by and self.aggregate:
            raise Invalid("by: and aggregate: exclude each other", "aggregate")
        if self.step is not None and self.range is None:
            raise Invalid("step: goes with range:", "step")


@dataclass(frozen=True, kw_only=True)
class JsonCheck(HttpCheck, _Levels):
    """An http check that also reads one value from the JSON body by ``path``: a number
    against warn/crit, or a string (or boolean) against ``expect`` / ``expect_warning``."""

    kind: Literal["json"] = "json"  # type: ignore[assignment]
    path: JsonPath
    expect: list[str] = field([])
    expect_warning: list[str] = field([])
    max_body: ByteSize = field(ByteSize(256 * 1024), check=positive)

    def __check__(self) -> None:
        super().__check__()
        self._check_levels()
        if (self.expect or self.expect_warning) and (self.warn is not None or
                                                     self.crit is not None):
            raise Invalid("expect: is for a string value, warn:/crit: for a number: "
                          "choose one", "expect")


@dataclass(frozen=True, kw_only=True)
class SqlCheck(_Common, _Levels):
    """One number from a read-only query on a ``databases:`` target: exactly one row of
    one numeric column (anything else is a check error)."""

    kind: Literal["sql"] = "sql"
    database: str = field(check=_nonempty)
    query: str = field(check=_nonempty)

    def __check__(self) -> None:
        self._check_levels()


CheckSpec = (HttpCheck | TcpCheck | PostgresCheck | ProcessCheck | CommandCheck | DiskCheck
             | FileAgeCheck | LogErrorsCheck | PromqlCheck | JsonCheck | SqlCheck)
VALUE_KINDS = ("promql", "json", "sql")  # checks whose result carries details["value"]

def target_of(spec: CheckSpec) -> str:
    """What a check looks at, in a few words (for tables)."""
    if isinstance(spec, JsonCheck):
        return f"{spec.url} {spec.path}"
    if isinstance(spec, HttpCheck):
        return f"{spec.method} {spec.url}"
    if isinstance(spec, PromqlCheck):
        return f"{spec.prometheus}: {spec.query}"
    if isinstance(spec, SqlCheck):
        return f"database {spec.database}: {spec.query}"
    if isinstance(spec, TcpCheck):
        return spec.address
    if isinstance(spec, PostgresCheck):
        return f"database {spec.database}"
    if isinstance(spec, ProcessCheck):
        return f"{spec.match} ~ {spec.pattern}"
    if isinstance(spec, CommandCheck):
        return spec.command
    if isinstance(spec, DiskCheck | FileAgeCheck | LogErrorsCheck):
        return spec.path
    return ""


def check_references(checks: list[CheckSpec], database_names: list[str]) -> str | None:
    """Cross-section rules (called from AppConfig): a postgres check names a known target."""
    for c in checks:
        if isinstance(c, PostgresCheck | SqlCheck) and c.database not in database_names:
            known = ", ".join(database_names) or "none configured"
            return (f"check {c.name!r} refers to database {c.database!r}, which is not in "
                    f"databases: (known: {known})")
    return None
