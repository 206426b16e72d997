"""``metrics.SOURCE.QUERY`` signals from a real prometheus_client app in its own process:
``value:`` and ``rate:`` queries (a restart's counter reset handled), an alert over one fires
in the Watcher, the app gone is no data (not zero); unknown names are located config errors."""

from __future__ import annotations

import asyncio

import pytest
from tests.slohelpers import MetricsApp

from opsconsole.config import ConfigError, load_config, parse_config
from opsconsole.incidents.store import open_store
from opsconsole.metrics.queries import MetricsQuery, SelectorField, evaluate
from opsconsole.metrics.scrape import scrape

T0 = 1_795_000_000.0


@pytest.fixture
def app():
    a = MetricsApp().start()
    yield a
    a.stop()


def _cfg(url: str):
    return parse_config(f"""
metrics:
  - name: app
    url: "{url}"
    interval: 15s
    queries:
      - {{name: errors, value: 'http_requests_total{{code=~"5.."}}'}}
      - {{name: errors_per_s, rate: 'http_requests_total{{code=~"5.."}}'}}
      - {{name: codes, value: http_requests_total, aggregate: count}}
alerts:
  - {{name: app-errors, expr: metrics.app.errors_per_s > 0.1, severity: critical}}
""")


def test_the_watcher_reads_value_and_rate_queries_and_fires_then_no_data(tmp_path, app):
    from opsconsole.alerts.watcher import Watcher

    t = [T0]
    store = open_store(tmp_path)
    w = Watcher(_cfg(app.url), store, interval=10, clock=lambda: t[0], say=lambda _s: None)

    async def run() -> None:
        app.work(3)
        app.work(2, code=500)
        await w.tick()
        sig = w.slo.signals()
        assert sig["metrics.app.errors"] == 2.0
        assert sig["metrics.app.codes"] == 2.0
        assert sig["metrics.app.errors_per_s"] is None  # one scrape: no rate yet
        app.work(30, code=500)
        app.work(5, code=503)
        t[0] += 15
        await w.tick()
        sig = w.slo.signals()
        assert sig["metrics.app.errors"] == 37.0
        # the 503 series is new in this scrape: its first value is no increase yet (as
        # Prometheus' rate over one sample), so 30 of the 35 errors count
        assert sig["metrics.app.errors_per_s"] == pytest.approx(30 / 15)
        assert w.evaluator.states["app-errors"].state == "firing"
        app.stop()
        t[0] += 15
        await w.tick()
        sig = w.slo.signals()
        assert sig["metrics.app.errors"] is None and sig["metrics.app.errors_per_s"] is None
        w.scheduler.stop()

    asyncio.run(run())
    store.close()


def test_a_counter_reset_is_an_increase_from_zero_not_a_negative_rate(app):
    q = MetricsQuery(name="e", rate=SelectorField.parse('http_requests_total{code="500"}'))
    app.work(10, code=500)
    before = scrape(app.url, 10.0, clock=T0)
    app.restart()  # the process restarts: its counters start again at 0
    app.work(3, code=500)
    after = scrape(app.url, 10.0, clock=T0 + 10)
    assert evaluate(q, after, before) == pytest.approx(0.3)
    # no series matched is no data, not 0
    none = MetricsQuery(name="n", value=SelectorField.parse('http_requests_total{code="418"}'))
    assert evaluate(none, after, before) is None


@pytest.mark.parametrize("expr,col,words", [
    ("metrics.ap.errors > 1", 11, "no metrics: source named 'ap'"),
    ("metrics.app.eror > 1", 11, "has no query named 'eror'"),
])
def test_unknown_metrics_names_are_located(tmp_path, expr, col, words):
    p = tmp_path / "c.yaml"
    p.write_text("metrics:\n  - name: app\n    url: http://127.0.0.1:9/metrics\n"
                 "    queries: [{name: errors, value: x_total}]\n"
                 f"alerts:\n  - name: a\n    expr: {expr}\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert words in info.value.message, str(info.value)
    assert (info.value.line, info.value.column) == (7, col)


def test_a_query_needs_exactly_one_of_value_or_rate(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("metrics:\n  - name: app\n    url: http://127.0.0.1:9/metrics\n"
                 "    queries: [{name: errors}]\n")
    with pytest.raises(ConfigError, match="exactly one of value"):
        load_config(p)
