"""The ``opsconsole incident ...`` commands; their parser (and the exit statuses) are in
:mod:`opsconsole.cli.incident`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsconsole import events as ev
from opsconsole.config import AppConfig, resolve_data_dir
from opsconsole.files import os_reason
from opsconsole.fmt import duration, one_line
from opsconsole.incidents import fields as rf
from opsconsole.incidents import postmortem
from opsconsole.incidents import timeline as tl
from opsconsole.incidents.describe import describe, shown
from opsconsole.incidents.store import (
    SQLiteStore,
    StoreError,
    UnknownIncident,
    all_states,
    load_state,
    open_store,
    worst_first,
)
from opsconsole.schema import ConfigError
from opsconsole.secrets import mask_tokens

EXIT_STORE = 1
from opsconsole.cli.common import EXIT_USAGE  # noqa: E402


class _Usage(Exception):
    pass


def run_command(name: str, args: argparse.Namespace) -> int:
    """Run ``cmd_<name>``: the config, the data directory, and the exit status of each
    failure (see the module docstring)."""
    fn: Callable[[argparse.Namespace, AppConfig, Path], int] = globals()[name]
    from opsconsole.cli.common import load_or_exit

    cfg = load_or_exit(args.config)
    data_dir = resolve_data_dir(args.data_dir, cfg)
    try:
        args.pm_template = _pm_template(cfg, args.config)
    except ConfigError as exc:
        print(f"opsconsole: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return fn(args, cfg, data_dir)
    except (tl.BadInput, UnknownIncident, _Usage) as exc:
        print(f"opsconsole incident: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"opsconsole incident: {exc}", file=sys.stderr)
        # a role that may not create the shared schema: exit 2 (the GRANT is printed)
        return 2 if getattr(exc, "statements", None) else EXIT_STORE
    except BrokenPipeError:  # e.g. piped into head
        return 0


def _pm_template(cfg: AppConfig, config_arg: str | None) -> str | None:
    """The configured postmortem template, checked (ConfigError at file:line:col); relative
    paths are relative to the config file."""
    if not cfg.incidents.postmortem_template:
        return None
    from opsconsole.config import resolve_config_path
    from opsconsole.incidents.pmtemplate import load_template

    where = resolve_config_path(config_arg)
    return load_template(cfg.incidents.postmortem_template,
                         where.parent if where else Path.cwd())


def _sev(cfg: AppConfig, text: str) -> str:
    return tl.parse_severity(text, cfg.incidents.severity_names())


def _store(cfg: AppConfig, data_dir: Path, read_only: bool = False) -> SQLiteStore:
    from opsconsole.sharedstore.choose import open_configured, shared_target

    if shared_target(cfg) is not None:  # the shared PostgreSQL store: same protocol
        return open_configured(cfg, data_dir, read_only=read_only)  # type: ignore[return-value]
    return open_store(data_dir, cfg.incidents.database, read_only=read_only)


def _reader(cfg: AppConfig, data_dir: Path, read_only: bool = False) -> SQLiteStore | None:
    """The store (``read_only``: opened so that nothing is written, which works on a
    read-only disk too); None when nothing was ever recorded (no file yet)."""
    from opsconsole.incidents.store import DB_NAME
    from opsconsole.sharedstore.choose import shared_target

    if shared_target(cfg) is not None:
        return _store(cfg, data_dir, read_only=read_only)
    p = Path(cfg.incidents.database).expanduser() if cfg.incidents.database else Path(DB_NAME)
    if not p.is_absolute():
        p = data_dir / p
    if not p.exists():
        return None
    return _store(cfg, data_dir, read_only=read_only)


def _now() -> datetime:
    return datetime.now(UTC)


def _target(cfg: AppConfig, sev: str) -> float:
    return cfg.incidents.response_targets.for_severity(sev)


def cmd_list(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
    store = _reader(cfg, data_dir, read_only=True)
    states = all_states(store) if store else []
    shown = states if args.all else worst_first(states, cfg.incidents.severity_names())
    if args.all:
        shown = sorted(states, key=lambda s: s.declared_at or _now(), reverse=True)
    now = _now()
    if args.json:
        out = []
        for s in shown:
            d = s.to_json()
            clock, overdue = s.response_clock(now, _target(cfg, s.severity))
            d["response_clock"] = clock
            d["overdue"] = overdue
            out.append(d)
        print(json.dumps(out, indent=2))
        return 0
    if not shown:
        print("no open incidents" if not args.all else "no incidents")
        return 0
    print(f"{'ID':<16} {'SEV':<4} {'STATUS':<13} {'AGE':>7}  {'COMMANDER':<12} "
          f"{'RESPONSE':<16} TITLE")
    for s in shown:
        age = duration(max((now - s.started_at).total_seconds(), 0)) if s.started_at else "–"
        clock, overdue = s.response_clock(now, _target(cfg, s.severity))
        print(f"{s.id:<16} {s.severity:<4} {s.status:<13} {age:>7}  "
              f"{one_line(s.roles.get('commander', '–'), 12):<12} "
              f"{('! ' if overdue else '') + clock:<16} {one_line(s.title, 60)}")
    return 0


def _get(store: SQLiteStore | None, iid: str) -> tuple[tl.IncidentState, list[ev.Event]]:
    if store is None:
        raise UnknownIncident(f"no incident {iid!r} (nothing has been recorded yet)")
    return load_state(store, iid.strip())


def cmd_show(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
    state, events = _get(_reader(cfg, data_dir, read_only=True), args.id)
    if args.json:
        doc = state.to_json()
        doc["events"] = [dict(e.to_json(), text=describe(e)) for e in events]
        print(json.dumps(doc, indent=2, default=str))
        return 0
    now = _now()
    clock, overdue = state.response_clock(now, _target(cfg, state.severity))
    print(f"{state.id}  {state.severity}  {state.status}  {state.title}")
    print(f"services: {', '.join(state.services) or '–'}   "
          + "   ".join(f"{r}: {state.roles.get(r, '–')}" for r in tl.ROLES))
    nxt = rf.next_update_text(state, now, cfg.incidents.update_cadence(state.severity))
    print(f"response: {'! ' if overdue else ''}{clock}   "
          + "   ".join(f"{k} {v}" for k, v in state.live_durations(now).items())
          + (f"   {nxt}" if nxt else ""))
    print("milestones: " + "   ".join(f"{k} {postmortem.utc(v)}"
                                      for k, v in state.milestones.items()))
    for warning in state.order_warnings():
        print(f"warning: {warning}: "
              + ", ".join(state.metric_text(sh) for _l, sh, _s, a, b in state.durations().rows()
                          if state.invalid_reason(a, b)))
    for remark in state.remarks().values():
        print(f"warning: {remark}")
    for label, text in rf.record_lines(state):
        if text != "–":
            print(f"{label.lower()}: {one_line(mask_tokens(text))}")
    for line in rf.action_lines(state):
        print(f"action {mask_tokens(line)}")
    print()
    from opsconsole.incidents.steps import fold_steps

    for e in map(shown, fold_steps(events)):  # a step's start and finish: one row
        print(f"{e.seq:>6}  {postmortem.utc(e.ts)}  {postmortem.actor_label(e):<24}  "
              f"{describe(e)}")
    return 0


def _services(values: list[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        out.extend(s.strip() for s in v.split(",") if s.strip())
    return out


def cmd_declare(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
    title = one_line(args.title)
    if not title:
        raise _Usage("--title must not be empty")
    sev = _sev(cfg, args.severity)
    extra: dict[str, Any] = {}
    if args.tags:
        extra["tags"] = _services(args.tags)
    if args.commander:
        extra["commander"] = args.commander
    if args.started:
        extra["started"] = tl.parse_when(args.started).isoformat()
    store = _store(cfg, data_dir)
    e = store.declare(title, sev, _services(args.services), extra=extra,
                      attach_window=float(cfg.incidents.attach_window))
    print(e.incident_id)
    n = e.data.get("context_attached")
    if n:
        print(f"attached {n} event{'s' if n != 1 else ''} recorded in the "
              f"{duration(float(cfg.incidents.attach_window))} before the declaration",
              file=sys.stderr)
    return 0


def _append(cfg: AppConfig, data_dir: Path, iid: str, type: str,
            data: dict[str, Any]) -> ev.Event:
    store = _reader(cfg, data_dir)
    state, _ = _get(store, iid)
    assert store is not None
    return store.append(type, data, incident_id=state.id)


def cmd_note(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
    if not args.text.strip():
        raise _Usage("the note is empty")
    data: dict[str, Any] = {"text": mask_tokens(args.text)}
    if args.corrects is not None:
        store = _reader(cfg, data_dir)
        state, _ = _get(store, args.id)
        if args.corrects not in state.notes:
            raise _Usage(f"#{args.corrects} is not a note of {state.id} (see: opsconsole "
                         f"incident show {state.id})")
        data["supersedes"] = args.corrects
    e = _append(cfg, data_dir, args.id, ev.NOTE, data)
    print(f"{e.incident_id} #{e.seq} note recorded")
    return 0


def cmd_set(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
    recs = {n: getattr(args, "rec_" + n) for n in rf.FIELDS
            if getattr(args, "rec_" + n, None) is not None}
    if args.title is None and args.services is None and args.tags is None and not recs:
        raise _Usage("nothing to change: give --title, --services, --tags or a record field "
                     "(--root-cause, --impact-users, …)")
    values = {n: rf.parse_field(n, v) for n, v in recs.items()}  # all checked before any write
    store = _reader(cfg, data_dir)
    state, _ = _get(store, args.id)
    assert store is not None
    for name, value in values.items():
        data: dict[str, Any] = {"field": name, "value": value}
        if name in state.record:
            data["previous"] = state.record[name]
        e = store.append(ev.RECORD_SET, data, incident_id=state.id)
        print(f"{state.id} #{e.seq} {describe(e)}")
    if args.title is not None:
        title = one_line(mask_tokens(args.title))
        if not title:
            raise _Usage("--title must not be empty")
        e = store.append(ev.TITLE_CHANGED, {"title": title, "previous": state.title},
                         incident_id=state.id)
        print(f"{state.id} #{e.seq} {describe(e)}")
    if args.services is not None:
        e = store.append(ev.SERVICES_CHANGED, {"services": _services([args.services])},
                         incident_id=state.id)
        print(f"{state.id} #{e.seq} {describe(e)}")
    if args.tags is not None:
        e = store.append(ev.TAGS_CHANGED, {"tags": _services([args.tags])},
                         incident_id=state.id)
        print(f"{state.id} #{e.seq} {describe(e)}")
    return 0


def cmd_action(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
    store = _reader(cfg, data_dir)
    state, _ = _get(store, args.id)
    assert store is not None
    if args.status:
        seq = args.what.strip().lstrip("#")
        if not seq.isdigit() or int(seq) not in state.actions:
            raise _Usage(f"{args.what!r} is not an action item of {state.id} (see: opsconsole "
                         f"incident show {state.id})")
        e = store.append(ev.ACTION_STATUS, {"action": int(seq), "status": args.status},
                         incident_id=state.id)
    else:
        text = one_line(mask_tokens(args.what))
        if not text:
            raise _Usage("the action item is empty")
        data: dict[str, Any] = {"text": text}
        if args.owner:
            data["owner"] = one_line(args.owner)
        e = store.append(ev.ACTION_ADDED, data, incident_id=state.id)
    print(f"{state.id} #{e.seq} {describe(e)}")
    return 0


def _change(args: argparse.Namespace, cfg: AppConfig, data_dir: Path, what: str,
            new: str, type: str) -> int:
    """Status and severity changes: refuse a no-op, append the change with the old value."""
    store = _reader(cfg, data_dir)
    state, _ = _get(store, args.id)
    assert store is not None
    old = getattr(state, what)
    if old == new:
        raise _Usage(f"{state.id} is already {new}")
    e = store.append(type, {what: new, "previous": old}, incident_id=state.id)
    print(f"{state.id} #{e.seq} {what} {old} → {new}")
    return 0


def cmd_status(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
    return _change(args, cfg, data_dir, "status", tl.parse_status(args.status),
                   ev.STATUS_CHANGED)


def cmd_severity(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
    return _change(args, cfg, data_dir, "severity", _sev(cfg, args.severity),
                   ev.SEVERITY_CHANGED)


def cmd_milestone(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
    name = tl.parse_milestone(args.milestone)
    at = tl.parse_when(args.at)
    e = _append(cfg, data_dir, args.id, ev.MILESTONE_SET, {"milestone": name,
                                                           "at": at.isoformat()})
    print(f"{e.incident_id} #{e.seq} {name} at {postmortem.utc(at)} UTC")
    return 0


def cmd_assign(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
    role = tl.parse_role(args.role)
    person = one_line(args.person)
    store = _reader(cfg, data_dir)
    state, _ = _get(store, args.id)
    assert store is not None
    data: dict[str, Any] = {"role": role, "person": person}
    if state.roles.get(role):
        data["previous"] = state.roles[role]
    e = store.append(ev.ROLE_ASSIGNED, data, incident_id=state.id)
    print(f"{state.id} #{e.seq} {describe(e)}")
    return 0


def cmd_export(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
    store = _reader(cfg, data_dir, read_only=True)
    now = _now()
    if args.format == "json":  # streamed from the store: flat memory for any size
        from opsconsole.files import atomic_writer
        from opsconsole.incidents.export import export_json

        if store is None:
            raise UnknownIncident(f"no incident {args.id!r} (nothing has been recorded yet)")
        iid = args.id.strip()
        if not args.output:
            export_json(store, iid, sys.stdout.write, generated_at=now)
            return 0
        out = Path(args.output)
        try:
            with atomic_writer(out) as f:  # atomic, 0600, never through a symlink
                state = export_json(store, iid, f.write, generated_at=now)
        except StoreError:
            raise
        except OSError as exc:
            raise _Usage(f"cannot write {out}: {os_reason(exc)}") from None
        print(f"{state.id}: {state.event_count} events written to {out}", file=sys.stderr)
        return 0
    state, events = _get(store, args.id)
    impact = ""
    if cfg.slos:  # issue 15: the budget it burned, from this host's history file (the
        from opsconsole.slo.history import history_file  # SQLite one, never the outbox)
        from opsconsole.slo.impact import impact_markdown, incident_impact

        hist = history_file(store)
        if hist:
            impact = impact_markdown(incident_impact(cfg, hist, state, now.timestamp()))
    text = postmortem.markdown(state, events, generated_at=now, template=args.pm_template,
                               slo_impact=impact)
    if args.output:
        out = Path(args.output)
        try:
            postmortem.write_export(out, text)
        except OSError as exc:
            raise _Usage(f"cannot write {out}: {os_reason(exc)}") from None
        print(f"{state.id}: {len(events)} events written to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_comms(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
    state, _ = _get(_reader(cfg, data_dir, read_only=True), args.id)
    sys.stdout.write(postmortem.comms(state, args.template, now=_now(),
                                      templates=cfg.incidents.templates,
                                      update_every=cfg.incidents.update_cadence(state.severity)))
    return 0
