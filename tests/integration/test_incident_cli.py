"""``opsconsole incident ...`` end to end (the checkout's CLI in a subprocess)."""

from __future__ import annotations

import json
import sqlite3

import pytest


def ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_declare_note_status_list_show_export_comms(run_cli, tmp_path):
    assert ok(run_cli("incident", "list")).strip() == "no open incidents"
    iid = ok(run_cli("incident", "declare", "--title", "Checkout 500s", "--severity", "2",
                     "--service", "checkout,db", "--started", "20m ago")).strip()
    assert iid.startswith("INC-") and iid.endswith("-1")
    out = ok(run_cli("incident", "note", iid, "restarted pgbouncer, token=s3cr3t"))
    assert "note recorded" in out
    assert "→ identified" in ok(run_cli("incident", "status", iid, "identified"))
    assert "commander → alice" in ok(run_cli("incident", "assign", iid, "ic", "alice"))
    assert "SEV2 → SEV1" in ok(run_cli("incident", "severity", iid, "SEV1"))
    ok(run_cli("incident", "milestone", iid, "mitigated", "--at=-1m"))

    listing = ok(run_cli("incident", "list"))
    assert iid in listing and "SEV1" in listing and "identified" in listing
    assert "Checkout 500s" in listing and "alice" in listing
    data = json.loads(ok(run_cli("incident", "list", "--json")))
    assert [d["id"] for d in data] == [iid]
    assert data[0]["services"] == ["checkout", "db"] and data[0]["roles"]["commander"] == "alice"
    assert data[0]["durations"]["mttd"] == pytest.approx(20 * 60, abs=5)

    show = ok(run_cli("incident", "show", iid))
    assert "Note: restarted pgbouncer, token=••••" in show and "s3cr3t" not in show
    assert "Status investigating → identified" in show and "MTTD 20m" in show

    md = ok(run_cli("incident", "export", iid, "--format", "md"))
    assert md.startswith(f"---\nid: {iid}\n") and "## Timeline" in md
    assert "| Time to detect (MTTD) | 20m" in md
    assert "s3cr3t" not in md
    out_file = tmp_path / "pm.json"
    r = run_cli("incident", "export", iid, "--format", "json", "-o", str(out_file))
    ok(r)
    assert "written to" in r.stderr
    doc = json.loads(out_file.read_text())
    assert [e["type"] for e in doc["events"]][:2] == ["incident.declared", "incident.note"]
    assert len(doc["events"]) == 6

    comms = ok(run_cli("incident", "comms", iid, "--template", "update"))
    assert comms.startswith(f"[SEV1] Update on {iid}: Checkout 500s")
    assert "Latest: restarted pgbouncer" in comms
    assert "Resolved" in ok(run_cli("incident", "comms", iid, "--template", "resolved")) \
        or "resolved" in comms.lower()

    ok(run_cli("incident", "status", iid, "resolved"))
    assert ok(run_cli("incident", "list")).strip() == "no open incidents"
    assert iid in ok(run_cli("incident", "list", "--all"))
    # the CLI and the console share the file: it lives in the data directory
    db = tmp_path / "cli-data" / "incidents.db"
    n = sqlite3.connect(db).execute("select count(*) from events").fetchone()[0]
    assert n == 7


@pytest.mark.parametrize("args,message", [
    (("incident", "note", "INC-20990101-9", "hi"), "no incident 'INC-20990101-9'"),
    (("incident", "declare", "--title", "x", "--severity", "SEV7"), "expected one of SEV1"),
    (("incident", "declare", "--title", " ", "--severity", "1"), "--title must not be empty"),
    (("incident", "export", "INC-1", "--format", "pdf"), "invalid choice: 'pdf'"),
])
def test_bad_input_exits_2_with_a_clear_message(run_cli, args, message):
    r = run_cli(*args)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_status_milestone_and_template(run_cli):
    iid = ok(run_cli("incident", "declare", "--title", "x", "--severity", "3")).strip()
    for args, message in [
        (("status", iid, "fixed"), "status 'fixed': expected one of investigating"),
        (("status", iid, "investigating"), "is already investigating"),
        (("milestone", iid, "done"), "milestone 'done': expected one of started"),
        (("milestone", iid, "started", "--at", "tomorrow"), "expected now, -15m"),
        (("comms", iid, "--template", "tweet"), "template 'tweet': expected one of"),
        (("assign", iid, "boss", "x"), "role 'boss'"),
    ]:
        r = run_cli("incident", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and "Traceback" not in r.stderr


def test_store_problems_exit_1_and_leave_the_file(run_cli, tmp_path):
    data = tmp_path / "cli-data"
    data.mkdir()
    db = data / "incidents.db"
    db.write_bytes(b"garbage" * 100)
    r = run_cli("incident", "declare", "--title", "x", "--severity", "1")
    assert r.returncode == 1
    assert "is not a SQLite database" in r.stderr and "Traceback" not in r.stderr
    assert db.read_bytes() == b"garbage" * 100


def test_config_templates_and_data_dir_flag(run_cli, tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("incidents:\n  templates:\n    short: '{id} is {status}'\n")
    other = tmp_path / "elsewhere"
    iid = ok(run_cli("incident", "declare", "--title", "x", "--severity", "4",
                     "--data-dir", str(other), "--config", str(cfg))).strip()
    assert (other / "incidents.db").exists()
    out = ok(run_cli("incident", "comms", iid, "--template", "short", "--data-dir", str(other),
                     "--config", str(cfg)))
    assert out == f"{iid} is investigating"
    bad = tmp_path / "bad.yaml"
    bad.write_text("incidents:\n  templates:\n    short: '{nope}'\n")
    r = run_cli("incident", "list", "--config", str(bad))
    assert r.returncode == 2
    assert f"{bad}:3:" in r.stderr and "unknown template field" in r.stderr


def test_set_and_note_corrections(run_cli):
    iid = ok(run_cli("incident", "declare", "--title", "x", "--severity", "3")).strip()
    out = ok(run_cli("incident", "set", iid, "--title", "Search is slow", "--services",
                     "search, api", "--tags", "latency"))
    assert "Title → “Search is slow”" in out and "Services → search, api" in out
    first = ok(run_cli("incident", "note", iid, "db1 restarted")).split("#")[1].split()[0]
    ok(run_cli("incident", "note", iid, "db2 restarted, not db1", "--corrects", first))
    doc = json.loads(ok(run_cli("incident", "show", iid, "--json")))
    assert doc["title"] == "Search is slow" and doc["services"] == ["search", "api"]
    assert doc["tags"] == ["latency"]
    texts = [e["text"] for e in doc["events"]]
    assert "Note: db1 restarted" in texts  # the original stays
    assert f"Note (corrects #{first}): db2 restarted, not db1" in texts
    r = run_cli("incident", "note", iid, "x", "--corrects", "1")
    assert r.returncode == 2 and "#1 is not a note of" in r.stderr
    r = run_cli("incident", "set", iid)
    assert r.returncode == 2 and "nothing to change" in r.stderr
