"""Health checks against real servers, processes, files and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest

from opsconsole.checks.engine import CheckResult, exit_code, run_check, run_checks
from opsconsole.checks.spec import (
    CommandCheck,
    DiskCheck,
    FileAgeCheck,
    FreeSpace,
    HttpCheck,
    LogErrorsCheck,
    PostgresCheck,
    ProcessCheck,
    TcpCheck,
)
from opsconsole.checks.tracker import CheckTracker
from opsconsole.config import AppConfig, ConfigError, parse_config
from opsconsole.incidents.sink import MemorySink
from opsconsole.postgres.config import DatabaseTarget
from opsconsole.schema import ByteSize, Duration

# --------------------------------------------------------------------------- servers


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    release: threading.Event

    def log_message(self, *a):  # quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):
        self._send(200, b"")

    def do_GET(self):
        path = self.path
        if path == "/health":
            self._send(200, b"status: ok\nversion 1.2\n")
        elif path == "/error":
            self._send(500, b"boom")
        elif path == "/created":
            self._send(201, b"made")
        elif path == "/slow":
            self.release.wait(0.4)
            self._send(200, b"slow but fine")
        elif path == "/hang":
            self.release.wait(30)  # never answers while the test runs
        elif path == "/header":
            ok = self.headers.get("X-Token") == "abc"
            self._send(200 if ok else 403, b"header seen" if ok else b"no")
        elif path == "/binary":
            self._send(200, b"\xff\xfe\x00garbage\x80\x81 ok-marker \xc3\x28")
        elif path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()  # no length: the body never ends
            chunk = b"x" * 65536
            try:
                for _ in range(100_000):
                    if self.release.is_set():
                        break
                    self.wfile.write(chunk)
            except OSError:
                pass
            self.close_connection = True
        else:
            self._send(404, b"not found")


class Server:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.release = threading.Event()
        handler = type("H", (_Handler,), {"release": self.release})
        server_cls = type("S", (ThreadingHTTPServer,), {"request_queue_size": 256})
        self.httpd = server_cls(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def http_server():
    s = Server()
    yield s
    s.stop()


def make_cert(tmp: Path, days_left: float, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 that expires in ``days_left`` days."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    not_after = now + dt.timedelta(days=days_left)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(min(now - dt.timedelta(days=30), not_after - dt.timedelta(days=1)))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    crt, kf = tmp / f"{name}.crt", tmp / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kf.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    return crt, kf


@pytest.fixture(scope="module")
def tls_servers(tmp_path_factory):
    """Two HTTPS servers: one certificate expiring in 3 days, one expired yesterday."""
    tmp = tmp_path_factory.mktemp("tls")
    out = {}
    for name, days in (("expiring", 3.0), ("expired", -1.0), ("fresh", 90.0)):
        crt, key = make_cert(tmp, days, name)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(crt, key)
        out[name] = (Server(ctx), crt)
    yield out
    for s, _ in out.values():
        s.stop()


@pytest.fixture
def silent_listener():
    """A TCP listener that accepts and never says a word (a hung server)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    conns = []
    stop = threading.Event()

    def loop():
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
                conns.append(c)
            except (TimeoutError, OSError):
                continue

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(2)
    for c in conns:
        c.close()
    srv.close()


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(url: str, **kw) -> HttpCheck:
    kw.setdefault("timeout", Duration(2.0))
    return HttpCheck(name=kw.pop("name", "web"), url=url, **kw)


# --------------------------------------------------------------------------- config


EXAMPLE_CHECKS = """\
checks:
  - name: api
    kind: http
    url: http://127.0.0.1:8000/health
    expect_status: 200
    timeout: 2s
    interval: 10s
    failures_before_critical: 3
  - name: db-port
    kind: tcp
    address: 127.0.0.1:5432
  - name: disk-check-plugin
    kind: command
    command: /usr/lib/nagios/plugins/check_disk -w 20% -c 10% -p /
  - name: nightly-backup
    kind: file_age
    path: /var/backups/db/*.dump
    max_age: 26h
"""


def test_example_config_loads_as_written():
    cfg = parse_config(EXAMPLE_CHECKS, "cfg.yaml")
    api, port, plugin, backup = cfg.checks
    assert isinstance(api, HttpCheck) and api.timeout == 2 and api.interval == 10
    assert api.failures_before_critical == 3 and api.expect_status == 200
    assert isinstance(port, TcpCheck) and port.address == "127.0.0.1:5432"
    assert isinstance(plugin, CommandCheck) and plugin.command.startswith("/usr/lib/nagios")
    assert isinstance(backup, FileAgeCheck) and backup.max_age == 26 * 3600


def test_every_kind_loads():
    cfg = parse_config("""
databases:
  - {name: main, dsn: "postgresql://app:secret@127.0.0.1:5432/app"}
checks:
  - {name: a, kind: http, url: "https://x.example/h", expect_status: "2xx,301",
     body_regex: "ok|fine", warn_latency: 500ms, crit_latency: 2s, headers: {X-A: b}}
  - {name: b, kind: tcp, address: "[::1]:22"}
  - {name: c, kind: postgres, database: main}
  - {name: d, kind: process, pattern: "^nginx", min_count: 2, max_count: 8}
  - {name: e, kind: command, command: "check_load -w 5", timeout: 10s}
  - {name: f, kind: disk, path: /, warn_free: 15%, crit_free: 2GB}
  - {name: g, kind: file_age, path: "/b/*.dump", max_age: 26h, min_size: 10MB}
  - {name: h, kind: log_errors, path: /var/log/app.log, pattern: "ERROR|FATAL",
     window: 10m, warning: 5, critical: 50}
""", "cfg.yaml")
    kinds = [c.kind for c in cfg.checks]
    assert kinds == ["http", "tcp", "postgres", "process", "command", "disk", "file_age",
                     "log_errors"]
    assert cfg.checks[5].warn_free == FreeSpace(percent=15.0)
    assert cfg.checks[5].crit_free == FreeSpace(size=2_000_000_000)
    assert cfg.checks[6].min_size == ByteSize(10_000_000)


# each case: the config, the token the error must point at (line 2), words of the message
@pytest.mark.parametrize("body, at, words", [
    ("  - {name: x, kind: htpp, url: 'http://a/'}\n", "htpp", "unknown kind 'htpp'"),
    ("  - name: x\n    kind: http\n", "name", "missing required key 'url'"),
    ("  - {name: x, kind: http, url: 'ftp://a/'}\n", "'ftp", "expected an http:// or https:// URL"),
    ("  - {name: x, kind: http, url: 'http://a/', warn_latency: 3s, crit_latency: 1s}\n",
     "3s", "warn_latency (3s) <= crit_latency (1s)"),
    ("  - {name: x, kind: http, url: 'http://a/', expect_status: 'abc'}\n", "'abc'",
     "expected a status like 200"),
    ("  - {name: x, kind: http, url: 'http://a/', timeout: -1}\n", "-1", "duration"),
    ("  - {name: x, kind: disk, warn_free: 20}\n", "20", "a percentage (10%) or a size"),
    ("  - {name: x, kind: disk, warn_free: 5%, crit_free: 10%}\n", "10%", "crit_free"),
    ("  - {name: x, kind: tcp, address: localhost}\n", "localhost", "expected host:port"),
    ("  - {name: x, kind: process, pattern: '(unclosed'}\n", "'(unc", "regular expression"),
    ("  - {name: x, kind: log_errors, path: /l, warning: 5, critical: 2}\n", "2}",
     "critical >= warning"),
    ("  - {name: x, kind: file_age, path: /b}\n", "{", "missing required key 'max_age'"),
    ("  - {name: x, kind: tcp, address: 'a:1', failures_before_critical: 0}\n", "0}",
     "above 0"),
    ("  - {name: x, kind: tcp, address: 'a:1', colour: red}\n", "colour", "unknown key 'colour'"),
    ("  - {name: x, kind: postgres, database: nope}\n", "- {", "database 'nope'"),
])
def test_bad_check_config_is_a_located_error(body, at, words):
    with pytest.raises(ConfigError) as err:
        parse_config("checks:\n" + body, "cfg.yaml")
    text = str(err.value)
    col = body.splitlines()[0].index(at) + 1
    assert text.startswith(f"cfg.yaml:2:{col}: "), text
    assert words in text


def test_cli_bad_config_exits_2_without_traceback(run_cli, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("checks:\n  - name: api\n    kind: http\n    timeout: 2s\n")
    p = run_cli("check", "--config", str(cfg))
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert p.stderr.strip() == f"opsconsole: {cfg}:2:5: checks[0]: missing required key 'url'"


# --------------------------------------------------------------------------- http


async def test_http_ok_with_body_and_latency(http_server):
    r = await run_check(http(http_server.url("/health"), body_contains="status: ok",
                             body_regex=r"version \d+\.\d+"))
    assert r.state == "OK", r.message
    assert r.message.startswith("HTTP 200 in ")
    assert r.latency is not None and r.latency > 0
    assert r.details["status"] == 200
    assert r.checked_at.tzinfo is not None


async def test_http_wrong_status_and_body(http_server):
    r = await run_check(http(http_server.url("/error")))
    assert (r.state, r.message) == ("CRITICAL", "HTTP 500 Internal Server Error (expected 200)")
    r = await run_check(http(http_server.url("/created"), expect_status="2xx"))
    assert r.state == "OK"
    r = await run_check(http(http_server.url("/created"), expect_status="200-200,204"))
    assert r.state == "CRITICAL" and "HTTP 201" in r.message
    r = await run_check(http(http_server.url("/health"), body_contains="degraded"))
    assert r.state == "CRITICAL" and "body does not contain 'degraded'" in r.message
    r = await run_check(http(http_server.url("/health"), body_regex="^v9"))
    assert r.state == "CRITICAL" and "body does not match" in r.message


async def test_http_headers_and_head(http_server):
    r = await run_check(http(http_server.url("/header"), headers={"X-Token": "abc"}))
    assert r.state == "OK"
    r = await run_check(http(http_server.url("/header")))
    assert r.state == "CRITICAL" and "HTTP 403" in r.message
    r = await run_check(http(http_server.url("/health"), method="HEAD"))
    assert r.state == "OK"


async def test_http_slow_gives_warning_or_critical(http_server):
    r = await run_check(http(http_server.url("/slow"), warn_latency=Duration(0.1)))
    assert r.state == "WARNING" and r.message.startswith("slow: "), r.message
    r = await run_check(http(http_server.url("/slow"), warn_latency=Duration(0.05),
                             crit_latency=Duration(0.1)))
    assert r.state == "CRITICAL" and "critical at 100ms" in r.message


async def test_http_hanging_server_times_out(http_server):
    r = await run_check(http(http_server.url("/hang"), timeout=Duration(0.5)))
    assert r.state == "CRITICAL"
    assert r.message == "timed out after 500ms (waiting for the response)", r.message


async def test_http_huge_body_is_read_only_up_to_the_cap(http_server):
    r = await run_check(http(http_server.url("/huge"), max_body=ByteSize(256 * 1024),
                             body_contains="x"))
    assert r.state == "OK", r.message
    assert r.details["body_truncated"] is True
    assert r.details["body_bytes"] == 256 * 1024


async def test_http_non_utf8_body(http_server):
    r = await run_check(http(http_server.url("/binary"), body_contains="ok-marker"))
    assert r.state == "OK", r.message
    assert r.details["body_not_utf8"] is True
    r = await run_check(http(http_server.url("/binary"), body_contains="absent"))
    assert r.state == "CRITICAL" and "does not contain" in r.message


async def test_http_refused_and_dns_failure():
    port = free_port()
    r = await run_check(http(f"http://127.0.0.1:{port}/"))
    assert (r.state, r.message) == ("CRITICAL", f"connection refused by 127.0.0.1:{port}")
    r = await run_check(http("http://no-such-host.invalid/"))
    assert r.state == "CRITICAL"
    assert r.message.startswith("DNS lookup failed for no-such-host.invalid"), r.message


async def test_https_certificate_days_left(tls_servers):
    srv, crt = tls_servers["expiring"]
    r = await run_check(http(srv.url("/health"), ca_file=str(crt)))
    assert r.state == "CRITICAL", r.message
    assert "TLS certificate expires in 3 days" in r.message or \
        "TLS certificate expires in 2 days" in r.message
    assert 2 < r.details["cert_days_left"] <= 3
    r = await run_check(http(srv.url("/health"), ca_file=str(crt), cert_warn_days=5,
                             cert_crit_days=1))
    assert r.state == "WARNING" and "expires in" in r.message
    # not verified: the days left are still read from the peer certificate
    r = await run_check(http(srv.url("/health"), verify_tls=False, cert_crit_days=1))
    assert r.state == "WARNING" and 2 < r.details["cert_days_left"] <= 3
    srv, crt = tls_servers["fresh"]
    r = await run_check(http(srv.url("/health"), ca_file=str(crt)))
    assert r.state == "OK" and "certificate valid 90 more days" in r.message


async def test_https_tls_errors(tls_servers, http_server):
    srv, crt = tls_servers["expired"]
    r = await run_check(http(srv.url("/health"), ca_file=str(crt)))
    assert r.state == "CRITICAL"
    assert r.message.startswith("TLS certificate rejected: certificate has expired"), r.message
    srv, _crt = tls_servers["fresh"]
    r = await run_check(http(srv.url("/health")))  # self-signed, not trusted
    assert r.state == "CRITICAL" and r.message.startswith("TLS certificate rejected"), r.message
    r = await run_check(http(http_server.url("/health").replace("http:", "https:")))
    assert r.state == "CRITICAL" and r.message.startswith("TLS error"), r.message


# --------------------------------------------------------------------------- tcp


async def test_tcp(http_server):
    r = await run_check(TcpCheck(name="t", address=f"127.0.0.1:{http_server.port}"))
    assert r.state == "OK" and r.message.startswith(f"connected to 127.0.0.1:{http_server.port}")
    port = free_port()
    r = await run_check(TcpCheck(name="t", address=f"127.0.0.1:{port}"))
    assert (r.state, r.message) == ("CRITICAL", f"connection refused by 127.0.0.1:{port}")
    r = await run_check(TcpCheck(name="t", address="no-such-host.invalid:80"))
    assert r.state == "CRITICAL" and r.message.startswith("DNS lookup failed")


# --------------------------------------------------------------------------- postgres


def pg_config(dsn: str) -> AppConfig:
    return AppConfig(databases=[DatabaseTarget(name="main", dsn=dsn)])


@pytest.mark.pg
async def test_postgres_ok_and_connection_is_named(pg_cluster):
    spec = PostgresCheck(name="db", database="main")
    r = await run_check(spec, pg_config(pg_cluster.dsn("postgres", "postgres")))
    assert r.state == "OK", r.message
    assert r.message.startswith("SELECT 1 in ")


@pytest.mark.pg
async def test_postgres_auth_failure_refused_and_timeout(pg_cluster, silent_listener):
    pg_cluster.psql("do $$ begin if not exists (select from pg_roles where rolname='hc') "
                    "then create role hc login password 'right-pw'; end if; end $$")
    spec = PostgresCheck(name="db", database="main", timeout=Duration(1.0))
    bad = pg_cluster.dsn("hc", "postgres", "wrong-pw")
    r = await run_check(spec, pg_config(bad))
    assert r.state == "CRITICAL"
    assert r.message.startswith("authentication failed"), r.message
    assert "wrong-pw" not in json.dumps(r.to_json())  # the DSN shown is masked
    port = free_port()
    r = await run_check(spec, pg_config(f"postgresql://postgres@127.0.0.1:{port}/postgres"))
    assert (r.state, r.message) == ("CRITICAL", f"connection refused by 127.0.0.1:{port}") or \
        (r.state == "CRITICAL" and r.message.startswith("connection refused")), r.message
    r = await run_check(spec, pg_config(
        f"postgresql://postgres@127.0.0.1:{silent_listener}/postgres"))
    assert r.state == "CRITICAL" and r.message.startswith("timed out after 1.0s"), r.message


@pytest.mark.pg
async def test_postgres_key_value_dsn_target(pg_cluster):
    """A ``databases:`` target written as libpq key=value pairs connects like a URI."""
    uri = urlsplit(pg_cluster.dsn("postgres", "postgres"))
    dsn = f"host={uri.hostname} port={uri.port} user={uri.username} dbname={uri.path.lstrip('/')}"
    r = await run_check(PostgresCheck(name="db", database="main"), pg_config(dsn))
    assert r.state == "OK", r.message
    assert r.message.startswith("SELECT 1 in ")
    assert r.details["dsn"] == dsn


async def test_postgres_unknown_target_is_unknown():
    r = await run_check(PostgresCheck(name="db", database="gone"), AppConfig())
    assert r.state == "UNKNOWN" and "no database target named 'gone'" in r.message


# --------------------------------------------------------------------------- process


@pytest.fixture
def sleepers(tmp_path):
    name = f"opsc-{os.getpid() % 10000}-{time.monotonic_ns() % 10**6}"[:15]  # unique per test
    exe = tmp_path / name
    shutil.copy("/bin/sleep", exe)
    procs = [subprocess.Popen([str(exe), "1234.5"]) for _ in range(2)]
    for p in procs:
        p.exe_name = name  # type: ignore[attr-defined]
    yield procs
    for p in procs:
        p.kill()
        p.wait()


async def test_process_counts_and_pids(sleepers):
    pids = sorted(p.pid for p in sleepers)
    pat = f"^{sleepers[0].exe_name}$"
    r = await run_check(ProcessCheck(name="p", pattern=pat, min_count=2))
    assert r.state == "OK", r.message
    assert r.message.startswith(f"2 processes: pids {pids[0]}, {pids[1]}")
    assert [d["pid"] for d in r.details["processes"]] == pids
    assert all("cpu" in d and "rss" in d for d in r.details["processes"])
    r = await run_check(ProcessCheck(name="p", pattern=pat, min_count=3))
    assert r.state == "CRITICAL" and "expected at least 3" in r.message
    r = await run_check(ProcessCheck(name="p", pattern=pat, max_count=1))
    assert r.state == "WARNING" and "expected at most 1" in r.message
    r = await run_check(ProcessCheck(name="p", pattern=sleepers[0].exe_name + r" 1234\.5", match="cmdline"))
    assert r.state == "OK" and "2 processes" in r.message
    r = await run_check(ProcessCheck(name="p", pattern="^no-such-daemon$"))
    assert r.state == "CRITICAL" and r.message.startswith("0 processes matching")


# --------------------------------------------------------------------------- command


@pytest.mark.parametrize("script, state, message", [
    ("echo 'DISK OK - free 56% | /=2643MB;;'; exit 0", "OK", "DISK OK - free 56%"),
    ("echo 'LOAD WARNING - 5.1'; exit 1", "WARNING", "LOAD WARNING - 5.1"),
    ("echo; echo 'PROCS CRITICAL: 0 found' >&2; exit 2", "CRITICAL", "PROCS CRITICAL: 0 found"),
    ("echo 'plugin is confused'; exit 3", "UNKNOWN", "plugin is confused"),
    ("exit 7", "UNKNOWN", "exit 7 (no output)"),
])
async def test_command_maps_exit_codes_the_nagios_way(script, state, message):
    r = await run_check(CommandCheck(name="c", command=script, shell=True))
    assert (r.state, r.message) == (state, message)


async def test_command_missing_plugin_is_unknown(tmp_path):
    plugin = parse_config(EXAMPLE_CHECKS).checks[2]
    # the example's plugin, moved to a directory that does not exist (the real one may)
    missing = tmp_path / "no-such-dir" / "check_disk"
    plugin = dataclasses.replace(plugin, command=plugin.command.replace(
        "/usr/lib/nagios/plugins/check_disk", str(missing)))
    r = await run_check(plugin)
    assert (r.state, r.message) == ("UNKNOWN", f"command not found: {missing}")


async def test_command_that_never_exits_is_killed_with_its_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    spec = CommandCheck(name="c", shell=True, timeout=Duration(0.5),
                        command=f"sleep 300 & echo $! > {pidfile}; echo started; wait")
    r = await run_check(spec)
    assert r.state == "CRITICAL"
    assert r.message.startswith("killed after 500ms timeout (process group")
    assert "last output: started" in r.message
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the grandchild went with the group
        try:
            if psutil.Process(child).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail(f"child {child} of the timed-out command is still running")


async def test_command_flooding_output_is_capped():
    spec = CommandCheck(name="c", command="yes flood", timeout=Duration(0.5),
                        max_output=ByteSize(4096))
    r = await run_check(spec)
    assert r.state == "CRITICAL" and "killed after" in r.message
    assert len(r.details["output"]) == 4096
    assert r.details["output_truncated"] is True
    assert r.details["output_bytes"] > 4096
    # a quick flood that ends by itself: OK, first line, capped
    spec = CommandCheck(name="c", command="head -c 5000000 /dev/zero", max_output=ByteSize(1000))
    r = await run_check(spec)
    assert r.state == "OK" and r.details["output_bytes"] == 5_000_000
    assert len(r.details["output"]) == 1000


async def test_command_output_masks_tokens():
    r = await run_check(CommandCheck(name="c", shell=True,
                                     command="echo 'OK token=hunter2secret'"))
    assert "hunter2secret" not in r.message and "hunter2secret" not in r.details["output"]


# --------------------------------------------------------------------------- disk


async def test_disk(tmp_path):
    r = await run_check(DiskCheck(name="d", path=str(tmp_path), warn_free=FreeSpace(percent=0),
                                  crit_free=FreeSpace(percent=0)))
    assert r.state == "OK" and "free of" in r.message
    r = await run_check(DiskCheck(name="d", path=str(tmp_path), warn_free=FreeSpace(percent=100),
                                  crit_free=FreeSpace(percent=0)))
    assert r.state == "WARNING" and r.message.endswith("below 100%")
    r = await run_check(DiskCheck(name="d", path=str(tmp_path), crit_free=FreeSpace(size=10**18),
                                  warn_free=FreeSpace(size=10**18)))
    assert r.state == "CRITICAL"
    r = await run_check(DiskCheck(name="d", path=str(tmp_path / "nope")))
    assert r.state == "UNKNOWN" and "does not exist" in r.message


# --------------------------------------------------------------------------- file_age


async def test_file_age(tmp_path):
    spec = FileAgeCheck(name="b", path=str(tmp_path / "*.dump"), max_age=Duration(26 * 3600))
    r = await run_check(spec)
    assert (r.state, r.message) == ("CRITICAL", f"no file matches {tmp_path}/*.dump")
    old = tmp_path / "mon.dump"
    old.write_bytes(b"x" * 100)
    two_days = time.time() - 48 * 3600
    os.utime(old, (two_days, two_days))
    r = await run_check(spec)
    assert r.state == "CRITICAL" and r.message.startswith("newest mon.dump is 2d00h old")
    new = tmp_path / "tue.dump"
    new.write_bytes(b"x" * 2048)
    r = await run_check(spec)
    assert r.state == "OK" and r.message.startswith("newest tue.dump is")
    r = await run_check(FileAgeCheck(name="b", path=spec.path, max_age=spec.max_age,
                                     min_size=ByteSize(1_000_000)))
    assert r.state == "CRITICAL" and "expected at least" in r.message
    hour_ago = time.time() - 3600
    os.utime(new, (hour_ago, hour_ago))
    r = await run_check(FileAgeCheck(name="b", path=spec.path, max_age=spec.max_age,
                                     warn_age=Duration(1800)))
    assert r.state == "WARNING" and "warning at 30m00s" in r.message


# --------------------------------------------------------------------------- log_errors


def append(path: Path, *lines: str) -> None:
    with open(path, "a") as f:
        for line in lines:
            f.write(line + "\n")


async def test_log_errors_counts_new_lines_across_rotation_and_truncation(tmp_path):
    log = tmp_path / "app.log"
    append(log, "ERROR old, before we watched", "INFO fine")
    spec = LogErrorsCheck(name=f"log-{tmp_path.name}", path=str(log), pattern="ERROR|FATAL",
                          warning=1, critical=5)
    r = await run_check(spec)
    assert r.state == "OK" and "(watching from now on)" in r.message
    assert r.details["count"] == 0
    append(log, "INFO ok", "ERROR db down", "FATAL out of memory")
    r = await run_check(spec)
    assert r.state == "WARNING" and r.details["count"] == 2
    assert "last: FATAL out of memory" in r.message
    # rotation: the writer still appends to the renamed file, then a new file appears
    rotated = tmp_path / "app.log.1"
    log.rename(rotated)
    append(rotated, "ERROR written just before rotation")
    append(log, "ERROR in the new file", "INFO hi")
    r = await run_check(spec)
    assert r.details["count"] == 4 and r.details["rotations"] == 1
    assert r.state == "WARNING"
    # truncation (copytruncate): start again from the top
    with open(log, "w") as f:
        f.write("ERROR after truncate\n")
    r = await run_check(spec)
    assert r.details["count"] == 5 and r.details["truncations"] == 1
    assert r.state == "CRITICAL"
    # a non-UTF-8 line does not break anything
    with open(log, "ab") as f:
        f.write(b"\xff\xfe ERROR binary junk \x80\n")
    r = await run_check(spec)
    assert r.details["count"] == 6


async def test_log_errors_window_and_missing_file(tmp_path):
    from opsconsole.checks.probes.log_errors import LogFollower

    log = tmp_path / "a.log"
    log.write_text("")
    fol = LogFollower(str(log), "ERROR")
    fol.poll(1000.0)
    append(log, "ERROR one", "ERROR two")
    _lines, n = fol.poll(1000.0)
    fol.buckets.append((1000.0, n))
    assert fol.count(1000.0 + 299, 300) == 2
    assert fol.count(1000.0 + 301, 300) == 0  # outside the window
    r = await run_check(LogErrorsCheck(name="m", path=str(tmp_path / "missing.log")))
    assert r.state == "UNKNOWN" and "does not exist" in r.message


# --------------------------------------------------------------------------- many at once


async def test_run_checks_is_concurrent_and_a_hang_does_not_hold_others(http_server):
    specs = [http(http_server.url("/hang"), name="hung", timeout=Duration(1.0))]
    specs += [http(http_server.url("/health"), name=f"ok{i}") for i in range(20)]
    results = await run_checks(specs)
    assert [r.name for r in results] == [s.name for s in specs]
    assert results[0].state == "CRITICAL"
    assert all(r.state == "OK" for r in results[1:])


def test_exit_code_is_the_worst_state():
    def res(s: str) -> CheckResult:
        return CheckResult(name="x", state=s, message="")  # type: ignore[arg-type]

    assert exit_code([res("OK"), res("OK")]) == 0
    assert exit_code([res("OK"), res("WARNING")]) == 1
    assert exit_code([res("UNKNOWN"), res("WARNING")]) == 3
    assert exit_code([res("UNKNOWN"), res("CRITICAL")]) == 2


# --------------------------------------------------------------------------- tracker


T0 = dt.datetime(2026, 11, 24, 21, 0, 0, tzinfo=dt.UTC)


def res_at(state: str, minute: float, msg: str = "m", name: str = "api") -> CheckResult:
    return CheckResult(name=name, state=state, message=msg, latency=0.01,  # type: ignore[arg-type]
                       checked_at=T0 + dt.timedelta(minutes=minute), kind="http")


def test_tracker_keeps_a_bounded_history_per_perfdata_label():
    from opsconsole.checks.tracker import PERF_LABELS_KEPT

    tr = CheckTracker(history=5)
    for run in range(8):
        perf = [{"label": f"l{i}", "value": float(run * 100 + i), "uom": "B"}
                for i in range(PERF_LABELS_KEPT + 3)]
        perf.append({"label": "undetermined", "value": None, "uom": ""})
        s = tr.update(CheckResult(name="plug", state="OK", message="ok", kind="command",
                                  details={"perfdata": perf}))
    history = dict(s.perf_history)
    assert len(history) == PERF_LABELS_KEPT and "undetermined" not in history
    assert history["l0"] == (300.0, 400.0, 500.0, 600.0, 700.0)  # the last 5 runs
    assert history[f"l{PERF_LABELS_KEPT - 1}"][-1] == 700.0 + PERF_LABELS_KEPT - 1


def test_tracker_failures_before_critical_and_events():
    sink = MemorySink()
    spec = HttpCheck(name="api", url="http://a/", failures_before_critical=3)
    tr = CheckTracker([spec], sink=sink)
    assert tr.status("api").state == "PENDING"
    s = tr.update(res_at("OK", 0))
    assert s.state == "OK" and sink.events == []  # first OK is not news
    s = tr.update(res_at("CRITICAL", 1, "connection refused"))
    assert s.state == "WARNING" and s.soft and s.message == "failure 1/3: connection refused"
    s = tr.update(res_at("CRITICAL", 2, "connection refused"))
    assert s.state == "WARNING" and s.message.startswith("failure 2/3: ")
    s = tr.update(res_at("CRITICAL", 3, "connection refused"))
    assert s.state == "CRITICAL" and not s.soft and s.since == T0 + dt.timedelta(minutes=3)
    assert s.time_in_state(T0 + dt.timedelta(minutes=7, seconds=12)) == 252.0
    s = tr.update(res_at("CRITICAL", 4))
    assert s.since == T0 + dt.timedelta(minutes=3)  # no change, no event
    s = tr.update(res_at("OK", 5, "HTTP 200"))
    assert s.state == "OK" and s.failures == 0
    got = [(e.type, e.data["check"], e.data["old"], e.data["new"]) for e in sink.events]
    assert got == [("health.state_changed", "api", "OK", "WARNING"),
                   ("health.state_changed", "api", "WARNING", "CRITICAL"),
                   ("health.state_changed", "api", "CRITICAL", "OK")]
    assert sink.events[1].data["message"] == "connection refused"
    assert sink.events[2].data["previous_for"] == 120.0
    assert [(c.old, c.new) for c in s.changes] == [(None, "OK"), ("OK", "WARNING"),
                                                   ("WARNING", "CRITICAL"), ("CRITICAL", "OK")]
    assert len(s.latencies) == 6


def test_tracker_records_a_first_state_that_is_not_ok_and_survives_a_broken_sink():
    class Broken:
        def record(self, *a, **k):
            raise OSError("disk full")

    sink = MemorySink()
    tr = CheckTracker([], sink=sink)
    tr.update(res_at("UNKNOWN", 0, "command not found: x", name="plug"))
    assert [(e.data["old"], e.data["new"]) for e in sink.events] == [(None, "UNKNOWN")]
    tr2 = CheckTracker([], sink=Broken())
    s = tr2.update(res_at("CRITICAL", 0))
    assert s.state == "CRITICAL" and tr2.sink_errors == ["OSError: disk full"]


# --------------------------------------------------------------------------- CLI


def write_cfg(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(text)
    return p


def test_cli_check_table_json_only_and_exit_codes(run_cli, tmp_path, http_server):
    port = free_port()
    cfg = write_cfg(tmp_path, f"""
checks:
  - {{name: api, kind: http, url: "{http_server.url('/health')}"}}
  - {{name: db-port, kind: tcp, address: "127.0.0.1:{port}"}}
  - {{name: slowish, kind: http, url: "{http_server.url('/slow')}", warn_latency: 100ms}}
  - {{name: plugin, kind: command, command: /nonexistent/check_thing -w 1}}
""")
    p = run_cli("check", "--config", str(cfg))
    assert p.returncode == 2, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    # a Nagios plugin's first line: the status sentence, then perfdata; the table follows
    status, perf = lines[0].split(" | ")
    assert status.startswith("OPSCONSOLE CRITICAL - 3 of 4 not OK: db-port CRITICAL "
                             f"(connection refused by 127.0.0.1:{port}), plugin UNKNOWN "
                             "(command not found: /nonexistent/check_thing), slowish WARNING")
    assert [item.split("=")[0] for item in perf.split()] == [
        "'api_latency'", "'db-port_latency'", "'plugin_latency'", "'slowish_latency'"]
    assert perf.split()[3].endswith("s;0.1;;0")  # warn_latency 100ms
    assert lines[1].split() == ["STATE", "NAME", "LATENCY", "MESSAGE"]
    assert lines[2].startswith("✗ CRITICAL db-port") and "connection refused" in lines[2]
    assert lines[3].startswith("? UNKNOWN  plugin") and "command not found" in lines[3]
    assert lines[4].startswith("! WARNING  slowish")
    assert lines[5].startswith("✓ OK       api")
    assert lines[6].startswith("CRITICAL: 4 checks (1 CRITICAL, 1 UNKNOWN, 1 WARNING, 1 OK) in ")
    assert len(lines) == 7 and p.stderr == ""

    p = run_cli("check", "--config", str(cfg), "--json")
    data = json.loads(p.stdout)
    assert p.returncode == 2 and data["state"] == "CRITICAL" and data["code"] == 2
    assert {c["name"]: c["state"] for c in data["checks"]} == {
        "api": "OK", "db-port": "CRITICAL", "slowish": "WARNING", "plugin": "UNKNOWN"}

    p = run_cli("check", "--config", str(cfg), "--only", "api")
    assert p.returncode == 0 and p.stdout.startswith("OPSCONSOLE OK - 1 check OK | 'api_latency'=")
    p = run_cli("check", "--config", str(cfg), "--only", "api", "--only", "slowish")
    assert p.returncode == 1 and "slowish" in p.stdout and "db-port" not in p.stdout
    assert run_cli("check", "--config", str(cfg), "--only", "plugin").returncode == 3
    p = run_cli("check", "--config", str(cfg), "--only", "nope")
    assert p.returncode == 2 and "no check named 'nope'" in p.stderr


def test_cli_log_errors_continues_where_the_last_run_stopped(run_cli, tmp_path):
    log = tmp_path / "app.log"
    append(log, "ERROR before the first run")
    cfg = write_cfg(tmp_path, f"""
checks:
  - {{name: app-log, kind: log_errors, path: "{log}", pattern: ERROR, warning: 1, critical: 4}}
""")
    p = run_cli("check", "--config", str(cfg), "--json")
    first = json.loads(p.stdout)["checks"][0]
    assert p.returncode == 0 and first["details"]["count"] == 0
    assert "(watching from now on)" in first["message"]
    append(log, "ERROR one", "INFO fine", "ERROR two")
    p = run_cli("check", "--config", str(cfg), "--json")
    second = json.loads(p.stdout)["checks"][0]
    assert p.returncode == 1 and second["details"]["count"] == 2, second
    # logrotate: the writer adds one more line to the old file, then a new file starts
    log.rename(tmp_path / "app.log.1")
    append(tmp_path / "app.log.1", "ERROR three (just before rotation)")
    append(log, "ERROR four (new file)")
    p = run_cli("check", "--config", str(cfg), "--json")
    third = json.loads(p.stdout)["checks"][0]
    assert p.returncode == 2 and third["details"]["count"] == 4, third
    assert third["details"]["rotations"] == 1


def test_cli_check_without_checks_is_unknown(run_cli, tmp_path):
    cfg = write_cfg(tmp_path, "refresh: 2s\n")
    p = run_cli("check", "--config", str(cfg))
    assert p.returncode == 3 and "no checks configured" in p.stdout


_ = sys


async def test_process_cpu_is_unknown_on_first_sight_then_measured(sleepers):
    spec = ProcessCheck(name="p", pattern=f"^{sleepers[0].exe_name}$", min_count=2)
    from opsconsole.checks.probes import process

    for p in sleepers:
        process._PROCS.pop(p.pid, None)
    r = await run_check(spec)
    assert "cpu n/a (first sample)" in r.message
    assert all(d["cpu"] is None for d in r.details["processes"])
    r = await run_check(spec)
    assert "cpu 0.0%" in r.message  # sleeping processes, measured against the last sample
    assert all(d["cpu"] == 0.0 for d in r.details["processes"])


async def test_a_blocked_file_read_times_out_and_is_not_piled_up(tmp_path):
    """open() of a FIFO blocks like a hung NFS mount: the check times out; while the stuck
    thread is still stuck the check says so instead of starting another; then it recovers."""
    fifo = tmp_path / "stuck.log"
    os.mkfifo(fifo)
    spec = LogErrorsCheck(name=f"fifo-{tmp_path.name}", path=str(fifo), timeout=Duration(0.3))
    r = await run_check(spec)
    assert (r.state, r.message) == ("CRITICAL", "timed out after 300ms")
    r = await run_check(spec)
    assert r.state == "CRITICAL" and r.message.startswith("still hung: the run started ")
    threads_before = threading.active_count()
    r = await run_check(spec)
    assert threading.active_count() == threads_before  # no new thread while one is stuck
    fd = os.open(fifo, os.O_WRONLY)  # unblocks the reader
    try:
        deadline = time.monotonic() + 5
        while True:
            r = await run_check(spec)
            if not r.message.startswith("still hung") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        assert (r.state, r.message) == ("UNKNOWN", f"{fifo} is not a regular file")
    finally:
        os.close(fd)
