"""Reads while the shared store is down (issue 17): a real PostgreSQL of our own, really
stopped (pg_ctl), and this host's local copy (the mirror and its waiting outbox rows)
answering instead; after the restart every follower ends with every event once, with
its real seq, in the shared order."""

from __future__ import annotations

from pathlib import Path

from eventually import eventually_sync
from opsconsole import events as ev
from opsconsole.events import Actor, is_provisional
from opsconsole.postgres.config import DatabaseTarget
from opsconsole.sharedstore.mirror import MIRROR_NAME
from opsconsole.sharedstore.store import PgStore

BOB = Actor("bob", None, None, "db1")


def _store(cluster, data: Path, **kw) -> PgStore:
    return PgStore(DatabaseTarget("shared", cluster.dsn()), data, op_timeout=2.0,
                   sync_wait=2.0, **kw)


def _mirrored(store: PgStore) -> None:
    """Until the mirror has caught up with what PostgreSQL has now."""
    top = store.last_seq()
    assert store.local is not None
    eventually_sync(lambda: store.local.mirror.upto() >= top, 30, what="the mirror caught up",
                    last=lambda: (store.local.mirror.upto(), top, store.mirror_error))


def _stop(cluster, *stores: PgStore) -> None:
    assert cluster.stop("fast")
    for s in stores:
        eventually_sync(lambda s=s: not s.up, 30, what="the store noticed the outage")


def _texts(events: list) -> list[str]:
    return [e.data.get("text", e.type) for e in events]


def _shared(cluster, tmp_path: Path) -> list:
    with PgStore(DatabaseTarget("shared", cluster.dsn()), tmp_path / "reader", journal=False,
                 listen=False) as s:
        return s.events_after(0)


def test_reads_answer_from_the_local_copy_and_show_a_note_written_in_the_outage(
        pg_cluster_private, tmp_path):
    a = _store(pg_cluster_private, tmp_path / "a")
    try:
        iid = a.declare("db1 disk full", "SEV2").incident_id
        a.append(ev.NOTE, {"text": "pg_wal at 97%"}, incident_id=iid)
        a.append(ev.NOTE, {"text": "archiving stuck"}, incident_id=iid)
        a.here(iid, actor=BOB)
        before = a.events(iid)
        _mirrored(a)
        _stop(pg_cluster_private, a)

        assert a.exists(iid) and iid in a.incidents()
        assert [(e.seq, e.type, e.data) for e in a.events(iid)] == \
            [(e.seq, e.type, e.data) for e in before]
        assert [p.label() for p in a.present(iid)] == ["bob@db1"]  # the last known
        assert [p.label() for p in a.here(iid)] == ["bob@db1"]  # recorded nowhere, no error
        a.leave(iid)
        last = max(e.seq or 0 for e in before)

        note = a.append(ev.NOTE, {"text": "freed 20 GB"}, incident_id=iid)
        assert note.seq is None  # not in the shared store yet
        got = a.events(iid)
        assert _texts(got) == ["incident.declared", "pg_wal at 97%", "archiving stuck",
                               "freed 20 GB"]
        assert is_provisional(got[-1].seq) and got[-1].seq > last
        assert a.seqs(iid) == [e.seq for e in got]
        assert a.events(iid, after=last) == [got[-1]]  # a follower's next read: once
        assert a.events(iid, after=got[-1].seq) == []
        assert a.events_after(last) == [got[-1]]
        assert a.events(iid, newest=2) == got[-2:] and a.events(iid, limit=1) == got[:1]
        assert a.events(iid, types=(ev.NOTE,))[-1] == got[-1]
        assert a.last_seq() == got[-1].seq
        other = a.declare("api 5xx", "SEV3")  # declared offline: known locally at once
        assert a.incidents() == [iid, other.incident_id] and a.exists(other.incident_id)
        assert "unreachable" in (a.status_line() or "")
        assert "showing local copy" in (a.status_line() or "")
    finally:
        a.close()


def test_a_store_opened_during_the_outage_shows_the_mirrored_incident(pg_cluster_private,
                                                                      tmp_path):
    data = tmp_path / "a"
    with _store(pg_cluster_private, data) as a:
        iid = a.declare("db1 disk full", "SEV2").incident_id
        a.append(ev.NOTE, {"text": "pg_wal at 97%"}, incident_id=iid)
        _mirrored(a)
    assert (data / MIRROR_NAME).exists()
    assert pg_cluster_private.stop("fast")
    files = sorted(p.name for p in data.iterdir())
    ro = _store(pg_cluster_private, data, read_only=True)  # as the wall opens it
    try:
        assert not ro.up and ro.showing_local
        assert ro.incidents() == [iid]
        assert _texts(ro.events(iid)) == ["incident.declared", "pg_wal at 97%"]
        assert sorted(p.name for p in data.iterdir()) == files  # read-only: no file made
    finally:
        ro.close()
    with _store(pg_cluster_private, data) as fresh:
        assert not fresh.up and fresh.showing_local
        assert fresh.exists(iid) and fresh.incidents() == [iid]
        fresh.append(ev.NOTE, {"text": "freed 20 GB"}, incident_id=iid)
        assert _texts(fresh.events(iid)) == ["incident.declared", "pg_wal at 97%",
                                             "freed 20 GB"]

