"""Reads while the shared store is down (issue 17): a real PostgreSQL of our own, really
stopped (pg_ctl), and this host's local copy (the mirror and its waiting outbox rows)
answering instead; after the restart every follower ends with every event once, with
its real seq, in the shared order."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from eventually import eventually_sync
from opsconsole import events as ev
from opsconsole.events import Actor, is_provisional, view_generation
from opsconsole.postgres.config import DatabaseTarget
from opsconsole.sharedstore.mirror import MIRROR_NAME
from opsconsole.sharedstore.store import PgStore
from opsconsole.ui.wall.wall_model import Follower

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


def test_a_follower_through_the_outage_ends_with_every_event_once_real_seqs_in_order(
        pg_cluster_private, tmp_path):
    a = _store(pg_cluster_private, tmp_path / "a")
    b = _store(pg_cluster_private, tmp_path / "b")
    wall = Follower(lambda: a, lambda: datetime.now(UTC))
    seen: list = []  # a follower as the contract says (view_generation)
    blind: list = []  # one that never looks at the generation
    cursor = {"seen": 0, "blind": 0, "gen": 0}

    def follow() -> None:
        wall.poll()
        if view_generation(a) != cursor["gen"]:
            cursor["gen"], cursor["seen"] = view_generation(a), 0
            seen.clear()
        for e in a.events_after(cursor["seen"]):
            seen.append(e)
            cursor["seen"] = e.seq or cursor["seen"]
        for e in a.events_after(cursor["blind"]):
            blind.append(e)
            cursor["blind"] = e.seq or cursor["blind"]

    try:
        iid = a.declare("replica lag", "SEV2").incident_id
        b.append(ev.NOTE, {"text": "b: lag 40s"}, incident_id=iid, actor=BOB)
        _mirrored(a)
        follow()
        assert _texts(seen) == ["incident.declared", "b: lag 40s"]
        gen = view_generation(a)
        _stop(pg_cluster_private, a, b)
        for i in range(3):
            a.append(ev.NOTE, {"text": f"a: outage {i}"}, incident_id=iid)
            b.append(ev.NOTE, {"text": f"b: outage {i}"}, incident_id=iid, actor=BOB)
        follow()
        # this host's notes, shown while the store is down (the other host's are not here)
        assert _texts(seen) == ["incident.declared", "b: lag 40s", "a: outage 0",
                                "a: outage 1", "a: outage 2"]
        assert all(is_provisional(e.seq) for e in seen[2:])
        assert wall.data.states[iid].event_count == 5
        assert view_generation(a) == gen

        pg_cluster_private.start()
        for s in (a, b):
            eventually_sync(lambda s=s: s.up and s.flush(5.0) == 0, 60,
                            what="everything forwarded", last=lambda s=s: s.status_line())
        eventually_sync(lambda: view_generation(a) != gen, 30, what="a new generation",
                        last=a.status_line)
        shared = _shared(pg_cluster_private, tmp_path)
        want = [(e.seq, e.data.get("text", e.type)) for e in shared]
        assert len(want) == 8 and not any(is_provisional(s) for s, _t in want)

        def caught_up() -> bool:
            follow()
            return [(e.seq, e.data.get("text", e.type)) for e in seen] == want

        eventually_sync(caught_up, 30, what="the follower on the shared order",
                        last=lambda: [(e.seq, _texts([e])) for e in seen])
        st = wall.data.states[iid]
        assert st.event_count == 8 and wall.data.last_seq == want[-1][0]
        assert [(e.seq, e.data.get("text", e.type)) for e in wall.data.recent[iid]] == want
        assert wall.data.error is None
        # the blind follower: every event once (its provisional rows keep their seqs)
        assert sorted(_texts(blind)) == sorted(t for _s, t in want)
        assert a.status_line() is None and not a.showing_local
    finally:
        a.close()
        b.close()


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

