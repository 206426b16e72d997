"""http checks share pooled clients: kept-alive connections per target, TLS settings per check,
a hanging target holding only its own check."""

from __future__ import annotations

import asyncio
import ssl
import threading
from http.server import BaseHTTPRequestHandler

import pytest
from test_checks import Server, http, make_cert

from opsconsole.checks.engine import run_check
from opsconsole.checks.probes.http import close_clients, pooled_clients
from opsconsole.schema import Duration
from servers import serve_counting


class _KeepAlive(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps the connection open between requests
    release = threading.Event()

    def log_message(self, *a):  # quiet
        pass

    def do_GET(self):
        self.server.count_request()  # type: ignore[attr-defined]
        if self.path == "/hang":
            self.release.wait(30)
            return
        body = b"status: ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def counting():
    _KeepAlive.release = threading.Event()
    with serve_counting(_KeepAlive) as srv:
        srv.url = lambda path: f"http://127.0.0.1:{srv.server_address[1]}{path}"  # type: ignore[attr-defined]
        yield srv
        _KeepAlive.release.set()


async def test_100_runs_of_a_check_reuse_one_connection(counting):
    spec = http(counting.url("/health"), body_contains="status: ok")
    try:
        results = [await run_check(spec) for _ in range(100)]
    finally:
        await close_clients()
    assert [r.state for r in results] == ["OK"] * 100, {r.message for r in results}
    assert counting.requests == 100
    assert counting.connections == 1  # one per run before the clients were pooled


async def test_a_connection_the_server_closed_is_replaced():
    class OneShot(_KeepAlive):
        def do_GET(self):
            super().do_GET()
            self.close_connection = True  # answers, then closes (no Connection: close header)

    with serve_counting(OneShot) as srv:
        spec = http(f"http://127.0.0.1:{srv.server_address[1]}/health")
        try:
            results = [await run_check(spec) for _ in range(5)]
        finally:
            await close_clients()
    assert [r.state for r in results] == ["OK"] * 5, [r.message for r in results]
    assert srv.connections == 5


async def test_a_hanging_target_does_not_delay_the_other_checks(counting):
    hung = asyncio.ensure_future(run_check(http(counting.url("/hang"), name="hung",
                                                timeout=Duration(3.0))))
    try:
        others = [http(counting.url(f"/health?i={i}"), name=f"ok{i}") for i in range(30)]
        for _ in range(3):  # the same pooled client, run after run, while the hang goes on
            results = await asyncio.gather(*(run_check(s) for s in others))
            assert all(r.state == "OK" for r in results), {r.message for r in results}
            assert not hung.done()  # every other check finished while it still hangs
        r = await hung
    finally:
        await close_clients()
    assert r.state == "CRITICAL"
    assert r.message == "timed out after 3.0s (waiting for the response)", r.message


async def test_tls_settings_are_honoured_per_check_with_pooled_clients(tmp_path):
    crt, key = make_cert(tmp_path, 90.0, "pool")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    srv = Server(ctx)
    url = srv.url("/health")
    try:
        for _ in range(3):  # interleaved on one loop: each check keeps its own setting
            trusted = await run_check(http(url, ca_file=str(crt)))
            unverified = await run_check(http(url, verify_tls=False))
            system_store = await run_check(http(url))
            assert trusted.state == "OK", trusted.message
            assert "certificate valid 90 more days" in trusted.message
            assert unverified.state == "OK", unverified.message
            assert 89 < unverified.details["cert_days_left"] <= 90
            assert system_store.state == "CRITICAL"
            assert system_store.message.startswith("TLS certificate rejected"), \
                system_store.message
        assert pooled_clients() == 3  # one per setting, not one per run
    finally:
        await close_clients()
        srv.stop()
    assert pooled_clients() == 0


async def test_pooled_clients_keep_no_cookies_between_runs():
    seen: list[str | None] = []

    class SetsCookie(_KeepAlive):
        def do_GET(self):
            seen.append(self.headers.get("Cookie"))
            body = b"ok"
            self.send_response(200)
            self.send_header("Set-Cookie", "session=abc; Path=/")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serve_counting(SetsCookie) as srv:
        spec = http(f"http://127.0.0.1:{srv.server_address[1]}/")
        try:
            results = [await run_check(spec) for _ in range(3)]
        finally:
            await close_clients()
    assert [r.state for r in results] == ["OK"] * 3
    assert seen == [None, None, None]  # as a fresh client each run: no cookie sent back
    assert srv.connections == 1
