"""Postmortem export (golden Markdown), the JSON twin and comms drafts."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsconsole import events as ev
from opsconsole.events import Actor
from opsconsole.incidents import postmortem
from opsconsole.incidents import timeline as tl
from opsconsole.incidents.store import SQLiteStore, load_state

GOLDEN = Path(__file__).parent / "golden" / "incident-postmortem.md"
T0 = datetime(2026, 11, 24, 20, 0, 0, tzinfo=UTC)
ALICE = Actor("alice", "10.0.0.5", "/dev/pts/1", "ops1")
BOB = Actor("bob", None, "/dev/pts/2", "ops1")


def t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def build(store: SQLiteStore) -> str:
    """A realistic incident with events from every area, at fixed times."""
    iid = store.declare("Checkout returns 500s", "SEV2", ["checkout", "db"], actor=ALICE,
                        ts=t(10)).incident_id

    def add(minutes: float, type: str, actor: Actor = ALICE, **data: object) -> None:
        store.append(type, dict(data), incident_id=iid, actor=actor, ts=t(minutes))

    add(11, ev.ROLE_ASSIGNED, role="commander", person="alice")
    add(11.5, ev.SNAPSHOT, cpu=97.5, load1=7.2, mem=81.0, mem_used=6 << 30, mem_total=8 << 30,
        swap=0.0, filesystems=[{"mount": "/", "percent": 64.0}], processes=212)
    add(12, "health.state_changed", check="checkout-http", previous="ok", state="critical",
        detail="HTTP 500 in 120ms")
    add(13, ev.NOTE, BOB, text="pg: 40 sessions waiting on a lock | orders table")
    add(14, "db.cancel", pid=4242, user="app", database="shop", ok=True,
        query="update orders set state = 'x' where id = 1")
    add(15, "runbook.step_started", runbook="pg-lock-storm", step="find-blocker",
        step_title="Find the blocker", command="psql -c 'select pg_blocking_pids(…)'")
    add(15.2, "runbook.step_finished", runbook="pg-lock-storm", step="find-blocker",
        step_title="Find the blocker", command="psql -c 'select pg_blocking_pids(…)'",
        exit_status=0, duration=12.0, output_first=["pid | blocked_by"],
        output_last=["4242 | {}"], output_sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    add(16, ev.STATUS_CHANGED, status="identified", previous="investigating")
    add(20, ev.STATUS_CHANGED, status="monitoring", previous="identified")
    add(21, ev.MILESTONE_SET, BOB, milestone="started", at=t(2).isoformat())  # backdated
    add(22, ev.ROLE_ASSIGNED, role="scribe", person="bob")
    add(30, ev.STATUS_CHANGED, status="resolved", previous="monitoring")
    return iid


@pytest.fixture
def incident(tmp_path):
    store = SQLiteStore(tmp_path / "incidents.db")
    iid = build(store)
    return load_state(store, iid)


def test_markdown_matches_golden(incident):
    state, events = incident
    text = postmortem.markdown(state, events)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_markdown_has_every_section_and_ordered_timeline(incident):
    state, events = incident
    text = postmortem.markdown(state, events)
    for heading in ("## Summary", "## Impact", "## Durations", "## Timeline",
                    "## Runbook executions", "## Action items", "## Lessons learned",
                    "### What went well", "### What went wrong", "### Where we got lucky"):
        assert heading in text
    assert text.startswith("---\nid: INC-20261124-1\n")
    rows = [ln for ln in text.splitlines() if ln.startswith("| ") and " | alice@" in ln
            or ln.startswith("| ") and " | bob@" in ln]
    times = [r.split(" | ")[1] for r in rows if r.split(" | ")[0].lstrip("| ").isdigit()]
    from opsconsole.incidents.steps import fold_steps

    # a step's started + finished are one row
    assert times == sorted(times) and len(times) == len(fold_steps(events)) == len(events) - 1
    assert "\\| orders table" in text  # a pipe in a note cannot break the table
    assert "| Time to detect (MTTD) | 8m00s |" in text
    assert "| Time to resolve (MTTR) | 28m00s |" in text
    assert "| pg-lock-storm | Find the blocker |" in text


def test_json_twin_carries_every_event(incident):
    state, events = incident
    doc = json.loads(postmortem.to_json(state, events))
    assert doc["incident"]["id"] == state.id and doc["incident"]["status"] == "resolved"
    assert [e["seq"] for e in doc["events"]] == [e.seq for e in events]
    assert doc["events"][0]["actor"]["user"] == "alice"
    assert doc["events"][0]["actor"]["client"] == "10.0.0.5"
    assert doc["incident"]["durations"]["mttr"] == 28 * 60
    assert doc["runbook_executions"][0]["exit"] == 0


def test_comms_templates(incident):
    state, _ = incident
    text = postmortem.comms(state, "resolved", now=t(40))
    assert text.startswith("[SEV2] Resolved: Checkout returns 500s")
    assert "resolved as of 2026-11-24 20:30 UTC" in text and "lasted 28m00s" in text
    upd = postmortem.comms(state, "update", now=t(40))
    assert "Latest: pg: 40 sessions waiting on a lock | orders table" in upd
    assert "Incident commander: alice" in upd
    custom = postmortem.comms(state, "short", now=t(40),
                              templates={"short": "{id} {status} ({services})"})
    assert custom == "INC-20261124-1 resolved (checkout, db)"
    with pytest.raises(tl.BadInput, match="expected one of"):
        postmortem.comms(state, "nope", now=t(40))
    assert postmortem.template_error("{id} {bogus}") is not None
    assert postmortem.template_error("{id} {{literal}}") is None
