"""Subcommands. Each area registers its own here (one line each) to keep cli.py small."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Common = Callable[[argparse.ArgumentParser], None]


def register(sub: argparse._SubParsersAction, common: Common) -> None:  # type: ignore[type-arg]
    """Add every subcommand: check (issue 3), demo (issue 4), incident (issue 5),
    runbook (issue 6)."""
    from opsconsole import demo
    from opsconsole.checks import cli as checks_cli
    from opsconsole.incidents import cli as incidents_cli
    from opsconsole.runbooks import cli as runbooks_cli

    checks_cli.register(sub, common)
    demo.register(sub, common)
    incidents_cli.register(sub, common)
    runbooks_cli.register(sub, common)
