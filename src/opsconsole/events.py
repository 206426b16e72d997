"""Who/where/when of everything recorded, and the event types. Never imports Textual.

Every event carries its actor (``$SUDO_USER`` or ``$USER``, the ``$SSH_CONNECTION`` client
address, the tty), the host, and a UTC timestamp. The console records through one
:class:`EventSink`; the sinks themselves (the incident store's routing, the journal, memory)
live in :mod:`opsconsole.incidents.sink`.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

# ---------------------------------------------------------------- event types
# Every event type is named once, here; producers and consumers import these names.

# Incident lifecycle (recorded by opsconsole.incidents and the console's flows).
DECLARED = "incident.declared"
STATUS_CHANGED = "incident.status_changed"
SEVERITY_CHANGED = "incident.severity_changed"
TITLE_CHANGED = "incident.title_changed"
MILESTONE_SET = "incident.milestone_set"
ROLE_ASSIGNED = "incident.role_assigned"
SERVICES_CHANGED = "incident.services_changed"
TAGS_CHANGED = "incident.tags_changed"
NOTE = "incident.note"
# An event recorded before the declaration (unattached) linked to the incident when it was
# declared: data carries the original's seq, type, ts, actor and data (see
# ``SQLiteStore.declare(attach_window=...)``). Shown at the original time.
CONTEXT_ATTACHED = "incident.context_attached"
# The health checks that were not OK when the incident was declared (the console records it).
HEALTH_AT_DECLARATION = "health.at_declaration"
HEALTH_CHANGED = "health.state_changed"
SNAPSHOT = "host.snapshot"
DB_CANCEL = "db.cancel"
DB_TERMINATE = "db.terminate"
RUNBOOK_STARTED = "runbook.step_started"
RUNBOOK_FINISHED = "runbook.step_finished"
RUNBOOK_SKIPPED = "runbook.step_skipped"
# runbook control flow (issue 11): a failed step repaired by its on_failure steps; a run
# ended early with success because a step's stop_when: condition held
RUNBOOK_RECOVERED = "runbook.step_recovered"
RUNBOOK_RUN_STOPPED = "runbook.run_stopped"

# The postmortem record (issue 11): a field set or changed (data: field, value, previous;
# value None clears it), action items added and their status changed (data: action = the
# seq of the action_added event, status), and a comms draft copied or written out (what
# "next update due" counts from, with status changes).
RECORD_SET = "incident.record_set"
ACTION_ADDED = "incident.action_added"
ACTION_STATUS = "incident.action_status"
COMMS_SENT = "incident.comms_sent"

# Alerts (issue 14): every transition of an alert (data: opsconsole.alerts.rules
# Transition.to_dict(): rule, key, labels, from_state, to_state, event, value, threshold,
# since, severity, summary, escalation, runbook, dedup_key ...); every delivery of a
# notification (data: opsconsole.alerts.notify Delivery.to_dict(), secrets masked); silences
# added and expired (data: opsconsole.alerts.silences Silence.to_dict()).
ALERT_TRANSITION = "alert.transition"
ALERT_NOTIFIED = "alert.notified"
SILENCE_ADDED = "alert.silence_added"
SILENCE_EXPIRED = "alert.silence_expired"

# The events that shape an incident's state (a fold over these alone gives every field but
# the counters and the latest note).
LIFECYCLE = (DECLARED, STATUS_CHANGED, SEVERITY_CHANGED, TITLE_CHANGED, MILESTONE_SET,
             ROLE_ASSIGNED, SERVICES_CHANGED, TAGS_CHANGED, CONTEXT_ATTACHED)


@dataclass(frozen=True)
class Actor:
    user: str
    client: str | None
    tty: str | None
    host: str

    def label(self) -> str:
        where = f" from {self.client}" if self.client else ""
        return f"{self.user}@{self.host}{where}"


def current_actor(env: dict[str, str] | None = None) -> Actor:
    """The operator behind this process, as honestly as the environment tells."""
    env = os.environ if env is None else env
    user = env.get("SUDO_USER") or env.get("USER") or env.get("LOGNAME")
    if not user:
        try:
            import pwd

            user = pwd.getpwuid(os.getuid()).pw_name
        except (KeyError, ImportError):
            user = str(os.getuid())
    ssh = env.get("SSH_CONNECTION") or env.get("SSH_CLIENT") or ""
    client = ssh.split()[0] if ssh.split() else None
    tty = None
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        try:
            tty = os.ttyname(stream.fileno())
            break
        except (OSError, AttributeError, ValueError):
            continue
    return Actor(user=user, client=client, tty=tty, host=host_name(env))


def host_name(env: dict[str, str] | None = None) -> str:
    """The host recorded on events: ``$OPSCONSOLE_HOST`` when set (several consoles on one
    machine, containers with random names), else the system's host name."""
    env = os.environ if env is None else env
    return (env.get("OPSCONSOLE_HOST") or "").strip()[:255] or socket.gethostname()


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    actor: Actor
    ts: datetime
    incident_id: str | None = None
    seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ts"] = self.ts.isoformat()
        return out


class EventSink(Protocol):
    """Where the console records what it saw and did."""

    def record(self, type: str, data: dict[str, Any], *, incident_id: str | None = None) -> Event:
        """Record durably and return the event (raises OSError when it could not be written)."""
        ...

# Alert actions (issue 14, declare:/auto_run:): an alert that declared an incident or was
# attached to the open one (data: action "declared"/"attached", rule, key, episode,
# severity, summary, value, incident, actor); an auto_run: step started for a firing, or
# refused (data: rule, key, episode, runbook, step, status "started"/"refused", reason).
# Both are the evaluator's memory of what it did once per firing episode (read back on a
# restart or a lease takeover).
ALERT_DECLARED = "alert.declared"
ALERT_AUTO_RUN = "alert.auto_run"
ALERT_ACK = "alert.ack"  # an operator acknowledged a firing alert (the evaluator applies it)

# ---------------------------------------------------------------- sequence numbers
# A store numbers its events: ``seq`` strictly increases in the order a follower reads them
# (``events_after(last_seen)``). The shared store (issue 17), while PostgreSQL is
# unreachable, answers from this host's local copy, where an event not yet forwarded has a
# *provisional* seq: LOCAL_SEQ_BASE + its local journal id, above every shared seq, so a
# follower's ``events_after(last_seen)`` keeps working. Once PostgreSQL has the event it
# has its real seq instead, and the store's ``generation`` changes: what a follower read
# before may carry provisional seqs and another order, so it starts again from seq 0
# (see opsconsole.sharedstore.localview).
LOCAL_SEQ_BASE = 1 << 62


def is_provisional(seq: int | None) -> bool:
    """``seq`` was given by a local copy to an event the shared store does not have yet."""
    return seq is not None and seq >= LOCAL_SEQ_BASE


def view_generation(store: object) -> int:
    """Seqs read from ``store`` compare only within one generation: a follower that sees it
    change drops what it folded and reads again from seq 0 (the SQLite store: always 0)."""
    try:
        return int(getattr(store, "generation", 0) or 0)
    except (TypeError, ValueError):
        return 0
