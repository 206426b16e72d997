"""What starting the console, or ``opsconsole check``, loads before it is needed.

The first frame must come fast and a console that is only watched must stay small: the
PostgreSQL drivers, HTTP client, runbook loaders (Markdown parser), incident, runbook and
PostgreSQL-action screens load when first used, not at start. These tests look at
``sys.modules`` in a fresh interpreter (a real subprocess): a module-level import that
brings one back fails them. Behaviour, not timing: bench/bench_tui.py measures the time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# never needed before the first frame (nor by `opsconsole check` with a command check)
HEAVY = ("asyncpg", "psycopg", "httpx", "markdown_it", "opsconsole.postgres.conn",
         "opsconsole.postgres.source", "opsconsole.runbooks.library",
         "opsconsole.runbooks.session", "opsconsole.pgcluster", "opsconsole.demo")
# nor these UI modules: screens and flows opened by a key
LATER_UI = ("opsconsole.ui.flows", "opsconsole.ui.quitting", "opsconsole.ui.confirm",
            "opsconsole.ui.screens.incident", "opsconsole.ui.screens.runbook_picker",
            "opsconsole.ui.screens.runbook_walkthrough", "opsconsole.ui.screens.pg",
            "opsconsole.ui.modals", "opsconsole.ui.help_rows")


def _modules_after(code: str, tmp_path: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSCONSOLE_", "PG"))}
    env.update(PYTHONPATH=str(SRC), OPSCONSOLE_CONFIG=str(tmp_path / "none.yaml"),
               XDG_CONFIG_HOME=str(tmp_path / "xdg"), XDG_CONFIG_DIRS=str(tmp_path / "xdg"),
               HOME=str(tmp_path))
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent(code))
    r = subprocess.run([sys.executable, str(script)], capture_output=True,
                       text=True, env=env, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_the_cli_module_and_its_parser_load_no_driver_nor_ui(tmp_path: Path) -> None:
    got = _modules_after("""
        import json, sys
        from opsconsole.cli.main import build_parser
        build_parser().parse_args([])
        print(json.dumps({"modules": sorted(sys.modules)}))
    """, tmp_path)
    loaded = set(got["modules"])  # type: ignore[arg-type]
    unwanted = {*HEAVY, *LATER_UI, "textual", "rich", "opsconsole.ui.app"}
    assert not loaded & unwanted, sorted(loaded & unwanted)


def test_the_first_frame_loads_only_what_it_shows(tmp_path: Path) -> None:
    """The console run headless until its first frame is drawn (the app's own after-first-
    frame hook), with no config (the bench's case): nothing of HEAVY or LATER_UI is loaded,
    and the screen is the real one (the health pane says there is nothing configured)."""
    got = _modules_after(f"""
        import json, sys
        from opsconsole.ui.app import OpsConsoleApp, RunOptions
        from pathlib import Path
        seen = {{}}

        import opsconsole.ui.app as app_module

        class Probe(OpsConsoleApp):
            CSS_PATH = str(Path(app_module.__file__).parent / OpsConsoleApp.CSS_PATH)

            def _after_first_frame(self):
                super()._after_first_frame()
                seen["modules"] = sorted(sys.modules)
                seen["body"] = str(self.pane("health").query(".pane-empty").first().render())
                self.exit()

        app = Probe(options=RunOptions(data_dir=Path({str(tmp_path / "data")!r})))
        app.run(headless=True, size=(80, 24))
        print(json.dumps(seen))
    """, tmp_path)
    loaded = set(got["modules"])  # type: ignore[arg-type]
    assert "no checks configured" in str(got["body"])
    assert not loaded & {*HEAVY, *LATER_UI}, sorted(loaded & {*HEAVY, *LATER_UI})


def test_check_with_a_command_check_loads_no_ui_nor_driver(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("checks:\n  - name: noop\n    kind: command\n    command: /bin/true\n")
    got = _modules_after(f"""
        import json, sys, io, contextlib
        from opsconsole.cli.main import main
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["check", "--config", {str(cfg)!r}, "--data-dir", {str(tmp_path / "d")!r}])
        print(json.dumps({{"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}}))
    """, tmp_path)
    assert got["code"] == 0, got["out"]
    assert str(got["out"]).startswith("OPSCONSOLE OK")
    loaded = set(got["modules"])  # type: ignore[arg-type]
    unwanted = {*HEAVY, *LATER_UI, "textual", "rich", "opsconsole.ui.app"}
    assert not loaded & unwanted, sorted(loaded & unwanted)


# the config sections' specs: loaded when the file has the section (or a rule reads it)
SECTION_SPECS = ("opsconsole.alerts.spec", "opsconsole.alerts.notify_config",
                 "opsconsole.alerts.silences", "opsconsole.alerts.sourcerefs",
                 "opsconsole.alerts.expr", "opsconsole.slo.spec",
                 "opsconsole.sources.promql_spec", "opsconsole.metrics.queries")
# nor what only other subcommands need (the parser is built on every run)
OTHER_COMMANDS = ("opsconsole.incidents.timeline", "opsconsole.incidents.fields",
                  "opsconsole.events", "sqlite3", "importlib.resources",
                  "opsconsole.postgres.libpq", "opsconsole.cli.incident", "opsconsole.cli.serve",
                  "opsconsole.cli.demo", "opsconsole.cli.slo", "opsconsole.cli.alerts",
                  "opsconsole.cli.runbook", "opsconsole.cli.store", "opsconsole.cli.wall")


def test_check_loads_only_the_specs_of_its_sections(tmp_path: Path) -> None:
    """``opsconsole check`` with one command check loads neither the alert, notify,
    silence, SLO nor PromQL specs, nor what the other subcommands need; the same file with
    an ``alerts:`` and a ``slos:`` section loads theirs (the check is not vacuous)."""
    plain = "checks:\n  - name: noop\n    kind: command\n    command: /bin/true\n"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(plain)
    probe = f"""
        import json, sys, io, contextlib
        from opsconsole.cli.main import main
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["check", "--config", {str(cfg)!r}, "--data-dir", {str(tmp_path / "d")!r}])
        print(json.dumps({{"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}}))
    """
    got = _modules_after(probe, tmp_path)
    assert got["code"] == 0, got["out"]
    loaded = set(got["modules"])  # type: ignore[arg-type]
    assert "opsconsole.checks.spec" in loaded
    assert not loaded & {*SECTION_SPECS, *OTHER_COMMANDS}, sorted(
        loaded & {*SECTION_SPECS, *OTHER_COMMANDS})

    cfg.write_text(plain + textwrap.dedent("""\
        alerts:
          - name: noop-down
            expr: check.noop.state == CRITICAL
            for: 1m
            severity: warning
        slos:
          - name: noop-up
            objective: 99%
            indicator:
              check: noop
    """))
    got = _modules_after(probe, tmp_path)
    assert got["code"] == 0, got["out"]
    loaded = set(got["modules"])  # type: ignore[arg-type]
    assert {"opsconsole.alerts.spec", "opsconsole.slo.spec"} <= loaded


def test_starting_without_config_loads_no_section_spec(tmp_path: Path) -> None:
    got = _modules_after("""
        import json, sys
        from opsconsole.config import load_config
        cfg = load_config(None)
        from opsconsole.cli.main import parser_for
        parser_for([]).parse_args([])
        print(json.dumps({"modules": sorted(sys.modules)}))
    """, tmp_path)
    loaded = set(got["modules"])  # type: ignore[arg-type]
    unwanted = {*SECTION_SPECS, *OTHER_COMMANDS, "opsconsole.checks.spec"}
    assert not loaded & unwanted, sorted(loaded & unwanted)
