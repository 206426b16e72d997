"""Window functions over a signal's history, against values computed by hand."""

from __future__ import annotations

from opsconsole.alerts.rules import Evaluator
from opsconsole.alerts.signals import NO_DATA, SignalSet
from opsconsole.alerts.window import History, apply, percentile, rate
from opsconsole.config import parse_config

T0 = 1_780_000_000.0


def test_functions_by_hand():
    s = [(0.0, 10.0), (10.0, 20.0), (20.0, 60.0), (30.0, 30.0)]
    assert apply("avg", s) == 30.0  # (10+20+60+30)/4
    assert apply("min", s) == 10.0 and apply("max", s) == 60.0
    # p50 of 10 20 30 60: rank 0.5*3 = 1.5 -> 20 + 0.5*(30-20) = 25
    assert apply("p50", s) == 25.0
    # p95: rank 2.85 -> 30 + 0.85*(60-30) = 55.5
    assert abs(apply("p95", s) - 55.5) < 1e-9
    assert apply("avg", []) is NO_DATA and apply("p99", []) is NO_DATA


def test_rate_counts_a_drop_as_a_counter_reset():
    assert rate([(0.0, 100.0), (10.0, 150.0), (20.0, 250.0)]) == 7.5  # 150 / 20 s
    # 100 -> 150 (+50), reset to 20 (+20), -> 70 (+50): 120 over 30 s
    assert rate([(0.0, 100.0), (10.0, 150.0), (20.0, 20.0), (30.0, 70.0)]) == 4.0
    assert rate([(0.0, 1.0)]) is NO_DATA
    assert rate([(5.0, 1.0), (5.0, 2.0)]) is NO_DATA


def test_percentile_agrees_with_a_naive_rank_oracle():
    import random

    rnd = random.Random(14)

    def oracle(xs, p):  # the definition, written out the long way
        xs = sorted(xs)
        pos = (len(xs) - 1) * p / 100
        below = int(pos)
        if below + 1 >= len(xs):
            return xs[-1]
        return xs[below] * (1 - (pos - below)) + xs[below + 1] * (pos - below)

    for _ in range(200):
        xs = [rnd.uniform(-100, 100) for _ in range(rnd.randint(1, 50))]
        p = rnd.randint(1, 99)
        assert abs(percentile(xs, p) - oracle(xs, p)) < 1e-9


def test_history_keeps_only_the_longest_window_and_skips_no_data():
    h = History({"host.cpu": 60.0})
    for i in range(10):
        h.record("host.cpu", T0 + i * 20, float(i))
    h.record("host.cpu", T0 + 200, NO_DATA)
    h.record("host.mem", T0, 5.0)  # no rule looks back at it: not kept
    assert h.samples("host.cpu", T0 + 180, 60) == [(T0 + 120, 6.0), (T0 + 140, 7.0),
                                                  (T0 + 160, 8.0), (T0 + 180, 9.0)]
    assert len(h._rings["host.cpu"]) == 4  # older samples were dropped
    assert h.samples("host.mem", T0, 60) == []


RULES = """
alerts:
  - {name: avg, expr: "avg(host.cpu, 5m) > 50"}
  - {name: max, expr: "max(host.cpu, 2m) >= 90"}
  - {name: p95, expr: "p95(check.api.latency, 10m) > 1s"}
  - {name: rate, expr: "rate(log_errors.app.count, 5m) > 0.5"}
"""


def test_windows_in_rules_read_the_recorded_history():
    ev = Evaluator(parse_config(RULES).alerts)
    cpu = [40, 40, 90, 60, 60, 60]  # one sample a minute
    fired = {}
    for i, v in enumerate(cpu):
        for t in ev.evaluate(SignalSet(values={"host.cpu": float(v), "check.api.latency": 0.1,
                                               "log_errors.app.count": float(10 * i)}),
                             T0 + 60 * i):
            fired.setdefault(t.rule, []).append((i, t.event, t.value))
    # avg over the last 5 min (inclusive): i=1: 40; i=2: (40+40+90)/3 = 56.7 > 50: fires
    assert fired["avg"][0] == (2, "firing", 170 / 3)
    # max over 2 min: 90 seen at i=2, still inside at i=4 (t-120 = i 2), gone at i=5
    assert [e[:2] for e in fired["max"]] == [(2, "firing"), (5, "resolved")]
    # latency 0.1 s: never over 1 s
    assert "p95" not in fired
    # one sample is no rate yet (no data, shown); then 10 lines a minute = 0.167/s < 0.5
    assert [e[:2] for e in fired["rate"]] == [(0, "nodata"), (1, "inactive")]
    st = ev.states["rate"]
    assert st.state == "inactive" and abs(st.value - 10 / 60) < 1e-9


def test_bisected_window_is_exactly_the_naive_scan():
    import random

    rnd = random.Random(7)

    def naive(ring, now, window):  # the first version: a scan from the newest sample
        out = []
        for t, v in reversed(ring):
            if t < now - window:
                break
            if t <= now:
                out.append((t, v))
        return out[::-1]

    for _ in range(300):
        keep = rnd.choice([10.0, 60.0, 600.0])
        h = History({"s": keep})
        t = T0
        for _ in range(rnd.randint(0, 400)):
            t += rnd.choice([0.0, 0.5, 1.0, 2.0, 7.0])  # repeated times included
            h.record("s", t, rnd.uniform(0, 100))
        ring = list(h._rings.get("s", []))
        for _ in range(10):
            now = t - rnd.choice([0.0, 1.0, 3.5, 30.0])
            window = rnd.choice([0.5, 2.0, 5.0, 60.0, 1000.0])
            assert h.samples("s", now, window) == naive(ring, now, window)
