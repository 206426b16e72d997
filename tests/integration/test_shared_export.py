"""Incident exports from the shared PostgreSQL store (issue 17): the same JSON document as
the embedded store's streamed export and the in-memory oracle, from the library and from
the CLI with ``incidents: {store: postgresql://…}``."""

from __future__ import annotations

import json
import random
import secrets
from datetime import UTC, datetime

import pytest
from test_incident_export_stream import build, old_to_json

from opsconsole.incidents import export
from opsconsole.incidents.store import UnknownIncident
from opsconsole.postgres.config import DatabaseTarget
from opsconsole.sharedstore.store import PgStore

GEN = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def shared_dsn(pg_cluster) -> str:
    name = "export_" + secrets.token_hex(4)
    pg_cluster.psql(f"create database {name}")
    return pg_cluster.dsn(database=name)


def test_a_shared_store_export_is_the_same_document(shared_dsn, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "PAGE", 7)  # several pages even for a small incident
    with PgStore(DatabaseTarget("shared", shared_dsn), tmp_path / "data") as store:
        for seed in (1, 4, 9):
            rng = random.Random(seed)
            iid = build(store, rng, rng.choice([0, 5, 40]))
            store.declare("other", "SEV4")  # another incident's events must not leak in
            events = store.events(iid)
            from opsconsole.incidents import timeline as tl

            state = tl.fold(events, incident_id=iid)
            parts: list[str] = []
            got = export.export_json(store, iid, parts.append, generated_at=GEN)
            text = "".join(parts)
            assert text == old_to_json(state, events, generated_at=GEN), seed
            assert got == state
            assert json.loads(text)["incident"]["event_count"] == len(events)
        with pytest.raises(UnknownIncident):
            export.export_json(store, "INC-19990101-1", parts.append)


def test_the_cli_exports_from_the_shared_store(shared_dsn, tmp_path, run_cli):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"incidents:\n  store: {shared_dsn!r}\n")
    r = run_cli("--config", str(cfg), "incident", "declare", "--title", "db1 disk full",
                "--severity", "SEV2")
    assert r.returncode == 0, r.stderr
    iid = r.stdout.split()[0]
    assert run_cli("--config", str(cfg), "incident", "note", iid, "pg_wal at 97%"
                   ).returncode == 0
    out = tmp_path / "inc.json"
    r = run_cli("--config", str(cfg), "incident", "export", iid, "--format", "json",
                "-o", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["incident"]["title"] == "db1 disk full"
    assert [e["text"] for e in doc["events"]][-1].endswith("pg_wal at 97%")
    r = run_cli("--config", str(cfg), "incident", "export", iid, "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["incident"]["id"] == iid


def test_the_markdown_export_from_the_shared_store_has_this_host_s_slo_impact(
        shared_dsn, tmp_path, run_cli):
    from opsconsole.checks.engine import CheckResult
    from opsconsole.config import parse_config
    from opsconsole.incidents.store import open_store
    from opsconsole.slo.history import HistoryDB, history_file
    from opsconsole.slo.runner import SloRunner

    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(f"""
incidents:
  store: {shared_dsn!r}
checks:
  - {{name: api, kind: http, url: "http://127.0.0.1:9/health"}}
slos:
  - {{name: api-availability, objective: 99%, window: 30d, indicator: {{check: api}}}}
""")
    cfg = parse_config(cfg_file.read_text())
    data = tmp_path / "cli-data"  # the CLI's data directory (run_cli)
    shared = PgStore(DatabaseTarget("shared", shared_dsn), data)
    # the watcher records the history in this host's SQLite file, never the journal
    hist = history_file(shared, create=True)
    assert hist == str(data / "incidents.db") and hist != str(shared.path)
    t = [datetime.now(UTC).timestamp() - 7200]
    runner = SloRunner([], list(cfg.slos), HistoryDB(hist), clock=lambda: t[0])
    iid = None
    for i in range(100):  # the 10 failures happen during the incident
        if i == 50:
            iid = shared.declare("api down", "SEV2", ["api"],
                                 ts=datetime.fromtimestamp(t[0], UTC)).incident_id
        runner.recorder.add_result(CheckResult(
            "api", "CRITICAL" if 50 <= i < 60 else "OK", "", 0.1,
            checked_at=datetime.fromtimestamp(t[0], UTC)))
        t[0] += 60
    runner.flush()
    shared.close()
    open_store(data).close()
    r = run_cli("--config", str(cfg_file), "incident", "export", str(iid))
    assert r.returncode == 0, r.stderr
    assert "## SLO impact" in r.stdout
    assert "| api-availability | 10 | 50 | 1000.0% |" in r.stdout
