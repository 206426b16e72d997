"""What ``opsconsole check`` remembers between runs (from cron, or as a Nagios plugin): each
check's consecutive failures, its state and since when, so ``failures_before_critical``
means the same in a one-shot run as in the console — ``failures_before_critical: 3`` gives
WARNING "failure 1/3: …", then 2/3, then CRITICAL on the third failing run in a row (the
same words as :class:`opsconsole.checks.tracker.CheckTracker`).

The memory is one JSON file in the check state directory (``DATA_DIR/check-state/runs.json``),
written atomically (0600, never through a symlink) after a run. Read-only runs read it and
write nothing. A missing or damaged file is an empty memory. Never imports Textual.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from opsconsole.checks.engine import CheckResult

FILE = "runs.json"
MAX_BYTES = 4 * 1024 * 1024


def load(path: Path | None) -> dict[str, dict[str, Any]]:
    if path is None:
        return {}
    from opsconsole.files import read_bounded

    try:
        data = json.loads(read_bounded(path, limit=MAX_BYTES))
    except (OSError, ValueError, RecursionError):  # unreadable, damaged, nested too deep
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def save(path: Path, memory: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Write the memory; returns why it could not be written (a full disk), else None."""
    from opsconsole.files import atomic_write, ensure_private_dir

    try:
        ensure_private_dir(path.parent)
        atomic_write(path, json.dumps(memory, sort_keys=True))
    except OSError as exc:
        return f"{exc.strerror or exc}"
    return None


def _int(v: Any) -> int:
    try:
        return max(int(v), 0)
    except (TypeError, ValueError):
        return 0


def apply(results: Iterable[CheckResult], thresholds: Mapping[str, int],
          memory: dict[str, dict[str, Any]]) -> list[tuple[CheckResult, datetime | None]]:
    """Each raw result with ``failures_before_critical`` applied from the memory (updated in
    place), and since when the check has been in the state it is reported in."""
    out: list[tuple[CheckResult, datetime | None]] = []
    for r in results:
        prev = memory.get(r.name, {})
        threshold = max(int(thresholds.get(r.name, 1)), 1)
        failures = _int(prev.get("failures")) + 1 if r.state == "CRITICAL" else 0
        shown = r
        if r.state == "CRITICAL" and failures < threshold and prev.get("state") != "CRITICAL":
            shown = replace(r, state="WARNING",
                            message=f"failure {failures}/{threshold}: {r.message}")
        since: datetime | None = r.checked_at
        if prev.get("state") == shown.state:
            try:
                since = datetime.fromisoformat(str(prev.get("since")))
            except ValueError:
                since = r.checked_at
            if since.tzinfo is None or since > r.checked_at:  # edited by hand, or a clock
                since = r.checked_at                           # step back: from now
        memory[r.name] = {"state": shown.state, "failures": failures,
                          "since": (since or r.checked_at).isoformat()}
        out.append((shown, since))
    return out
