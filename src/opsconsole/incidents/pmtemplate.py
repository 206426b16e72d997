"""The postmortem template: Markdown with ``{{ placeholder }}`` fields, checked when loaded
(an unknown placeholder is an error at file:line:col). Never imports Textual."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from opsconsole.files import read_bounded
from opsconsole.schema import ConfigError

PLACEHOLDERS = (
    "front_matter", "id", "title", "severity", "status", "services", "commander", "headline",
    "impact", "impact_users", "impact_duration", "root_cause", "resolution", "prevention",
    "postmortem_required", "durations", "milestones", "remarks", "timeline",
    "runbook_executions", "action_items", "alerts",
)
_FIELD = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")

DEFAULT_TEMPLATE = """{{ front_matter }}

# {{ id }}: {{ title }}

{{ headline }}

## Summary

_What happened, in two or three sentences._

## Impact

{{ impact }}

- Users affected: {{ impact_users }}
- Impact duration: {{ impact_duration }}
- Services: {{ services }}
- Postmortem required: {{ postmortem_required }}

## Durations

{{ durations }}

## Milestones

{{ milestones }}

## Root Cause

{{ root_cause }}

## Resolution

{{ resolution }}

## Alerts

{{ alerts }}

## Timeline

All times UTC, in the order recorded; a runbook step's start and finish are one row.

{{ timeline }}

## Runbook executions

{{ runbook_executions }}

## Action items

{{ action_items }}

## Prevention Measures

{{ prevention }}

## Lessons learned

### What went well

-\u0020

### What went wrong

-\u0020

### What Could Be Improved

-\u0020

### Where we got lucky

-\u0020
"""


def template_problems(text: str) -> list[tuple[int, int, str]]:
    """(line, column, message) for each unknown placeholder (1-based)."""
    out = []
    for m in _FIELD.finditer(text):
        name = m.group(1)
        if name not in PLACEHOLDERS:
            line = text.count("\n", 0, m.start()) + 1
            col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
            out.append((line, col, f"unknown placeholder {{{{ {name[:40]} }}}}; known: "
                                   f"{', '.join(PLACEHOLDERS)}"))
    return out


def load_template(path: str | Path, base: Path | None = None) -> str:
    """The template at ``path`` (relative to ``base``, the config file's directory),
    checked; raises ConfigError at file:line:col."""
    p = Path(path).expanduser()
    if not p.is_absolute() and base is not None:
        p = base / p
    try:
        text = read_bounded(p, limit=256 * 1024, what="postmortem template").decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(p, None, None, f"cannot read the postmortem template: {exc}") from None
    problems = template_problems(text)
    if problems:
        line, col, msg = problems[0]
        raise ConfigError(p, line, col, msg)
    return text


def render(template: str, values: Mapping[str, str]) -> str:
    return _FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), template)
