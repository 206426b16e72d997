"""The PromQL source against a REAL Prometheus server (Debian ``prometheus``) scraping a real
``prometheus_client`` app every second: the Watcher reads ``promql.fleet.error_rate`` and an
alert rule over it fires once the app's error rate is raised; the server going away is no
data (not zero), and it recovers. The auth header and timeouts against tiny real servers."""

from __future__ import annotations

import asyncio
import os
import threading
from http.server import BaseHTTPRequestHandler

import pytest
from tests.eventually import eventually
from tests.promserver import PROMETHEUS, PromServer
from tests.servers import serve_http
from tests.slohelpers import MetricsApp

from opsconsole.config import parse_config
from opsconsole.incidents.store import open_store
from opsconsole.sources.promql import PromError, PromPoller, PromTarget, fetch

QUERY = ('sum(rate(http_requests_total{code=~"5.."}[30s])) '
         "/ sum(rate(http_requests_total[30s]))")

needs_prometheus = pytest.mark.skipif(not os.access(PROMETHEUS, os.X_OK),
                                      reason=f"no Prometheus server binary at {PROMETHEUS} "
                                             "(Debian package prometheus)")


@pytest.fixture
def app():
    a = MetricsApp().start()
    yield a
    a.stop()


@pytest.fixture
def prom(tmp_path, app):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip(f"no Prometheus server binary at {PROMETHEUS} (Debian package prometheus)")
    p = PromServer(tmp_path, [f"127.0.0.1:{app.port}"]).start()
    yield p
    p.stop()


def _cfg(url: str):
    return parse_config(f"""
prometheus:
  - name: fleet
    url: "{url}"
    interval: 1s
    timeout: 5s
    queries:
      - name: error_rate
        query: '{QUERY}'
alerts:
  - name: fleet-errors
    expr: promql.fleet.error_rate > 0.2
    severity: critical
""")


def _loud(app: MetricsApp, stop: threading.Event, code: int) -> threading.Thread:
    def run() -> None:
        while not stop.is_set():
            app.work(5, code=200)
            app.work(5, code=code)
            stop.wait(0.1)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@needs_prometheus
def test_the_watcher_fires_on_a_real_prometheus_error_rate_then_no_data_then_recovers(
        tmp_path, app, prom):
    from opsconsole.alerts.watcher import Watcher

    cfg = _cfg(prom.url)
    store = open_store(tmp_path / "data")
    said: list[str] = []
    w = Watcher(cfg, store, interval=1, say=said.append)
    stop = threading.Event()

    async def value() -> float | None:
        await w.tick()
        return w.promql._values.get("fleet.error_rate", {}).get("promql.fleet.error_rate")

    async def run() -> None:
        # healthy traffic (one 5xx so that series exists: with none the division is an
        # empty vector, i.e. no data): a small rate, the rule does not fire
        app.work(1, code=500)
        worker = _loud(app, stop, 200)
        v = await eventually(lambda: _wait_value(value), timeout=60,
                             what="a number for promql.fleet.error_rate",
                             last=lambda: (w.promql._values, w.promql.errors))
        assert 0.0 <= v[0] < 0.2
        assert w.evaluator.states.get("fleet-errors") is None or \
            w.evaluator.states["fleet-errors"].state != "firing"
        stop.set()
        worker.join()
        # half the requests now fail: the alert fires
        stop.clear()
        worker = _loud(app, stop, 500)
        await eventually(lambda: _firing(w), timeout=60, what="fleet-errors firing",
                         last=lambda: (w.promql._values, w.promql.errors))
        stop.set()
        worker.join()
        # the server goes away: no data (None, not 0), the error said once
        port = prom.port
        prom.stop()
        await asyncio.sleep(1.1)
        await w.tick()
        assert w.promql._values["fleet.error_rate"] == {}
        vals = await w.promql.values()
        assert vals["promql.fleet.error_rate"] is None
        assert any("connection refused" in s and "no data" in s for s in said), said
        # it comes back on the same port: numbers again, "answering again" said
        prom.port = port
        prom.start()
        await eventually(lambda: _wait_value(value), timeout=60, what="a number again")
        assert any("answering again" in s for s in said), said
        w.scheduler.stop()

    try:
        asyncio.run(run())
    finally:
        stop.set()
        store.close()


async def _wait_value(value) -> tuple[float] | None:
    v = await value()
    await asyncio.sleep(0.2)
    return (v,) if v is not None else None


async def _firing(w) -> bool:
    await w.tick()
    await asyncio.sleep(0.2)
    st = w.evaluator.states.get("fleet-errors")
    return st is not None and st.state == "firing"


# ----------------------------------------------------------------- auth header, timeouts

class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []
    delay = 0.0

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()} | {
            ":path": self.path})
        if type(self).delay:
            threading.Event().wait(type(self).delay)
        body = b'{"status":"success","data":{"resultType":"vector","result":[' \
               b'{"metric":{},"value":[1,"0.25"]}]}}'
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass


def _target(url: str, extra: str = "", query: str = "up") -> PromTarget:
    cfg = parse_config(f"""
prometheus:
  - name: fleet
    url: "{url}"
{extra}
    queries: [{{name: q, query: '{query}'}}]
""")
    return cfg.prometheus[0]


def test_the_auth_header_is_sent_from_the_environment_and_the_query_encoded(monkeypatch):
    class H(_Recorder):
        seen: list[dict[str, str]] = []

    monkeypatch.setenv("PROM_TOKEN_T", "s3cret-token")
    with serve_http(H) as srv:
        t = _target(f"http://127.0.0.1:{srv.server_address[1]}/prefix",
                    "    auth: {env: PROM_TOKEN_T, scheme: Bearer}\n"
                    "    headers: {X-Scope-OrgID: ops}")
        series = asyncio.run(fetch(t, 'up{job="a b&c"}'))
    assert series[0].values == (0.25,)
    got = H.seen[0]
    assert got["authorization"] == "Bearer s3cret-token"
    assert got["x-scope-orgid"] == "ops"
    assert got[":path"].startswith("/prefix/api/v1/query?")
    assert "query=up%7Bjob%3D%22a+b%26c%22%7D" in got[":path"]


def test_a_missing_auth_variable_is_a_clear_error_not_a_request(monkeypatch):
    class H(_Recorder):
        seen: list[dict[str, str]] = []

    monkeypatch.delenv("PROM_TOKEN_ABSENT", raising=False)
    with serve_http(H) as srv:
        t = _target(f"http://127.0.0.1:{srv.server_address[1]}",
                    "    auth: {env: PROM_TOKEN_ABSENT}")
        with pytest.raises(PromError, match="PROM_TOKEN_ABSENT is not set"):
            asyncio.run(fetch(t, "up"))
    assert H.seen == []


def test_a_server_that_does_not_answer_times_out_within_the_bound():
    class H(_Recorder):
        seen: list[dict[str, str]] = []
        delay = 5.0

    with serve_http(H) as srv:
        t = _target(f"http://127.0.0.1:{srv.server_address[1]}", "    timeout: 0.3s")
        poller = PromPoller([t])
        vals = asyncio.run(asyncio.wait_for(poller.values(), 4.0))
    assert vals == {"promql.fleet.q": None}
    assert "timed out after 0.3s" in poller.errors["fleet.q"]

