"""The console's incident workflows: declare, note, open an incident's screen, and the
thread workers that write to the incident store.

Every write runs in a thread worker (a commit is an fsync, and another console may hold the
write lock for a moment), so the UI loop never waits on the disk; a failure is a
notification, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opsconsole import events as ev
from opsconsole.checks.tracker import PENDING
from opsconsole.secrets import mask_tokens
from opsconsole.sources.host import take_snapshot
from opsconsole.ui.console import Declared, StoreWriteFailed, StoreWritten
from opsconsole.ui.modals import DeclareModal, TextModal
from opsconsole.ui.screens import incident as incident_screen

if TYPE_CHECKING:
    from opsconsole.ui.app import OpsConsoleApp


def run_io(app: OpsConsoleApp, fn: Callable[[], Any], label: str) -> None:
    """Run blocking store I/O in a thread; failures are shown, never raised."""

    def work() -> None:
        try:
            fn()
        except Exception as exc:
            app.post_message(StoreWriteFailed(label, str(exc)))

    app.run_worker(work, thread=True, exit_on_error=False, group="incident-io")


def record_in_worker(app: OpsConsoleApp, type: str, data: dict[str, Any], incident_id: str | None,
                     label: str, refresh_screens: bool = True) -> None:
    """Record an event in a worker; then the incident's screens (``refresh_screens``) and
    the incidents pane read it."""

    def fn() -> None:
        app.sink.record(type, data, incident_id=incident_id)
        app.post_message(StoreWritten(incident_id, refresh_screens=refresh_screens))

    run_io(app, fn, label)


def snapshot_in_worker(app: OpsConsoleApp, incident_id: str | None) -> None:
    """Record a snapshot of key host figures in a worker; then the incident's screens read
    it."""

    def fn() -> None:
        take_snapshot(app.sink, app.services.host_collector, incident_id=incident_id)
        app.post_message(StoreWritten(incident_id, refresh_pane=False, notice=(
            "host figures recorded on the timeline", "snapshot")))

    run_io(app, fn, "snapshot")


def poll_incidents_pane(app: OpsConsoleApp) -> None:
    """Poll the incidents pane now (if the main screen is composed)."""
    try:
        pane = app.pane("incidents")
    except Exception:
        return
    pane.poll_now()  # type: ignore[attr-defined]


def open_incident(app: OpsConsoleApp, incident_id: str) -> None:
    """Make ``incident_id`` the active incident of this console and show its screen."""
    sink = app.sink
    if hasattr(sink, "active"):
        sink.active = incident_id
    app.active_incident = incident_id
    app.update_header()
    app.push_screen(incident_screen.IncidentScreen(incident_id))


def declare(app: OpsConsoleApp) -> None:
    """``i``: the declare modal, then declare in a worker and open the new incident."""

    def done(result: dict[str, Any] | None) -> None:
        if not result:
            return
        broken = health_not_ok(app)  # what was broken at the moment of declaring

        def fn() -> None:
            sink = app.sink
            if hasattr(sink, "declare"):
                e = sink.declare(result["title"], result["severity"], result["services"])
            else:
                raise OSError("the incident store is not available "
                              f"({app.store_error or 'not opened'})")
            if broken:
                sink.record(ev.HEALTH_AT_DECLARATION, {"checks": broken},
                            incident_id=e.incident_id)
            app.post_message(Declared(e.incident_id))

        run_io(app, fn, "declare")

    app.push_screen(DeclareModal(), done)


def health_not_ok(app: OpsConsoleApp) -> list[dict[str, Any]]:
    """The health checks that are not OK now, with how long they have been so (from the
    health pane's tracker; [] when there are no checks). Checks not run yet are left out."""
    try:
        pane = app.pane("health")
        tracker = pane.tracker
        now = pane.clock()
    except Exception:
        return []
    out: list[dict[str, Any]] = []
    for s in tracker.statuses():
        if s.state in ("OK", PENDING):
            continue
        secs = s.time_in_state(now)
        out.append({"check": s.name, "state": s.state, "message": mask_tokens(s.message),
                    "since": s.since.isoformat() if s.since else None,
                    "for": None if secs is None else round(secs, 1)})
    order = {"CRITICAL": 0, "WARNING": 1}
    return sorted(out, key=lambda c: (order.get(c["state"], 2), -(c["for"] or 0)))


def note(app: OpsConsoleApp) -> None:
    """``n``: a note on the active incident."""
    iid = app.active_incident
    if not iid:
        app.notify("No active incident: declare one with i, or open one from the incidents "
                   "pane (5, enter).", title="note", severity="warning")
        return

    def done(text: str | None) -> None:
        if text:
            record_in_worker(app, ev.NOTE, {"text": mask_tokens(text)}, iid, "note")

    app.push_screen(TextModal(f"Note on {iid}", "what happened / what you see / what you did",
                              id="note-modal"), done)


def store_written(app: OpsConsoleApp, message: StoreWritten) -> None:
    """A worker recorded an event: show it where it belongs (on the UI loop)."""
    if message.notice is not None:
        text, title = message.notice
        app.notify(text, title=title)
    if message.refresh_screens:
        for screen in app.screen_stack:
            if (isinstance(screen, incident_screen.IncidentScreen)
                    and screen.incident_id == message.incident_id):
                screen.poll()
    if message.refresh_pane:
        poll_incidents_pane(app)


def declared(app: OpsConsoleApp, message: Declared) -> None:
    """A worker declared an incident: it becomes the active one, its screen opens."""
    app.notify(f"{message.incident_id} declared", title="incident")
    open_incident(app, message.incident_id)
    poll_incidents_pane(app)


def write_failed(app: OpsConsoleApp, message: StoreWriteFailed) -> None:
    """A worker's store I/O failed: say so, never raise."""
    app.notify(f"{message.label} failed: {message.error}", title=message.label,
               severity="error", timeout=10)


def timeline(app: OpsConsoleApp) -> None:
    """``t``: the active incident's screen."""
    iid = app.active_incident
    if not iid:
        app.notify("No active incident: declare one with i, or open one from the incidents "
                   "pane (5, enter).", title="timeline", severity="warning")
        return
    if isinstance(app.screen, incident_screen.IncidentScreen) and app.screen.incident_id == iid:
        return
    open_incident(app, iid)


