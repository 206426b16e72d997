"""A declaration attaches what this host recorded just before it (the first detection).

Events recorded while no incident is active are kept unattached in the store; declaring links
those of the last ``incidents.attach_window`` (append-only: new ``incident.context_attached``
events, the originals untouched), and the timeline, MTTD and the postmortem use them."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from opsconsole import events as ev
from opsconsole.checks.spec import HttpCheck
from opsconsole.config import AppConfig
from opsconsole.events import Actor, Event, current_actor, utcnow
from opsconsole.incidents import timeline as tl
from opsconsole.incidents.describe import describe, shown
from opsconsole.incidents.store import open_store
from opsconsole.schema import Duration
from opsconsole.ui.app import OpsConsoleApp, RunOptions, Services
from opsconsole.ui.modals import DeclareModal
from opsconsole.ui.screens.incident import IncidentScreen
from opsconsole.ui.widgets import TimelineView
from uihelpers import wait_for


def ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


def timeline_rows(md: str) -> list[str]:
    section = md.split("## Timeline", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and
            not line.startswith("| #")]


def crit(check: str, old: str = "OK", new: str = "CRITICAL") -> dict:
    return {"check": check, "old": old, "new": new, "message": "connection refused"}


# ------------------------------------------------------------------ CLI, real store
def test_declare_attaches_recent_unattached_events_at_their_original_time(run_cli, tmp_path):
    data = tmp_path / "cli-data"
    now = utcnow()
    with open_store(data) as store:
        old = store.append("health.state_changed", crit("batch"), ts=now - timedelta(minutes=45))
        first = store.append("health.state_changed", crit("api"), ts=now - timedelta(minutes=6))
        elsewhere = store.append("health.state_changed", crit("edge"),
                                 actor=Actor("bob", None, None, "another-host"),
                                 ts=now - timedelta(minutes=5))
        cancel = store.append("db.cancel", {"pid": 4242, "ok": True, "user": "app"},
                              ts=now - timedelta(minutes=1))

    r = run_cli("incident", "declare", "--title", "API down", "--severity", "2",
                "--started=-10m")
    iid = ok(r).strip()
    assert "attached 2 events recorded in the 30m" in r.stderr

    show = ok(run_cli("incident", "show", iid))
    lines = [line for line in show.splitlines() if line.strip()[:1].isdigit()]
    texts = [line.split("  ", 3)[-1] for line in lines]
    assert f"[before declaration, #{first.seq}] Health api: OK → CRITICAL" in texts[0]
    assert f"[before declaration, #{cancel.seq}] Cancelled query pid 4242" in texts[1]
    assert "Declared SEV2 “API down”" in texts[2] and "2 earlier events attached" in texts[2]
    assert first.ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") in lines[0]
    assert "batch" not in show and "edge" not in show  # too old; another host's
    # started -10m (explicit), detected at the api check's change 6m ago: MTTD about 4m
    assert re.search(r"MTTD (3m5\ds|4m0\ds)", show), show

    md = ok(run_cli("incident", "export", iid, "--format", "md"))
    rows = timeline_rows(md)
    assert len(rows) == 3
    assert f"| {first.ts.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S')} |" in rows[0]
    assert "before declaration" in rows[0] and "Health api: OK → CRITICAL" in rows[0]
    assert "Cancelled query pid 4242" in rows[1] and "Declared SEV2" in rows[2]
    assert "| detected | " + first.ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") + \
        " | from the timeline |" in md
    listing = json.loads(ok(run_cli("incident", "list", "--json")))
    assert listing[0]["durations"]["mttd"] == pytest.approx(4 * 60, abs=3)

    doc = json.loads(ok(run_cli("incident", "export", iid, "--format", "json")))
    attached = [e for e in doc["events"] if e["type"] == ev.CONTEXT_ATTACHED]
    assert [a["data"]["seq"] for a in attached] == [first.seq, cancel.seq]
    assert attached[0]["data"]["type"] == "health.state_changed"
    assert attached[0]["data"]["data"]["check"] == "api"

    # append-only: the originals are still there, unattached and unchanged
    con = sqlite3.connect(data / "incidents.db")
    rows_db = con.execute("SELECT seq, incident_id FROM events WHERE seq IN (?, ?, ?, ?) "
                          "ORDER BY seq", (old.seq, first.seq, elsewhere.seq,
                                           cancel.seq)).fetchall()
    con.close()
    assert rows_db == [(old.seq, None), (first.seq, None), (elsewhere.seq, None),
                       (cancel.seq, None)]

    # a second declaration does not take what the first one attached
    r2 = run_cli("incident", "declare", "--title", "Something else", "--severity", "4")
    iid2 = ok(r2).strip()
    assert "attached" not in r2.stderr
    doc2 = json.loads(ok(run_cli("incident", "export", iid2, "--format", "json")))
    assert [e["type"] for e in doc2["events"]] == [ev.DECLARED]


def test_attach_window_zero_attaches_nothing(run_cli, tmp_path):
    data = tmp_path / "cli-data"
    cfg = tmp_path / "config.yaml"
    cfg.write_text("incidents:\n  attach_window: 0\n")
    with open_store(data) as store:
        store.append("health.state_changed", crit("api"), ts=utcnow() - timedelta(minutes=2))
    r = run_cli("incident", "declare", "--title", "API down", "--severity", "2",
                "--config", str(cfg))
    iid = ok(r).strip()
    assert "attached" not in r.stderr
    show = ok(run_cli("incident", "show", iid, "--config", str(cfg)))
    assert "before declaration" not in show and "Health api" not in show


def test_attach_window_must_not_be_negative(run_cli, tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("incidents:\n  attach_window: -5m\n")
    r = run_cli("incident", "list", "--config", str(cfg))
    assert r.returncode == 2 and "config.yaml:2:" in r.stderr and "Traceback" not in r.stderr


def test_store_window_is_measured_from_the_declaration(tmp_path):
    store = open_store(tmp_path)
    t = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    inside = store.append("health.state_changed", crit("api"), ts=t - timedelta(minutes=9))
    store.append("health.state_changed", crit("db"), ts=t - timedelta(minutes=11))
    e = store.declare("x", "SEV3", ts=t, attach_window=600)
    got = store.events(e.incident_id)
    assert [(x.type, x.data.get("seq")) for x in got] == [
        (ev.CONTEXT_ATTACHED, inside.seq), (ev.DECLARED, None)]
    assert shown(got[0]).ts == inside.ts and shown(got[0]).actor == current_actor()
    store.close()


# ------------------------------------------------------------------ fold
T0 = datetime(2026, 11, 24, 20, 0, 0, tzinfo=UTC)
ME = Actor("alice", None, None, "ops1")


def _e(seq: int, type: str, minutes: float, **data: object) -> Event:
    return Event(type=type, data=dict(data), actor=ME, ts=T0 + timedelta(minutes=minutes),
                 incident_id="INC-20261124-1", seq=seq)


def _attached(seq: int, orig_seq: int, minutes: float, inner: dict) -> Event:
    data = {"seq": orig_seq, "type": "health.state_changed",
            "ts": (T0 + timedelta(minutes=minutes)).isoformat(),
            "actor": {"user": "root", "client": None, "tty": None, "host": "ops1"},
            "data": inner}
    return Event(type=ev.CONTEXT_ATTACHED, data=data, actor=ME,
                 ts=T0 + timedelta(minutes=10), incident_id="INC-20261124-1", seq=seq)


def test_fold_detected_defaults_to_the_earliest_attached_degradation():
    evs = [
        _attached(1, 101, 3, crit("db", "OK", "WARNING")),
        _attached(2, 102, 4, crit("api", "WARNING", "OK")),  # a recovery is no detection
        _attached(3, 103, 1, crit("cache", "CRITICAL", "OK")),
        _e(4, ev.DECLARED, 10, title="t", severity="SEV2", commander="bob"),
    ]
    s = tl.fold(evs)
    assert s.milestones["detected"] == T0 + timedelta(minutes=3)
    assert s.milestones["started"] == T0 + timedelta(minutes=3)  # never after detection
    assert s.durations().acknowledge == 7 * 60  # acknowledged at the declaration
    assert s.declared_at == T0 + timedelta(minutes=10) and s.title == "t"
    line = describe(shown(evs[0]))
    assert line.startswith("[before declaration, #101] Health db: OK → WARNING")
    assert shown(evs[0]).ts == T0 + timedelta(minutes=3)
    assert shown(evs[0]).actor.user == "root"

    # an explicit milestone still wins
    s2 = tl.fold([*evs, _e(5, ev.MILESTONE_SET, 11, milestone="detected",
                           at=(T0 + timedelta(minutes=2)).isoformat())])
    assert s2.milestones["detected"] == T0 + timedelta(minutes=2)
    # no attached degradation: the declaration is the detection, as before
    s3 = tl.fold([evs[1], evs[3]])
    assert s3.milestones["detected"] == T0 + timedelta(minutes=10)


# ------------------------------------------------------------------ the console
async def test_console_declare_shows_the_earlier_critical_check_on_the_timeline(tmp_path, switch_web):
    cfg = AppConfig(checks=[HttpCheck(name="web", url=switch_web.url, interval=Duration(0.3),
                                      timeout=Duration(2))])
    app = OpsConsoleApp(cfg, RunOptions(refresh=0.5, data_dir=tmp_path / "data"),
                        Services(hostname="ops-attach"))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.incident_store is not None, timeout=10)
        health = app.pane("health")
        await wait_for(pilot, lambda: "1 OK" in health.summary, timeout=15)
        switch_web.healthy.clear()  # the web server fails before anyone declares
        await wait_for(pilot, lambda: "1 CRIT" in health.summary, timeout=15)
        store = app.incident_store
        await wait_for(pilot, lambda: any(e.data.get("new") == "CRITICAL"
                                          for e in store.events(None)), timeout=5)

        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, DeclareModal))
        await pilot.press(*"web down", "tab", "2", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, IncidentScreen), timeout=10)
        screen = app.screen
        view = screen.query_one(TimelineView)
        await wait_for(pilot, lambda: "Health at declaration" in view.plain, timeout=10)
        lines = view.plain.splitlines()
        before = next(i for i, line in enumerate(lines) if "[before declaration" in line)
        declared = next(i for i, line in enumerate(lines) if "Declared SEV2" in line)
        assert before < declared
        assert "Health web: OK → CRITICAL" in lines[before] and "♥" in lines[before]
        change = next(e for e in store.events(None) if e.data.get("new") == "CRITICAL")
        assert lines[before].startswith(change.ts.astimezone(UTC).strftime("%H:%M:%S"))
        at_decl = next(line for line in lines if "Health at declaration" in line)
        assert "web CRITICAL for" in at_decl
        assert screen.state.milestones["detected"] == change.ts
