"""Subcommands. Each area registers its own here (one line each) to keep cli.py small."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Common = Callable[[argparse.ArgumentParser], None]


def register(sub: argparse._SubParsersAction, common: Common) -> None:  # type: ignore[type-arg]
    """Add every subcommand. Areas: check (issue 3), demo (issue 4), incident (issue 5),
    runbook (issue 6)."""
    from opsconsole.checks import cli as checks_cli

    checks_cli.register(sub, common)
    from opsconsole import demo

    demo.register(sub, common)
