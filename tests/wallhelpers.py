"""A pre-filled incident store for the wall's tests (a real SQLite file, fixed times): an
open SEV1 with roles, notes, a runbook step still running and a firing alert recorded by
an evaluator; a SEV3 open beside it; a check that went CRITICAL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hostdata import FIXED_NOW
from opsconsole import events as ev
from opsconsole.alerts.core import EVALUATOR_STATE
from opsconsole.events import Actor
from opsconsole.incidents.store import SQLiteStore, open_store

ALICE = Actor("alice.lindqvist", None, None, "ops-01")
BOB = Actor("bob.okonkwo-smith", None, None, "ops-02")
TITLE = "Checkout database refusing connections"
RUNBOOK_TITLE = "PostgreSQL connection exhaustion"
STEP_TITLE = "Terminate idle-in-transaction sessions"
NEXT_TITLE = "Raise max_connections on the pooler"
ALERT = "pg_connections_saturated"
CHECK = "checkout-api-health"


def at(minutes_before: float):
    return FIXED_NOW - timedelta(minutes=minutes_before)


def hold_lease(store: SQLiteStore, *, renewed_minutes_before: float = 0.0,
               ttl: float = 3600.0) -> None:
    """An evaluator (this test's process) holds the store's lease, renewed at that time."""
    from opsconsole.incidents.lease import Lease

    renewed = at(renewed_minutes_before).timestamp()
    assert Lease(store.path, ttl=ttl, clock=lambda: renewed).acquire()


def filled_store(data_dir: Path, *, incident: bool = True,
                 evaluator: bool = True) -> SQLiteStore:
    """``evaluator``: an evaluator holds the lease (the alert states are live)."""
    store = open_store(data_dir)
    if evaluator:
        hold_lease(store)
    store.append(ev.HEALTH_CHANGED, {"check": CHECK, "kind": "http", "old": "OK",
                                     "new": "CRITICAL", "message": "HTTP 503 from /health",
                                     "at": at(14).isoformat()}, actor=ALICE, ts=at(14))
    store.append(ev.ALERT_TRANSITION, {"key": ALERT, "rule": ALERT, "event": "firing",
                                       "severity": "critical",
                                       "summary": "connections 97% of max_connections"},
                 actor=ALICE, ts=at(12))
    store.append(EVALUATOR_STATE, {"version": 1, "alerts": {
        ALERT: {"key": ALERT, "rule": ALERT, "state": "firing",
                "since": at(12).timestamp(), "firing_since": at(12).timestamp()},
        "disk_root_full": {"key": "disk_root_full", "rule": "disk_root_full",
                           "state": "inactive"}}}, actor=ALICE, ts=at(12))
    if not incident:
        return store
    inc = store.declare(TITLE, "SEV1", ["checkout"], actor=ALICE, ts=at(11)).incident_id
    store.append(ev.ROLE_ASSIGNED, {"role": "scribe", "person": "bob.okonkwo-smith"},
                 incident_id=inc, actor=BOB, ts=at(10))
    store.append(ev.ROLE_ASSIGNED, {"role": "communications",
                                    "person": "carmen.delacroix-hernandez"},
                 incident_id=inc, actor=ALICE, ts=at(10))
    store.append(ev.NOTE, {"text": "pgbouncer pool at 100%, app retries storming"},
                 incident_id=inc, actor=BOB, ts=at(9))
    store.append(ev.STATUS_CHANGED, {"status": "identified"}, incident_id=inc, actor=ALICE,
                 ts=at(8))
    store.append(ev.RUNBOOK_STARTED, {
        "run_id": "run-1", "runbook": "pg-connections", "runbook_title": RUNBOOK_TITLE,
        "step": 2, "step_title": STEP_TITLE, "kind": "sql", "attempt": 1, "attempts": 1,
        "operator": "alice.lindqvist@ops-01", "started_at": at(3).isoformat()},
        incident_id=inc, actor=ALICE, ts=at(3))
    store.declare("Search latency above objective", "SEV3", ["search"], actor=BOB,
                  ts=at(30), extra={"commander": "dmitri.vasquez"})
    return store


def next_step(_run) -> str:
    return NEXT_TITLE


def fixed_sample():
    """The wall's host figures, fixed (the snapshots stay stable)."""
    from opsconsole.ui.wall.figures import Sample

    return Sample(cpu=23.0, mem=61.0, load=0.4, root=93.0)
