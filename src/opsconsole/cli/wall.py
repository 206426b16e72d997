"""``opsconsole wall``: the war-room wall view (read-only; see opsconsole.ui.wall)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def register(sub: Any, subcommand_options: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "wall", help="the war-room wall view: the active incident, its clocks, the running "
        "runbook step and what is not green, readable across the room (read-only)",
        description="Show the war-room wall view: the open incidents worst first with the "
        "time since they started and the response-target clock (big digits from 120x36), "
        "roles, the runbook step running now and the next one, the last timeline events, "
        "firing alerts and checks not OK; with no open incident, a status board of what is "
        "not green. It follows the incident store (what another console records shows "
        "within a second) and changes nothing: q (asks) is its only key.")
    subcommand_options(p)
    p.add_argument("--ascii", action="store_true", help="draw ASCII only (also chosen by "
                   "itself for TERM=linux and locales that are not UTF-8)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from opsconsole.cli.common import load_or_exit
    from opsconsole.config import resolve_data_dir
    from opsconsole.ui.wall.app import WallApp

    cfg = load_or_exit(args.config)
    app = WallApp(cfg, resolve_data_dir(args.data_dir, cfg), ascii=bool(args.ascii))
    app.run()
    return int(app.return_code or 0)
