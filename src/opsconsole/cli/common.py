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


def common_options(p: argparse.ArgumentParser) -> None:
    """--config and --data-dir, on the top-level parser and on every subcommand."""
    p.add_argument("--config", metavar="PATH",
                   help="config file (default: $OPSCONSOLE_CONFIG, then "
                        "$XDG_CONFIG_HOME/opsconsole/config.yaml, then built-in defaults)")
    p.add_argument("--data-dir", metavar="PATH",
                   help="where incidents, journal and outputs are kept (default: "
                        "$OPSCONSOLE_DATA_DIR, then $XDG_DATA_HOME/opsconsole)")


def load_or_exit(path_arg: str | None) -> AppConfig:
    """The config, or a located error on stderr and exit 2 (never a traceback)."""
    try:
        return load_config(resolve_config_path(path_arg))
    except ConfigError as exc:
        print(f"opsconsole: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
