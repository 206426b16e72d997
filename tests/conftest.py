"""Shared fixtures: a real throwaway PostgreSQL cluster, fixed host data for snapshots."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from opsconsole.pgcluster import LocalCluster, find_bindir


def pytest_collection_modifyitems(config, items):
    """Tests that start a PostgreSQL cluster are marked ``pg`` (``-m "not pg"`` skips them)."""
    for item in items:
        if {"pg_cluster", "pg_cluster_private"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.pg)


# Tests never touch the real user's data dir: a throwaway default for this test run.
os.environ["OPSCONSOLE_DATA_DIR"] = __import__("tempfile").mkdtemp(prefix="opsconsole-tests-")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalCluster]:
    """A private PostgreSQL cluster with pg_stat_statements preloaded, for the whole session
    (per xdist worker). Tests that restart or break it must use ``pg_cluster_private``."""
    if find_bindir() is None:
        pytest.fail("PostgreSQL server binaries are missing: apt-get install -y postgresql")
    cluster = LocalCluster()
    cluster.init().start()
    cluster.psql("create extension if not exists pg_stat_statements")
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_cluster_private() -> Iterator[LocalCluster]:
    """A cluster of one's own, for tests that stop, restart or load the server."""
    cluster = LocalCluster()
    cluster.init().start()
    cluster.psql("create extension if not exists pg_stat_statements")
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("OPSCONSOLE_DATA_DIR", str(d))
    return d


REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for running this checkout's CLI in a subprocess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("OPSCONSOLE_CONFIG", None)
    env.update(extra or {})
    return env


@pytest.fixture
def run_cli(tmp_path):
    """Run ``python -m opsconsole ARGS`` from this checkout: returns CompletedProcess."""
    import subprocess
    import sys

    def run(*args: str, timeout: float = 60, env: dict[str, str] | None = None,
            input: str | None = None, cwd: str | None = None):
        base = {"OPSCONSOLE_DATA_DIR": str(tmp_path / "cli-data"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
        base.update(env or {})
        return subprocess.run([sys.executable, "-m", "opsconsole", *args], capture_output=True,
                              text=True, timeout=timeout, env=cli_env(base), input=input,
                              cwd=cwd or str(tmp_path))

    return run


class SwitchableWeb:
    """A real HTTP server on 127.0.0.1 whose /health answers 200 "ok" while ``healthy`` is
    set and 503 "upstream gone" when it is cleared."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.healthy = threading.Event()
        self.healthy.set()
        healthy = self.healthy

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):  # noqa: N802
                good = healthy.is_set()
                body = b"ok" if good else b"upstream gone"
                self.send_response(200 if good else 503)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def switch_web():
    web = SwitchableWeb()
    yield web
    web.close()
