"""SLOs from real parts: a real prometheus_client app in its own process, real scrapes,
a real SQLite store (schema v3 history), the alerts Evaluator, the CLI. Clock moved, not slept."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from tests.slohelpers import MetricsApp

from opsconsole.alerts.rules import Evaluator
from opsconsole.alerts.signals import NO_DATA, SignalSet
from opsconsole.checks.engine import CheckResult
from opsconsole.config import parse_config
from opsconsole.incidents.store import open_store
from opsconsole.slo.engine import SloEngine, slo_rules
from opsconsole.slo.history import HistoryDB
from opsconsole.slo.runner import SloRunner

T0 = 1_795_000_000.0  # 2026-11-18


def _cfg(url: str):
    return parse_config(f"""
checks:
  - {{name: api, kind: http, url: "http://127.0.0.1:9/health"}}
metrics:
  - {{name: app, url: "{url}", interval: 15s}}
slos:
  - {{name: api-availability, objective: 99.9%, window: 30d, indicator: {{check: api}}}}
  - {{name: api-fast, objective: 90%, window: 30d,
      indicator: {{check: api, latency_below: 500ms}}}}
  - name: api-errors
    objective: 99.5%
    window: 30d
    indicator:
      metrics: app
      good: 'http_requests_total{{code!~"5.."}}'
      total: http_requests_total
  - name: api-latency
    objective: 95%
    window: 7d
    indicator: {{metrics: app, histogram: http_request_duration_seconds, below: 1s}}
""")


@pytest.fixture
def app():
    a = MetricsApp().start()
    yield a
    a.stop()


def _runner(cfg, t, db=None):
    return SloRunner(list(cfg.metrics), list(cfg.slos), db, clock=lambda: t[0])


def _fig(r, name, t):
    return next(f for f in r.engine.figures(t[0]) if f["name"] == name)


def _scrape(r, t):
    from opsconsole.metrics.scrape import scrape

    src = r.sources["app"]
    r.on_scrape("app", scrape(src.url, 10.0, int(src.max_bytes), clock=t[0]))


def test_error_ratio_and_latency_share_from_real_counters_and_buckets(app):
    cfg, t = _cfg(app.url), [T0]
    r = _runner(cfg, t)
    app.work(1)  # the series exist before the first scrape (their first value is no increase)
    app.work(1, code=500)
    _scrape(r, t)
    app.work(90, observe=0.2)
    app.work(5, observe=1.0)  # exactly on the 1.0 bucket bound: good
    app.work(3, observe=2.0)  # above: bad
    app.work(2, code=500, observe=0.05)  # 0.05: the lowest bucket edge
    t[0] += 60
    _scrape(r, t)
    errs, lat = _fig(r, "api-errors", t), _fig(r, "api-latency", t)
    assert errs["events"] == {"good": 98.0, "total": 100.0}
    assert errs["attainment"] == pytest.approx(0.98)
    assert errs["burn_rates"]["5m"] == pytest.approx(0.02 / 0.005)
    assert lat["events"] == {"good": 97.0, "total": 100.0}


def test_counter_reset_when_the_app_restarts_counts_the_new_values(app):
    cfg, t = _cfg(app.url), [T0]
    r = _runner(cfg, t)
    app.work(1)
    _scrape(r, t)
    app.work(10)
    t[0] += 30
    _scrape(r, t)
    app.restart()  # a real new process: its counters start again at 0
    app.work(3)
    t[0] += 30
    _scrape(r, t)
    assert _fig(r, "api-errors", t)["events"]["total"] == 13.0  # not 13 - 11 < 0, not lost


def test_a_target_that_goes_away_is_no_data_not_zero(app):
    cfg, t = _cfg(app.url), [T0]
    r = _runner(cfg, t)
    app.work(1)
    _scrape(r, t)
    assert r.signals()["metrics.app.up"] == 1.0
    app.stop()
    t[0] += 3600
    _scrape(r, t)
    sig = r.signals()
    assert sig["metrics.app.up"] is None
    assert sig["slo.api-errors.burn_5m"] is None and sig["slo.api-errors.attainment"] is None
    assert SignalSet(values=sig).read(
        __import__("opsconsole.alerts.expr", fromlist=["parse"]).parse(
            "slo.api-errors.burn_1h > 1").signals()[0]) is NO_DATA


def test_history_survives_a_restart_and_the_burn_rate_alert_fires(tmp_path, app):
    cfg, t = _cfg(app.url), [T0]
    store = open_store(tmp_path)
    assert store.conn_pragmas()["user_version"] == 3
    db = HistoryDB(store.path)
    r = _runner(cfg, t, db)
    for i in range(120):  # two hours of check runs, one a minute; 10 % fail, some slow
        state = "CRITICAL" if i % 10 == 0 else "OK"
        at = datetime.fromtimestamp(t[0], UTC)
        r.recorder.add_result(CheckResult("api", state, "", 0.7 if i % 4 == 0 else 0.1,
                                          checked_at=at, kind="http"))
        t[0] += 60
        r.flush()
    assert db.read("check:api", int(T0 // 60))[int(T0 // 60)][:2] == [1, 1]
    # a new process: figures come back from the store
    again = SloEngine(cfg.slos, clock=lambda: t[0])
    again.load(HistoryDB(store.path), t[0])
    f = next(x for x in again.figures() if x["name"] == "api-availability")
    assert f["events"] == {"good": 108.0, "total": 120.0}
    fast = next(x for x in again.figures() if x["name"] == "api-fast")
    # 30 runs at 0.7 s, 6 of them failed too: 24 successful runs are not fast enough
    assert fast["events"]["good"] == 108 - 24
    ev = Evaluator(slo_rules(cfg.slos), clock=lambda: t[0])
    out = ev.evaluate(SignalSet(values=again.signals(t[0])))
    fired = {x.rule for x in out if x.event == "firing"}
    # 10 % errors = 100x the 0.1 % budget over 1 h, 6 h, 30 m; but the last 5 minutes were
    # clean: the fast page (1 h AND 5 m) holds off, the slow one (6 h AND 30 m) pages
    assert "slo-api-availability-page-slow" in fired
    assert "slo-api-availability-page-fast" not in fired
    t[0] -= 6 * 60  # back at the minute after a failure: 1 h and 5 m both burn
    out = ev.evaluate(SignalSet(values=again.signals(t[0])), t[0])
    assert "slo-api-availability-page-fast" in {x.rule for x in out if x.event == "firing"}
    assert "slo-api-errors-page-fast" not in fired  # no traffic there: not a page
    assert db.prune(t[0] + 40 * 86400) > 0 and db.read("check:api", 0) == {}
    store.close()


def test_slo_json_and_report_from_the_cli(tmp_path, run_cli, app):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("""
checks:
  - {name: api, kind: http, url: "http://127.0.0.1:9/health"}
slos:
  - {name: api-availability, objective: 99.9%, window: 30d, indicator: {check: api}}
""")
    data = tmp_path / "cli-data"
    store = open_store(data)
    cfg = parse_config(cfg_file.read_text())
    now = datetime.now(UTC).timestamp()
    t = [now - 3600]
    r = _runner(cfg, t, HistoryDB(store.path))
    for i in range(30):
        r.recorder.add_result(CheckResult("api", "OK" if i else "CRITICAL", "", 0.1,
                                          checked_at=datetime.fromtimestamp(t[0], UTC)))
        t[0] += 60
    r.flush()
    store.close()
    out = run_cli("slo", "--json", "--config", str(cfg_file))
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)
    assert row["name"] == "api-availability" and row["objective"] == 0.999
    assert row["events"] == {"good": 29.0, "total": 30.0}
    assert row["attainment"] == pytest.approx(29 / 30)
    assert set(row["burn_rates"]) >= {"5m", "1h", "6h", "3d"}
    assert row["budget_remaining"] < 0
    rep = run_cli("slo", "report", "--md", "--config", str(cfg_file))
    assert rep.returncode == 0, rep.stderr
    assert "| api-availability | 99.90% | 96.667% | **no** |" in rep.stdout
    bad = run_cli("slo", "report", "--month", "2026-13", "--config", str(cfg_file))
    assert bad.returncode == 2 and "YYYY-MM" in bad.stderr


def test_postmortem_and_report_show_the_budget_an_incident_burned(tmp_path, run_cli):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("""
checks:
  - {name: api, kind: http, url: "http://127.0.0.1:9/health"}
slos:
  - {name: api-availability, objective: 99%, window: 30d, indicator: {check: api}}
""")
    store = open_store(tmp_path / "cli-data")
    cfg = parse_config(cfg_file.read_text())
    now = datetime.now(UTC).timestamp()
    t = [now - 7200]
    r = _runner(cfg, t, HistoryDB(store.path))
    declared = None
    for i in range(100):  # 100 runs; the 10 failures happen during the incident
        failing = 50 <= i < 60
        if i == 50:
            declared = store.declare("api down", "SEV2", ["api"],
                                     ts=datetime.fromtimestamp(t[0], UTC))
        r.recorder.add_result(CheckResult("api", "CRITICAL" if failing else "OK", "", 0.1,
                                          checked_at=datetime.fromtimestamp(t[0], UTC)))
        t[0] += 60
    r.flush()
    iid = declared.incident_id
    store.close()
    pm = run_cli("incident", "export", iid, "--config", str(cfg_file))
    assert pm.returncode == 0, pm.stderr
    assert "## SLO impact" in pm.stdout
    assert "| api-availability | 10 | 50 | 1000.0% |" in pm.stdout  # 10 bad of a 1-event budget
    rep = run_cli("slo", "report", "--json", "--config", str(cfg_file))
    (row,) = json.loads(rep.stdout)["slos"]
    assert row["compliant"] is False and row["incidents"][0]["id"] == iid
    assert row["incidents"][0]["bad_events"] == 10


def test_the_watcher_scrapes_records_and_evaluates_the_slo_rules(tmp_path, app):
    import asyncio

    from opsconsole.alerts.watcher import Watcher

    cfg, t = _cfg(app.url), [T0]
    store = open_store(tmp_path)
    w = Watcher(cfg, store, interval=10, clock=lambda: t[0], say=lambda _s: None)
    assert {"slo-api-errors-page-fast", "slo-api-errors-ticket"} <= {r.name for r in w.rules}

    async def run() -> None:
        app.work(1)
        app.work(1, code=500)
        await w.tick()  # the first scrape: the series' first values, no increase yet
        app.work(80)
        app.work(20, code=500)
        t[0] += 60
        await w.tick()
        w.scheduler.stop()

    asyncio.run(run())
    sig = w.slo.signals()
    assert sig["metrics.app.up"] == 1.0
    assert sig["slo.api-errors.attainment"] == pytest.approx(80.0)
    assert w.evaluator.states["slo-api-errors-page-fast"].state == "firing"
    t[0] += 120
    w.slo.flush()
    hist = HistoryDB(store.path).read("sli:api-errors", 0)
    assert sum(v[1] for v in hist.values()) == 100
    store.close()
