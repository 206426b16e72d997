"""The Nagios plugin API, both ways, with real parts.

Consuming: the Debian monitoring plugins run as ``command`` checks against real servers on
127.0.0.1 and the test PostgreSQL cluster; their state, first line and perfdata (labels,
units) are what a user sees. Producing: ``opsconsole check`` run as a subprocess is read by
a small consumer that follows Nagios' own rules (first line up to '|' is plugin_output,
after it perfdata; later lines long output; a second '|' continues perfdata), the way
Nagios 4 and Icinga store a plugin's result. (A real nagios4 was not used: it drags in a
web server and needs a daemon with its own config tree; the consumer below does what its
output parser does.) Orphans: a plugin that escapes its session is still killed.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import psutil
import pytest

from eventually import eventually_sync
from opsconsole.checks.engine import run_check
from opsconsole.checks.perfdata import (
    PerfDatum,
    format_item,
    parse_perfdata,
    split_output,
)
from opsconsole.checks.spec import CommandCheck
from opsconsole.schema import Duration
from servers import serve_http

PLUGINS = Path("/usr/lib/nagios/plugins")


def plugin(name: str) -> str:
    path = PLUGINS / name
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not installed (apt-get install monitoring-plugins-basic "
                    "monitoring-plugins-standard)")
    return str(path)


def labels(result) -> dict[str, str]:
    """{label: uom} of a result's parsed perfdata."""
    return {d.label: d.uom for d in result.perfdata}


# --------------------------------------------------------------------------- servers


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):  # quiet
        pass

    def do_GET(self):
        body = b"ok\n" if self.path == "/health" else b"gone\n"
        self.send_response(200 if self.path == "/health" else 503)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def web():
    with serve_http(_Handler) as httpd:
        yield httpd.server_address[1]


@pytest.fixture
def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield s.getsockname()[1]
    s.close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def run_plugin(command: str, timeout: float = 10.0):
    return await run_check(CommandCheck(name="p", command=command, timeout=Duration(timeout)))


# --------------------------------------------------------------------------- real plugins


async def test_check_disk():
    r = await run_plugin(f"{plugin('check_disk')} -w 10% -c 5% -p /")
    assert r.message.startswith(f"DISK {r.state} - free space: / ")
    assert labels(r) == {"/": "B"}
    (d,) = r.perfdata
    st = os.statvfs("/")
    total = st.f_blocks * st.f_frsize
    assert d.min == 0 and d.max is not None and abs(d.max - total) < total * 0.01
    assert d.value is not None and 0 < d.value <= d.max and d.warn and d.crit


async def test_check_load():
    r = await run_plugin(f"{plugin('check_load')} -w 500,500,500 -c 900,900,900")
    assert r.state == "OK" and r.message.startswith("LOAD OK - total load average: ")
    assert labels(r) == {"load1": "", "load5": "", "load15": ""}
    assert [d.warn for d in r.perfdata] == ["500.000"] * 3


async def test_check_procs():
    r = await run_plugin(f"{plugin('check_procs')} -w 100000 -c 200000")
    assert r.state == "OK" and re.fullmatch(r"PROCS OK: \d+ processes", r.message), r.message
    assert labels(r) == {"procs": ""}
    assert r.perfdata[0].value is not None and r.perfdata[0].value >= 1


@pytest.mark.parametrize("name", ["check_http", "check_curl"])
async def test_check_http_and_curl_against_a_local_server(web, name):
    exe = plugin(name)
    r = await run_plugin(f"{exe} -H 127.0.0.1 -p {web} -u /health")
    if r.state == "UNKNOWN" and "shared libraries" in r.details["output"]:
        pytest.skip(f"{name} cannot run here: {r.message}")
    assert r.state == "OK" and r.message.startswith("HTTP OK: HTTP/1."), r.message
    assert " 200 OK" in r.message
    got = labels(r)
    assert got["time"] == "s" and got["size"] == "B"
    r = await run_plugin(f"{exe} -H 127.0.0.1 -p {web} -u /gone")
    assert r.state == "CRITICAL" and "503" in r.message


async def test_check_tcp_against_a_listening_socket_and_a_closed_port(listener):
    r = await run_plugin(f"{plugin('check_tcp')} -H 127.0.0.1 -p {listener}")
    assert r.state == "OK" and r.message.startswith("TCP OK - ")
    assert f"port {listener}" in r.message and labels(r) == {"time": "s"}
    port = closed_port()
    r = await run_plugin(f"{plugin('check_tcp')} -H 127.0.0.1 -p {port}")
    assert r.state == "CRITICAL" and "Connection refused" in r.message
    assert r.perfdata == []


async def test_check_pgsql_against_the_test_cluster(pg_cluster):
    r = await run_plugin(f"{plugin('check_pgsql')} -H 127.0.0.1 -P {pg_cluster.port} "
                         "-l postgres -d postgres")
    assert r.state == "OK", r.details["output"]
    assert r.message.startswith("OK - database postgres ("), r.message
    assert labels(r) == {"time": "s"}
    r = await run_plugin(f"{plugin('check_pgsql')} -H 127.0.0.1 -P {closed_port()} "
                         "-l postgres -d postgres")
    assert r.state == "CRITICAL" and r.message.startswith("CRITICAL - no connection to 'postgres'")
    assert "Connection refused" in r.message


async def test_check_swap():
    r = await run_plugin(f"{plugin('check_swap')} -w 10% -c 5% -n ok")
    assert r.message.startswith(f"SWAP {r.state} - "), r.message
    assert r.state in ("OK", "WARNING", "CRITICAL")
    assert labels(r) == {"swap": "B"}


async def test_check_users():
    r = await run_plugin(f"{plugin('check_users')} -w 1000 -c 2000")
    assert r.state == "OK"
    assert re.fullmatch(r"USERS OK - \d+ users currently logged in", r.message), r.message
    assert labels(r) == {"users": ""}
    assert r.perfdata[0].warn == "1000" and r.perfdata[0].crit == "2000"


# --------------------------------------------------------------------------- parsing


def test_perfdata_quoted_labels_units_ranges_and_multi_line_output():
    out = ("DISK WARNING - /srv at 91% | '/srv data'=91%;80;90;0;100 'it''s'=3c\n"
           "volume a ok\n"
           "volume b ok | time=0.012s;@0.5:1;~:2;0 size=43518B;;;0;\n"
           "'a=b'=U\n")
    parts = split_output(out)
    assert parts.text == "DISK WARNING - /srv at 91%"
    assert parts.long_output == ("volume a ok", "volume b ok")
    items, skipped = parse_perfdata(parts.perfdata)
    assert skipped == 0
    assert items == [
        PerfDatum("/srv data", 91.0, "%", "80", "90", 0.0, 100.0),
        PerfDatum("it's", 3.0, "c"),
        PerfDatum("time", 0.012, "s", "@0.5:1", "~:2", 0.0),
        PerfDatum("size", 43518.0, "B", min=0.0),
        PerfDatum("a=b", None),
    ]
    # written back, every item reads the same again
    again, _ = parse_perfdata(" ".join(format_item(d) for d in items))
    assert again == items


@pytest.mark.parametrize("text, good, bad", [
    ("a=1 novalue b=2", ["a", "b"], 1),
    ("=3 c=x d=1;2;3;4;5;6 e=4", ["e"], 3),
    ("f=1 'unterminated=2 g=3", ["f"], 1),
    ("h=1;;;;", ["h"], 0),
    ("'' i=5", ["i"], 1),
    ("j=1,5 k=+2e3ms", ["j", "k"], 0),
])
def test_malformed_perfdata_items_are_skipped_and_counted(text, good, bad):
    items, skipped = parse_perfdata(text)
    assert [d.label for d in items] == good and skipped == bad


def test_perfdata_from_a_flood_is_bounded():
    items, skipped = parse_perfdata("x=1 " * 5000 + "'" + "''" * 20000)
    assert len(items) == 256 and skipped == 5000 - 256 + 1


# --------------------------------------------------------------------------- orphans


def leftovers(marker: str) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["cmdline", "status"]):
        if p.info["status"] != psutil.STATUS_ZOMBIE and marker in " ".join(p.info["cmdline"] or ()):
            out.append(p)
    return out


async def test_a_plugin_child_that_leaves_the_session_is_killed_at_the_timeout():
    # "sleep 300.<unique>": sleeps 300 s, and no other test's sleep looks like it
    marker = f"300.{uuid.uuid4().int % 10**8:08d}"
    spec = CommandCheck(name="c", shell=True, timeout=Duration(1),
                        command=f"setsid sleep {marker} & sleep {marker}")
    for _ in range(2):  # one orphan per run, before
        r = await run_check(spec)
        assert r.state == "CRITICAL" and r.message.startswith("killed after 1.0s timeout")
    eventually_sync(lambda: not leftovers(marker), 5, what=f"no 'sleep {marker}' left",
                    last=lambda: [p.info for p in leftovers(marker)])


async def test_a_background_child_holding_the_output_does_not_hold_the_check():
    marker = f"300.{uuid.uuid4().int % 10**8:08d}"
    r = await run_check(CommandCheck(name="c", shell=True, timeout=Duration(10),
                                     command=f"sleep {marker} & echo 'BG OK - started'"))
    assert (r.state, r.message) == ("OK", "BG OK - started")
    assert r.latency is not None and r.latency < 10  # finished with the plugin, not the timeout
    eventually_sync(lambda: not leftovers(marker), 5, what="the leftover child killed")


# --------------------------------------------------------------------------- producing


def nagios_read(stdout: str) -> tuple[str, list[str], str]:
    """What Nagios stores of a plugin's output: (plugin_output, long_output lines,
    performance_data). First line: text up to '|', perfdata after it; later lines are long
    output until one holds a '|': after it, that line and every later one are perfdata."""
    lines = stdout.rstrip("\n").split("\n")
    plugin_output, _, perf = lines[0].partition("|")
    perf_parts = [perf]
    long_output: list[str] = []
    in_perf = False
    for line in lines[1:]:
        if in_perf:
            perf_parts.append(line)
        elif "|" in line:
            before, _, after = line.partition("|")
            if before:
                long_output.append(before)
            perf_parts.append(after)
            in_perf = True
        else:
            long_output.append(line)
    return plugin_output.strip(), long_output, " ".join(p.strip() for p in perf_parts).strip()


PERF_ITEM = re.compile(r"(?:'((?:[^']|'')+)'|([^\s'=]+))=([-0-9.]+|U)([a-zA-Z%]*)"
                       r"((?:;[^;\s]*){0,4})(?=\s|$)")


def perf_labels(perf: str) -> dict[str, tuple[float | None, str, list[str]]]:
    """{label: (value, uom, [warn, crit, min, max])}; every character must belong to an
    item (a graphing add-on such as PNP4Nagios drops the whole line otherwise)."""
    out = {}
    pos = 0
    for m in PERF_ITEM.finditer(perf):
        assert not perf[pos:m.start()].strip(), f"unparsable perfdata: {perf[pos:m.start()]!r}"
        label = m.group(1).replace("''", "'") if m.group(1) is not None else m.group(2)
        value = None if m.group(3) == "U" else float(m.group(3))
        out[label] = (value, m.group(4), m.group(5).split(";")[1:])
        pos = m.end()
    assert not perf[pos:].strip(), f"unparsable perfdata: {perf[pos:]!r}"
    return out


def write_cfg(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(text)
    return p


def test_opsconsole_check_reads_as_a_plugin_to_a_nagios_consumer(run_cli, tmp_path, web):
    down = closed_port()
    disk = f"{PLUGINS / 'check_disk'} -w 10% -c 5% -p /"
    cfg = write_cfg(tmp_path, f"""
checks:
  - {{name: web front, kind: http, url: "http://127.0.0.1:{web}/health", warn_latency: 20s,
     crit_latency: 50s}}
  - {{name: billing-api, kind: tcp, address: "127.0.0.1:{down}"}}
  - {{name: disk, kind: command, command: "{disk}"}}
  - {{name: quoted, kind: command, shell: true,
     command: "echo \\"Q OK - fine | 'it''s a=b'=3;5;9\\""}}
""")
    p = run_cli("check", "--config", str(cfg))
    assert p.returncode == 2 and p.stderr == ""
    plugin_output, long_output, perf = nagios_read(p.stdout)
    assert plugin_output == ("OPSCONSOLE CRITICAL - 1 of 4 not OK: billing-api CRITICAL "
                             f"(connection refused by 127.0.0.1:{down})")
    assert long_output[0].split() == ["STATE", "NAME", "LATENCY", "MESSAGE"]
    assert long_output[-1].startswith("CRITICAL: 4 checks (1 CRITICAL, 3 OK) in ")
    got = perf_labels(perf)
    assert set(got) >= {"web front_latency", "billing-api_latency", "disk_latency",
                        "quoted_latency", "quoted_it's a=b"}
    value, uom, limits = got["web front_latency"]
    assert uom == "s" and value is not None and limits[:3] == ["20", "50", "0"]
    assert got["quoted_it's a=b"] == (3.0, "", ["5", "9"])
    if (PLUGINS / "check_disk").exists():  # the plugin's own perfdata, passed through
        assert got["disk_/"][1] == "B"

    p = run_cli("check", "--config", str(cfg), "--only", "web front", "--only", "disk")
    assert p.returncode == 0 or not (PLUGINS / "check_disk").exists()
    plugin_output, _, perf = nagios_read(p.stdout)
    if p.returncode == 0:
        assert plugin_output == "OPSCONSOLE OK - 2 checks OK"
        assert "web front_latency" in perf_labels(perf)


def test_many_failures_keep_the_first_line_bounded_and_all_perfdata_readable(run_cli,
                                                                          tmp_path):
    down = closed_port()
    names = [f"backend-{i:02d}-with-a-rather-long-name" for i in range(40)]
    cfg = write_cfg(tmp_path, "checks:\n" + "".join(
        f"  - {{name: {n}, kind: tcp, address: \"127.0.0.1:{down}\", warn_latency: 1s}}\n"
        for n in names))
    p = run_cli("check", "--config", str(cfg))
    assert p.returncode == 2 and p.stderr == ""
    first = p.stdout.split("\n", 1)[0]
    assert len(first) <= 1000
    plugin_output, long_output, perf = nagios_read(p.stdout)
    assert plugin_output.startswith("OPSCONSOLE CRITICAL - 40 of 40 not OK: backend-00-")
    assert plugin_output.endswith(", …") and len(plugin_output) <= 300
    assert len(long_output) == 42  # header, 40 rows, summary: the perfdata came after
    got = perf_labels(perf)
    assert set(got) == {f"{n}_latency" for n in names}
    assert all(uom == "s" and limits[0] == "1" for _, uom, limits in got.values())


def test_json_has_the_parsed_perfdata(run_cli, tmp_path):
    cfg = write_cfg(tmp_path, """
checks:
  - {name: p, kind: command, shell: true,
     command: "echo 'P WARNING - hot | temp=71.5;60;80;0;120 broken'; exit 1"}
""")
    import json

    p = run_cli("check", "--config", str(cfg), "--json")
    assert p.returncode == 1 and p.stderr == ""
    (check,) = json.loads(p.stdout)["checks"]
    assert check["message"] == "P WARNING - hot"
    assert check["perfdata"] == [{"label": "temp", "value": 71.5, "uom": "", "warn": "60",
                                  "crit": "80", "min": 0.0, "max": 120.0}]
    assert check["details"]["perfdata_skipped"] == 1


def test_cli_exit_after_a_killed_plugin_is_clean(run_cli, tmp_path):
    marker = f"300.{uuid.uuid4().int % 10**8:08d}"
    cfg = write_cfg(tmp_path, f"""
checks:
  - {{name: escapes, kind: command, shell: true, timeout: 1s,
     command: "setsid sleep {marker} & sleep {marker}"}}
  - {{name: bg, kind: command, shell: true, command: "sleep {marker} & echo BG OK"}}
""")
    p = run_cli("check", "--config", str(cfg))
    assert p.returncode == 2
    assert p.stderr == ""  # no "Event loop is closed" from a transport left behind
    assert nagios_read(p.stdout)[0].startswith("OPSCONSOLE CRITICAL - 1 of 2 not OK: escapes "
                                               "CRITICAL (killed after 1.0s timeout")
    eventually_sync(lambda: not leftovers(marker), 5, what=f"no 'sleep {marker}' left",
                    last=lambda: [p.info for p in leftovers(marker)])



