"""The streamed incident export (incidents/export.py) against the old in-memory exporter,
kept here as the oracle; its memory stays flat as the incident grows; the CLI streams."""

from __future__ import annotations

import json
import random
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opsconsole import events as ev
from opsconsole.events import Actor, Event
from opsconsole.incidents import export, postmortem
from opsconsole.incidents import timeline as tl
from opsconsole.incidents.alertwords import alert_sentences
from opsconsole.incidents.postmortem import _JSON_C1, _event_json, actor_label, utc
from opsconsole.incidents.store import SQLiteStore, load_state

T0 = datetime(2026, 11, 24, 20, 0, 0, tzinfo=UTC)
ALICE = Actor("alice", "10.0.0.5", "/dev/pts/1", "ops1")
BOB = Actor("bob\x9b[31m", None, "/dev/pts/2", "ops2")


# ----------------------------------------------------------------- the old exporter (oracle)
def old_runbook_runs(events: list[Event]) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    open_runs: dict[tuple[str, str], dict[str, Any]] = {}

    def key(d: dict[str, Any]) -> tuple[str, str]:
        rb = str(tl.pick(d, "run_id", "runbook", "runbook_title", default="?"))
        step = str(tl.pick(d, "step_id", "step", "step_title", "title", default="?"))
        return rb, step

    for e in events:
        d = e.data or {}
        if e.type == ev.RUNBOOK_STARTED:
            run = {"started": e.ts, "finished": None, "actor": actor_label(e),
                   "runbook": str(tl.pick(d, "runbook", "runbook_title", default="?")),
                   "step": str(tl.pick(d, "step_title", "step", "title", default="?")),
                   "command": tl.pick(d, "command", "sql"), "exit": None, "duration": None,
                   "output_first": None, "output_last": None, "sha256": None}
            open_runs[key(d)] = run
            runs.append(run)
        elif e.type == ev.RUNBOOK_FINISHED:
            run = open_runs.pop(key(d), None)
            if run is None:
                run = {"started": None, "actor": actor_label(e),
                       "runbook": str(tl.pick(d, "runbook", "runbook_title", default="?")),
                       "step": str(tl.pick(d, "step_title", "step", "title", default="?")),
                       "command": tl.pick(d, "command", "sql")}
                runs.append(run)
            run["finished"] = e.ts
            run["command"] = run.get("command") or tl.pick(d, "command", "sql")
            run["exit"] = tl.pick(d, "exit_status", "exit_code", "returncode", "status")
            dur = tl.pick(d, "duration", "elapsed")
            if not isinstance(dur, int | float) and run.get("started"):
                dur = (e.ts - run["started"]).total_seconds()
            run["duration"] = dur
            run["output_first"] = tl.pick(d, "output_first", "first_lines", "output_head")
            run["output_last"] = tl.pick(d, "output_last", "last_lines", "output_tail")
            run["sha256"] = tl.pick(d, "output_sha256", "sha256")
            run["reason"] = tl.pick(d, "reason", "message")
    return runs


def old_to_json(state: tl.IncidentState, events: list[Event], *,
                generated_at: datetime | None = None) -> str:
    token = f"__events_{uuid.uuid4().hex}__"
    lines = ",\n    ".join(json.dumps(_event_json(e), ensure_ascii=False, default=str)
                             for e in events)
    doc: dict[str, Any] = {
        "format": "opsconsole.incident/1",
        "incident": state.to_json(),
        "events": token,
        "runbook_executions": [
            {k: (utc(v) + "Z" if isinstance(v, datetime) else v) for k, v in r.items()}
            for r in old_runbook_runs(events)
        ],
        # the postmortem's Alerts section (issue 14), from the same events in memory
        "alerts": [{**r, "at": utc(r["at"]) + "Z"} for r in alert_sentences(events)],
    }
    if generated_at:
        doc["generated_at"] = generated_at.astimezone(UTC).isoformat()
    text = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    text = text.replace(f'"{token}"', f"[\n    {lines}\n  ]" if lines else "[]", 1) + "\n"
    return text.translate(_JSON_C1)


# ----------------------------------------------------------------- varied incidents
HOSTILE = ["plain", "PGPASSWORD=hunter2 psql", "x\x1b]52;c;ZWNobyBwd24=\x07y", "a\u202eb",
           "é ü 日本", "del\x7f c1\x85\x9b", "line\nbreak\ttab", "Bearer abcdefghijklmnop",
           "postgresql://u:secretpw@db/x", "--password s3cret", "{\"token\": \"t0k\"}"]


def _random_event(rng: random.Random, i: int) -> tuple[str, dict[str, Any]]:
    text = rng.choice(HOSTILE) + f" {i}"
    step = {"runbook": rng.choice(["pg-locks", "disk"]), "step": rng.choice(["a", "b", "c"]),
            "step_title": text}
    choices: list[tuple[str, dict[str, Any]]] = [
        (ev.NOTE, {"text": text}),
        (ev.NOTE, {"text": text, "supersedes": rng.randint(1, max(i, 1))}),
        (ev.STATUS_CHANGED, {"status": rng.choice(tl.STATUSES)}),
        (ev.SEVERITY_CHANGED, {"severity": rng.choice(tl.SEVERITIES)}),
        (ev.TITLE_CHANGED, {"title": text}),
        (ev.SERVICES_CHANGED, {"services": [text]}),
        (ev.TAGS_CHANGED, {"tags": ["a", text]}),
        (ev.MILESTONE_SET, {"milestone": rng.choice(tl.MILESTONES),
                            "at": (T0 + timedelta(minutes=rng.randint(-30, 90))).isoformat()}),
        (ev.MILESTONE_SET, {"milestone": rng.choice(tl.MILESTONES), "at": None}),
        (ev.ROLE_ASSIGNED, {"role": rng.choice(tl.ROLES), "person": rng.choice(["", text])}),
        (ev.RECORD_SET, {"field": "root_cause", "value": rng.choice([None, text])}),
        (ev.ACTION_ADDED, {"text": text, "owner": "bob"}),
        (ev.ACTION_STATUS, {"action": rng.randint(1, max(i, 1)), "status": "done"}),
        (ev.COMMS_SENT, {"template": "update", "how": "copied"}),
        (ev.SNAPSHOT, {"cpu": rng.random() * 100, "load1": 1.5, "mem": 40.0}),
        (ev.HEALTH_CHANGED, {"check": text, "previous": "OK", "state": "CRITICAL"}),
        (ev.DB_CANCEL, {"pid": i, "ok": rng.choice([True, False]), "query": text}),
        (ev.RUNBOOK_STARTED, dict(step, command=text)),
        (ev.RUNBOOK_FINISHED, dict(step, exit_status=rng.choice([0, 1]), duration=0.5,
                                   output_last=[text])),
        (ev.RUNBOOK_SKIPPED, dict(step, reason=text)),
        (ev.CONTEXT_ATTACHED, {"seq": i, "type": ev.HEALTH_CHANGED, "ts": T0.isoformat(),
                               "actor": {"user": "carol", "host": "h"},
                               "data": {"state": "CRITICAL"}}),
        ("custom.thing", {"k": text, "n": i}),
    ]
    picked = rng.choice(choices)
    # alert events (issue 14) in about one event in five, from a second generator so the
    # first one's sequence (and the incidents the other tests expect) stays as it was
    other = random.Random(i * 7919 + len(text))
    if other.random() < 0.2:
        alerts: list[tuple[str, dict[str, Any]]] = [
            (ev.ALERT_TRANSITION, {"rule": "api-down", "key": "api-down", "event":
                                   other.choice(["pending", "firing", "resolved", "escalated"]),
                                   "severity": "critical", "value": text, "summary": text,
                                   "at": T0.timestamp() + other.randint(-60, 600), "escalation": 1}),
            (ev.ALERT_NOTIFIED, {"alert": "api-down", "state": "firing", "target": "oncall",
                                 "kind": "webhook", "ok": other.choice([True, False]),
                                 "attempts": 2, "error": text}),
            (ev.ALERT_DECLARED, {"rule": text, "action": other.choice(["declared", "attached"]),
                                 "incident": "INC-1", "episode": f"x:{i}"}),
            (ev.CONTEXT_ATTACHED, {"seq": i, "type": ev.ALERT_TRANSITION, "ts": T0.isoformat(),
                                   "actor": {"user": "alert x", "host": "h"},
                                   "data": {"rule": "x", "event": "pending", "value": 81.5}}),
        ]
        return other.choice(alerts)
    return picked


def build(store: SQLiteStore, rng: random.Random, n: int) -> str:
    iid = store.declare(rng.choice(HOSTILE), "SEV2", ["checkout"], actor=ALICE,
                        ts=T0).incident_id
    for i in range(n):
        typ, data = _random_event(rng, i)
        store.append(typ, data, incident_id=iid, actor=rng.choice([ALICE, BOB]),
                     ts=T0 + timedelta(seconds=i, microseconds=rng.choice([0, 1234])))
    return iid


def test_streamed_json_equals_the_old_exporter_on_varied_incidents(tmp_path):
    gen = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    for seed in range(12):
        rng = random.Random(seed)
        store = SQLiteStore(tmp_path / f"s{seed}.db")
        iid = build(store, rng, rng.choice([0, 1, 5, 40, 150]))
        # an event of another incident in between must not leak in
        store.declare("other", "SEV4", actor=ALICE, ts=T0)
        state, events = load_state(store, iid)
        expected = old_to_json(state, events, generated_at=gen)
        parts: list[str] = []
        got_state = export.export_json(store, iid, parts.append, generated_at=gen)
        text = "".join(parts)
        assert json.loads(text) == json.loads(expected), seed
        assert text == expected, seed  # byte for byte, in fact
        assert got_state == state
        assert postmortem.to_json(state, events, generated_at=gen) == expected
        store.close()


def test_fold_from_state_types_equals_the_fold_of_every_event(tmp_path):
    for seed in range(20):
        rng = random.Random(100 + seed)
        store = SQLiteStore(tmp_path / f"f{seed}.db")
        iid = build(store, rng, rng.choice([0, 3, 30, 200]))
        with export.snapshot(store) as conn:
            got = export.fold_state(conn, iid)
        assert got == tl.fold(store.events(iid), incident_id=iid), seed
        store.close()


def test_runbook_runs_stream_in_the_old_order(tmp_path):
    for seed in range(30):
        rng = random.Random(500 + seed)
        evs = []
        for i in range(rng.choice([0, 2, 10, 60])):
            typ, data = _random_event(rng, i)
            if rng.random() < 0.6:
                typ = rng.choice([ev.RUNBOOK_STARTED, ev.RUNBOOK_FINISHED])
            evs.append(Event(type=typ, data=data, actor=ALICE, ts=T0 + timedelta(seconds=i),
                             incident_id="INC-1", seq=i + 1))
        assert list(postmortem.iter_runbook_runs(evs)) == old_runbook_runs(evs), seed


def test_export_of_an_unknown_incident_writes_nothing(tmp_path):
    store = SQLiteStore(tmp_path / "u.db")
    store.declare("x", "SEV3", actor=ALICE)
    parts: list[str] = []
    try:
        export.export_json(store, "INC-19990101-9", parts.append)
    except export.UnknownIncident:
        pass
    else:
        raise AssertionError("no UnknownIncident")
    assert parts == []


def _seed_fast(path: Path, n: int) -> str:
    """n events in one transaction (the test is about the export, not the appends): 50
    notes (the folded state keeps each note's text, as it must for corrections), then host
    snapshots, health changes and runbook steps."""
    store = SQLiteStore(path)
    iid = store.declare("big", "SEV1", actor=ALICE, ts=T0).incident_id
    conn = store._conn
    assert conn is not None
    conn.execute("BEGIN IMMEDIATE")
    for i in range(n):
        typ = ev.NOTE if i < 50 else (ev.SNAPSHOT, ev.HEALTH_CHANGED, ev.RUNBOOK_FINISHED)[i % 3]
        store._insert(conn, typ, {"text": f"note {i} token=abc{i}", "cpu": 1.0, "step": "s",
                                  "runbook": "r", "exit_status": 0}, iid, ALICE,
                      T0 + timedelta(milliseconds=i))
    conn.execute("COMMIT")
    store.close()
    return iid


def _peak_export(path: Path, iid: str) -> tuple[int, int]:
    """(tracemalloc peak bytes, bytes written) of a streamed export into a counting sink."""
    store = SQLiteStore(path, read_only=True)
    written = 0

    def sink(s: str) -> None:
        nonlocal written
        written += len(s)

    tracemalloc.start()
    try:
        export.export_json(store, iid, sink)
        _cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        store.close()
    return peak, written


def test_export_memory_does_not_grow_with_the_incident(tmp_path):
    small = _seed_fast(tmp_path / "small.db", 2_000)
    big = _seed_fast(tmp_path / "big.db", 20_000)
    peak_small, out_small = _peak_export(tmp_path / "small.db", small)
    peak_big, out_big = _peak_export(tmp_path / "big.db", big)
    assert out_big > 9 * out_small  # ten times the events, ten times the output...
    assert peak_big < 2 * peak_small + 256 * 1024  # ...in the same memory
    assert peak_big < out_big / 10


def test_cli_json_export_streams_to_a_file_and_to_stdout(tmp_path, run_cli):
    data = tmp_path / "cli-data"
    data.mkdir()
    store = SQLiteStore(data / "incidents.db")
    iid = build(store, random.Random(7), 60)
    state, events = load_state(store, iid)
    store.close()
    out = tmp_path / "x.json"
    r = run_cli("incident", "export", iid, "--format", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert f"{iid}: {len(events)} events written to {out}" in r.stderr
    doc = json.loads(out.read_text())
    expected = json.loads(old_to_json(state, events))
    doc.pop("generated_at")
    assert doc == expected
    assert out.stat().st_mode & 0o777 == 0o600
    assert "hunter2" not in out.read_text() and "\x1b" not in out.read_text()
    r = run_cli("incident", "export", iid, "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # the CLI's stdout neutralises raw bidi controls as well
    doc.pop("generated_at")
    assert "\u202e" not in r.stdout
    assert [(e["seq"], e["text"]) for e in doc["events"]] == [
        (e["seq"], e["text"]) for e in expected["events"]]
    assert doc["incident"] == expected["incident"]
    r = run_cli("incident", "export", "INC-19990101-9", "--format", "json", "-o",
                str(tmp_path / "none.json"))
    assert r.returncode == 2 and "no incident" in r.stderr
    assert not (tmp_path / "none.json").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_event_lines_and_run_items_equal_json_dumps_on_varied_values():
    """The assembled event line and run item equal json.dumps of the same dict (the oracle):
    hostile text, nested data, numbers of every kind, None actors' fields."""
    rng = random.Random(77)
    values: list[Any] = [None, True, False, 0, -3, 2**70, 1.5, -0.0, float("nan"), float("inf"),
                         "", *HOSTILE, ["a", 1, None], {"k": [1, {"x": "é"}]}, [], {},
                         T0, ("t", 1)]
    for i in range(3_000):
        typ, data = _random_event(rng, i)
        data = dict(data, extra=rng.choice(values))
        e = Event(type=typ, data=json.loads(json.dumps(data, default=str)),
                  actor=rng.choice([ALICE, BOB]), ts=T0 + timedelta(microseconds=i * 7919),
                  incident_id="INC-1", seq=i + 1)
        assert export.event_line(e) == json.dumps(_event_json(e), ensure_ascii=False,
                                                  default=str), i
        run = {k: rng.choice(values) for k in rng.sample(
            ["started", "finished", "actor", "runbook", "step", "command", "exit", "duration",
             "output_first", "output_last", "sha256", "reason"], rng.randint(0, 12))}
        assert export._run_json(run) == export._run_json_slow(run), run
    assert export._run_json({1: "a"}) == export._run_json_slow({1: "a"})
