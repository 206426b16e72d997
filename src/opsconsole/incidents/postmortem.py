"""Postmortem exports (Markdown and JSON) and communication drafts, from the timeline.

Everything here is a pure function of the folded state and the events, so exports are
reproducible (golden-file tested). Free text goes through :func:`describe`, which masks
things that look like secrets. Never imports Textual.
"""

from __future__ import annotations

import json
import os
import string
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsconsole import events as ev
from opsconsole.events import Event
from opsconsole.files import atomic_write
from opsconsole.fmt import duration, one_line
from opsconsole.incidents import timeline as tl
from opsconsole.incidents.describe import describe, shown
from opsconsole.secrets import mask_tokens
from opsconsole.text import for_markdown, for_terminal


def utc(t: datetime | None, seconds: bool = True) -> str:
    if t is None:
        return "–"
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def actor_label(e: Event) -> str:
    a = e.actor
    s = f"{a.user}@{a.host}"
    if a.client:
        s += f" ({a.client})"
    return s


def _cell(text: str) -> str:
    """Safe inside a Markdown table cell or a header line: one line, controls visible, ``|``
    and Markdown syntax escaped (so a newline in a field cannot start a heading)."""
    return for_markdown(text)


def _yaml_str(s: str) -> str:
    """A YAML (JSON) string: controls visible (``json.dumps`` leaves C1 raw)."""
    return json.dumps(for_terminal(s), ensure_ascii=False)


# json.dumps(ensure_ascii=False) escapes C0 but writes DEL and C1 raw: escape them too
_JSON_C1 = {cp: f"\\u{cp:04x}" for cp in range(0x7F, 0xA0)}


def runbook_runs(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Runbook step executions from ``runbook.step_started`` / ``runbook.step_finished``
    events, paired by (runbook, step) in order. Each: started, finished, runbook, step,
    command, exit, duration, output_first, output_last, sha256, actor."""
    return list(iter_runbook_runs(events))


def iter_runbook_runs(events: Iterable[Event]) -> Iterator[dict[str, Any]]:
    """:func:`runbook_runs` one at a time, in the same order, each as soon as nothing later
    can change it (finished, or its key started again): memory holds the steps in flight,
    not the whole timeline."""
    pending: deque[list[Any]] = deque()  # [run, final] in the order runbook_runs lists them
    open_runs: dict[tuple[str, str], list[Any]] = {}

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
            entry = [run, False]
            replaced = open_runs.get(key(d))
            if replaced is not None:  # never finished: nothing can change it any more
                replaced[1] = True
            open_runs[key(d)] = entry
            pending.append(entry)
        elif e.type == ev.RUNBOOK_FINISHED:
            found = open_runs.pop(key(d), None)
            if found is None:
                run = {"started": None, "actor": actor_label(e),
                       "runbook": str(tl.pick(d, "runbook", "runbook_title", default="?")),
                       "step": str(tl.pick(d, "step_title", "step", "title", default="?")),
                       "command": tl.pick(d, "command", "sql")}
                found = [run, True]
                pending.append(found)
            run = found[0]
            found[1] = True
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
        while pending and pending[0][1]:
            yield pending.popleft()[0]
    while pending:
        yield pending.popleft()[0]


def _lines(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, list | tuple):
        return " / ".join(map(str, v))
    return str(v)


def markdown(state: tl.IncidentState, events: list[Event], *,
             generated_at: datetime | None = None, template: str | None = None,
             slo_impact: str = "") -> str:
    """The postmortem draft as Markdown (``template``: one with ``{{ placeholders }}``, see
    :mod:`opsconsole.incidents.pmtemplate`; the shipped one by default)."""
    from opsconsole.incidents import fields as rf
    from opsconsole.incidents import pmtemplate
    from opsconsole.incidents.steps import fold_steps

    m = state.milestones
    out: list[str] = []
    w = out.append
    w("---")
    w(f"id: {state.id}")
    w(f"title: {_yaml_str(state.title)}")
    w(f"severity: {state.severity}")
    w(f"status: {state.status}")
    w(f"services: [{', '.join(_yaml_str(s) for s in state.services)}]")
    if state.tags:
        w(f"tags: [{', '.join(_yaml_str(s) for s in state.tags)}]")
    w("roles:")
    for role in tl.ROLES:
        w(f"  {role}: {_yaml_str(state.roles[role]) if role in state.roles else 'null'}")
    w(f"declared: {utc(state.declared_at)} UTC")
    if state.declared_by:
        w(f"declared_by: {_yaml_str(state.declared_by.label())}")
    if generated_at:
        w(f"generated: {utc(generated_at)} UTC")
    w("---")
    front = "\n".join(out)

    def rec(name: str, empty: str) -> str:
        v = state.record.get(name)
        return _cell(mask_tokens(rf.field_text(name, v))) if v is not None else empty

    dur = ["| Metric | Duration | From | To |", "|---|---|---|---|"]
    for label, short, secs, a, b in state.durations().rows():
        why = state.invalid_reason(a, b)
        d = f"n/a — {why}" if why else (duration(secs) if secs is not None else "–")
        dur.append(f"| {label} ({short}) | {d} | {a} {utc(m.get(a))} | {b} {utc(m.get(b))} |")
    ms = ["| Milestone | UTC time | Set |", "|---|---|---|"]
    remarks = state.remarks()
    for name, at in m.items():
        how = "explicitly" if name in state.explicit_milestones else "from the timeline"
        if name in remarks:
            how += f" — {remarks[name]}"
        ms.append(f"| {name} | {utc(at)} | {how} |")
    warn = state.order_warnings()
    if warn:
        ms += ["", "Out of order: " + "; ".join(warn) + "."]
    tlines = ["| # | UTC time | Actor | Event |", "|---|---|---|---|"]
    for e in map(shown, fold_steps(events)):  # attached earlier events at their original time
        tlines.append(f"| {e.seq} | {utc(e.ts)} | {_cell(actor_label(e))} | "
                      f"{_cell(describe(e))} |")
    runs = runbook_runs(events)
    if runs:
        rl = ["| Started | Runbook | Step | Command | Result | Took | Output (first … last) "
              "| SHA-256 |", "|---|---|---|---|---|---|---|---|"]
        for r in runs:
            took = r.get("duration")
            took_s = duration(float(took)) if isinstance(took, int | float) else "–"
            output = " … ".join(x for x in (_lines(r.get("output_first")),
                                             _lines(r.get("output_last"))) if x)
            sha = str(r.get("sha256") or "–")
            res = r.get("exit") if r.get("exit") is not None else "–"
            if r.get("reason"):
                res = f"{res}: {r['reason']}"
            rl.append(f"| {utc(r.get('started') or r.get('finished'))} | {_cell(r['runbook'])} | "
                      f"{_cell(r['step'])} | {_cell(mask_tokens(str(r.get('command') or '–')))} | "
                      f"{_cell(mask_tokens(str(res)))} | {took_s} | "
                      f"{_cell(mask_tokens(output)) or '–'} | {_cell(sha[:16])} |")
        runs_md = "\n".join(rl)
    else:
        runs_md = "_No runbook steps were run from opsconsole during this incident._"
    al = ["| # | Action | Owner | Status |", "|---|---|---|---|"]
    for seq, item in sorted(state.actions.items()):
        al.append(f"| {seq} | {_cell(mask_tokens(str(item['text'])))} | "
                  f"{_cell(str(item.get('owner') or '–'))} | {_cell(str(item['status']))} |")
    if not state.actions:
        al.append("|  |  |  |  |")
    values = {
        "front_matter": front, "id": state.id, "title": _cell(mask_tokens(state.title)),
        "severity": _cell(state.severity), "status": state.status,
        "services": ", ".join(map(_cell, state.services)) or "none named",
        "commander": _cell(state.roles.get("commander", "–")),
        "headline": (f"**{_cell(state.severity)}** · {state.status} · services: "
                     f"{', '.join(map(_cell, state.services)) or 'none'} · "
                     f"commander: {_cell(state.roles.get('commander', '–'))}"),
        "impact": rec("impact", "_Who and what was affected, for how long, and how badly._"),
        "impact_users": rec("impact_users", "_unknown_"),
        "impact_duration": rec("impact_duration", (
            duration(state.durations().mitigate or 0) + " (started → mitigated)"
            if (state.durations().mitigate or -1) >= 0 else "_unknown_")),
        "root_cause": rec("root_cause", "_Why it happened (the cause, not the trigger)._"),
        "resolution": rec("resolution", "_What ended the impact._"),
        "prevention": rec("prevention", "_What stops it happening again._"),
        "postmortem_required": rec("postmortem_required", "_not decided_"),
        "durations": "\n".join(dur), "milestones": "\n".join(ms),
        "remarks": "; ".join(warn + list(remarks.values())) or "none",
        "timeline": "\n".join(tlines), "runbook_executions": runs_md,
        "action_items": "\n".join(al),
        "alerts": alerts_markdown(events),
    }
    # issue 15: "SLO impact" (slo.impact.impact_markdown: the budget this incident burned)
    return pmtemplate.render(template or pmtemplate.DEFAULT_TEMPLATE, values) + slo_impact


def alerts_markdown(events: Iterable[Event]) -> str:
    """The postmortem's Alerts section: what the alerts did during the incident, one
    sentence a line (see :func:`opsconsole.incidents.alertwords.alert_sentences`)."""
    from opsconsole.incidents.alertwords import alert_sentences

    rows = alert_sentences(events)
    if not rows:
        return "_No alert fired, notified or acted on this incident's timeline._"
    return "\n".join(f"- {utc(r['at'])} UTC — {_cell(mask_tokens(r['text']))}" for r in rows)


def to_json(state: tl.IncidentState, events: list[Event], *,
            generated_at: datetime | None = None) -> str:
    """The JSON twin: the folded state and every event, for other tools (in memory; the
    CLI streams a big incident with :func:`opsconsole.incidents.export.export_json`)."""
    from opsconsole.incidents.export import write_json

    parts: list[str] = []
    write_json(parts.append, state, events, events, generated_at=generated_at,
               alert_events=events)
    return "".join(parts)


def _event_json(e: Event) -> dict[str, Any]:
    """An event as plain JSON (the same keys as ``Event.to_json``, plus its readable text)."""
    a = e.actor
    return {"seq": e.seq, "incident_id": e.incident_id, "type": e.type, "ts": e.ts.isoformat(),
            "actor": {"user": a.user, "client": a.client, "tty": a.tty, "host": a.host},
            "data": e.data, "text": describe(e)}


# ------------------------------------------------------------------ comms
DEFAULT_TEMPLATES: dict[str, str] = {
    "initial": (
        "[{severity}] Investigating: {title}\n"
        "\n"
        "We are investigating an incident. Services affected: {services}.\n"
        "Impact started: {started} UTC. Status: {status}.\n"
        "Incident commander: {commander}. Incident id: {id}.\n"
        "Next update within {next_update}.\n"
    ),
    "update": (
        "[{severity}] Update on {id}: {title}\n"
        "\n"
        "Status: {status} (for {elapsed} since impact started at {started} UTC).\n"
        "Services affected: {services}.\n"
        "Latest: {latest_note}\n"
        "Incident commander: {commander}. Next update within {next_update}.\n"
    ),
    "resolved": (
        "[{severity}] Resolved: {title}\n"
        "\n"
        "The incident {id} is resolved as of {resolved} UTC. Services affected: {services}.\n"
        "Impact lasted {time_to_resolve} (started {started} UTC).\n"
        "A postmortem will follow. Incident commander: {commander}.\n"
    ),
}
TEMPLATE_FIELDS = (
    "id", "title", "severity", "status", "services", "commander", "scribe", "communications",
    "started", "detected", "mitigated", "resolved", "elapsed", "time_to_resolve",
    "time_to_mitigate", "latest_note", "next_update", "tags",
)


def template_error(text: str) -> str | None:
    """None when ``text`` is a valid comms template, else what is wrong (for config checks)."""
    try:
        names = [f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        return f"bad template: {exc} (write {{{{ and }}}} for literal braces)"
    unknown = sorted({n for n in names if n not in TEMPLATE_FIELDS})
    if unknown:
        return (f"unknown template field(s) {', '.join('{' + n + '}' for n in unknown)}; "
                f"known: {', '.join(TEMPLATE_FIELDS)}")
    return None


def comms(state: tl.IncidentState, template: str, *, now: datetime,
          templates: Mapping[str, str] | None = None,
          update_every: float | None = None) -> str:
    """A communication draft from a template (initial / update / resolved or a custom one)."""
    all_t = dict(DEFAULT_TEMPLATES)
    all_t.update(templates or {})
    if template not in all_t:
        raise tl.BadInput(f"template {template!r}: expected one of {', '.join(sorted(all_t))}")
    m = state.milestones
    d = state.durations()
    started = m.get("started")
    values = {
        "id": state.id,
        "title": one_line(mask_tokens(state.title)),
        "severity": state.severity,
        "status": state.status,
        "services": ", ".join(map(one_line, state.services)) or "not yet known",
        "commander": one_line(state.roles.get("commander", "not yet assigned")),
        "scribe": one_line(state.roles.get("scribe", "not yet assigned")),
        "communications": one_line(state.roles.get("communications", "not yet assigned")),
        "started": utc(started, seconds=False),
        "detected": utc(m.get("detected"), seconds=False),
        "mitigated": utc(m.get("mitigated"), seconds=False),
        "resolved": utc(m.get("resolved"), seconds=False),
        "elapsed": duration(max((now - started).total_seconds(), 0)) if started else "–",
        "time_to_resolve": duration(max(d.resolve, 0)) if d.resolve is not None else "–",
        "time_to_mitigate": duration(max(d.mitigate, 0)) if d.mitigate is not None else "–",
        "latest_note": one_line(mask_tokens(state.last_note)) if state.last_note
        else "no new findings yet.",
        "next_update": duration(update_every) if update_every else "30m00s",
        "tags": ", ".join(map(one_line, state.tags)) or "–",
    }
    return all_t[template].format_map(values)


def write_export(path: str | os.PathLike[str], text: str) -> Path:
    """Write an export (0600) atomically: a private temporary file renamed over ``path``, so
    a symlink planted at ``path`` is replaced, never written through, and a full disk leaves
    the previous file whole. Raises ``OSError``."""
    return atomic_write(Path(path), text)
