"""YAML themes (Textual ``Theme`` fields), loaded strictly; a broken file never stops the app."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from textual.theme import Theme

from opsconsole.paths import shipped_dir
from opsconsole.schema import ConfigError, field, load_file

DEFAULT_THEME = "opsconsole-dark"


@dataclass(frozen=True)
class ThemeSpec:
    name: str
    primary: str
    secondary: str | None = None
    warning: str | None = None
    error: str | None = None
    success: str | None = None
    accent: str | None = None
    foreground: str | None = None
    background: str | None = None
    surface: str | None = None
    panel: str | None = None
    boost: str | None = None
    dark: bool = True
    luminosity_spread: float = 0.15
    text_alpha: float = 0.95
    variables: dict[str, str] = field({})


def theme_dirs(extra: list[Path] | None = None) -> list[Path]:
    """Shipped themes (see :func:`opsconsole.paths.shipped_dir`), then the user's own
    (``$XDG_CONFIG_HOME/opsconsole/themes``), then ``extra``: the ones that exist."""
    shipped = shipped_dir("themes")
    dirs = [shipped] if shipped is not None else []
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    dirs.append(Path(xdg) / "opsconsole" / "themes")
    dirs.extend(extra or [])
    seen: list[Path] = []
    for d in dirs:
        if d.is_dir() and d not in seen:
            seen.append(d)
    return seen


def load_theme_file(path: Path) -> Theme:
    spec = load_file(path, ThemeSpec)
    kwargs = {f.name: getattr(spec, f.name) for f in fields(spec)}
    try:
        return Theme(**kwargs)
    except Exception as exc:  # bad colour strings and the like
        raise ConfigError(path, None, None, f"not a valid theme: {exc}") from None


def load_themes(dirs: list[Path]) -> tuple[dict[str, Theme], list[ConfigError]]:
    themes: dict[str, Theme] = {}
    errors: list[ConfigError] = []
    for d in dirs:
        for path in sorted(d.glob("*.y*ml")):
            try:
                theme = load_theme_file(path)
            except ConfigError as exc:
                errors.append(exc)
                continue
            themes[theme.name] = theme
    return themes, errors
