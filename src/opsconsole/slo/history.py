"""Per-minute history of checks and SLO indicators, kept in the store's file (schema v3).

A *series* is ``check:NAME`` (per minute: attempts, failures, then the successful runs'
latencies counted in :data:`LATENCY_BUCKETS`, non-cumulative) or ``sli:NAME`` (per minute:
good, total events of an SLO's indicator). :class:`MinuteRecorder` adds results in memory
(cheap: the scheduler calls it per result); :meth:`MinuteRecorder.flush` writes the minutes
that are over, once a minute, in one transaction: one row per series per *hour*
(``history_hours``, zlib-compressed JSON ``{minute: [numbers]}``), rewritten while its hour
is open. 30 days of 200 checks are 144,000 rows. :meth:`HistoryDB.prune` drops the hours
older than the retention (default 35 days).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import zlib
from bisect import bisect_left
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))
RETENTION_DAYS = 35
FAILED = ("CRITICAL", "UNKNOWN")


def _pack(minutes: dict[int, list[float]]) -> bytes:
    plain = {str(m): [int(v) if float(v).is_integer() else round(v, 6) for v in vals]
             for m, vals in sorted(minutes.items())}
    return zlib.compress(json.dumps(plain, separators=(",", ":")).encode(), 6)


def _unpack(blob: bytes) -> dict[int, list[float]]:
    return {int(m): v for m, v in json.loads(zlib.decompress(blob)).items()}


class HistoryDB:
    """The history table of one store file (its own connection; WAL: never blocks readers)."""

    def __init__(self, path: str | Path, busy_timeout: float = 5.0) -> None:
        self.path = str(path)
        self._conn = sqlite3.connect(self.path, timeout=busy_timeout, check_same_thread=False,
                                     isolation_level=None)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def write(self, hours: Iterable[tuple[str, int, dict[int, list[float]]]]) -> int:
        rows = [(s, h, _pack(m)) for s, h, m in hours]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT OR REPLACE INTO history_hours (series, hour, data)"
                                       " VALUES (?, ?, ?)", rows)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return len(rows)

    def read(self, series: str, since_minute: int, until_minute: int | None = None
             ) -> dict[int, list[float]]:
        """The minutes of one series in [since, until]."""
        hi = (until_minute // 60) if until_minute is not None else 2**62
        with self._lock:
            rows = self._conn.execute(
                "SELECT data FROM history_hours WHERE series = ? AND hour BETWEEN ? AND ? "
                "ORDER BY hour", (series, since_minute // 60, hi)).fetchall()
        out: dict[int, list[float]] = {}
        for (blob,) in rows:
            for m, v in _unpack(blob).items():
                if m >= since_minute and (until_minute is None or m <= until_minute):
                    out[m] = v
        return out

    def hour(self, series: str, hour: int) -> dict[int, list[float]]:
        with self._lock:
            row = self._conn.execute("SELECT data FROM history_hours WHERE series = ? AND "
                                     "hour = ?", (series, hour)).fetchone()
        return _unpack(row[0]) if row else {}

    def prune(self, now: float, days: float = RETENTION_DAYS) -> int:
        cutoff = int((now - days * 86400) // 3600)
        with self._lock:
            cur = self._conn.execute("DELETE FROM history_hours WHERE hour < ?", (cutoff,))
        return cur.rowcount


def latency_bucket(latency: float) -> int:
    return bisect_left(LATENCY_BUCKETS, latency)


def check_minute(state: str, latency: float | None) -> list[float]:
    """One result as a minute's numbers: [attempts, failures, bucket counts...]."""
    row = [1.0, 1.0 if state in FAILED else 0.0] + [0.0] * len(LATENCY_BUCKETS)
    if state not in FAILED and latency is not None:
        row[2 + latency_bucket(latency)] += 1
    return row


class MinuteRecorder:
    """Results and SLI counts added in memory; the closed minutes written by :meth:`flush`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[tuple[str, int], list[float]] = {}  # (series, minute) -> numbers
        self._hours: dict[tuple[str, int], dict[int, list[float]]] = {}  # written, open hours
        self.flushed_minute = 0
        self.rows_written = 0
        self.listeners: list[Any] = []  # called with (series, minute, numbers) on add

    def add(self, series: str, at: float, values: list[float]) -> None:
        minute = int(at // 60)
        with self._lock:
            cur = self._open.get((series, minute))
            if cur is None:
                self._open[(series, minute)] = list(values)
            else:
                for i, v in enumerate(values):
                    cur[i] += v
        for fn in self.listeners:
            fn(series, minute, values)

    def add_result(self, result: Any) -> None:
        self.add("check:" + result.name, result.checked_at.timestamp(),
                 check_minute(result.state, result.latency))

    def due(self, now: float) -> bool:
        return int(now // 60) > self.flushed_minute and bool(self._open)

    def flush(self, db: HistoryDB | None, now: float) -> int:
        """Write every minute before the current one (one transaction); rows written."""
        current = int(now // 60)
        with self._lock:
            closed = {k: v for k, v in self._open.items() if k[1] < current}
            for k in closed:
                del self._open[k]
            self.flushed_minute = current
        if not closed or db is None:
            return 0
        touched: set[tuple[str, int]] = set()
        for (series, minute), vals in closed.items():
            hk = (series, minute // 60)
            hour = self._hours.get(hk)
            if hour is None:
                hour = self._hours[hk] = db.hour(series, hk[1])  # a restart mid-hour
            old = hour.get(minute)
            hour[minute] = vals if old is None else [a + b for a, b in zip(old, vals, strict=False)]
            touched.add(hk)
        n = db.write((s, h, self._hours[(s, h)]) for s, h in sorted(touched))
        for hk in [k for k in self._hours if k[1] < current // 60]:
            del self._hours[hk]  # hours that are over are not written again
        self.rows_written += n
        return n


def history_file(store: Any, *, create: bool = False) -> str | None:
    """The SQLite file where ``store`` keeps the per-minute history (its
    ``history_path``): the SQLite store's own file; next to the shared PostgreSQL store,
    this host's SQLite store file (checks run per host; ``opsconsole slo`` reads it there
    too), never the shared store's journal. ``create``: made with its schema when missing
    (the watcher records there). None when there is none."""
    p = getattr(store, "history_path", None)
    if p is None:
        return None
    p = Path(p)
    if create and not getattr(store, "read_only", False) and p != getattr(store, "path", None):
        from opsconsole.incidents.store import SQLiteStore

        SQLiteStore(p).close()  # created, or its schema brought up to date (history_hours)
    return str(p) if p.exists() else None
