"""Parameters never become code: shell steps get them as environment variables, URLs as one
encoded segment, SQL as bound values; steps get an explicit environment; secrets reach the
program but never the screen. Real /bin/sh, real HTTP server, real CLI."""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from opsconsole.config import AppConfig
from opsconsole.incidents.sink import JournalSink, MemorySink
from opsconsole.runbooks.model import load_yaml_runbook
from opsconsole.runbooks.params import resolve_params
from opsconsole.runbooks.session import RunbookSession, SessionOptions
from servers import serve_http

# every character the shell treats specially, and command substitutions that leave a mark
EVIL = "a  b;$(touch {d}/P1)`touch {d}/P2`'\"\\ $HOME * {{ x }} \n$(( 1+1 ))"


def load(text: str):
    return load_yaml_runbook(Path("t.yaml"), text)


def session(rb, values, tmp_path, sink=None):
    return RunbookSession(rb, resolve_params(rb, values), SessionOptions(
        config=AppConfig(), sink=sink or MemorySink(), data_dir=tmp_path / "data"))


def shell_rb(run: str, params: str = "params:\n  - name: v\n") -> str:
    return f"id: t\ntitle: T\n{params}steps:\n  - title: s\n    kind: shell\n    run: {json.dumps(run)}\n"


PRINT = f"{sys.executable} -c 'import json, sys; print(json.dumps(sys.argv[1:]))'"


@pytest.mark.parametrize("run, expect", [
    # unquoted: one word
    (PRINT + " {{ v }}", lambda v: [v]),
    # inside the command's own double quotes, with text around it
    (PRINT + ' "pre {{ v }} post"', lambda v: [f"pre {v} post"]),
    # inside $( … ), and inside double quotes inside $( … ) inside double quotes
    ('x=$(printf %s {{ v }}); ' + PRINT + ' "$x"', lambda v: [v]),
    (PRINT + ' "$(printf "<%s>" "{{ v }}")"', lambda v: [f"<{v}>"]),
    # an assignment word and a subshell
    ('f={{ v }}; (' + PRINT + ' "$f")', lambda v: [v]),
])
async def test_a_hostile_value_is_data_in_every_place_a_shell_allows_it(tmp_path, run, expect):
    value = EVIL.format(d=tmp_path)
    s = session(load(shell_rb(run)), {"v": value}, tmp_path)
    rendered = s.render(s.runbook.steps[0])
    # what runs holds a reference, never the value; the value travels in the environment
    assert "touch" not in (rendered.command or "") and "${OPSCONSOLE_P_V}" in rendered.command
    assert rendered.env == {"OPSCONSOLE_P_V": value}
    out = await s.run_step(0)
    assert out.status == "ok", out
    text = Path(out.output_file).read_text()
    assert json.loads(text.splitlines()[0]) == expect(value)
    assert not (tmp_path / "P1").exists() and not (tmp_path / "P2").exists()


async def test_a_heredoc_body_and_arithmetic_take_values_safely(tmp_path):
    run = ("cat <<EOF\nline {{ v }} end\nEOF\n"
           "echo $(( {{ n }} * 2 ))")
    rb = load(shell_rb(run, "params:\n  - name: v\n  - name: n\n    type: int\n"))
    s = session(rb, {"v": "$(touch " + str(tmp_path / "P3") + ") `id`", "n": "21"}, tmp_path)
    out = await s.run_step(0)
    assert out.status == "ok", out
    lines = Path(out.output_file).read_text().splitlines()
    assert lines[0] == f"line $(touch {tmp_path / 'P3'}) `id` end"
    assert lines[1] == "42"
    assert not (tmp_path / "P3").exists()


async def test_a_value_captured_from_a_target_cannot_run_commands_in_the_next_step(tmp_path):
    mark = tmp_path / "CAPTURED"
    rb = load("id: t\ntitle: T\nsteps:\n"
              "  - title: ask the target\n    kind: shell\n"
              f"    run: \"echo 'service: web$(touch {mark})`touch {mark}`'\"\n"
              "    capture: {svc: '^service: (.+)$'}\n"
              "  - title: use it\n    kind: shell\n    run: 'echo \"service {{ svc }}\"'\n")
    s = session(rb, {}, tmp_path)
    assert (await s.run_step(0)).ok
    assert s.values["svc"] == f"web$(touch {mark})`touch {mark}`"
    out = await s.run_step(1)
    assert out.ok
    assert Path(out.output_file).read_text().splitlines()[0] == f"service web$(touch {mark})`touch {mark}`"
    assert not mark.exists()
    # the operator saw the value filled in; the record keeps what ran too
    assert f"service web$(touch {mark})" in s.render(rb.steps[1]).display


def test_the_shipped_backup_runbook_does_not_run_a_parameter(run_cli, tmp_path):
    evil = tmp_path / "x$(touch PWNED)"
    evil.mkdir()
    (evil / "nightly.gz").write_bytes(__import__("gzip").compress(b"backup"))
    r = run_cli("runbook", "run", "backup-verification", "--param", f"backup_dir={evil}",
                cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "nightly.gz" in r.stdout and "gzip OK" in r.stdout
    assert not (tmp_path / "PWNED").exists()
    assert not list(tmp_path.rglob("PWNED"))
    # shown to the operator with the value filled in
    assert f"find '{evil}'" in r.stdout


def test_placeholders_that_are_not_parameters_are_text(tmp_path):
    rb = load("id: t\ntitle: T\nparams:\n  - name: v\nsteps:\n"
              "  - title: 'docker {{ .State.Status }}'\n    kind: shell\n"
              "    run: \"docker ps --format '{{.Names}}' {{range .items}} {{ other }} '{{{{ v }}'\"\n")
    s = session(rb, {"v": "val"}, tmp_path)
    step = rb.steps[0]
    assert s.text(step.title) == "docker {{ .State.Status }}"
    r = s.render(step)
    assert r.command == "docker ps --format '{{.Names}}' {{range .items}} {{ other }} '{{ v }}'"
    assert r.env == {}


async def test_steps_get_an_explicit_environment_not_the_consoles(tmp_path, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "pg-pass-0xdead")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-0xbeef")
    monkeypatch.setenv("LC_TIME", "C")
    rb = load("id: t\ntitle: T\nparams:\n  - name: tok\n    secret: true\nsteps:\n"
              "  - title: env\n    kind: shell\n    run: env | sort\n"
              "    env: {API_TOKEN: 'Bearer {{ tok }}', MODE: quick}\n")
    journal = JournalSink(tmp_path / "journal.jsonl")
    s = session(rb, {"tok": "tok-secret-77"}, tmp_path, sink=journal)
    out = await s.run_step(0)
    assert out.ok
    text = Path(out.output_file).read_text()
    names = {line.split("=", 1)[0] for line in text.splitlines() if "=" in line}
    assert "PGPASSWORD" not in names and "AWS_SECRET_ACCESS_KEY" not in names
    assert {"PATH", "LC_TIME", "MODE", "API_TOKEN"} <= names
    assert names <= {"PATH", "HOME", "LANG", "LANGUAGE", "TERM", "USER", "LOGNAME", "TZ",
                     "PAGER", "OPSCONSOLE_RUNBOOK", "MODE", "API_TOKEN", "PWD", "SHLVL", "_",
                     "OLDPWD"} | {n for n in names if n.startswith("LC_")}
    record = (tmp_path / "journal.jsonl").read_text()
    assert "pg-pass-0xdead" not in record and "aws-0xbeef" not in record + text
    # the secret went into env: for real (its length), and is masked in output and record
    assert "tok-secret-77" not in text and "tok-secret-77" not in record
    rb2 = load("id: t\ntitle: T\nparams:\n  - name: tok\n    secret: true\nsteps:\n"
               "  - title: env\n    kind: shell\n    run: 'echo ${#API_TOKEN}'\n"
               "    env: {API_TOKEN: 'Bearer {{ tok }}'}\n")
    s = session(rb2, {"tok": "tok-secret-77"}, tmp_path)
    out = await s.run_step(0)
    assert Path(out.output_file).read_text().strip() == str(len("Bearer tok-secret-77"))


@pytest.fixture
def recorder():
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def _any(self):
            n = int(self.headers.get("Content-Length") or 0)
            seen.append({"path": self.path, "auth": self.headers.get("Authorization"),
                         "body": self.rfile.read(n).decode()})
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = _any  # noqa: N815

        def log_message(self, *a):
            pass

    with serve_http(Handler) as srv:
        srv.seen = seen
        yield srv


async def test_http_secret_headers_and_body_are_sent_for_real_and_shown_masked(tmp_path, recorder):
    port = recorder.server_address[1]
    rb = load("id: t\ntitle: T\nparams:\n  - name: tok\n    secret: true\n  - name: who\nsteps:\n"
              f"  - title: post\n    kind: http\n    method: POST\n    url: http://127.0.0.1:{port}/x\n"
              "    headers: {Authorization: 'Bearer {{ tok }}'}\n"
              "    body: '{\"token\": \"{{ tok }}\", \"who\": \"{{ who }}\"}'\n")
    journal = JournalSink(tmp_path / "journal.jsonl")
    s = session(rb, {"tok": "hdr-secret-55", "who": "alice"}, tmp_path, sink=journal)
    out = await s.run_step(0)
    assert out.ok, out
    assert recorder.seen[0]["auth"] == "Bearer hdr-secret-55"
    assert json.loads(recorder.seen[0]["body"]) == {"token": "hdr-secret-55", "who": "alice"}
    assert "hdr-secret-55" not in (tmp_path / "journal.jsonl").read_text()
    assert "hdr-secret-55" not in s.render(rb.steps[0]).display


@pytest.mark.parametrize("value, path", [
    ("..", "/users/%2E%2E/status"),
    (".", "/users/%2E/status"),
    ("a/../../b", "/users/a%2F..%2F..%2Fb/status"),
    ("x?y#z", "/users/x%3Fy%23z/status"),
])
async def test_a_path_parameter_is_exactly_one_segment(tmp_path, recorder, value, path):
    port = recorder.server_address[1]
    rb = load("id: t\ntitle: T\nparams:\n  - name: p\n  - name: q\nsteps:\n"
              f"  - title: get\n    kind: http\n    url: 'http://127.0.0.1:{port}/users/{{{{ p }}}}/status?q={{{{ q }}}}'\n")
    s = session(rb, {"p": value, "q": "a&b=c/d"}, tmp_path)
    assert (await s.run_step(0)).ok
    assert recorder.seen[0]["path"] == path + "?q=a%26b%3Dc%2Fd"


def test_no_console_secret_reaches_a_step_through_the_cli(run_cli, tmp_path):
    p = tmp_path / "rb.yaml"
    p.write_text("id: e\ntitle: E\nsteps:\n  - title: env\n    kind: shell\n    run: env\n")
    r = run_cli("runbook", "run", str(p), env={"PGPASSWORD": "cli-pg-secret-1",
                                               "AWS_ACCESS_KEY_ID": "cli-aws-2"})
    assert r.returncode == 0, r.stderr
    assert "PATH=" in r.stdout
    assert "cli-pg-secret-1" not in r.stdout and "PGPASSWORD" not in r.stdout
    assert "AWS_ACCESS_KEY_ID" not in r.stdout
    for f in (tmp_path / "cli-data").rglob("*"):
        if f.is_file():
            assert b"cli-pg-secret-1" not in f.read_bytes()


@pytest.mark.pg
async def test_a_sql_value_arrives_as_data(tmp_path, pg_cluster):
    from opsconsole.postgres.config import DatabaseTarget

    pg_cluster.psql("create table if not exists inj_x(name text); "
                    "insert into inj_x values ('''; drop table inj_x; --')")
    rb = load("id: t\ntitle: T\nparams:\n  - name: v\nsteps:\n"
              "  - title: q\n    kind: sql\n    database: main\n"
              "    sql: select name, length(name) as n from inj_x where name = $1\n    args: [v]\n")
    s = RunbookSession(rb, resolve_params(rb, {"v": "'; drop table inj_x; --"}), SessionOptions(
        config=AppConfig(databases=[DatabaseTarget("main", pg_cluster.dsn())]), sink=MemorySink(),
        data_dir=tmp_path))
    out = await s.run_step(0)
    assert out.ok, out
    assert out.output_first[2].split("|")[0].strip() == "'; drop table inj_x; --"
    assert out.output_first[3] == "(1 row)"
    assert pg_cluster.psql("select count(*) from inj_x").strip() == "1"
