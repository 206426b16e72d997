"""Runbook files and directories: which ones there are, loading them all, finding one.

The shipped runbooks (see :func:`opsconsole.paths.shipped_dir`) come first, then the
config's ``runbook_dirs:``. A broken file is listed with its located error while the
others load. Every file is read with a size cap (:data:`MAX_RUNBOOK_BYTES`, regular files
only) and parsed in a child process within a time bound (see :mod:`.isolated`), so one
hostile file costs at most a few seconds. Never imports Textual.
"""

from __future__ import annotations

from pathlib import Path

from opsconsole.paths import shipped_dir
from opsconsole.runbooks.isolated import load_files
from opsconsole.runbooks.markdown import load_markdown_runbook
from opsconsole.runbooks.model import Loaded, Runbook, load_yaml_runbook
from opsconsole.schema import ConfigError, read_text_file

RUNBOOK_SUFFIXES = (".yaml", ".yml", ".md")
MAX_RUNBOOK_BYTES = 4 * 1024 * 1024


def load_runbook(path: str | Path) -> Runbook:
    """Load one runbook file (YAML or Markdown). Raises :class:`ConfigError`."""
    p = Path(path)
    text = read_text_file(p, limit=MAX_RUNBOOK_BYTES)
    if p.suffix.lower() == ".md":
        return load_markdown_runbook(p, text)
    return load_yaml_runbook(p, text)


def runbook_files(paths: list[Path], errors: list[ConfigError] | None = None) -> list[Path]:
    """The runbook files among ``paths``: directories' ``*.yaml``, ``*.yml`` and ``*.md``
    (not hidden files, not README.md), files as given. A directory that cannot be listed is
    added to ``errors`` (when given) and skipped."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            try:
                names = list(p.iterdir())
            except OSError as exc:
                if errors is not None:
                    errors.append(ConfigError(p, None, None,
                                              f"cannot list runbooks: {exc.strerror or exc}"))
                continue
            out.extend(sorted(f for f in names
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


def load_all(paths: list[Path], *, timeout: float | None = None) -> list[Loaded]:
    """Every runbook file under ``paths``; a broken file is listed with its error, the others
    still load. A later id that repeats an earlier one is an error on the later file. Files
    are parsed in a child process, each within ``timeout`` seconds (default
    :data:`isolated.TIME_LIMIT`; blocking: call it in a thread from the UI)."""
    out: list[Loaded] = []
    seen: dict[str, Path] = {}
    for p in paths:
        if not p.exists():
            out.append(Loaded(p, None, ConfigError(p, None, None, "runbook directory or file does not exist")))
    errors: list[ConfigError] = []
    found = runbook_files([p for p in paths if p.exists()], errors)
    out.extend(Loaded(Path(e.path), None, e) for e in errors)
    for f, rb in zip(found, load_files(found, timeout), strict=True):
        if isinstance(rb, ConfigError):
            out.append(Loaded(f, None, rb))
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
        (rb,) = load_files([p])
        if isinstance(rb, ConfigError):
            raise rb
        return rb
    for item in loaded:
        if item.runbook is None and item.path.stem == ref and item.error:
            raise item.error
    ids = ", ".join(sorted(i.runbook.id for i in loaded if i.runbook))
    raise LookupError(f"no runbook {ref!r}; known: {ids}")
