"""YAML themes (Textual ``Theme`` fields), loaded strictly; a broken file never stops the app.

Every theme is validated in full before it is registered: each colour is parsed with
Textual's own parser, each CSS variable is tokenized (and parsed as a colour when Textual's
variable of that name is a colour), and the Theme and its whole colour system are built in
a try. A broken file is reported at file:line:column and skipped, so a broken user theme
named like a shipped one leaves the shipped one in place.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.css.constants import VALID_STYLE_FLAGS
from textual.css.tokenize import tokenize_values
from textual.design import ColorSystem
from textual.theme import Theme
from yaml.nodes import MappingNode, ScalarNode

from opsconsole.paths import shipped_dir
from opsconsole.schema import ConfigError, compose, field, load_text, read_text_file

DEFAULT_THEME = "opsconsole-dark"
MAX_THEME_BYTES = 1024 * 1024

_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _colour(value: str | None) -> str | None:
    """None when ``value`` is a colour Textual can parse, else what was expected."""
    if value is None:
        return None
    try:
        Color.parse(value)
    except ColorParseError:
        return f"expected a colour like '#1e90ff', 'rgb(30,144,255)' or 'dodgerblue'; got {value[:60]!r}"
    return None


def _fraction(value: float) -> str | None:
    return None if 0.0 <= value <= 1.0 else "expected a number between 0 and 1"


@dataclass(frozen=True)
class ThemeSpec:
    name: str = field(check=lambda v: None if v.strip() else "expected a theme name")
    primary: str = field(check=_colour)
    secondary: str | None = field(None, check=_colour)
    warning: str | None = field(None, check=_colour)
    error: str | None = field(None, check=_colour)
    success: str | None = field(None, check=_colour)
    accent: str | None = field(None, check=_colour)
    foreground: str | None = field(None, check=_colour)
    background: str | None = field(None, check=_colour)
    surface: str | None = field(None, check=_colour)
    panel: str | None = field(None, check=_colour)
    boost: str | None = field(None, check=_colour)
    dark: bool = True
    luminosity_spread: float = field(0.15, check=_fraction)
    text_alpha: float = field(0.95, check=_fraction)
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


_AUTO_COLOUR = re.compile(r"^auto(\s+\d{1,3}(\.\d+)?%)?$")


def _css_colour(value: str) -> bool:
    """A colour as Textual's CSS takes it: a colour, ``auto`` (with a percentage) or ``initial``."""
    text = value.strip()
    return _colour(text) is None or bool(_AUTO_COLOUR.match(text)) or text == "initial"


@cache
def _variable_kinds() -> dict[str, str]:
    """Textual's generated CSS variables by name: ``colour`` or ``text-style`` (others: absent)."""
    out = {}
    for name, value in ColorSystem(primary="#0178D4").generate().items():
        if name.endswith("text-style"):
            out[name] = "text-style"
        elif _css_colour(value):
            out[name] = "colour"
    return out


def _variable_problem(name: str, value: str) -> str | None:
    if not _VARIABLE_NAME.match(name):
        return f"variables: {name[:60]!r} is not a CSS variable name (letters, digits, - and _)"
    kind = _variable_kinds().get(name)
    if kind == "colour" and not _css_colour(value):
        return f"variables.{name}: {_colour(value)}"
    if kind == "text-style" and not set(value.split()) <= VALID_STYLE_FLAGS:
        return (f"variables.{name}: expected text styles like 'bold' or 'b reverse' "
                f"(of: {', '.join(sorted(VALID_STYLE_FLAGS))}); got {value[:60]!r}")
    try:
        tokenize_values({name: value})
    except Exception as exc:  # Textual's tokenizer raises its own error types
        return f"variables.{name}: not a valid CSS value: {str(exc).splitlines()[0][:120]}"
    return None


def _variable_position(text: str, path: Path, name: str) -> tuple[int | None, int | None]:
    """Where ``variables: {name: …}`` is in the (already validated) file."""
    node = compose(text, path)
    if isinstance(node, MappingNode):
        for knode, vnode in node.value:
            if isinstance(knode, ScalarNode) and knode.value == "variables" and isinstance(vnode, MappingNode):
                for k, v in vnode.value:
                    if isinstance(k, ScalarNode) and k.value == name:
                        return v.start_mark.line + 1, v.start_mark.column + 1
    return None, None


def load_theme_file(path: Path) -> Theme:
    """One theme file, validated in full. Raises :class:`ConfigError`."""
    text = read_text_file(path, limit=MAX_THEME_BYTES)
    spec = load_text(text, ThemeSpec, path)
    for name, value in spec.variables.items():
        problem = _variable_problem(name, value)
        if problem:
            line, col = _variable_position(text, path, name)
            raise ConfigError(path, line, col, problem)
    kwargs = {f.name: getattr(spec, f.name) for f in fields(spec)}
    try:
        theme = Theme(**kwargs)
        theme.to_color_system().generate()
    except Exception as exc:  # whatever Textual refuses: the file is skipped, not the app
        raise ConfigError(path, None, None, f"not a valid theme: {str(exc)[:200]}") from None
    return theme


def load_themes(dirs: list[Path]) -> tuple[dict[str, Theme], list[ConfigError]]:
    """Every valid theme under ``dirs`` (a later directory's theme replaces an earlier one of
    the same name only when it is valid), and the located errors of the others."""
    themes: dict[str, Theme] = {}
    errors: list[ConfigError] = []
    for d in dirs:
        try:
            paths = sorted(d.glob("*.y*ml"))
        except OSError as exc:
            errors.append(ConfigError(d, None, None, f"cannot list themes: {exc.strerror or exc}"))
            continue
        for path in paths:
            try:
                theme = load_theme_file(path)
            except ConfigError as exc:
                errors.append(exc)
                continue
            themes[theme.name] = theme
    return themes, errors
