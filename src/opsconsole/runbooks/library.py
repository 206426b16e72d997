"""Runbook files and directories: which ones there are, loading them all, finding one.

The shipped runbooks (see :func:`opsconsole.paths.shipped_dir`) come first, then the
config's ``runbook_dirs:``. A broken file is listed with its located error while the
others load. Never imports Textual.
"""

from __future__ import annotations

from pathlib import Path

from opsconsole.paths import shipped_dir
from opsconsole.runbooks.markdown import load_markdown_runbook
from opsconsole.runbooks.model import Loaded, Runbook, load_yaml_runbook
from opsconsole.schema import ConfigError, read_text_file

RUNBOOK_SUFFIXES = (".yaml", ".yml", ".md")


def load_runbook(path: str | Path) -> Runbook:
    """Load one runbook file (YAML or Markdown). Raises :class:`ConfigError`."""
    p = Path(path)
    text = read_text_file(p)
    if p.suffix.lower() == ".md":
        return load_markdown_runbook(p, text)
    return load_yaml_runbook(p, text)


def runbook_files(paths: list[Path]) -> list[Path]:
    """The runbook files among ``paths``: directories' ``*.yaml``, ``*.yml`` and ``*.md``
    (not hidden files, not README.md), files as given."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir()
                              if f.suffix.lower() in RUNBOOK_SUFFIXES and not f.name.startswith(".")
                              and f.name.lower() not in ("readme.md",)))
        else:
            out.append(p)
    return out


def runbook_dirs(config_dirs: list[str] | None = None) -> list[Path]:
    """The shipped runbooks' directory (when this installation has one), then the
    ``runbook_dirs:`` of the config."""
    shipped = shipped_dir("runbooks")
    dirs = [shipped] if shipped is not None else []
    for d in config_dirs or []:
        p = Path(d).expanduser()
        if p not in dirs:
            dirs.append(p)
    return dirs


def load_all(paths: list[Path]) -> list[Loaded]:
    """Every runbook file under ``paths``; a broken file is listed with its error, the others
    still load. A later id that repeats an earlier one is an error on the later file."""
    out: list[Loaded] = []
    seen: dict[str, Path] = {}
    for p in paths:
        if not p.exists():
            out.append(Loaded(p, None, ConfigError(p, None, None, "runbook directory or file does not exist")))
    for f in runbook_files([p for p in paths if p.exists()]):
        try:
            rb = load_runbook(f)
        except ConfigError as exc:
            out.append(Loaded(f, None, exc))
            continue
        if rb.id in seen:
            out.append(Loaded(f, None, ConfigError(f, None, None,
                                                   f"id {rb.id!r} is already used by {seen[rb.id]}")))
            continue
        seen[rb.id] = f
        out.append(Loaded(f, rb))
    return out


def find(loaded: list[Loaded], ref: str) -> Runbook:
    """A runbook by id, or by path (loaded on the spot)."""
    for item in loaded:
        if item.runbook and item.runbook.id == ref:
            return item.runbook
    p = Path(ref)
    if p.suffix.lower() in RUNBOOK_SUFFIXES or p.exists():
        return load_runbook(p)
    for item in loaded:
        if item.runbook is None and item.path.stem == ref and item.error:
            raise item.error
    ids = ", ".join(sorted(i.runbook.id for i in loaded if i.runbook))
    raise LookupError(f"no runbook {ref!r}; known: {ids}")
