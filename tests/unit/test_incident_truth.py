"""Issue 11: milestones that follow what happened, honest metrics, configured severities,
the postmortem record, every event as a sentence, folded runbook steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsconsole import events as ev
from opsconsole.config import parse_config
from opsconsole.events import Actor, Event
from opsconsole.incidents import fields as rf
from opsconsole.incidents import pmtemplate, postmortem
from opsconsole.incidents import timeline as tl
from opsconsole.incidents.describe import describe
from opsconsole.incidents.steps import fold_steps
from opsconsole.incidents.store import worst_first
from opsconsole.schema import ConfigError

A = Actor("ana", None, None, "ops1")
T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def evs(*items: tuple[float, str, dict]) -> list[Event]:
    return [Event(type=t, data=d, actor=A, ts=at(m), incident_id="INC-1", seq=i + 1)
            for i, (m, t, d) in enumerate(items)]


DECL = (0, ev.DECLARED, {"title": "api down", "severity": "SEV2"})


def test_monitoring_mitigates_but_does_not_acknowledge():
    s = tl.fold(evs(DECL, (20, ev.STATUS_CHANGED, {"status": "monitoring"})))
    assert s.milestones["mitigated"] == at(20)
    assert "acknowledged" not in s.milestones


def test_taking_command_acknowledges():
    s = tl.fold(evs(DECL, (5, ev.ROLE_ASSIGNED, {"role": "commander", "person": "bo"}),
                    (20, ev.STATUS_CHANGED, {"status": "monitoring"})))
    assert s.milestones["acknowledged"] == at(5)


def test_going_back_withdraws_the_mitigation_the_status_implied():
    s = tl.fold(evs(DECL, (20, ev.STATUS_CHANGED, {"status": "monitoring"}),
                    (31, ev.STATUS_CHANGED, {"status": "investigating"})))
    assert "mitigated" not in s.milestones
    s = tl.fold(evs(DECL, (20, ev.STATUS_CHANGED, {"status": "monitoring"}),
                    (31, ev.STATUS_CHANGED, {"status": "investigating"}),
                    (40, ev.STATUS_CHANGED, {"status": "monitoring"})))
    assert s.milestones["mitigated"] == at(40)


def test_an_explicit_mitigation_stays_but_is_remarked_on_when_status_goes_back():
    s = tl.fold(evs(DECL, (20, ev.MILESTONE_SET, {"milestone": "mitigated",
                                                  "at": at(20).isoformat()}),
                    (31, ev.STATUS_CHANGED, {"status": "investigating"})))
    assert s.milestones["mitigated"] == at(20)
    assert s.remarks() == {"mitigated": "mitigated at 03:20, but status went back to "
                                         "investigating at 03:31"}
    md = postmortem.markdown(s, [])
    assert "mitigated at 03:20, but status went back to investigating at 03:31" in md


def test_backdated_detection_before_start_is_not_mttd_zero():
    s = tl.fold(evs((0, ev.DECLARED, {"title": "x", "severity": "SEV2",
                                      "started": at(10).isoformat()}),
                    (1, ev.MILESTONE_SET, {"milestone": "detected", "at": at(0).isoformat()})))
    assert s.order_warnings() == ["detected (03:00) is before started (03:10)"]
    assert s.metric_text("MTTD") == "MTTD: n/a — detected (03:00) is before started (03:10)"
    assert s.live_durations(at(30))["MTTD"] == "n/a"
    assert s.to_json()["durations"]["mttd"] is None
    assert "n/a — detected (03:00) is before started (03:10)" in postmortem.markdown(s, [])


THORBIS = """
incidents:
  severities:
    outage: {response: 15m, resolution: 1h, update_every: 15m}
    payments: {response: 10m, resolution: 30m, update_every: 10m}
    degraded: {response: 1h, resolution: 8h, update_every: 1h}
"""


def test_configured_severities_parse_sort_and_carry_targets():
    inc = parse_config(THORBIS).incidents
    names = inc.severity_names()
    assert names == ("outage", "payments", "degraded")
    assert tl.parse_severity("Payments", names) == "payments"
    with pytest.raises(tl.BadInput, match="outage, payments, degraded"):
        tl.parse_severity("SEV1", names)
    assert inc.for_severity("payments") == 600
    assert inc.resolution_target("outage") == 3600
    assert inc.update_cadence("degraded") == 3600
    assert tl.parse_severity("p1", ("P0", "P1", "P2")) == "P1"
    assert tl.parse_severity("1", ("P0", "P1", "P2")) == "P1"
    a = tl.fold(evs((0, ev.DECLARED, {"title": "a", "severity": "degraded"})))
    b = tl.fold(evs((5, ev.DECLARED, {"title": "b", "severity": "outage"})))
    b.id = "INC-2"
    assert [s.id for s in worst_first([a, b], names)] == ["INC-2", "INC-1"]


def test_default_severities_are_sev1_to_4():
    inc = parse_config("incidents: {}\n").incidents
    assert inc.severity_names() == ("SEV1", "SEV2", "SEV3", "SEV4")
    assert inc.for_severity("SEV1") == 300
    assert inc.update_cadence("SEV1") == 1800


def test_bad_severity_name_is_located():
    with pytest.raises(ConfigError) as err:
        parse_config("incidents:\n  severities:\n    'P 1': {response: 5m}\n", "c.yaml")
    assert str(err.value).startswith("c.yaml:3:")


def test_next_update_due_counts_from_the_last_update():
    s = tl.fold(evs(DECL, (10, ev.STATUS_CHANGED, {"status": "identified"})))
    assert rf.next_update_text(s, at(13), 15 * 60) == "next update due in 12m"
    s = tl.fold(evs(DECL, (10, ev.STATUS_CHANGED, {"status": "identified"}),
                    (12, ev.COMMS_SENT, {"template": "update", "how": "copied"})))
    assert rf.next_update_text(s, at(13), 15 * 60) == "next update due in 14m"
    assert rf.next_update_text(s, at(40), 15 * 60) == "update OVERDUE by 13m"


def test_record_fields_and_action_items_fold_and_reach_the_postmortem():
    s = tl.fold(evs(DECL,
                    (30, ev.RECORD_SET, {"field": "root_cause", "value": "a missing index"}),
                    (31, ev.RECORD_SET, {"field": "impact_users", "value": 1200}),
                    (32, ev.RECORD_SET, {"field": "postmortem_required", "value": True}),
                    (33, ev.ACTION_ADDED, {"text": "add the index", "owner": "bo"}),
                    (34, ev.ACTION_STATUS, {"action": 5, "status": "done"})))
    assert s.record == {"root_cause": "a missing index", "impact_users": 1200,
                        "postmortem_required": True}
    assert rf.action_lines(s) == ["#5 [done] add the index (owner bo)"]
    md = postmortem.markdown(s, [])
    for heading in ("## Root Cause", "## Prevention Measures", "### What Could Be Improved",
                    "## Impact", "## Action items"):
        assert heading in md
    assert "a missing index" in md and "Users affected: 1,200" in md
    assert "| 5 | add the index | bo | done |" in md
    assert rf.parse_field("impact-users", "1,500") == 1500
    with pytest.raises(tl.BadInput):
        rf.parse_field("impact_users", "many")


def test_postmortem_template_placeholders_are_checked_where_they_are(tmp_path):
    p = tmp_path / "pm.md"
    p.write_text("# {{ title }}\n\nCause: {{ root_cause }}\n  {{ rootcause }}\n")
    with pytest.raises(ConfigError) as err:
        pmtemplate.load_template(p)
    assert str(err.value).startswith(f"{p}:4:3: unknown placeholder {{{{ rootcause }}}}")
    p.write_text("# {{ title }}\nCause: {{ root_cause }}\n")
    s = tl.fold(evs(DECL, (3, ev.RECORD_SET, {"field": "root_cause", "value": "disk"})))
    assert postmortem.markdown(s, [], template=pmtemplate.load_template(p)) == \
        "# api down\nCause: disk\n"


def _sample(t: str) -> dict:
    step = {"run_id": "r1", "runbook": "pg-locks", "step": 2, "step_title": "cancel blocker",
            "kind": "sql", "host": "vm"}
    return {
        ev.RUNBOOK_STARTED: {**step, "command": "select 1", "attempt": 1},
        ev.RUNBOOK_FINISHED: {**step, "status": "failed", "duration": 0.076,
                              "reason": "lock timeout"},
        ev.RUNBOOK_SKIPPED: {**step, "reason": "not needed"},
        ev.CONTEXT_ATTACHED: {"type": ev.NOTE, "data": {"text": "x"}, "seq": 3,
                              "ts": T0.isoformat()},
        ev.SNAPSHOT: {"cpu": 12.0, "load1": 0.5},
    }.get(t, {"x": "1"})


def test_every_event_type_is_a_sentence_not_a_dump():
    types = [v for k, v in vars(ev).items() if k.isupper() and isinstance(v, str)
             and "." in v]
    assert ev.RUNBOOK_SKIPPED in types and ev.RECORD_SET in types
    for t in types:
        text = describe(Event(type=t, data=_sample(t), actor=A, ts=T0, seq=1))
        assert not text.startswith(t), (t, text)
        assert "=" not in text, (t, text)
    assert describe(Event(ev.RUNBOOK_SKIPPED, _sample(ev.RUNBOOK_SKIPPED), A, T0)) == \
        "Runbook pg-locks step 2 “cancel blocker” skipped: not needed"


def test_a_step_start_and_finish_fold_into_one_row():
    step = {"run_id": "r1", "runbook": "pg-locks", "step": 2, "step_title": "cancel blocker"}
    e = evs(DECL, (1, ev.RUNBOOK_STARTED, {**step, "attempt": 1}),
            (2, ev.NOTE, {"text": "waiting"}),
            (3, ev.RUNBOOK_FINISHED, {**step, "attempt": 1, "status": "ok", "duration": 0.076}),
            (4, ev.RUNBOOK_STARTED, {**step, "attempt": 2}))
    folded = fold_steps(e)
    assert [x.seq for x in folded] == [1, 4, 3, 5]
    assert describe(folded[1]) == "Runbook pg-locks step 2 “cancel blocker”: ok in 76ms"
    md = postmortem.markdown(tl.fold(e), e)
    timeline = md.split("## Timeline")[1].split("## Runbook executions")[0]
    assert timeline.count("cancel blocker") == 2  # one folded row, one still running
    assert "| 4 | 2026-11-24 03:01:00 | ana@ops1 | Runbook pg-locks step 2 “cancel blocker”: " \
           "ok in 76ms |" in timeline
