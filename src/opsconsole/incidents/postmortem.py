"""Postmortem exports (Markdown and JSON) and communication drafts, from the timeline.

Everything here is a pure function of the folded state and the events, so exports are
reproducible (golden-file tested). Free text goes through :func:`describe`, which masks
things that look like secrets. Never imports Textual.
"""

from __future__ import annotations

import json
import os
import string
import uuid
from collections.abc import Mapping
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


def runbook_runs(events: list[Event]) -> list[dict[str, Any]]:
    """Runbook step executions from ``runbook.step_started`` / ``runbook.step_finished``
    events, paired by (runbook, step) in order. Each: started, finished, runbook, step,
    command, exit, duration, output_first, output_last, sha256, actor."""
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
    return runs


def _lines(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, list | tuple):
        return " / ".join(map(str, v))
    return str(v)


def markdown(state: tl.IncidentState, events: list[Event], *,
             generated_at: datetime | None = None) -> str:
    """The postmortem draft as Markdown."""
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
    w("")
    w(f"# {state.id}: {_cell(mask_tokens(state.title))}")
    w("")
    w(f"**{state.severity}** · {state.status} · services: "
      f"{', '.join(map(_cell, state.services)) or 'none'} · "
      f"commander: {_cell(state.roles.get('commander', '–'))}")
    w("")
    w("## Summary")
    w("")
    w("_What happened, in two or three sentences._")
    w("")
    w("## Impact")
    w("")
    w("_Who and what was affected, for how long, and how badly._")
    w("")
    w("## Durations")
    w("")
    w("| Metric | Duration | From | To |")
    w("|---|---|---|---|")
    for label, short, secs, a, b in state.durations().rows():
        dur = duration(max(secs, 0)) if secs is not None else "–"
        w(f"| {label} ({short}) | {dur} | {a} {utc(m.get(a))} | {b} {utc(m.get(b))} |")
    w("")
    w("## Milestones")
    w("")
    w("| Milestone | UTC time | Set |")
    w("|---|---|---|")
    for name, at in m.items():
        how = "explicitly" if name in state.explicit_milestones else "from the timeline"
        w(f"| {name} | {utc(at)} | {how} |")
    w("")
    w("## Timeline")
    w("")
    w("All times UTC, in the order recorded.")
    w("")
    w("| # | UTC time | Actor | Event |")
    w("|---|---|---|---|")
    for e in map(shown, events):  # attached earlier events at their original time
        w(f"| {e.seq} | {utc(e.ts)} | {_cell(actor_label(e))} | {_cell(describe(e))} |")
    w("")
    w("## Runbook executions")
    w("")
    runs = runbook_runs(events)
    if runs:
        w("| Started | Runbook | Step | Command | Exit | Took | Output (first … last) | SHA-256 |")
        w("|---|---|---|---|---|---|---|---|")
        for r in runs:
            took = r.get("duration")
            took_s = duration(float(took)) if isinstance(took, int | float) else "–"
            output = " … ".join(x for x in (_lines(r.get("output_first")),
                                             _lines(r.get("output_last"))) if x)
            sha = str(r.get("sha256") or "–")
            w(f"| {utc(r.get('started') or r.get('finished'))} | {_cell(r['runbook'])} | "
              f"{_cell(r['step'])} | {_cell(mask_tokens(str(r.get('command') or '–')))} | "
              f"{r.get('exit') if r.get('exit') is not None else '–'} | {took_s} | "
              f"{_cell(mask_tokens(output)) or '–'} | {_cell(sha[:16])} |")
    else:
        w("_No runbook steps were run from opsconsole during this incident._")
    w("")
    w("## Action items")
    w("")
    w("| Action | Owner | Due | Ticket |")
    w("|---|---|---|---|")
    w("|  |  |  |  |")
    w("")
    w("## Lessons learned")
    w("")
    w("### What went well")
    w("")
    w("- ")
    w("")
    w("### What went wrong")
    w("")
    w("- ")
    w("")
    w("### Where we got lucky")
    w("")
    w("- ")
    w("")
    return "\n".join(out)


def to_json(state: tl.IncidentState, events: list[Event], *,
            generated_at: datetime | None = None) -> str:
    """The JSON twin: the folded state and every event, for other tools."""
    # One event per line (the C encoder: pretty-printing 10,000 events is 5x slower).
    token = f"__events_{uuid.uuid4().hex}__"
    lines = ",\n    ".join(json.dumps(_event_json(e), ensure_ascii=False, default=str)
                             for e in events)
    doc: dict[str, Any] = {
        "format": "opsconsole.incident/1",
        "incident": state.to_json(),
        "events": token,
        "runbook_executions": [
            {k: (utc(v) + "Z" if isinstance(v, datetime) else v) for k, v in r.items()}
            for r in runbook_runs(events)
        ],
    }
    if generated_at:
        doc["generated_at"] = generated_at.astimezone(UTC).isoformat()
    text = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    text = text.replace(f'"{token}"', f"[\n    {lines}\n  ]" if lines else "[]", 1) + "\n"
    return text.translate(_JSON_C1)


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
        "We are investigating an incident affecting {services}.\n"
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
        "The incident {id} affecting {services} is resolved as of {resolved} UTC.\n"
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
        "services": ", ".join(map(one_line, state.services)) or "our services",
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
