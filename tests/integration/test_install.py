"""A non-editable install finds its shipped runbooks and themes (``opsconsole.paths``).

Builds a wheel from a copy of this checkout, installs it into a fresh virtualenv and runs
the installed ``opsconsole`` from elsewhere, with no PYTHONPATH: what ``pip install .``
gives a user. Tens of seconds.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def copy_checkout(dest: Path) -> Path:
    """The checkout's files (tracked, and new ones not ignored), without .git or .venv."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], capture_output=True)
    if listed.returncode != 0:
        shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(
            ".git", ".venv", "__pycache__", "*.egg-info", "build", "dist"))
        return dest
    for name in listed.stdout.decode().split("\0"):
        src = REPO / name
        if name and src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def build_wheel(src: Path, out: Path) -> Path:
    """A wheel of ``src``, built by this interpreter's pip without installing anything here.
    Without build isolation when the setuptools here can build it (offline), else with it
    (pip fetches the build requirements of pyproject.toml)."""
    base = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)]
    r = subprocess.run([*base, "--no-build-isolation"], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        r = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    wheels = list(out.glob("opsconsole-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_a_non_editable_install_lists_the_shipped_runbooks_and_themes(tmp_path):
    wheel = build_wheel(copy_checkout(tmp_path / "checkout"), tmp_path / "wheels")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    py = venv / "bin" / "python"
    # this interpreter's pip installs into the new venv: nothing in this environment changes
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                        "--no-deps", "--no-index", str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    # the dependencies (textual, yaml, asyncpg…) from this environment, after the venv's own
    # site-packages; a path in a .pth is not a site dir, so editable installs there are not seen
    purelib = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    deps = [p for p in {*site.getsitepackages(), sysconfig.get_path("purelib")} if Path(p).is_dir()]
    (purelib / "zz_test_dependencies.pth").write_text("".join(f"{p}\n" for p in deps))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "OPSCONSOLE_CONFIG", "OPSCONSOLE_DATA_DIR", "VIRTUAL_ENV")}
    env.update({"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data"),
                "XDG_DATA_DIRS": str(tmp_path / "no-system-share"),  # only the venv's share/
                "OPSCONSOLE_DATA_DIR": str(tmp_path / "data")})

    where = subprocess.run([str(py), "-c", "import opsconsole, opsconsole.paths as p; "
                            "print(opsconsole.__file__); print(p.shipped_dir('runbooks')); "
                            "print(p.shipped_dir('themes'))"],
                           capture_output=True, text=True, cwd=elsewhere, env=env, timeout=60)
    assert where.returncode == 0, where.stderr
    module, runbooks, themes = where.stdout.split()
    assert Path(module).is_relative_to(purelib), module  # the installed copy, not the checkout
    assert Path(runbooks) == venv / "share" / "opsconsole" / "runbooks"
    assert Path(themes) == venv / "share" / "opsconsole" / "themes"

    listed = subprocess.run([str(venv / "bin" / "opsconsole"), "runbook", "list"],
                            capture_output=True, text=True, cwd=elsewhere, env=env, timeout=60)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for rid in ("pg-lock-contention", "high-cpu", "daily-ops-checklist"):
        assert rid in listed.stdout, listed.stdout
    assert "BROKEN" not in listed.stdout

    themed = subprocess.run([str(py), "-c", "from opsconsole.ui.themes import load_themes, theme_dirs; "
                             "themes, errors = load_themes(theme_dirs()); print(sorted(themes), errors)"],
                            capture_output=True, text=True, cwd=elsewhere, env=env, timeout=60)
    assert themed.returncode == 0, themed.stderr
    assert "opsconsole-dark" in themed.stdout and "opsconsole-contrast" in themed.stdout

    # the example config and the man page ship in the wheel
    example = subprocess.run([str(venv / "bin" / "opsconsole"), "config", "example"],
                             capture_output=True, text=True, cwd=elsewhere, env=env, timeout=60)
    assert example.returncode == 0, example.stderr
    assert example.stdout == (REPO / "config.example.yaml").read_text()
    assert (venv / "share" / "man" / "man1" / "opsconsole.1").read_text() == (
        REPO / "man" / "opsconsole.1").read_text()
