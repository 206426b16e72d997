"""Typed runbook configuration: ``hotkeys:``, keys that open a runbook or run one of its steps."""

from __future__ import annotations

from dataclasses import dataclass

from opsconsole.schema import field


@dataclass(frozen=True)
class Hotkey:
    """A key that opens a runbook, or launches one of its steps directly."""

    key: str = field(check=lambda k: None if k.strip() and k == k.strip() and " " not in k
                     else "expected a key name like f6 or ctrl+r (not empty, no spaces)")
    runbook: str
    step: int | str | None = field(None)
    description: str | None = None
