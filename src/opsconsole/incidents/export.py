"""Exports of big incidents, streamed: read row by row from a SQLite cursor, written as they
go, so a 100,000-event incident costs what one event costs in memory.

The JSON is the same document :func:`opsconsole.incidents.postmortem.to_json` builds in
memory (tested equal on the same incident): the folded state first, then every event, one
per line, then the runbook executions. The state comes first but needs every event, so an
export reads in one read transaction (one snapshot: a writer appending meanwhile is not
half in it): the state from the events that shape it (:data:`timeline.STATE_TYPES`) plus
the count, then the events, then the runbook steps. Free text goes through ``describe``
(secrets masked, controls made visible) and DEL/C1 are escaped, as in the in-memory export.

Never imports Textual.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from opsconsole import events as ev
from opsconsole.events import Actor, Event
from opsconsole.incidents import timeline as tl
from opsconsole.incidents.describe import describe
from opsconsole.incidents.postmortem import _JSON_C1, iter_runbook_runs, utc
from opsconsole.incidents.store import _COLS, SQLiteStore, UnknownIncident, _row_event

Write = Callable[[str], object]
_C1 = re.compile("[\x7f-\x9f]")
_BY_INCIDENT = f"SELECT {_COLS} FROM events WHERE incident_id = ?"


def _c1(s: str) -> str:
    """DEL and C1 escaped (``json.dumps(ensure_ascii=False)`` writes them raw)."""
    return s.translate(_JSON_C1) if _C1.search(s) else s


@contextmanager
def snapshot(store: SQLiteStore) -> Iterator[sqlite3.Connection]:
    """The store's read connection inside one read transaction (errors as StoreError)."""
    with store._reading("exporting") as conn:
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise store._translate(exc, "exporting") from None


def rows(conn: sqlite3.Connection, incident_id: str,
         types: tuple[str, ...] | None = None) -> Iterator[Event]:
    """The incident's events in order, one at a time from the cursor (``types``: only
    these)."""
    sql, params = _BY_INCIDENT, [incident_id]
    if types:
        sql += f" AND type IN ({', '.join('?' * len(types))})"
        params += list(types)
    for row in conn.execute(sql + " ORDER BY seq", params):
        yield _row_event(row)


def fold_state(conn: sqlite3.Connection, incident_id: str) -> tl.IncidentState:
    """The incident's state, equal to ``tl.fold`` over every event, from the events that
    shape it and two aggregates (raises :class:`UnknownIncident`)."""
    count, last = conn.execute("SELECT count(*), max(seq) FROM events WHERE incident_id = ?",
                               (incident_id,)).fetchone()
    if not count:
        raise UnknownIncident(f"no incident {incident_id!r}")
    state = tl.IncidentState(id=incident_id)
    for e in rows(conn, incident_id, tl.STATE_TYPES):
        state.apply(e)
    state.event_count = int(count)
    state.last_seq = int(last)
    ts = conn.execute("SELECT ts FROM events WHERE seq = ?", (last,)).fetchone()[0]
    state.last_event_at = datetime.fromisoformat(ts)
    return state


def _items(write: Write, lines: Iterable[str]) -> int:
    """A JSON array at depth 1 of ``json.dumps(indent=2)``, one item per line as given."""
    n = 0
    for line in lines:
        write(("[\n    " if n == 0 else ",\n    ") + _c1(line))
        n += 1
    write("\n  ]" if n else "[]")
    return n


_SCALARS = (str, int, float, bool, type(None))


def _run_json_slow(run: dict[str, Any]) -> str:
    r = {k: (utc(v) + "Z" if isinstance(v, datetime) else v) for k, v in run.items()}
    return json.dumps(r, indent=2, ensure_ascii=False, default=str).replace("\n", "\n    ")


def _run_json(run: dict[str, Any]) -> str:
    """``json.dumps(run, indent=2, ensure_ascii=False, default=str)`` at depth 1, built
    from the items (json's indenting encoder is pure Python: 20,000 runs took ~0.5 s): a
    scalar is the same text at any depth, a nested value is its own indented text shifted
    one level (tested against json.dumps)."""
    if not run:
        return "{}"
    if not all(isinstance(k, str) for k in run):  # keys json would convert: let it
        return _run_json_slow(run)
    items = []
    for k, v in run.items():
        if isinstance(v, datetime):
            v = utc(v) + "Z"
        if type(v) in _SCALARS:
            val = _encode(v)
        else:
            val = json.dumps(v, indent=2, ensure_ascii=False, default=str)
            val = val.replace("\n", "\n      ")
        items.append(f"{_encode(k)}: {val}")
    return "{\n      " + ",\n      ".join(items) + "\n    }"


def write_json(write: Write, state: tl.IncidentState, events: Iterable[Event],
               runbook_events: Iterable[Event], *, generated_at: datetime | None = None,
               alert_events: Iterable[Event] = ()) -> int:
    """The JSON export written piece by piece: ``events`` every event in order,
    ``runbook_events`` (at least) its runbook step events in order, ``alert_events`` (at
    least) its alert events and attached context, for the ``alerts`` sentences. Returns the
    number of events written."""
    from opsconsole.incidents.alertwords import alert_sentences

    tok_events, tok_runs = (f"__{name}_{uuid.uuid4().hex}__" for name in ("events", "runs"))
    doc: dict[str, Any] = {"format": "opsconsole.incident/1", "incident": state.to_json(),
                           "events": tok_events, "runbook_executions": tok_runs}
    alerts = [{**r, "at": utc(r["at"]) + "Z"}
              for r in alert_sentences(alert_events)]
    doc["alerts"] = alerts
    if generated_at:
        doc["generated_at"] = generated_at.astimezone(UTC).isoformat()
    head = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    before, rest = head.split(f'"{tok_events}"', 1)
    between, after = rest.split(f'"{tok_runs}"', 1)
    write(_c1(before))
    n = _items(write, map(event_line, events))
    write(_c1(between))
    _items(write, map(_run_json, iter_runbook_runs(runbook_events)))
    write(_c1(after) + "\n")
    return n


_RUNBOOK = (ev.RUNBOOK_STARTED, ev.RUNBOOK_FINISHED)
# one encoder for every line (json.dumps builds a JSONEncoder per call when given options)
_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode
_ACTOR_JSON: dict[Actor, str] = {}


def _actor_json(a: Actor) -> str:
    out = _ACTOR_JSON.get(a)
    if out is None:
        out = _encode({"user": a.user, "client": a.client, "tty": a.tty, "host": a.host})
        if len(_ACTOR_JSON) > 10_000:
            _ACTOR_JSON.clear()
        _ACTOR_JSON[a] = out
    return out


def event_line(e: Event) -> str:
    """``json.dumps(_event_json(e), ensure_ascii=False, default=str)``, assembled from the
    parts with one reused encoder (the same text: default separators, the same key order;
    tested against it)."""
    seq = str(e.seq) if type(e.seq) is int else _encode(e.seq)  # json writes int's repr
    return (f'{{"seq": {seq}, "incident_id": {_encode(e.incident_id)}, '
            f'"type": {_encode(e.type)}, "ts": {_encode(e.ts.isoformat())}, '
            f'"actor": {_actor_json(e.actor)}, "data": {_encode(e.data)}, '
            f'"text": {_encode(describe(e))}}}')


_ALERTS = (ev.ALERT_TRANSITION, ev.ALERT_NOTIFIED, ev.ALERT_DECLARED, ev.ALERT_AUTO_RUN,
           ev.SILENCE_ADDED, ev.SILENCE_EXPIRED, ev.CONTEXT_ATTACHED)


PAGE = 5000  # events per query from a store that is not a SQLite file


def _paged(store: Any, incident_id: str, upto: int,
           types: tuple[str, ...] | None = None) -> Iterator[Event]:
    """The incident's events up to seq ``upto``, in order, a page at a time."""
    after = 0
    while True:
        page = store.events(incident_id, after, limit=PAGE, types=types)
        for e in page:
            if (e.seq or 0) > upto:
                return
            yield e
        if len(page) < PAGE:
            return
        after = page[-1].seq or after


def _paged_state(store: Any, incident_id: str) -> tl.IncidentState:
    """:func:`fold_state` for any store (the shared PostgreSQL one): the events up to the
    incident's last seq now, so what a writer appends meanwhile is in neither."""
    seqs = store.seqs(incident_id)
    if not seqs:
        raise UnknownIncident(f"no incident {incident_id!r}")
    upto = seqs[-1]
    state = tl.IncidentState(id=incident_id)
    for e in _paged(store, incident_id, upto, tl.STATE_TYPES):
        state.apply(e)
    state.event_count = len(seqs)
    state.last_seq = int(upto)
    last = store.events(incident_id, upto - 1, limit=1)
    if last:
        state.last_event_at = last[0].ts
    return state


def export_json(store: Any, incident_id: str, write: Write, *,
                generated_at: datetime | None = None) -> tl.IncidentState:
    """Stream the incident's JSON export into ``write`` (nothing written when the incident
    is unknown: :class:`UnknownIncident` comes first). Returns the folded state. A SQLite
    store is read in one read transaction; another store (the shared PostgreSQL one) a
    page at a time, up to the incident's last seq when the export began."""
    if not isinstance(store, SQLiteStore):
        state = _paged_state(store, incident_id)
        upto = state.last_seq
        write_json(write, state, _paged(store, incident_id, upto),
                   _paged(store, incident_id, upto, _RUNBOOK), generated_at=generated_at,
                   alert_events=_paged(store, incident_id, upto, _ALERTS))
        return state
    with snapshot(store) as conn:
        state = fold_state(conn, incident_id)
        write_json(write, state, rows(conn, incident_id), rows(conn, incident_id, _RUNBOOK),
                   generated_at=generated_at, alert_events=rows(conn, incident_id, _ALERTS))
    return state
