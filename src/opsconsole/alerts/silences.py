"""Silences and maintenance windows: which alerts still show but neither notify nor escalate.
Pure logic (the clock is a parameter). Never imports Textual.

**Matchers** are Alertmanager's: ``name=value``, ``name!=value``, ``name=~regex``,
``name!~regex`` (the regex must match the whole value, as in Alertmanager); a label the alert
does not have reads as the empty string, so ``severity!=info`` holds for an alert without a
severity. The value may be double-quoted (``service=~"api|web"``). An alert's labels are its
rule's labels plus ``alertname`` and ``severity`` (and ``check``/``service``/… the rule sets).

A **Silence** (``opsconsole silence add --match check=api --for 2h --reason deploy``) holds
from ``starts_at`` to ``ends_at``; expiring it moves ``ends_at`` to now. ``to_dict`` /
``from_dict`` for the store.

A **maintenance window** (``maintenance:`` in the config) names what it covers (``match:``
matchers, and/or ``checks:`` / ``services:`` lists) and when: a one-off ``start``/``end``
(ISO 8601; without an offset read in ``timezone``), or a recurrence — ``weekly: {days: [sat,
sun], at: "22:00"}`` or ``cron: "0 22 * * 6,0"`` (minute hour day-of-month month
day-of-week) — lasting ``for:``. Recurrences are evaluated in ``timezone`` (IANA, default
UTC), so a Sunday 22:00 + 4h window still holds at Monday 01:00.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opsconsole.schema import Duration, Invalid, positive
from opsconsole.schema import field as sfield

__all__ = ["Matcher", "parse_matcher", "parse_matchers", "matches_all", "Silence",
           "MaintenanceWindow", "Weekly", "active_windows", "window_for", "silenced_by",
           "CronSpec"]

MAX_PATTERN = 512
_MATCHER = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(=~|!~|!=|==|=)\s*(.*?)\s*\Z", re.S)
Op = Literal["=", "!=", "=~", "!~"]


@dataclass(frozen=True)
class Matcher:
    """One label matcher; ``regex`` ones are compiled once, anchored at both ends."""

    name: str
    op: str
    value: str
    _re: Any = field(default=None, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        if self.op not in ("=", "!=", "=~", "!~"):
            raise Invalid(f"unknown matcher operator {self.op!r}; expected =, !=, =~ or !~")
        if self.op in ("=~", "!~"):
            if len(self.value) > MAX_PATTERN:
                raise Invalid(f"regex longer than {MAX_PATTERN} characters")
            try:
                object.__setattr__(self, "_re", re.compile(f"(?:{self.value})\\Z", re.S))
            except re.error as exc:
                raise Invalid(f"{self.name}{self.op}: not a regular expression: {exc}") from None

    def matches(self, labels: Mapping[str, str]) -> bool:
        v = str(labels.get(self.name, ""))
        if self.op == "=":
            return v == self.value
        if self.op == "!=":
            return v != self.value
        hit = self._re.match(v) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        plain = re.fullmatch(r"[A-Za-z0-9_.:/@-]*", self.value) and self.value
        v = self.value if plain else '"' + self.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{self.name}{self.op}{v}"

    @classmethod
    def parse(cls, value: object) -> Matcher:  # for schema: a matcher string in YAML
        return parse_matcher(str(value))


def _unquote(v: str) -> str:
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        inner = v[1:-1]
        if v[0] == '"':
            return re.sub(r'\\(["\\])', r"\1", inner)
        return inner
    if v[:1] in "\"'":
        raise Invalid(f"unterminated quote in {v!r}")
    return v


def parse_matcher(text: str) -> Matcher:
    """``check=api``, ``severity!=info``, ``service=~"api|web"``, ``host!~"db.*"``.
    Raises :class:`Invalid` with what was expected."""
    m = _MATCHER.match(text)
    if not m:
        raise Invalid(f"expected a matcher like check=api, severity!=info or "
                      f'service=~"api|web"; got {text!r}')
    name, op, value = m.group(1), m.group(2), _unquote(m.group(3))
    return Matcher(name, "=" if op == "==" else op, value)


def parse_matchers(texts: Iterable[str]) -> tuple[Matcher, ...]:
    """Several ``--match`` values; each may itself be ``a=b,c!=d`` (outside quotes)."""
    out: list[Matcher] = []
    for text in texts:
        for part in _split_commas(text):
            out.append(parse_matcher(part))
    return tuple(out)


def _split_commas(text: str) -> list[str]:
    parts, cur, quote, esc = [], [], "", False
    for ch in text:
        if esc:
            cur.append(ch)
            esc = False
        elif ch == "\\" and quote == '"':
            cur.append(ch)
            esc = True
        elif quote:
            cur.append(ch)
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            cur.append(ch)
            quote = ch
        elif ch == ",":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in (s.strip() for s in parts) if p]


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def _aware(dt: datetime, what: str) -> datetime:
    if dt.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware")
    return dt.astimezone(UTC)


MAX_SILENCE = timedelta(days=366)


@dataclass(frozen=True)
class Silence:
    """An operator's silence; see the module doc."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    reason: str

    def __post_init__(self) -> None:
        if not self.matchers:
            raise Invalid("a silence needs at least one matcher (e.g. --match check=api)")
        object.__setattr__(self, "starts_at", _aware(self.starts_at, "starts_at"))
        object.__setattr__(self, "ends_at", _aware(self.ends_at, "ends_at"))
        if self.ends_at < self.starts_at:
            raise Invalid("a silence must end after it starts")

    @classmethod
    def create(cls, matchers: Sequence[str] | Sequence[Matcher], duration: float | timedelta,
               *, now: datetime, created_by: str, reason: str,
               starts_at: datetime | None = None) -> Silence:
        """A new silence from ``--match`` texts for ``duration`` (seconds or a timedelta)."""
        ms = tuple(m if isinstance(m, Matcher) else None for m in matchers)
        if any(m is None for m in ms):
            ms = parse_matchers([str(m) for m in matchers])
        span = duration if isinstance(duration, timedelta) else timedelta(seconds=duration)
        if span <= timedelta(0):
            raise Invalid("a silence needs a duration above 0 (e.g. --for 2h)")
        if span > MAX_SILENCE:
            raise Invalid("a silence may last at most 366 days; use a maintenance window")
        if not reason.strip():
            raise Invalid("a silence needs a reason (e.g. --reason deploy)")
        start = starts_at or now
        return cls(uuid.uuid4().hex[:12], ms, start, start + span, created_by, reason.strip())

    def is_active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def state(self, now: datetime) -> str:
        """``pending`` (starts later), ``active`` or ``expired``."""
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def is_silenced(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.is_active(now) and matches_all(self.matchers, labels)

    def expire(self, now: datetime) -> Silence:
        """Ended now (a silence that had not started ends at its start)."""
        return replace(self, ends_at=max(self.starts_at, min(self.ends_at, now)))

    def describe(self) -> str:
        """``check=api until 14:05Z by alice: deploy`` (for the dimmed alert line)."""
        until = self.ends_at.strftime("%Y-%m-%d %H:%MZ")
        return (f"{', '.join(map(str, self.matchers))} until {until} by {self.created_by}: "
                f"{self.reason}")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "matchers": [str(m) for m in self.matchers],
                "starts_at": self.starts_at.isoformat(), "ends_at": self.ends_at.isoformat(),
                "created_by": self.created_by, "reason": self.reason}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Silence:
        return cls(str(d["id"]), parse_matchers(d["matchers"]),
                   datetime.fromisoformat(d["starts_at"]), datetime.fromisoformat(d["ends_at"]),
                   str(d.get("created_by", "")), str(d.get("reason", "")))


# --------------------------------------------------------------------------- recurrences

_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_DAY_ALIASES = {**_DAYS, "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3,
                "friday": 4, "saturday": 5, "sunday": 6}
_HHMM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)\Z")


def _hhmm(v: str) -> str | None:
    return None if _HHMM.match(v.strip()) else f"expected a time of day like 22:00, got {v!r}"


def _days(v: list[str]) -> str | None:
    bad = [d for d in v if d.lower() not in _DAY_ALIASES]
    if bad:
        return f"unknown day {bad[0]!r}; expected mon, tue, wed, thu, fri, sat or sun"
    return None if v else "expected at least one day"


@dataclass(frozen=True)
class Weekly:
    """``days: [sat, sun]`` at ``at: "22:00"`` (in the window's timezone)."""

    days: list[str] = sfield(check=_days)
    at: str = sfield(check=_hhmm)

    def weekdays(self) -> set[int]:
        return {_DAY_ALIASES[d.lower()] for d in self.days}

    def time(self) -> tuple[int, int]:
        h, m = self.at.strip().split(":")
        return int(h), int(m)


class CronSpec(str):
    """Five cron fields: minute hour day-of-month month day-of-week (0 or 7 = Sunday);
    ``*``, ``a-b``, ``a,b``, ``*/n``, ``a-b/n``; names ``mon``–``sun`` for day-of-week.
    As cron, when both day fields are restricted a day matching either one counts."""

    _RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
    _NAMES = ("minute", "hour", "day of month", "month", "day of week")

    @classmethod
    def parse(cls, value: object) -> CronSpec:
        spec = cls(str(value).strip())
        spec.fields()
        return spec

    def fields(self) -> tuple[set[int], set[int], set[int], set[int], set[int], bool, bool]:
        parts = self.split()
        if len(parts) != 5:
            raise Invalid(f"expected 5 cron fields (minute hour day month weekday), got "
                          f"{len(parts)} in {str(self)!r}")
        sets = [self._field(p, lo, hi, name)
                for p, (lo, hi), name in zip(parts, self._RANGES, self._NAMES, strict=True)]
        dow = {d % 7 for d in sets[4]}
        return sets[0], sets[1], sets[2], sets[3], dow, parts[2] != "*", parts[4] != "*"

    @staticmethod
    def _field(text: str, lo: int, hi: int, name: str) -> set[int]:
        out: set[int] = set()
        for item in text.split(","):
            body, _, step_s = item.partition("/")
            try:
                step = int(step_s) if step_s else 1
                if body == "*":
                    a, b = lo, hi
                elif "-" in body:
                    a_s, b_s = body.split("-", 1)
                    a, b = _num(a_s, name), _num(b_s, name)
                else:
                    a = b = _num(body, name)
                    if step_s:
                        b = hi
            except ValueError:
                raise Invalid(f"cron {name}: cannot read {item!r}") from None
            if step < 1 or not (lo <= a <= hi and lo <= b <= hi and a <= b):
                raise Invalid(f"cron {name}: {item!r} is outside {lo}-{hi}")
            out.update(range(a, b + 1, step))
        return out


def _num(s: str, name: str) -> int:
    if name == "day of week" and s.lower() in _DAYS:
        return (_DAYS[s.lower()] + 1) % 7  # cron: 0 = Sunday
    return int(s)


def _tz_check(v: str) -> str | None:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {v!r} (expected an IANA name like UTC or Europe/Paris)"
    return None


def _matchers_check(v: list[str]) -> str | None:
    try:
        parse_matchers(v)
    except Invalid as exc:
        return str(exc)
    return None


def _iso_check(v: str | None) -> str | None:
    if v is None:
        return None
    try:
        datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
    except ValueError:
        return f"expected a date and time like 2026-12-05T22:00:00Z, got {v!r}"
    return None


@dataclass(frozen=True)
class MaintenanceWindow:
    """One ``maintenance:`` entry; see the module doc."""

    name: str
    match: list[str] = sfield([], check=_matchers_check)
    checks: list[str] = sfield([])
    services: list[str] = sfield([])
    start: str | None = sfield(None, check=_iso_check)
    end: str | None = sfield(None, check=_iso_check)
    weekly: Weekly | None = None
    cron: CronSpec | None = None
    duration: Duration | None = sfield(None, yaml_name="for", check=lambda v: v is not None and positive(v))
    timezone: str = sfield("UTC", check=_tz_check)
    reason: str = ""
    _matchers: tuple[Matcher, ...] = field(default=(), init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_matchers", parse_matchers(self.match))

    def __check__(self) -> None:
        if not (self.match or self.checks or self.services):
            raise Invalid("a maintenance window needs match:, checks: or services: "
                          "(what it covers)", "match")
        recurring = self.weekly is not None or self.cron is not None
        if self.weekly is not None and self.cron is not None:
            raise Invalid("expected weekly: or cron:, not both", "cron")
        if recurring:
            if self.start or self.end:
                raise Invalid("a recurring window takes for:, not start:/end:", "start")
            if self.duration is None:
                raise Invalid("a recurring window needs for: (how long it lasts)", "weekly"
                              if self.weekly else "cron")
            if self.duration > 7 * 86400:
                raise Invalid("a recurring window may last at most 7 days", "duration")
            return
        if not (self.start and self.end):
            raise Invalid("expected start: and end:, or a recurrence (weekly: or cron:) "
                          "with for:", "start" if not self.start else "end")
        if self.duration is not None:
            raise Invalid("for: goes with weekly: or cron:; a one-off window has end:",
                          "duration")
        if self._bound(self.end) <= self._bound(self.start):
            raise Invalid("end must be after start", "end")

    def _tz(self) -> tzinfo:
        return UTC if self.timezone in ("UTC", "Z") else ZoneInfo(self.timezone)

    def _bound(self, text: str | None) -> datetime:
        dt = datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))
        return dt.replace(tzinfo=self._tz()) if dt.tzinfo is None else dt

    def covers(self, labels: Mapping[str, str]) -> bool:
        """Whether an alert with these labels is inside what the window names."""
        if self.checks and labels.get("check", "") not in self.checks:
            return False
        if self.services and labels.get("service", "") not in self.services:
            return False
        return matches_all(self._matchers, labels)

    def occurrence(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The (start, end) of the occurrence holding at ``now`` (aware), or None."""
        now = _aware(now, "now")
        if self.weekly is None and self.cron is None:
            s, e = self._bound(self.start), self._bound(self.end)
            return (s, e) if s <= now < e else None
        span = timedelta(seconds=float(self.duration or 0))
        start = self._last_start(now, span)
        return (start, start + span) if start is not None else None

    def is_active(self, now: datetime) -> bool:
        return self.occurrence(now) is not None

    def _starts_on(self, day: date) -> list[tuple[int, int]]:
        """(hour, minute) start times on ``day`` (local), latest first."""
        if self.weekly is not None:
            return [self.weekly.time()] if day.weekday() in self.weekly.weekdays() else []
        assert self.cron is not None
        mins, hours, doms, months, dows, dom_r, dow_r = self.cron.fields()
        if day.month not in months:
            return []
        dom_ok, dow_ok = day.day in doms, (day.weekday() + 1) % 7 in dows
        if dom_r and dow_r:
            ok = dom_ok or dow_ok
        else:
            ok = dom_ok and dow_ok
        if not ok:
            return []
        return [(h, m) for h in sorted(hours, reverse=True) for m in sorted(mins, reverse=True)]

    def _last_start(self, now: datetime, span: timedelta) -> datetime | None:
        """The latest start in (now - span, now], walking local days backwards."""
        tz = self._tz()
        local_now = now.astimezone(tz)
        earliest = now - span
        day = local_now.date()
        while True:
            for h, m in self._starts_on(day):
                start = datetime(day.year, day.month, day.day, h, m, tzinfo=tz)
                if start <= now:
                    return start if start > earliest else None
            day -= timedelta(days=1)
            if datetime(day.year, day.month, day.day, 23, 59, tzinfo=tz) <= earliest:
                return None


def active_windows(windows: Iterable[MaintenanceWindow], now: datetime
                   ) -> list[MaintenanceWindow]:
    """The windows in force at ``now``."""
    return [w for w in windows if w.is_active(now)]


def window_for(windows: Iterable[MaintenanceWindow], labels: Mapping[str, str],
               now: datetime) -> MaintenanceWindow | None:
    """The first window in force at ``now`` that covers these labels."""
    return next((w for w in windows if w.covers(labels) and w.is_active(now)), None)


def silenced_by(labels: Mapping[str, str], now: datetime, silences: Iterable[Silence] = (),
                windows: Iterable[MaintenanceWindow] = ()) -> Silence | MaintenanceWindow | None:
    """What silences an alert with these labels at ``now`` (a silence first), or None."""
    for s in silences:
        if s.is_silenced(labels, now):
            return s
    return window_for(windows, labels, now)
