"""The core never imports Textual: sources, checks, postgres, incidents, runbooks, config and
friends are usable from the CLI and from other tools without a terminal UI."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import opsconsole
from conftest import cli_env

CORE_PACKAGES = ("sources", "checks", "postgres", "incidents", "runbooks")
CORE_MODULES = ("config", "schema", "events", "secrets", "fmt", "pgcluster")


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
