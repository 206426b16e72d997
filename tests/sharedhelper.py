"""A separate process using the shared PostgreSQL store (the integration tests start several,
each with its own OPSCONSOLE_HOST and data directory). One JSON object per line on stdout.

    record DSN DATA_DIR COUNT INTERVAL   append COUNT test.tick events, then forward all
    forward DSN DATA_DIR [BATCH]         forward what waits in DATA_DIR's journal
    follow DSN                           print every event, woken by LISTEN only
    declare DSN DATA_DIR N               declare N incidents
"""

from __future__ import annotations

import json
import sys
import threading
import time

from opsconsole.events import current_actor
from opsconsole.postgres.config import DatabaseTarget
from opsconsole.sharedstore.store import PgStore


def say(**kw: object) -> None:
    print(json.dumps(kw, default=str), flush=True)


def finish(store: PgStore, bound: float = 120.0) -> None:
    deadline = time.monotonic() + bound
    while store.waiting and time.monotonic() < deadline:
        store.flush(5.0)
        if store.waiting:
            time.sleep(0.1)
    say(done=True, waiting=store.waiting)
    store.close()


def main(argv: list[str]) -> int:
    mode, dsn = argv[0], argv[1]
    target = DatabaseTarget("shared", dsn)
    host = current_actor().host
    if mode == "record":
        data_dir, count, interval = argv[2], int(argv[3]), float(argv[4])
        store = PgStore(target, data_dir, op_timeout=3.0, sync_wait=1.0)
        say(started=True, up=store.up)
        for i in range(count):
            e = store.append("test.tick", {"host": host, "i": i})
            say(i=i, seq=e.seq, up=store.up, waiting=store.waiting)
            time.sleep(interval)
        finish(store)
    elif mode == "forward":
        batch = int(argv[3]) if len(argv) > 3 else 2000
        store = PgStore(target, argv[2], batch=batch)
        say(started=True, up=store.up, waiting=store.waiting)
        finish(store)
    elif mode == "declare":
        store = PgStore(target, argv[2])
        ids = [store.declare(f"from {host} #{i}", "SEV2").incident_id for i in range(int(argv[3]))]
        say(ids=ids)
        store.close()
    elif mode == "follow":
        store = PgStore(target, "/nonexistent", journal=False)
        wake = threading.Event()
        store.subscribe(wake.set)
        last = 0
        say(started=True, up=store.up)
        while True:
            wake.wait(60)
            wake.clear()
            try:
                for e in store.events_after(last):
                    last = e.seq or last
                    say(seq=e.seq, type=e.type, host=e.actor.host, incident=e.incident_id,
                        data=e.data)
            except OSError as exc:
                say(error=str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
