"""``opsconsole config example | path``: the documented example config, and where the
config and data are looked up (and which file is in use). Never imports Textual."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

EXAMPLE = "config.example.yaml"


def example_text() -> str:
    """The example config shipped in the package (``opsconsole/data/config.example.yaml``)."""
    from importlib import resources  # not at the top: the parser is built on every run

    return resources.files("opsconsole").joinpath("data", EXAMPLE).read_text(encoding="utf-8")


def register(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
             common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("config", help="print the example config, or where config and data "
                                      "are looked up",
                       description="The configuration file: an example, and its lookup.")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    ex = csub.add_parser("example", help="print the documented example config (redirect it "
                                         "to ~/.config/opsconsole/config.yaml to start one)")
    ex.set_defaults(run=cmd_example)
    pa = csub.add_parser("path", help="print where the config and the data directory are "
                                      "looked up, and which config file is in use")
    common(pa)
    pa.set_defaults(run=cmd_path)


def cmd_example(args: argparse.Namespace) -> int:
    print(example_text(), end="")
    return 0


def cmd_path(args: argparse.Namespace) -> int:
    from opsconsole.cli.common import load_or_exit
    from opsconsole.config import config_candidates, resolve_config_path, resolve_data_dir

    cli = getattr(args, "config", None)
    env_path = os.environ.get("OPSCONSOLE_CONFIG")
    print("config lookup (first found wins):")
    print(f"  --config             {cli or '(not given)'}")
    print(f"  $OPSCONSOLE_CONFIG   {env_path or '(not set)'}")
    for candidate in config_candidates():
        print(f"  {'found' if candidate.is_file() else '-    '}                {candidate}")
    used = resolve_config_path(cli)
    if used is None:
        print("config in use: none (built-in defaults)")
    else:
        state = "" if Path(used).is_file() else " (does not exist)"
        print(f"config in use: {used}{state}")
    cfg = load_or_exit(cli)
    data = resolve_data_dir(getattr(args, "data_dir", None), cfg)
    print("data lookup: --data-dir, $OPSCONSOLE_DATA_DIR, config data_dir:, "
          "$XDG_DATA_HOME/opsconsole")
    print(f"data directory: {data}")
    return 0
