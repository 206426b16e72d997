"""What every subcommand shares: the located-error exit and the common options."""

from __future__ import annotations

import argparse
import sys

from opsconsole.config import AppConfig, ConfigError, load_config, resolve_config_path
from opsconsole.schema import Duration, Invalid

EXIT_USAGE = 2


def seconds(text: str) -> float:
    """An argparse type: a duration above 0 (``2``, ``2s``, ``500ms``)."""
    try:
        value = float(Duration.parse(text))
    except Invalid as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError("expected a duration above 0")
    return value


def common_options(p: argparse.ArgumentParser, *, subcommand: bool = False) -> None:
    """--config and --data-dir, on the top-level parser and on every subcommand, so that
    both ``opsconsole --config X check`` and ``opsconsole check --config X`` work.

    On a subcommand the default is SUPPRESS: argparse copies a subparser's defaults over
    the namespace, so a ``None`` default there would erase a value given before the
    subcommand (and ``--config X check`` would silently read the default config)."""
    default = argparse.SUPPRESS if subcommand else None
    p.add_argument("--config", metavar="PATH", default=default,
                   help="config file (default: $OPSCONSOLE_CONFIG, then "
                        "$XDG_CONFIG_HOME/opsconsole/config.yaml or config.yml, then "
                        "$XDG_CONFIG_DIRS (/etc/xdg)/opsconsole/config.yaml, then built-in "
                        "defaults; `opsconsole config path` shows which)")
    p.add_argument("--data-dir", metavar="PATH", default=default,
                   help="where incidents, journal and outputs are kept (default: "
                        "$OPSCONSOLE_DATA_DIR, then $XDG_DATA_HOME/opsconsole)")


def subcommand_options(p: argparse.ArgumentParser) -> None:
    """:func:`common_options` for a subcommand's parser (values given before it survive)."""
    common_options(p, subcommand=True)


def load_or_exit(path_arg: str | None) -> AppConfig:
    """The config, or a located error on stderr and exit 2 (never a traceback)."""
    try:
        return load_config(resolve_config_path(path_arg))
    except ConfigError as exc:
        print(f"opsconsole: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
