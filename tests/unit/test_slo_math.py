"""Prometheus arithmetic, selectors, SLO figures and config: plain numbers, a moved clock."""

from __future__ import annotations

import math
import random

import pytest

from opsconsole.config import ConfigError, parse_config
from opsconsole.metrics.prommath import count_below, counter_delta, histogram_quantile, share_below
from opsconsole.metrics.selector import SelectorError, parse_selector
from opsconsole.slo.engine import SloEngine
from opsconsole.slo.spec import Objective

INF = math.inf
EXAMPLE = """
checks:
  - {name: api, kind: http, url: "http://127.0.0.1:8000/health"}
metrics:
  - {name: app, url: "http://127.0.0.1:8000/metrics", interval: 15s}
slos:
  - name: api-availability          # share of successful runs of the `api` check
    objective: 99.9%
    window: 30d
    indicator: {check: api}
  - name: api-errors                # ratio of good to total events from the app's counters
    objective: 99.5%
    window: 30d
    indicator:
      metrics: app
      good: 'http_requests_total{code!~"5.."}'
      total: http_requests_total
  - name: api-latency               # share of requests under 1 s, from a histogram
    objective: 95%
    window: 7d
    indicator: {metrics: app, histogram: http_request_duration_seconds, below: 1s}
"""


def test_counter_drop_is_a_reset_and_counts_the_new_value():
    assert counter_delta(None, 50) == 0  # first sample: no increase yet
    assert counter_delta(10, 15) == 5
    assert counter_delta(100, 3) == 3  # restarted: counts from zero


def _oracle_quantile(q, buckets):
    """Prometheus' bucketQuantile, written out plainly (the reference)."""
    bs = sorted(buckets)
    total = bs[-1][1]
    rank = q * total
    for i, (le, c) in enumerate(bs):
        if c >= rank:
            if le == INF:
                return bs[-2][0]
            lo, below = (0.0, 0.0) if i == 0 else bs[i - 1]
            return lo + (le - lo) * (rank - below) / (c - below) if c > below else le
    raise AssertionError


def test_histogram_quantile_interpolates_like_prometheus():
    b = [(0.1, 10), (0.5, 60), (1.0, 90), (INF, 100)]
    assert histogram_quantile(0.5, b) == pytest.approx(0.1 + 0.4 * (50 - 10) / 50)
    assert histogram_quantile(0.95, b) == 1.0  # rank in +Inf: the highest finite bound
    assert histogram_quantile(0.0, b) == 0.0
    assert histogram_quantile(0.5, [(0.1, 0), (INF, 0)]) is None  # no observations
    assert histogram_quantile(0.5, [(0.1, 5), (1.0, 9)]) is None  # no +Inf bucket
    assert histogram_quantile(0.5, [(-1.0, 5), (INF, 10)]) == -1.0
    rnd = random.Random(7)
    for _ in range(300):
        les = sorted(rnd.sample([0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], rnd.randint(1, 6)))
        counts = sorted(rnd.randint(0, 50) for _ in les)
        top = counts[-1] + rnd.randint(1, 20)
        b = [*zip(les, counts, strict=True), (INF, top)]
        q = rnd.random()
        assert histogram_quantile(q, b) == pytest.approx(_oracle_quantile(q, b))


def test_share_below_exact_at_bounds_interpolated_between_and_inf_counts_above():
    b = [(0.5, 40), (1.0, 80), (INF, 100)]
    assert share_below(1.0, b) == 0.8
    assert share_below(0.5, b) == 0.4
    assert share_below(0.75, b) == pytest.approx(0.6)  # linear inside (0.5, 1.0]
    assert share_below(0.25, b) == pytest.approx(0.2)  # lowest bucket starts at 0
    assert share_below(30.0, b) == 0.8  # the +Inf bucket's 20 are above any finite x
    assert count_below(1.0, [(1.0, 0), (INF, 0)]) is None


def test_selector_matchers_are_anchored_like_promql():
    s = parse_selector('http_requests_total{code=~"5..", path!="/health", env!~"dev|test"}')
    assert s.matches("http_requests_total", {"code": "503", "path": "/", "env": "prod"})
    assert not s.matches("http_requests_total", {"code": "1503", "path": "/"})
    assert not s.matches("http_requests_total", {"code": "500", "path": "/health"})
    assert not s.matches("http_requests_total", {"code": "500", "env": "dev"})
    assert parse_selector('x{code=""}').matches("x", {})  # a missing label reads ""
    with pytest.raises(SelectorError) as e:
        parse_selector('x{code=~"5..(" }')
    assert e.value.offset == 6


def test_the_issues_example_config_loads_as_written():
    cfg = parse_config(EXAMPLE)
    assert [s.name for s in cfg.slos] == ["api-availability", "api-errors", "api-latency"]
    assert cfg.slos[0].objective.fraction == 0.999
    assert cfg.slos[1].indicator.kind == "ratio"
    assert str(cfg.slos[1].indicator.good.selector) == 'http_requests_total{code!~"5.."}'
    assert cfg.slos[2].indicator.kind == "histogram" and cfg.slos[2].window.label() == "7d"
    assert cfg.metrics[0].interval == 15


@pytest.mark.parametrize(("change", "where", "says"), [
    ("objective: 99.5%", "objective: 100%", "below 100%"),
    ("metrics: app\n      good", "metrics: ap\n      good", "not a metrics: source"),
    ("{check: api}", "{check: api, below: 1s}", "goes with metrics"),
    ("window: 7d", "window: 7 days", "duration"),
])
def test_bad_slo_config_is_a_located_error(change, where, says):
    with pytest.raises(ConfigError) as e:
        parse_config(EXAMPLE.replace(change, where, 1), "c.yaml")
    assert says in str(e.value) and str(e.value).startswith("c.yaml:")


def test_objective_parses_percent_forms():
    assert Objective.parse("99.9%") == Objective.parse(99.9) == 99.9


def test_a_window_without_events_has_no_attainment_not_100_percent():
    cfg = parse_config(EXAMPLE)
    f = SloEngine(cfg.slos, clock=lambda: 1.8e9).figures()[1]
    assert f["attainment"] is None and f["budget_remaining"] is None
    assert all(v is None for v in f["burn_rates"].values())


def test_moved_clock_28_and_30_day_windows():
    cfg = parse_config(EXAMPLE.replace("window: 7d", "window: 28d"))
    t = [1.8e9]
    eng = SloEngine(cfg.slos, clock=lambda: t[0])
    eng.add("api-errors", t[0], 990, 1000)  # 1 % errors: twice the 0.5 % budget
    eng.add("api-latency", t[0], 990, 1000)
    t[0] += 29 * 86400  # 29 days later, nothing since
    errs, lat = eng.figures()[1], eng.figures()[2]
    assert errs["attainment"] == pytest.approx(0.99)  # inside 30 days
    assert errs["budget_remaining"] == pytest.approx(-1.0)  # the budget spent twice over
    assert errs["burn_rates"]["3d"] is None  # nothing in the last 3 days
    assert lat["attainment"] is None  # 28 days: those events fell out
    t[0] += 2 * 86400
    assert eng.figures()[1]["attainment"] is None
