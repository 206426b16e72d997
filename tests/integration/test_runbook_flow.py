"""Runbooks that tell the truth (issue 11): expect:, recorded reasons, when:, stop_when:,
on_failure recovery, background processes, literal braces and PostgreSQL intervals — against
real subprocesses and a real PostgreSQL."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from opsconsole.config import AppConfig
from opsconsole.incidents.describe import describe
from opsconsole.incidents.sink import MemorySink
from opsconsole.postgres.config import DatabaseTarget
from opsconsole.runbooks.markdown import load_markdown_runbook
from opsconsole.runbooks.model import load_yaml_runbook
from opsconsole.runbooks.params import resolve_params
from opsconsole.runbooks.session import RunbookSession, SessionOptions
from opsconsole.schema import ConfigError


def rb(text: str):
    return load_yaml_runbook(Path("t.yaml"), text)


def session(book, values=None, *, cfg=None, tmp_path, sink):
    return RunbookSession(book, resolve_params(book, values or {}), SessionOptions(
        config=cfg or AppConfig(), sink=sink, data_dir=tmp_path))


def events(sink, type_):
    return [e.data for e in sink.events if e.type == type_]


@pytest.mark.pg
async def test_pg_cancel_backend_of_no_backend_with_expect_fails_with_the_reason(tmp_path, pg_cluster):
    cfg = AppConfig(databases=[DatabaseTarget("main", pg_cluster.dsn())])
    book = rb("id: t\ntitle: T\nparams:\n  - name: pid\nsteps:\n"
              "  - title: cancel\n    kind: sql\n    database: main\n"
              "    sql: select pg_cancel_backend($1)\n    args: [pid]\n    expect: true\n")
    sink = MemorySink()
    s = session(book, {"pid": "999999"}, cfg=cfg, tmp_path=tmp_path, sink=sink)
    out = await s.run_step(0)
    assert out.status == "failed"
    assert "expected the first value to be true, got false" in out.message
    rec = events(sink, "runbook.step_finished")[-1]
    assert rec["status"] == "failed" and "got false" in rec["reason"]


@pytest.mark.pg
async def test_expect_rows_and_a_missing_database_reason_is_recorded(tmp_path, pg_cluster):
    cfg = AppConfig(databases=[DatabaseTarget("main", pg_cluster.dsn())])
    book = rb("id: t\ntitle: T\nsteps:\n"
              "  - title: two rows\n    kind: sql\n    database: main\n"
              "    sql: select 1 union all select 2\n    expect: {rows: 2}\n"
              "  - title: nowhere\n    kind: sql\n    database: other\n    sql: select 1\n")
    sink = MemorySink()
    s = session(book, cfg=cfg, tmp_path=tmp_path, sink=sink)
    assert (await s.run_step(0)).status == "ok"
    assert (await s.run_step(1)).status == "failed"
    rec = events(sink, "runbook.step_finished")[-1]
    assert "database 'other' is not in the config" in rec["reason"]


@pytest.mark.pg
async def test_postgres_interval_text_is_accepted_and_bound(tmp_path, pg_cluster):
    cfg = AppConfig(databases=[DatabaseTarget("main", pg_cluster.dsn())])
    book = rb("id: t\ntitle: T\nparams:\n  - name: age\nsteps:\n"
              "  - title: interval\n    kind: sql\n    database: main\n"
              "    sql: select extract(epoch from $1::interval)::int as s\n    args: [age]\n")
    for text, seconds in (("5 minutes", 300), ("1 hour 30 mins", 5400), ("00:05:00", 300),
                          ("P1D", 86400), ("5m", 300)):
        sink = MemorySink()
        s = session(book, {"age": text}, cfg=cfg, tmp_path=tmp_path, sink=sink)
        out = await s.run_step(0)
        assert out.status == "ok", (text, out.message)
        assert str(seconds) in out.output_first, (text, out.output_first)
    sink = MemorySink()
    out = await session(book, {"age": "'; select 1"}, cfg=cfg, tmp_path=tmp_path,
                        sink=sink).run_step(0)
    assert out.status == "failed" and "not an interval" in out.message


async def test_on_failure_repair_marks_the_step_recovered(tmp_path):
    db = tmp_path / "db.ok"
    book = rb(f"id: t\ntitle: T\nsteps:\n  - title: check db\n    kind: shell\n"
              f"    run: test -f {db}\n    on_failure:\n      - title: repair\n"
              f"        kind: shell\n        run: touch {db}\n")
    sink = MemorySink()
    s = session(book, tmp_path=tmp_path, sink=sink)
    out = await s.run_step(0)
    assert out.status == "recovered" and s.states[0] == "recovered"
    rec = events(sink, "runbook.step_recovered")[0]
    assert rec["step"] == 1 and "exit status 1" in rec["reason"]
    line = describe(next(e for e in sink.events if e.type == "runbook.step_recovered"))
    assert line.startswith("Runbook t: step check db recovered") and "exit status 1" in line
    # a repair that fails leaves the step failed
    book = rb("id: t\ntitle: T\nsteps:\n  - title: x\n    kind: shell\n    run: exit 2\n"
              "    on_failure:\n      - title: repair\n        kind: shell\n        run: exit 1\n")
    s = session(book, tmp_path=tmp_path, sink=MemorySink())
    assert (await s.run_step(0)).status == "failed"


async def test_when_false_skips_with_the_reason(tmp_path):
    book = rb("id: t\ntitle: T\nparams:\n  - name: f\nsteps:\n"
              "  - title: only if present\n    kind: shell\n    run: echo ran\n"
              "    when: {shell: 'test -f {{ f }}'}\n")
    sink = MemorySink()
    s = session(book, {"f": str(tmp_path / "absent")}, tmp_path=tmp_path, sink=sink)
    out = await s.run_step(0)
    assert out.status == "skipped" and s.states[0] == "skipped"
    assert "when: shell" in out.message and "did not hold" in out.message
    assert "did not hold" in events(sink, "runbook.step_skipped")[0]["reason"]
    assert not events(sink, "runbook.step_finished")
    (tmp_path / "absent").write_text("")
    s = session(book, {"f": str(tmp_path / "absent")}, tmp_path=tmp_path, sink=MemorySink())
    assert (await s.run_step(0)).status == "ok"


async def test_stop_when_ends_the_run_early_with_success(tmp_path):
    book = rb("id: t\ntitle: T\nsteps:\n"
              "  - title: verify recovery\n    kind: shell\n    run: echo healthy\n"
              "    capture: {state: '(healthy|sick)'}\n"
              "    stop_when: {captured: state, equals: healthy}\n"
              "  - title: escalate\n    kind: shell\n    run: exit 9\n")
    sink = MemorySink()
    s = session(book, tmp_path=tmp_path, sink=sink)
    assert (await s.run_step(0)).status == "ok"
    assert s.finished_early == "recovered: condition state equals 'healthy' held"
    assert s.states == ["ok", "skipped"] and s.next_pending() is None
    assert s.step_reason(1) == s.finished_early
    assert events(sink, "runbook.step_skipped")[0]["reason"] == s.finished_early
    assert events(sink, "runbook.run_stopped")[0]["step"] == 1
    line = describe(next(e for e in sink.events if e.type == "runbook.run_stopped"))
    assert "run ended after step verify recovery — recovered: condition" in line


async def test_a_background_process_does_not_hold_the_step(tmp_path):
    pidfile = tmp_path / "pid"
    book = rb(f"id: t\ntitle: T\nsteps:\n  - title: start\n    kind: shell\n    timeout: 30s\n"
              f"    run: 'echo started; sleep 60 & echo $! > {pidfile}'\n")
    s = session(book, tmp_path=tmp_path, sink=MemorySink())
    try:
        out = await s.run_step(0)
        assert out.status == "ok", out.message
        assert out.output_first[0] == "started"
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


async def test_a_literal_double_brace_is_written_with_the_escape(tmp_path):
    book = rb("id: t\ntitle: T\nsteps:\n  - title: 'prose {{{{ x }}'\n    kind: shell\n"
              "    run: \"printf '%s\\\\n' '{{{{.Names}}' '{{ .Status }}'\"\n")
    s = session(book, tmp_path=tmp_path, sink=MemorySink())
    assert s.text(book.steps[0].title) == "prose {{ x }}"
    out = await s.run_step(0)
    assert out.status == "ok" and out.output_first == ["{{.Names}}", "{{ .Status }}"]


def test_bad_expect_and_conditions_are_located(tmp_path):
    cases = {
        "    expect: {row: 1}\n": ("unknown key 'row'", 6),
        "    expect: {matches: '('}\n": ("regular expression", 6),
        "    when: {captured: later, equals: x}\n": ("undefined parameter 'later'", 6),
        "    when: {check: api}\n": ("needs state", 6),
        "    when: {shell: \"echo '{{ p }}'\"}\n": ("close the quote", 6),
    }
    for extra, (msg, line) in cases.items():
        with pytest.raises(ConfigError) as err:
            rb("id: t\ntitle: T\nparams:\n  - name: p\nsteps:\n  - title: s\n    kind: shell\n"
               "    run: 'true'\n" + extra)
        assert msg in str(err.value), (extra, str(err.value))
        assert err.value.line in (line, 9, 10), (extra, err.value.line)


@pytest.mark.pg
async def test_markdown_expect_option(tmp_path, pg_cluster):
    page = tmp_path / "cancel.md"
    page.write_text("# Cancel\n\nCancel the blocker.\n\n"
                    "```sql database=main expect=true confirm=cancel\n"
                    "select pg_cancel_backend(999999);\n```\n")
    book = load_markdown_runbook(page, page.read_text())
    cfg = AppConfig(databases=[DatabaseTarget("main", pg_cluster.dsn())])
    s = RunbookSession(book, {}, SessionOptions(config=cfg, sink=MemorySink(), data_dir=tmp_path,
                                                auto_confirm=True))
    out = await s.run_step(0)
    assert out.status == "failed" and "got false" in out.message
    page.write_text("# X\n\n```sql expect_rows=x\nselect 1;\n```\n")
    with pytest.raises(ConfigError):
        load_markdown_runbook(page, page.read_text())


@pytest.mark.pg
async def test_the_shipped_lock_runbook_tells_the_truth(tmp_path, pg_cluster):
    path = Path(__file__).parents[2] / "runbooks" / "pg-lock-contention.yaml"
    book = load_yaml_runbook(path, path.read_text())
    cfg = AppConfig(databases=[DatabaseTarget("main", pg_cluster.dsn())])
    sink = MemorySink()
    s = RunbookSession(book, resolve_params(book, {"pid": "999999"}), SessionOptions(
        config=cfg, sink=sink, data_dir=tmp_path, auto_confirm=True))
    cancel = book.find_step("Cancel its query")
    out = await s.run_step(cancel)
    assert out.status == "failed" and "got false" in out.message
    assert (await s.run_step(book.find_step("still-blocking"))).status == "ok"
    assert s.values["still_blocked"] == "0"
    terminate = next(i for i, st in enumerate(book.steps) if st.kind == "sql"
                     and "pg_terminate_backend" in st.sql)
    out = await s.run_step(terminate)
    assert out.status == "skipped" and "still_blocked is '0'" in out.message


async def test_read_only_and_dry_run_never_run_a_conditions_command(tmp_path):
    flag = tmp_path / "ran"
    book = rb(f"id: t\ntitle: T\nsteps:\n  - title: s\n    kind: shell\n    run: 'true'\n"
              f"    when: {{shell: 'touch {flag}'}}\n")
    for kw in ({"read_only": True}, {"dry_run": True}):
        s = RunbookSession(book, {}, SessionOptions(config=AppConfig(), sink=MemorySink(),
                                                    data_dir=tmp_path, **kw))
        await s.run_step(0)
        assert not flag.exists(), kw
