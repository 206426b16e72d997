"""Silences and maintenance windows: matcher semantics, expiry, recurrences (a moving clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from opsconsole.alerts.silences import (
    MaintenanceWindow,
    Silence,
    active_windows,
    parse_matcher,
    parse_matchers,
    silenced_by,
    window_for,
)
from opsconsole.config import parse_config
from opsconsole.schema import ConfigError, Invalid, load_text

API = {"alertname": "api-down", "check": "api", "service": "api", "severity": "critical"}
WEB = {"alertname": "high-cpu", "service": "web", "severity": "warning"}
INFO = {"alertname": "disk-note", "severity": "info"}


@pytest.mark.parametrize("text, labels, expected", [
    ("check=api", API, True),
    ("check=api", WEB, False),
    ("check==api", API, True),
    ("alertname=high-cpu", WEB, True),
    ("severity!=info", API, True),
    ("severity!=info", INFO, False),
    ("severity!=info", {"alertname": "x"}, True),  # missing label reads as ""
    ('service=~"api|web"', API, True),
    ('service=~"api|web"', WEB, True),
    ('service=~"api|web"', INFO, False),
    ("service=~ap", API, False),  # anchored: the whole value must match
    ("service=~ap.*", API, True),
    ('service!~"api|web"', INFO, True),
    ('service!~"api|web"', WEB, False),
    ('check=""', WEB, True),  # = "" matches an alert without the label
    ('check=""', API, False),
    ("  check = api ", API, True),
    ('summary="a \\"quoted\\" word"', {"summary": 'a "quoted" word'}, True),
])
def test_matcher_table(text, labels, expected):
    assert parse_matcher(text).matches(labels) is expected


@pytest.mark.parametrize("text, message", [
    ("check", "expected a matcher like check=api"),
    ("=api", "expected a matcher like check=api"),
    ("9check=api", "expected a matcher like check=api"),
    ("check=~(", "not a regular expression"),
    ('check="api', "unterminated quote"),
])
def test_matcher_errors_say_what_was_expected(text, message):
    with pytest.raises(Invalid, match=message.replace("(", r"\(")):
        parse_matcher(text)


def test_matchers_round_trip_through_their_text():
    for text in ("check=api", 'service=~"api|web"', "severity!=info", 'x!~"a b"', 'q="a\\"b"'):
        m = parse_matcher(text)
        assert parse_matcher(str(m)) == m


def test_several_matchers_in_one_match_are_split_outside_quotes():
    ms = parse_matchers(['check=api,severity!=info', 'service=~"a,b"'])
    assert [str(m) for m in ms] == ["check=api", "severity!=info", 'service=~"a,b"']


T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_a_silence_holds_for_its_duration_then_expires_on_a_moving_clock():
    s = Silence.create(["check=api"], timedelta(hours=2), now=T0, created_by="alice",
                       reason="deploy")
    assert s.is_silenced(API, T0)
    assert s.is_silenced(API, T0 + timedelta(hours=1, minutes=59))
    assert not s.is_silenced(WEB, T0 + timedelta(minutes=1))
    assert not s.is_silenced(API, T0 + timedelta(hours=2))
    assert s.state(T0 + timedelta(hours=2)) == "expired"
    early = s.expire(T0 + timedelta(minutes=10))
    assert early.is_silenced(API, T0 + timedelta(minutes=9))
    assert not early.is_silenced(API, T0 + timedelta(minutes=10))
    assert early.ends_at == T0 + timedelta(minutes=10)
    assert "check=api until 2026-12-03 14:00Z by alice: deploy" == s.describe()


def test_a_silence_can_start_later():
    s = Silence.create(["check=api"], 3600, now=T0, created_by="bob", reason="window",
                       starts_at=T0 + timedelta(hours=1))
    assert s.state(T0) == "pending" and not s.is_silenced(API, T0)
    assert s.is_silenced(API, T0 + timedelta(hours=1, minutes=1))


def test_silence_round_trips_through_to_dict():
    s = Silence.create(['service=~"api|web"', "severity!=info"], 600, now=T0,
                       created_by="alice", reason="deploy")
    back = Silence.from_dict(s.to_dict())
    assert back == s
    assert back.is_silenced(WEB, T0 + timedelta(minutes=1))


@pytest.mark.parametrize("kw, message", [
    ({"matchers": []}, "at least one matcher"),
    ({"duration": 0}, "duration above 0"),
    ({"duration": timedelta(days=400)}, "at most 366 days"),
    ({"reason": "  "}, "needs a reason"),
    ({"matchers": ["check"]}, "expected a matcher"),
])
def test_silence_refuses_what_would_silence_badly(kw, message):
    args = {"matchers": ["check=api"], "duration": 3600, "reason": "deploy"} | kw
    with pytest.raises(Invalid, match=message):
        Silence.create(args["matchers"], args["duration"], now=T0, created_by="a",
                       reason=args["reason"])


def windows(text: str) -> list[MaintenanceWindow]:
    return load_text(text, list[MaintenanceWindow], "<maint>")


def test_weekly_window_across_the_week_boundary_on_a_moving_clock():
    (w,) = windows("- {name: patching, checks: [api], weekly: {days: [sun], at: 22:00}, for: 4h}")
    sunday = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)
    assert sunday.weekday() == 6
    seen = []
    now = sunday
    while now < sunday + timedelta(hours=6):
        seen.append((now.strftime("%a %H:%M"), w.is_active(now)))
        now += timedelta(minutes=30)
    active = [t for t, on in seen if on]
    assert active == ["Sun 22:00", "Sun 22:30", "Sun 23:00", "Sun 23:30", "Mon 00:00",
                      "Mon 00:30", "Mon 01:00", "Mon 01:30"]
    start, end = w.occurrence(datetime(2026, 12, 7, 1, 0, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 12, 6, 22, 0, tzinfo=UTC),
                            datetime(2026, 12, 7, 2, 0, tzinfo=UTC))
    # next week again, not the weekdays between
    assert not w.is_active(datetime(2026, 12, 9, 23, 0, tzinfo=UTC))
    assert w.is_active(datetime(2026, 12, 13, 23, 0, tzinfo=UTC))


def test_a_window_in_a_time_zone_follows_its_local_clock():
    (w,) = windows("- {name: n, services: [api], weekly: {days: [mon], at: '01:30'}, "
                   "for: 1h, timezone: Europe/Paris}")
    paris = ZoneInfo("Europe/Paris")
    assert w.is_active(datetime(2026, 12, 7, 1, 45, tzinfo=paris))
    assert w.is_active(datetime(2026, 12, 7, 0, 45, tzinfo=UTC))  # 01:45 in Paris
    assert not w.is_active(datetime(2026, 12, 7, 1, 45, tzinfo=UTC))  # 02:45 in Paris


def _naive_cron_active(w: MaintenanceWindow, now: datetime) -> bool:
    """The oracle: every minute of the last ``for`` checked against the five cron fields."""
    mins, hours, doms, months, dows, dom_r, dow_r = w.cron.fields()
    tz = w._tz()
    t = now.astimezone(tz).replace(second=0, microsecond=0)
    span = timedelta(seconds=float(w.duration))
    while t > now - span:
        local = t.astimezone(tz)
        dom_ok, dow_ok = local.day in doms, (local.weekday() + 1) % 7 in dows
        day_ok = (dom_ok or dow_ok) if (dom_r and dow_r) else (dom_ok and dow_ok)
        if local.minute in mins and local.hour in hours and local.month in months and day_ok:
            return True
        t -= timedelta(minutes=1)
    return False


@pytest.mark.parametrize("cron, dur", [
    ("0 22 * * sun", "4h"), ("30 1 * * mon-fri", "1h"), ("*/15 * * * *", "5m"),
    ("0 0 1 * *", "36h"), ("0 3 1,15 * 6", "2h"), ("45 23 * 12 0,7", "30m"),
    ("0 8-18/2 * * 1-5", "20m"),
])
def test_cron_windows_agree_with_a_minute_by_minute_oracle(cron, dur):
    (w,) = windows(f"- {{name: c, checks: [api], cron: '{cron}', for: {dur}}}")
    now = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)  # a Saturday, across a month boundary
    step = timedelta(minutes=7)
    for _ in range(int(timedelta(days=9) / step)):
        assert w.is_active(now) == _naive_cron_active(w, now), (cron, now)
        now += step


def test_one_off_window_and_what_it_covers():
    ws = windows("""
- {name: db-upgrade, services: [db], start: 2026-12-05T22:00:00Z, end: "2026-12-06T02:00:00Z"}
- name: api-deploy
  match: ['alertname=~"api-.*"', "severity!=info"]
  start: "2026-12-03T12:00:00"
  end: "2026-12-03T13:00:00"
  timezone: UTC
""")
    db = {"alertname": "pg-pool", "service": "db"}
    assert window_for(ws, db, datetime(2026, 12, 5, 23, 0, tzinfo=UTC)).name == "db-upgrade"
    assert window_for(ws, db, datetime(2026, 12, 6, 2, 0, tzinfo=UTC)) is None
    assert window_for(ws, API, T0 + timedelta(minutes=5)).name == "api-deploy"
    assert window_for(ws, WEB, T0 + timedelta(minutes=5)) is None
    assert [w.name for w in active_windows(ws, T0)] == ["api-deploy"]


def test_silenced_by_names_the_silence_first_then_a_window():
    (w,) = windows("- {name: nightly, checks: [api], weekly: {days: [thu], at: '11:00'}, for: 2h}")
    s = Silence.create(["check=api"], 600, now=T0, created_by="a", reason="deploy")
    assert silenced_by(API, T0, [s], [w]) is s
    assert silenced_by(API, T0 + timedelta(minutes=30), [s], [w]) is w
    assert silenced_by(API, T0 + timedelta(hours=2), [s], [w]) is None


@pytest.mark.parametrize("entry, at, message", [
    ("{name: a, weekly: {days: [sun], at: '22:00'}, for: 1h}", "{",
     "needs match:, checks: or services:"),
    ("{name: a, checks: [x], weekly: {days: [sunday, funday], at: '22:00'}, for: 1h}",
     "[sunday", "unknown day 'funday'"),
    ("{name: a, checks: [x], weekly: {days: [sun], at: '25:00'}, for: 1h}", "'25:00'",
     "time of day"),
    ("{name: a, checks: [x], weekly: {days: [sun], at: '22:00'}}", "{days", "needs for:"),
    ("{name: a, checks: [x], cron: '61 * * * *', for: 1h}", "'61", "outside 0-59"),
    ("{name: a, checks: [x], cron: '0 22 * *', for: 1h}", "'0 22", "expected 5 cron fields"),
    ("{name: a, checks: [x], start: 2026-12-05T22:00:00Z}", "{", "expected start: and end:"),
    ("{name: a, checks: [x], start: '2026-12-05T22:00:00Z', end: '2026-12-05T21:00:00Z'}",
     "'2026-12-05T21", "end must be after start"),
    ("{name: a, checks: [x], start: 'tomorrow', end: '2026-12-05T21:00:00Z'}", "'tomorrow'",
     "expected a date and time"),
    ("{name: a, match: ['check=~('], for: 1h}", "['check", "not a regular expression"),
    ("{name: a, checks: [x], cron: '0 1 * * *', for: 1h, timezone: Mars/Olympus}", "Mars",
     "unknown time zone"),
])
def test_maintenance_config_errors_are_located(entry, at, message):
    with pytest.raises(ConfigError) as err:
        parse_config(f"maintenance:\n  - {entry}\n")
    assert f"<config>:2:{5 + entry.index(at)}:" in str(err.value)
    assert message in str(err.value)
