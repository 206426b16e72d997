"""json, sql and perfdata signals from real parts: a real JSON endpoint on 127.0.0.1, the
real PostgreSQL of the pg_cluster fixture, a real Nagios plugin (monitoring-plugins)."""

from __future__ import annotations

import asyncio
import json
import os
from http.server import BaseHTTPRequestHandler

import pytest
from tests.servers import serve_http

from opsconsole.alerts.rules import Evaluator
from opsconsole.alerts.signals import SignalSet
from opsconsole.checks.engine import run_check
from opsconsole.config import parse_config

HEALTH = {"status": "ok", "components": {"db": {"state": "up", "latency_ms": 12.5},
                                         "queue": {"depth": 42}},
          "nodes": [{"name": "a", "load": 0.5}, {"name": "b", "load": 3.0}],
          "motd": "\x1b[2J\x1b]0;pwned\x07hello\nworld"}


class _Health(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps(HEALTH).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _check(yaml: str):
    cfg = parse_config(yaml)
    return cfg, asyncio.run(run_check(cfg.checks[0], cfg))


def test_json_values_by_path_levels_and_a_missing_path_named():
    with serve_http(_Health) as srv:
        url = f"http://127.0.0.1:{srv.server_address[1]}/api/health"
        _, r = _check(f"""
checks:
  - {{name: depth, kind: json, url: "{url}", path: components.queue.depth, warn: 10, crit: 100}}
""")
        assert r.state == "WARNING", r.message
        assert r.details["value"] == 42.0
        _, r = _check(f"""
checks:
  - {{name: db, kind: json, url: "{url}", path: components.db.state, expect: [up]}}
""")
        assert r.state == "OK", r.message
        _, r = _check(f"""
checks:
  - {{name: n, kind: json, url: "{url}", path: 'nodes[1].load', crit: 2}}
""")
        assert r.state == "CRITICAL" and r.details["value"] == 3.0, r.message
        _, r = _check(f"""
checks:
  - {{name: gone, kind: json, url: "{url}", path: components.cache.hits, warn: 1}}
""")
        assert r.state == "UNKNOWN"
        assert "cache" in r.message, r.message
        assert "value" not in r.details
        _, r = _check(f"""
checks:
  - {{name: motd, kind: json, url: "{url}", path: motd, expect: [fine]}}
""")
        assert r.state == "CRITICAL"
        assert "\x1b" not in r.message and "\x07" not in r.message and "\n" not in r.message


SQL_CFG = """
databases:
  - {{name: main, dsn: "{dsn}"}}
checks:
  - name: conns
    kind: sql
    database: main
    query: "{query}"
{extra}
"""


def _sql(pg_cluster, query: str, extra: str = ""):
    return _check(SQL_CFG.format(dsn=pg_cluster.dsn(), query=query, extra=extra))


USED = ("select 100.0 * count(*) / current_setting('max_connections')::int "
        "from pg_stat_activity")


def test_sql_connections_used_against_levels(pg_cluster):
    _, r = _sql(pg_cluster, USED, "    warn: 0.0001\n    crit: 99")
    assert r.state == "WARNING", r.message
    assert 0 < r.details["value"] < 99
    _, r = _sql(pg_cluster, USED, "    warn: 0.00001\n    crit: 0.0001")
    assert r.state == "CRITICAL", r.message
    _, r = _sql(pg_cluster, USED, "    warn: 98\n    crit: 99")
    assert r.state == "OK", r.message


def test_sql_is_read_only_bounded_and_a_bad_query_is_a_clear_error(pg_cluster):
    pg_cluster.psql("create table if not exists sqlcheck_t (x int)")
    _, r = _sql(pg_cluster, "insert into sqlcheck_t values (1) returning 1")
    assert r.state != "OK"
    assert "read-only" in r.message.lower() or "read only" in r.message.lower(), r.message
    assert pg_cluster.psql("select count(*) from sqlcheck_t").strip().endswith("0")
    _, r = _sql(pg_cluster, "select pg_sleep(30)", "    timeout: 1s")
    assert r.state == "UNKNOWN", r.message
    assert "statement_timeout" in r.message or "timed out" in r.message, r.message
    _, r = _sql(pg_cluster, "select nosuchcolumn from pg_class")
    assert r.state == "UNKNOWN", r.message
    assert "nosuchcolumn" in r.message and "Traceback" not in r.message


DUMMY = "/usr/lib/nagios/plugins/check_dummy"
LOAD = "/usr/lib/nagios/plugins/check_load"


@pytest.mark.skipif(not os.access(LOAD, os.X_OK), reason=f"no {LOAD} (monitoring-plugins)")
def test_perfdata_from_a_real_plugin_is_a_signal_and_a_rule_fires():
    cfg, r = _check(f"""
checks:
  - {{name: load, kind: command, command: "{LOAD} -w 1000,1000,1000 -c 2000,2000,2000"}}
alerts:
  - name: load-seen
    expr: check.load.perf.load1 >= 0
    severity: warning
  - name: load-warn-level
    expr: check.load.perf.load1.warn == 1000
    severity: warning
""")
    assert r.state == "OK", r.message
    assert any(d.label == "load1" for d in r.perfdata), r.perfdata
    ev = Evaluator(list(cfg.alerts))
    sig = SignalSet(checks={"load": _status(r)})
    ev.evaluate(sig, 1000.0)
    assert ev.states["load-seen"].state == "firing"
    assert ev.states["load-warn-level"].state == "firing"


def _status(r):
    from opsconsole.checks.tracker import CheckTracker

    t = CheckTracker()
    return t.update(r)


PING = "/usr/lib/nagios/plugins/check_ping"
DISK = "/usr/lib/nagios/plugins/check_disk"


@pytest.mark.skipif(not (os.access(PING, os.X_OK) and os.access(DISK, os.X_OK)),
                    reason="no check_ping/check_disk (monitoring-plugins)")
def test_perfdata_units_become_base_units_ms_to_seconds_and_pct_of_max():
    cfg = parse_config(f"""
checks:
  - {{name: ping, kind: command, command: "{PING} -H 127.0.0.1 -w 100,20% -c 200,50% -p 1"}}
  - {{name: disk, kind: command, command: "{DISK} -w 1% -c 1% -p /"}}
alerts:
  - {{name: rta-warn-in-seconds, expr: check.ping.perf.rta.warn == 0.1, severity: warning}}
  - {{name: rta-in-seconds, expr: check.ping.perf.rta < 0.1, severity: warning}}
  - {{name: rta-in-ms-would-not, expr: check.ping.perf.rta.warn == 100, severity: warning}}
  - name: disk-pct
    expr: 'check.disk.perf["/"].pct > 0 and check.disk.perf["/"].pct < 100'
    severity: warning
  - {{name: disk-bytes, expr: 'check.disk.perf["/"].max > 1000000', severity: warning}}
  - {{name: no-such-label, expr: check.ping.perf.nolabel > 0, severity: warning}}
""")
    results = asyncio.run(_run_all(cfg))
    assert [r.state for r in results] == ["OK", "OK"], [r.message for r in results]
    ev = Evaluator(list(cfg.alerts))
    ev.evaluate(SignalSet(checks={r.name: _status(r) for r in results}), 1000.0)
    fired = {n for n, s in ev.states.items() if s.state == "firing"}
    assert fired == {"rta-warn-in-seconds", "rta-in-seconds", "disk-pct", "disk-bytes"}


async def _run_all(cfg):
    return [await run_check(c, cfg) for c in cfg.checks]
