"""Who else has this incident open (the shared store's presence rows), for the incident
screen: a heartbeat every few seconds in a worker thread (a read-only console only reads),
shown as ``here: alice@bastion, bob@db1`` on the status line. A store without presence (the
SQLite one, this host only) shows nothing."""

from __future__ import annotations

from typing import Any

from opsconsole.text import one_line

HEARTBEAT = 5.0  # seconds between heartbeats; a row expires after 4 of them
TTL = 4 * HEARTBEAT


def supported(store: Any) -> bool:
    return store is not None and hasattr(store, "here") and hasattr(store, "present")


def beat(store: Any, incident_id: str, read_only: bool) -> list[str]:
    """(thread) Heartbeat (or only read, read-only); the people present, labelled."""
    people = store.present(incident_id) if read_only else store.here(incident_id, ttl=TTL)
    out: list[str] = []
    for p in people:
        label = one_line(p.label())[:60]
        if label not in out:
            out.append(label)
    return out


def line(people: list[str]) -> str:
    return f" · here: {', '.join(people[:6])}{' …' if len(people) > 6 else ''}" if people else ""


def start(screen: Any) -> None:
    """Begin the heartbeat on an incident screen (nothing for a store without presence)."""
    from opsconsole.ui.console import console_app

    app = console_app(screen)
    if not supported(app.incident_store):
        return

    def work() -> None:
        try:
            people = beat(app.incident_store, screen.incident_id, app.read_only)
        except OSError:
            return  # unreachable: the header says so; presence is best effort
        app.call_from_thread(screen.show_presence, people)

    def tick() -> None:
        screen.run_worker(work, thread=True, exit_on_error=False, group="presence")

    tick()
    screen.set_interval(HEARTBEAT, tick)


def stop(screen: Any) -> None:
    from opsconsole.ui.console import console_app

    app = console_app(screen)
    store = app.incident_store
    if not supported(store) or app.read_only:
        return

    def work() -> None:
        try:
            store.leave(screen.incident_id)
        except OSError:
            pass

    app.run_worker(work, thread=True, exit_on_error=False)
