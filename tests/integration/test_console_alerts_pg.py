"""The console judges the server-wide PostgreSQL figures too (connections against
max_connections, cache hit ratio…): read by the console that evaluates, on the locks pane's
monitoring connection, from a real server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opsconsole.config import parse_config
from uihelpers import make_app, wait_for

pytestmark = pytest.mark.pg


def row(app, name):
    return next((r for r in app.alerts.view.rows if r["name"] == name), None)


async def test_the_console_reads_connections_against_max_connections(pg_cluster, tmp_path):
    dsn = pg_cluster.dsn()
    max_conn = int(pg_cluster.psql("show max_connections").strip())
    cfg = parse_config(f"""\
databases:
  - {{name: main, dsn: "{dsn}"}}
alerts:
  - name: pg-max
    expr: pg.main.max_connections > 0
    severity: info
  - name: pg-pool
    expr: pg.main.connections_used_pct > 0
    severity: warning
""")
    app = make_app(cfg, data_dir=tmp_path / "data", clock=lambda: datetime.now(UTC),
                   alert_interval=0.2, refresh=1)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: (r := row(app, "pg-max")) and r["state"] == "firing", 60,
                       what="pg-max firing from the server's own figure")
        assert float(row(app, "pg-max")["value"]) == max_conn
        await wait_for(pilot, lambda: (r := row(app, "pg-pool")) and r["state"] == "firing", 60,
                       what="pg-pool firing (this console's own connection is in use)")
        used = float(row(app, "pg-pool")["value"])
        assert 0 < used <= 100
