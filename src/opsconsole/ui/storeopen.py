"""Opening the console's incident store (in a worker thread, at mount): the shared
PostgreSQL store when the config names one, else the SQLite file in the data directory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opsconsole.incidents.sink import IncidentSink
from opsconsole.incidents.store import NoStoreYet, StoreError, open_store
from opsconsole.sharedstore.choose import open_configured, shared_target

if TYPE_CHECKING:
    from opsconsole.ui.app import OpsConsoleApp


def open_console_store(app: OpsConsoleApp) -> None:
    """(thread) Open the incident store (read-only with ``--read-only``); a failure is
    shown, and events go to the journal. A store that cannot be written (a read-only
    disk) is still opened for reading, so the incidents stay on screen."""
    try:
        if shared_target(app.config) is not None:  # the shared PostgreSQL store
            store = open_configured(app.config, app.data_dir, read_only=app.read_only)
            from opsconsole.ui import sharedlive

            sharedlive.attach(app, store)
        else:
            store = open_store(app.data_dir, app.config.incidents.database,
                               read_only=app.read_only)
    except NoStoreYet:  # read-only, nothing recorded yet: no incidents (not an error)
        return
    except StoreError as exc:
        app.store_error = str(exc)
        store = None
        if not app.read_only and "read-only" in str(exc):
            try:
                store = open_store(app.data_dir, app.config.incidents.database,
                                   read_only=True)
            except StoreError:
                store = None
        where = ("Nothing is recorded (read-only)." if app.read_only else
                 "Events go to the journal in the data directory instead.")
        app.notify(f"{exc}\n{where}", title="incident store",
                    severity="warning" if app.read_only else "error",
                    timeout=20)  # thread-safe
        if store is None:
            return
    app.incident_store = store
    if isinstance(app.sink, IncidentSink):
        app.sink.store = store
