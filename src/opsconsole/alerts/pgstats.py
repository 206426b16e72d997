"""Server-wide PostgreSQL figures the panes do not collect: connections in use against
``max_connections``, cache hit ratio, transaction ID wraparound age, replication lag.

One cheap statement on the monitoring connection (no ``pg_database_size()``, no per-table
scans): counts from ``pg_stat_activity``, sums from ``pg_stat_database``,
``max(age(datfrozenxid))`` from ``pg_database`` and ``max(replay_lag)`` from
``pg_stat_replication`` (NULL, hence NO DATA, without replicas). Bounded by the source's
statement timeout like every other query. Never imports Textual.
"""

from __future__ import annotations

from typing import Any

from opsconsole.alerts.signals import PgStats
from opsconsole.postgres.source import TAG, PgSource

STATS_SQL = TAG + """
SELECT (SELECT count(*) FROM pg_stat_activity
         WHERE backend_type = 'client backend')::int AS connections,
       current_setting('max_connections')::int AS max_connections,
       (SELECT CASE WHEN sum(blks_hit + blks_read) > 0
                    THEN 100.0 * sum(blks_hit) / sum(blks_hit + blks_read) END
          FROM pg_stat_database)::float8 AS cache_hit_ratio,
       (SELECT max(age(datfrozenxid)) FROM pg_database)::bigint AS wraparound_age,
       (SELECT extract(epoch FROM max(replay_lag)) FROM pg_stat_replication)::float8
         AS replication_lag
"""


async def read_pg_stats(source: PgSource) -> PgStats:
    """The figures of :class:`~opsconsole.alerts.signals.PgStats` from one target. Raises
    what the source raises when the server cannot be reached (the caller records NO DATA)."""

    async def q(conn: Any) -> Any:
        return await conn.fetchrow(STATS_SQL, timeout=source.timeout)

    r = await source.run(q)
    return PgStats(connections=r["connections"], max_connections=r["max_connections"],
                   cache_hit_ratio=r["cache_hit_ratio"], wraparound_age=r["wraparound_age"],
                   replication_lag=r["replication_lag"])
