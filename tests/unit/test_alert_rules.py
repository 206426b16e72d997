"""The alert state machine on a clock the test moves: the issue's seed rules fire, stay
pending, resolve and do not flap; hysteresis, escalation, acknowledgement, no data, restore."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alertseeds import EXAMPLE
from hostdata import fixed_snapshot
from opsconsole.alerts.rules import Evaluator
from opsconsole.alerts.signals import PgReadings, PgStats, SignalSet
from opsconsole.checks.engine import CheckResult
from opsconsole.checks.tracker import CheckTracker
from opsconsole.config import parse_config

T0 = 1_780_000_000.0


class Clock:
    """The one fake: a clock the test moves."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def rules(text: str = EXAMPLE):
    return parse_config(text).alerts


class Scene:
    """Real measurement types fed to a real evaluator: a tracker for the checks, host
    snapshots, PostgreSQL figures."""

    def __init__(self, text: str = EXAMPLE) -> None:
        self.clock = Clock()
        self.ev = Evaluator(rules(text), self.clock)
        self.tracker = CheckTracker()
        self.cpu = 10.0
        self.connections = 10
        self.log: list = []
        self.check("OK")

    def check(self, state: str) -> None:
        at = datetime.fromtimestamp(self.clock.t, UTC)
        self.tracker.update(CheckResult("api", state, f"api is {state}", 0.05, checked_at=at,
                                        kind="http"))

    def tick(self, advance: float = 0.0):
        self.clock.t += advance
        sigs = SignalSet(host=fixed_snapshot(cpu=self.cpu),
                         checks={s.name: s for s in self.tracker.statuses()},
                         pg={"main": PgReadings(stats=PgStats(connections=self.connections,
                                                              max_connections=100))})
        out = self.ev.evaluate(sigs)
        self.log += out
        return out

    def state(self, name: str) -> str:
        return self.ev.states[name].state

    def events(self, name: str) -> list[str]:
        return [t.event for t in self.log if t.rule == name]


# ------------------------------------------------------------------ api-down (for: 30s)

def test_api_down_pending_then_firing_after_30s_then_resolved():
    s = Scene()
    s.check("OK")
    assert s.tick() == []
    s.check("CRITICAL")
    (t,) = s.tick(10)
    assert (t.rule, t.from_state, t.to_state, t.value) == ("api-down", "inactive", "pending",
                                                           "CRITICAL")
    assert t.notify == ()  # pending is shown, not sent
    s.tick(29)
    assert s.state("api-down") == "pending"
    (t,) = s.tick(1)  # 30 s after it started holding
    assert (t.event, t.severity, t.notify, t.declare, t.runbook) == (
        "firing", "critical", ("oncall", "am"), "SEV2", "service-down")
    assert t.since == t.at == T0 + 40  # a firing alert is firing since then
    assert t.labels == {"alertname": "api-down", "severity": "critical", "check": "api"}
    s.check("OK")
    (t,) = s.tick(5)
    assert (t.event, t.notify, t.value) == ("resolved", ("oncall", "am"), "OK")
    assert s.events("api-down") == ["pending", "firing", "resolved"]


def test_api_down_that_recovers_within_30s_never_fires_and_says_so():
    s = Scene()
    s.check("CRITICAL")
    s.tick()
    s.check("OK")
    (t,) = s.tick(20)
    assert (t.from_state, t.to_state) == ("pending", "inactive")
    assert s.state("api-down") == "inactive"


def test_api_flapping_every_10s_never_fires():
    s = Scene()
    for i in range(60):  # ten minutes of CRITICAL/OK every 10 s
        s.check("CRITICAL" if i % 2 == 0 else "OK")
        s.tick(10)
    assert "firing" not in s.events("api-down")
    assert not [t for t in s.log if t.rule == "api-down" and t.notify]


def test_api_down_counts_time_not_evaluations():
    s = Scene()
    s.check("CRITICAL")
    s.tick()
    for _ in range(100):  # many evaluations in 29.7 s: still pending
        s.tick(0.297)
    assert s.state("api-down") == "pending"
    s.tick(0.4)
    assert s.state("api-down") == "firing"


# ------------------------------------------------------------------ high-cpu (for: 5m, clear < 70)

def test_high_cpu_fires_after_5m_and_escalates_on_schedule():
    s = Scene()
    s.cpu = 85.0
    (t,) = s.tick()
    assert t.to_state == "pending" and t.summary == "high-cpu: 85 (threshold 80)"
    s.tick(299)
    assert s.state("high-cpu") == "pending"
    out = s.tick(1)
    assert [(t.event, t.escalation, t.notify) for t in out] == [
        ("firing", 0, ()), ("escalated", 1, ("oncall",))]  # level 1 at 0 min
    assert s.tick(899) == []
    (t,) = s.tick(1)  # level 2 at firing + 15 min
    assert (t.event, t.escalation, t.notify) == ("escalated", 2, ("am",))
    assert s.tick(3600) == []  # no level 3: nothing more
    s.cpu = 50.0
    (t,) = s.tick(10)
    assert t.event == "resolved" and set(t.notify) == {"oncall", "am"}  # who was paged hears


def test_high_cpu_oscillating_around_80_does_not_flap():
    s = Scene()
    s.cpu = 85.0
    s.tick()
    s.tick(300)
    assert s.state("high-cpu") == "firing"
    before = len(s.log)
    for i in range(120):  # an hour of 78 / 84 / 75 / 81 every 30 s: above the clear level
        s.cpu = (78.0, 84.0, 75.0, 81.0)[i % 4]
        s.tick(30)
    assert s.state("high-cpu") == "firing"
    assert [t.event for t in s.log[before:] if t.rule == "high-cpu"] == ["escalated"]
    s.cpu = 69.0
    assert [t.event for t in s.tick(30) if t.rule == "high-cpu"] == ["resolved"]


def test_high_cpu_oscillating_before_firing_stays_pending_or_inactive():
    s = Scene()
    for i in range(40):  # 79 / 81 every 20 s: never 5 minutes above 80
        s.cpu = 81.0 if i % 2 else 79.0
        s.tick(20)
    assert "firing" not in s.events("high-cpu")
    assert set(s.events("high-cpu")) == {"pending", "inactive"}


def test_high_cpu_acknowledged_stops_escalating():
    s = Scene()
    s.cpu = 90.0
    s.tick()
    s.tick(300)
    t = s.ev.ack("high-cpu", "alice", T0 + 400)
    assert (t.event, t.who, t.at) == ("acknowledged", "alice", T0 + 400)
    assert s.ev.ack("high-cpu", "bob") is None  # already acknowledged
    assert s.tick(3600) == []
    assert s.ev.states["high-cpu"].escalation == 1
    assert s.ev.ack("api-down", "alice") is None  # not firing


# ------------------------------------------------------------------ pg-pool (for: 2m, no clear)

def test_pg_pool_fires_resolves_and_reads_no_data():
    s = Scene()
    s.connections = 85
    (t,) = s.tick()
    assert (t.rule, t.to_state, t.value) == ("pg-pool", "pending", 85.0)
    s.tick(119)
    assert s.state("pg-pool") == "pending"
    (t,) = s.tick(1)
    assert (t.event, t.runbook, t.labels["database"]) == ("firing", "pg-connection-saturation",
                                                          "main")
    s.connections = 80  # not > 80: resolves at once (no clear:, no keep_firing_for:)
    (t,) = s.tick(2)
    assert t.event == "resolved"


def test_pg_pool_oscillating_around_80_never_fires():
    s = Scene()
    for i in range(100):
        s.connections = 81 if i % 2 else 79
        s.tick(30)
    assert "firing" not in s.events("pg-pool")


# ------------------------------------------------------------------ hysteresis and no data

KEEP = """
alerts:
  - name: disk
    expr: host.fs["/"].used_pct > 90
    keep_firing_for: 5m
    summary: "{mount} at {value}% (over {threshold}%) since {since}"
"""


def test_keep_firing_for_holds_a_resolution_back(tmp_path):
    s = Scene(KEEP)
    snap = fixed_snapshot()  # "/" is 93 % full
    ev = s.ev
    (t,) = ev.evaluate(SignalSet(host=snap), T0)
    assert t.event == "firing" and t.summary == (
        "/ at 93% (over 90%) since " + datetime.fromtimestamp(T0, UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"))
    import dataclasses

    low = dataclasses.replace(snap, filesystems=tuple(
        dataclasses.replace(f, percent=50.0) for f in snap.filesystems))
    assert ev.evaluate(SignalSet(host=low), T0 + 60) == []
    assert ev.evaluate(SignalSet(host=snap), T0 + 120) == []  # back above: clearing restarts
    assert ev.evaluate(SignalSet(host=low), T0 + 180) == []
    assert ev.evaluate(SignalSet(host=low), T0 + 479) == []
    (t,) = ev.evaluate(SignalSet(host=low), T0 + 480)
    assert t.event == "resolved"



def test_an_acknowledgement_in_another_process_still_names_what_fired():
    """The ack is applied without a signal reading (often by the evaluator of another
    console, from the stored state): its summary keeps the mount, not "?"."""
    s = Scene(KEEP)
    (t,) = s.ev.evaluate(SignalSet(host=fixed_snapshot()), T0)
    assert t.summary.startswith("/ at 93%")
    other = Evaluator(rules(KEEP), Clock())
    other.restore(json.loads(json.dumps(s.ev.to_dict())))
    ack = other.ack(t.key, "alice", T0 + 60)
    assert ack is not None and ack.summary.startswith("/ at 93%"), ack.summary


NODATA = """
alerts:
  - {name: shown, expr: host.cpu > 80}
  - {name: ok, expr: host.cpu > 80, no_data: ok}
  - {name: firing, expr: host.cpu > 80, no_data: firing}
  - {name: keep, expr: host.cpu > 80, no_data: keep}
"""


def test_no_data_is_its_own_state_unless_the_rule_says_otherwise():
    ev = Evaluator(rules(NODATA), Clock())
    out = ev.evaluate(SignalSet(values={"host.cpu": 90.0}), T0)
    assert {t.rule for t in out if t.event == "firing"} == {"shown", "ok", "firing", "keep"}
    out = ev.evaluate(SignalSet(), T0 + 10)  # nothing measured: no data
    got = {t.rule: (t.from_state, t.to_state, t.value, t.notify) for t in out}
    assert got == {"shown": ("firing", "nodata", None, ()), "ok": ("firing", "resolved", None, ())}
    assert {k: s.state for k, s in ev.states.items()} == {
        "shown": "nodata", "ok": "resolved", "firing": "firing", "keep": "firing"}
    out = ev.evaluate(SignalSet(values={"host.cpu": 10.0}), T0 + 20)
    assert {t.rule: t.to_state for t in out} == {"shown": "inactive", "firing": "resolved",
                                                 "keep": "resolved"}


def test_a_signal_that_is_never_read_is_no_data_not_zero():
    ev = Evaluator(rules("alerts:\n  - {name: low, expr: host.cpu < 5}\n"), Clock())
    (t,) = ev.evaluate(SignalSet(), T0)  # no host snapshot: not "cpu 0 %"
    assert t.to_state == "nodata"
    assert ev.active()[0].state == "nodata"


# ------------------------------------------------------------------ restart

def test_restore_from_dict_keeps_pending_since():
    s = Scene()
    s.cpu = 85.0
    s.tick()
    s.tick(200)  # pending for 200 s of the 300
    saved = json.loads(json.dumps(s.ev.to_dict()))  # through JSON, as the store will keep it
    assert saved["alerts"]["high-cpu"]["pending_since"] == T0
    clock = Clock(T0 + 250)
    ev = Evaluator.from_dict(rules(), saved, clock)
    assert ev.states["high-cpu"].state == "pending"
    sigs = SignalSet(host=fixed_snapshot(cpu=85.0))
    assert [t.event for t in ev.evaluate(sigs) if t.rule == "high-cpu"] == []
    clock.t = T0 + 300  # 5 minutes after it started holding, across the restart
    out = [t for t in ev.evaluate(sigs) if t.rule == "high-cpu"]
    assert [t.event for t in out] == ["firing", "escalated"]  # fired on time: pending_since kept


def test_restore_ignores_rules_that_are_gone_and_other_versions():
    s = Scene()
    s.cpu = 85.0
    s.tick()
    saved = s.ev.to_dict()
    ev = Evaluator.from_dict(rules("alerts:\n  - {name: other, expr: host.cpu > 1}\n"), saved)
    assert set(ev.states) == {"other"} and ev.states["other"].state == "inactive"
    ev = Evaluator.from_dict(rules(), {**saved, "version": 99})
    assert ev.states["high-cpu"].state == "inactive"


def test_transitions_are_plain_data_with_one_dedup_key_each():
    s = Scene()
    s.cpu = 85.0
    s.tick()
    s.tick(300)
    keys = [t.dedup_key for t in s.log]
    assert len(keys) == len(set(keys))
    d = json.loads(json.dumps(s.log[1].to_dict()))
    assert d["rule"] == "high-cpu" and d["to_state"] == "firing" and d["value"] == 85.0


def test_disabled_rules_are_not_evaluated():
    ev = Evaluator(rules("alerts:\n  - {name: switched-off, expr: host.cpu > 1, enabled: false}\n"))
    assert ev.evaluate(SignalSet(values={"host.cpu": 99.0}), T0) == [] and ev.states == {}


# ------------------------------------------------------------------ shipped defaults

def test_the_resources_thresholds_ship_as_rules_users_can_override_or_switch_off():
    from opsconsole.alerts.defaults import default_rules, effective_rules

    cfg = parse_config("""
thresholds: {cpu: {careful: 60, warning: 80, critical: 95}}
alerts:
  - {name: host-mem-warning, expr: host.mem > 99, enabled: false}
  - {name: host-cpu-critical, expr: host.cpu > 97, for: 1m}
  - {name: mine, expr: host.swap > 1}
""")
    defaults = default_rules(cfg.thresholds, mounts=["/", "/var/lib/postgresql"])
    names = [r.name for r in defaults]
    assert names[:4] == ["host-cpu-warning", "host-cpu-critical", "host-mem-warning",
                         "host-mem-critical"]
    assert "host-fs-root-critical" in names and "host-fs-var-lib-postgresql-warning" in names
    cpu_w = defaults[0]
    assert (str(cpu_w.expr), str(cpu_w.clear), float(cpu_w.for_)) == (
        "host.cpu > 80", "host.cpu < 60", 300.0)
    rules = effective_rules(defaults, cfg.alerts)
    by = {r.name: r for r in rules}
    assert str(by["host-cpu-critical"].expr) == "host.cpu > 97"  # overridden
    assert not by["host-mem-warning"].enabled  # switched off
    assert rules[-1].name == "mine"
    ev = Evaluator(rules)
    snap = fixed_snapshot(cpu=85.0)  # "/" 93 % full, memory 76.2 %
    ev.evaluate(SignalSet(host=snap), T0)
    out = ev.evaluate(SignalSet(host=snap), T0 + 300)
    fired = sorted(t.rule for t in out if t.event == "firing")
    # cpu 85 > 80; "/" 93 > 70 and > 90; memory 76.2 > 70 but switched off; load5 2.1 / 4 cores
    assert fired == ["host-cpu-warning", "host-fs-root-critical", "host-fs-root-warning"]
    assert "host-mem-warning" not in ev.states  # disabled: not evaluated
    fs = next(t for t in out if t.rule == "host-fs-root-critical")
    assert fs.summary == "/ use at 93% (over 90% for 5 min)" and fs.labels["mount"] == "/"


def test_rows_are_what_the_alerts_list_shows_worst_first():
    s = Scene()
    s.cpu = 85.0
    s.check("CRITICAL")
    s.tick()
    s.tick(30)  # api-down fires (30 s); high-cpu still pending (5 m)
    rows = s.ev.rows(T0 + 40)
    assert [(r["name"], r["state"], r["severity"]) for r in rows] == [
        ("api-down", "firing", "critical"), ("high-cpu", "pending", "warning")]
    api = rows[0]
    assert api["value"] == "CRITICAL" and api["threshold"] == "CRITICAL"
    assert api["since"] == datetime.fromtimestamp(T0 + 30, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api["for"] == 10.0 and api["runbook"] == "service-down"
    assert rows[1]["value"] == 85.0 and rows[1]["threshold"] == 80.0
    json.dumps(rows)  # plain data
    assert len(s.ev.rows(include_inactive=True)) == 3


def test_an_overlapping_clear_level_does_not_resolve_while_the_condition_holds():
    ev = Evaluator(rules("alerts:\n  - {name: o, expr: host.cpu > 80, clear: host.cpu < 90}\n"))
    events = []
    for i, cpu in enumerate([85.0, 85.0, 85.0, 75.0]):
        events += [t.event for t in ev.evaluate(SignalSet(values={"host.cpu": cpu}), T0 + i)]
    assert events == ["firing", "resolved"]  # resolved only at 75: below 90 and not over 80
