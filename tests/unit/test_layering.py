"""The code keeps to its seams: the core never imports Textual (sources, checks, postgres,
incidents, runbooks, config and friends are usable from the CLI and from other tools without
a terminal UI), the import-linter contracts hold, and only postgres/conn.py connects."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import opsconsole
from conftest import cli_env

CORE_PACKAGES = ("sources", "checks", "postgres", "incidents", "runbooks")
CORE_MODULES = ("config", "schema", "events", "secrets", "fmt", "pgcluster", "demo")


def core_modules() -> list[str]:
    root = Path(opsconsole.__file__).parent
    names = [f"opsconsole.{m}" for m in CORE_MODULES if (root / f"{m}.py").exists()]
    for pkg in CORE_PACKAGES:
        if (root / pkg).is_dir():
            names.append(f"opsconsole.{pkg}")
            names += [f"opsconsole.{pkg}.{m.name}" for m in pkgutil.iter_modules([str(root / pkg)])]
    return names


def test_core_does_not_import_textual():
    mods = core_modules()
    assert "opsconsole.sources.host" in mods and "opsconsole.config" in mods
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "    bad = sorted(k for k in sys.modules if k == 'textual' or k.startswith('textual.'))\n"
        "    assert not bad, (m, bad[:3])\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=cli_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# The one place that opens connections is postgres/conn.py; the demo's workload plays the
# watched application on its own throwaway cluster and must not carry the monitoring
# timeouts (see demo.Workload).
RAW_CONNECT_ALLOWED = {"postgres/conn.py", "demo.py"}
# Modules that still open their own connections. Each entry must still do so: when one
# moves onto postgres.conn this test fails until the entry is removed.
RAW_CONNECT_PENDING: set[str] = set()
RAW_CONNECT = re.compile(r"\basyncpg\s*\.\s*(connect|create_pool)\b"
                         r"|\bfrom\s+asyncpg\s+import\s+[^\n]*\b(connect|create_pool)\b")


def test_every_postgres_connection_goes_through_conn_py():
    root = Path(opsconsole.__file__).parent
    raw = {p.relative_to(root).as_posix() for p in root.rglob("*.py")
           if RAW_CONNECT.search(p.read_text(encoding="utf-8"))}
    assert "postgres/conn.py" in raw  # the pattern still finds the real call
    unexpected = raw - RAW_CONNECT_ALLOWED - RAW_CONNECT_PENDING
    assert not unexpected, f"connect through opsconsole.postgres.conn instead: {sorted(unexpected)}"
    moved = RAW_CONNECT_PENDING - raw
    assert not moved, f"these no longer connect raw; drop them from RAW_CONNECT_PENDING: {sorted(moved)}"


def test_import_contracts_hold():
    """The import-linter contracts in pyproject.toml ([tool.importlinter]): the core never
    imports Textual, Rich, the UI or the CLI, and the packages keep to their layers."""
    exe = Path(sys.executable).parent / "lint-imports"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "importlinter.cli"]
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([*cmd, "--no-cache"], capture_output=True, text=True, cwd=repo,
                         env=cli_env(), timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout
