"""declare: and auto_run: (issue 14), through the watcher's own recording path with a fixed
clock, a real SQLite store, real runbook files and a real subprocess step; once per firing
episode, also across an evaluator restart (the memory is the store)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hostdata import fixed_snapshot
from opsconsole.alerts.signals import SignalSet
from opsconsole.alerts.watcher import Watcher
from opsconsole.checks.engine import CheckResult
from opsconsole.config import load_config
from opsconsole.events import ALERT_AUTO_RUN, ALERT_DECLARED, RUNBOOK_FINISHED, RUNBOOK_STARTED
from opsconsole.incidents.describe import describe
from opsconsole.incidents.store import SQLiteStore, all_states
from opsconsole.runbooks.autorun import AutoRunner
from opsconsole.schema import ConfigError

T0 = 1_780_000_000.0

RUNBOOK = """\
id: service-restart
title: Restart a service
params:
  - {name: check, pattern: "^[a-z0-9-]+$"}
steps:
  - title: Note the restart
    kind: shell
    run: echo "restarted {{ check }}" >> "$OUT"
    env: {OUT: "%s"}
    auto_run_safe: true
  - title: Really restart
    kind: shell
    run: echo "restart {{ check }} for real"
"""


def write_config(tmp_path: Path, *, declare: str = "SEV2", auto_run: str | None = "1",
                 extra: str = "") -> Path:
    books = tmp_path / "books"
    books.mkdir(exist_ok=True)
    (books / "service-restart.yaml").write_text(RUNBOOK % (tmp_path / "restarts.log"))
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"""\
runbook_dirs: ["{books}"]
alerts:
  - name: api-down
    expr: check.api.state == CRITICAL
    for: 30s
    severity: critical
    summary: "api is down ({{value}})"
    runbook: service-restart
    declare: {declare}
{'    auto_run: ' + auto_run if auto_run else ''}
{extra}""")
    return cfg


class Rig:
    """A Watcher whose ticks are fed by hand (checks given, clock fixed)."""

    def __init__(self, cfg_path: Path, store: SQLiteStore, clock: list[float]) -> None:
        self.cfg = load_config(cfg_path)
        self.clock = clock
        self.lines: list[str] = []
        self.w = Watcher(self.cfg, store, clock=lambda: clock[0], say=self.lines.append,
                         auto_runner=AutoRunner(self.cfg, store), lease_ttl=3600)
        assert self.w.holds()  # takes the lease, resumes from the store

    async def tick(self, state: str, advance: float) -> list:
        self.clock[0] += advance
        at = datetime.fromtimestamp(self.clock[0], UTC)
        self.w.tracker.update(CheckResult("api", state, f"api is {state}", 0.01,
                                          checked_at=at, kind="tcp"))
        sigs = SignalSet(host=fixed_snapshot(cpu=5.0),
                         checks={s.name: s for s in self.w.tracker.statuses()})
        out = self.w.evaluator.evaluate(sigs, self.clock[0])
        if out:
            self.w._record(out)
        await self.w.actions.drain(30)
        return out

    def close(self) -> None:
        self.w.lease.release()


def incidents(store: SQLiteStore) -> list:
    return all_states(store)


async def test_firing_declares_one_incident_attaches_context_and_runs_the_safe_step(tmp_path):
    store = SQLiteStore(tmp_path / "data" / "incidents.db")
    clock = [T0]
    rig = Rig(write_config(tmp_path), store, clock)
    await rig.tick("OK", 0)
    await rig.tick("CRITICAL", 10)  # pending
    assert incidents(store) == []
    await rig.tick("CRITICAL", 35)  # firing: declared, step run
    await rig.tick("CRITICAL", 10)  # still firing: nothing new
    (inc,) = incidents(store)
    assert inc.severity == "SEV2" and inc.title == "api is down (CRITICAL)"
    assert inc.services == ["api"]
    assert inc.declared_by.user == "alert api-down (watch)"
    # started when the condition began to hold, detected when it fired
    assert inc.milestones["started"] == datetime.fromtimestamp(T0 + 10, UTC)
    assert inc.milestones["detected"] == datetime.fromtimestamp(T0 + 45, UTC)
    text = [describe(e) for e in store.events(inc.id)]
    assert any("api-down (critical) is pending" in s for s in text), text
    assert any("api-down (critical) is FIRING" in s for s in text), text
    # the step ran once, as a real subprocess, with the check label as its parameter
    assert (tmp_path / "restarts.log").read_text() == "restarted api\n"
    steps = store.events(inc.id, types=(RUNBOOK_STARTED, RUNBOOK_FINISHED))
    assert [e.type for e in steps] == [RUNBOOK_STARTED, RUNBOOK_FINISHED]
    assert steps[1].data["status"] == "ok" and steps[1].data["params"] == {"check": "api"}
    assert steps[1].actor.user == "alert api-down (watch)"
    runs = store.events(inc.id, types=(ALERT_AUTO_RUN,))
    assert [e.data["status"] for e in runs] == ["started", "ok"]
    rig.close()

    # a new evaluator (a restart, a takeover) resumes the firing: it neither declares a
    # second incident nor runs the step again
    rig2 = Rig(write_config(tmp_path), store, clock)
    await rig2.tick("CRITICAL", 10)
    await rig2.tick("CRITICAL", 10)
    assert len(incidents(store)) == 1
    assert (tmp_path / "restarts.log").read_text() == "restarted api\n"
    # resolved, then a new episode with the incident still open: attached, step run again
    await rig2.tick("OK", 10)
    await rig2.tick("CRITICAL", 10)
    await rig2.tick("CRITICAL", 35)
    assert len(incidents(store)) == 1
    attached = [e for e in store.events(inc.id, types=(ALERT_DECLARED,))]
    assert [e.data["action"] for e in attached] == ["declared", "attached"]
    assert (tmp_path / "restarts.log").read_text() == "restarted api\nrestarted api\n"
    rig2.close()
    store.close()


async def test_a_restart_between_firing_and_acting_acts_once_on_takeover(tmp_path):
    store = SQLiteStore(tmp_path / "data" / "incidents.db")
    clock = [T0]
    rig = Rig(write_config(tmp_path), store, clock)
    rig.w.actions.on_transition = lambda t, iid, silenced=False: iid  # dies before acting
    await rig.tick("CRITICAL", 0)
    await rig.tick("CRITICAL", 35)
    assert incidents(store) == [] and not (tmp_path / "restarts.log").exists()
    rig.close()
    rig2 = Rig(write_config(tmp_path), store, clock)  # takes over: the firing is acted on
    await rig2.w.actions.drain(30)
    assert len(incidents(store)) == 1
    assert (tmp_path / "restarts.log").read_text() == "restarted api\n"
    rig2.close()
    rig3 = Rig(write_config(tmp_path), store, clock)  # and not again
    await rig3.w.actions.drain(30)
    assert len(incidents(store)) == 1
    assert (tmp_path / "restarts.log").read_text() == "restarted api\n"
    rig3.close()
    store.close()


async def test_an_open_incident_gets_the_alert_attached_and_a_silenced_one_does_nothing(
        tmp_path):
    store = SQLiteStore(tmp_path / "data" / "incidents.db")
    open_one = store.declare("db slow", "SEV3", ["db"])
    clock = [T0]
    rig = Rig(write_config(tmp_path, auto_run=None), store, clock)
    await rig.tick("CRITICAL", 0)
    await rig.tick("CRITICAL", 35)
    assert [s.id for s in incidents(store)] == [open_one.incident_id]
    (att,) = store.events(open_one.incident_id, types=(ALERT_DECLARED,))
    assert att.data["action"] == "attached" and att.data["rule"] == "api-down"
    assert "attached" in describe(att)
    rig.close()
    store.close()

    store = SQLiteStore(tmp_path / "data2" / "incidents.db")
    from opsconsole.alerts.silences import Silence
    from opsconsole.events import SILENCE_ADDED

    sil = Silence.create(["check=api"], 3600, now=datetime.fromtimestamp(T0, UTC),
                         created_by="ann", reason="deploy")
    store.append(SILENCE_ADDED, sil.to_dict())
    rig = Rig(write_config(tmp_path), store, clock)
    await rig.tick("CRITICAL", 1)
    await rig.tick("CRITICAL", 35)
    assert incidents(store) == [] and not (tmp_path / "restarts.log").exists()
    rig.close()
    store.close()


async def test_read_only_never_runs_and_unfit_params_are_refused(tmp_path):
    store = SQLiteStore(tmp_path / "data" / "incidents.db")
    clock = [T0]
    rig = Rig(write_config(tmp_path, declare="attach"), store, clock)
    rig.w.actions.read_only = True
    await rig.tick("CRITICAL", 0)
    await rig.tick("CRITICAL", 35)
    assert not (tmp_path / "restarts.log").exists()
    assert store.events_after(0, types=(ALERT_AUTO_RUN,)) == []
    assert any("auto_run not run: read-only" in line for line in rig.lines)
    rig.close()
    store.close()

    # a label value the runbook's parameter refuses (a hostile check name) is refused,
    # recorded, never pasted into the command
    store = SQLiteStore(tmp_path / "data2" / "incidents.db")
    rig = Rig(write_config(tmp_path, declare="attach"), store, clock)
    st = rig.w.evaluator
    await rig.tick("OK", 0)
    from opsconsole.alerts.rules import Transition

    t = Transition(rule="api-down", key="api-down", labels={"check": "api; rm -rf /"},
                   from_state="pending", to_state="firing", event="firing", value="CRITICAL",
                   threshold="CRITICAL", at=clock[0], severity="critical", summary="s",
                   description="", runbook="service-restart", auto_run=1, since=clock[0])
    assert st is not None
    assert await rig.w.actions.auto_run(t, None) == "refused"
    (ev,) = store.events_after(0, types=(ALERT_AUTO_RUN,))
    assert ev.data["status"] == "refused" and "does not match the pattern" in ev.data["reason"]
    assert not (tmp_path / "restarts.log").exists()
    rig.close()
    store.close()


def test_auto_run_of_an_unmarked_step_is_refused_at_config_load(tmp_path):
    cfg = write_config(tmp_path, auto_run="2")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    e = err.value
    line = cfg.read_text().splitlines().index("    auto_run: 2") + 1
    assert (e.path, e.line, e.column) == (str(cfg), line, 15), str(e)
    assert "not marked auto_run_safe: true" in e.message
    cfg = write_config(tmp_path, auto_run="9")
    with pytest.raises(ConfigError, match="has steps 1..2, not 9"):
        load_config(cfg)
    load_config(write_config(tmp_path, auto_run="1"))  # the marked one loads


def test_markdown_runbook_steps_can_be_marked_auto_run_safe(tmp_path):
    from opsconsole.runbooks.library import load_runbook

    p = tmp_path / "rb.md"
    p.write_text("# Disk\n\nShow usage.\n\n```sh auto_run_safe=true\ndf -h\n```\n\n"
                 "Clean up.\n\n```sh\nrm -rf /tmp/x\n```\n")
    rb = load_runbook(p)
    assert [s.auto_run_safe for s in rb.steps] == [True, False]


async def test_the_postmortem_tells_the_alerts_story_in_markdown_and_json(tmp_path):
    import json

    from opsconsole.events import ALERT_NOTIFIED
    from opsconsole.incidents import postmortem
    from opsconsole.incidents.export import export_json
    from opsconsole.incidents.store import load_state

    store = SQLiteStore(tmp_path / "data" / "incidents.db")
    clock = [T0]
    rig = Rig(write_config(tmp_path, extra="""\
    escalate: [{after: 5m, notify: []}]
"""), store, clock)
    await rig.tick("CRITICAL", 0)   # pending
    await rig.tick("CRITICAL", 35)  # firing: declares, runs the step
    (inc,) = incidents(store)
    store.append(ALERT_NOTIFIED, {"alert": "api-down", "state": "firing", "target": "oncall",
                                  "kind": "webhook", "ok": False, "attempts": 3,
                                  "error": "HTTP 500 token=abcdefghijklmnopqrstu"},
                 incident_id=inc.id, ts=datetime.fromtimestamp(clock[0] + 1, UTC))
    ack = rig.w.evaluator.ack("api-down", "ann", at=clock[0] + 60)
    rig.w._record([ack])
    await rig.tick("CRITICAL", 400)  # past the escalation's 5 min: acknowledged, none
    await rig.tick("OK", 10)         # resolved
    rig.close()
    state, events = load_state(store, inc.id)
    md = postmortem.markdown(state, events)
    section = md.split("## Alerts\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("- ")]
    texts = [line.split(" — ", 1)[1] for line in lines]
    assert texts[0].startswith("Alert api-down (critical) is pending: value CRITICAL")
    assert texts[1] == "Alert api-down declared this incident (SEV2)"
    assert texts[2].startswith("Alert api-down (critical) is FIRING")
    assert "Alert api-down ran runbook service-restart step 1 “Note the restart” " \
           "automatically" in texts
    assert any(t.startswith("Notification to oncall (webhook) of api-down firing FAILED "
                            "after 3 attempts") for t in texts)
    assert any(t.startswith("Alert api-down (critical) acknowledged by ann") for t in texts)
    assert not any("escalated" in t for t in texts)  # acknowledged first: no escalation
    (resolved,) = [t for t in texts if t.startswith("Alert api-down (critical) resolved")]
    assert "after 6m50s" in resolved  # fired at +35 s, resolved at +445 s
    assert lines[0].startswith("- 2026-05-28 20:26:40 UTC")  # the evaluator's clock
    assert "abcdefghijklmnopqrstu" not in md
    parts: list[str] = []
    export_json(store, inc.id, parts.append)
    doc = json.loads("".join(parts))
    assert [a["text"] for a in doc["alerts"]] == texts
    assert doc["alerts"][0]["at"] == "2026-05-28 20:26:40Z"
    store.close()
