"""The command line: ``opsconsole`` and its subcommands, one module each. Only this package
(and ``opsconsole.ui``) may import Textual; nothing outside it imports it."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """The ``opsconsole`` entry point."""
    from opsconsole.cli.main import main as run

    return run(argv)
