"""Other processes' command lines are drawn with their secrets masked: real processes with
passwords in their argv, shown by the resources pane through the real psutil collector."""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from textual.widgets import DataTable

from eventually import eventually
from opsconsole.sources.host import HostCollector
from uihelpers import make_app, wait_for

SECRETS = ("hunter2", "s3cret", "pl4in")


async def test_real_processes_passwords_never_reach_the_screen(tmp_path):
    # a short path: under xdist tmp_path is long enough to push the plugin's arguments out
    # of the command column, and the screen check below reads what is drawn
    import tempfile

    plugin_dir = Path(tempfile.mkdtemp(prefix="mp", dir="/tmp")) / "mask-probe"
    plugin_dir.mkdir()
    plugin = plugin_dir / "check_pgsql"  # a Nagios plugin: -p is its password
    plugin.write_text("#!/bin/sh\nsleep 300\n")
    plugin.chmod(0o755)
    procs = [
        # argv[0] short and fixed: the interpreter's path depends on where the checkout lies
        # (CI's is longer) and would push the URL out of the command column
        subprocess.Popen(["py", "-c", "import time;time.sleep(300)", "mask-probe",
                          "--password=hunter2", "postgresql://app:s3cret@db.internal/orders"],
                         executable=sys.executable, start_new_session=True),
        # /bin/sh keeps the plugin's argv while it waits for its sleep
        subprocess.Popen(["/bin/sh", "-c", f"{plugin} -H db.internal -p pl4in; true"],
                         start_new_session=True),
    ]
    try:
        app = make_app(host_collector=HostCollector(process_interval=0.0), refresh=0.5)
        async with app.run_test(size=(200, 50)) as pilot:
            pane = app.pane("resources")
            await pilot.press("2", "z", "slash", *"mask-probe", "enter")
            table = pane.query_one(DataTable)

            def shown() -> list[str]:
                return [" ".join(map(str, table.get_row_at(r))) for r in range(table.row_count)]

            def both() -> bool:
                rows = shown()
                return (any("db.internal/orders" in r for r in rows)
                        and any("check_pgsql -H db.internal -p" in r for r in rows))

            def drawn() -> str:
                return html.unescape(re.sub(r"<[^>]+>", "", app.export_screenshot())
                                     ).replace("\xa0", " ")

            await wait_for(pilot, both, timeout=30)
            # the table has the rows; the screen shows them at its next paint
            await eventually(lambda: "check_pgsql -H db.internal -p" in drawn()
                             and "db.internal/orders" in drawn(), 30, pilot=pilot,
                             what="both command lines drawn",
                             last=lambda: [ln for ln in drawn().splitlines() if "mask" in ln])
            rows = "\n".join(shown())
            # the non-secret parts are there, the secrets are not
            assert "mask-probe --password=" in rows and "postgresql://app:" in rows
            screen = drawn()
            for secret in SECRETS:
                assert secret not in rows, rows
                assert secret not in screen
    finally:
        for p in procs:  # each in its own group: the plugin and its sleep go too
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        import shutil

        shutil.rmtree(plugin_dir.parent, ignore_errors=True)


async def test_walkthrough_and_check_details_mask_command_lines(tmp_path):
    from datetime import UTC, datetime

    from textual.widgets import Static

    from opsconsole.checks.tracker import CheckStatus
    from opsconsole.config import parse_config
    from opsconsole.ui.panes.health import details_text
    from opsconsole.ui.screens.runbook_walkthrough import RunbookScreen

    rb = tmp_path / "rb"
    rb.mkdir()
    (rb / "dump.yaml").write_text(
        "id: dump\ntitle: Dump test\nsteps:\n  - title: Dump it\n    kind: shell\n"
        "    run: pg_dump --password=hunter2 postgresql://app:s3cret@db.internal/orders\n")
    app = make_app(parse_config(f"runbook_dirs: [{rb}]\n"), data_dir=tmp_path / "data")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: getattr(app.screen, "loaded", None) is not None)
        await pilot.press(*"Dump test")
        await wait_for(pilot, lambda: app.screen.shown and app.screen.shown[0].title == "Dump test")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        detail = str(app.screen.query_one("#runbook-detail", Static).render())
        assert "pg_dump --password=" in detail and "db.internal/orders" in detail
        assert "hunter2" not in detail and "s3cret" not in detail

    # a command check's details: its command line (a Nagios plugin's -p) is masked
    status = CheckStatus(name="pg", kind="command", state="CRITICAL", message="down", since=None,
                         target="check_pgsql -H db.internal -p pl4in")
    text = details_text(status, datetime.now(UTC)).plain
    assert "check_pgsql -H db.internal -p" in text and "pl4in" not in text
