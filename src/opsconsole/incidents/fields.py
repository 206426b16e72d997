"""The postmortem record kept on the timeline: impact, root cause, resolution, prevention,
"postmortem required", and action items with a status. Each is set by an event
(:data:`~opsconsole.events.RECORD_SET`, :data:`~opsconsole.events.ACTION_ADDED`,
:data:`~opsconsole.events.ACTION_STATUS`), so a change is a new entry, never an edit.

Never imports Textual.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from opsconsole.fmt import age, one_line
from opsconsole.incidents.timeline import BadInput, IncidentState
from opsconsole.incidents.words import (  # noqa: F401 - ACTION_STATUSES re-exported
    ACTION_STATUSES,
    RECORD_LABELS,
)
from opsconsole.secrets import mask_tokens


def _text(value: str) -> str:
    s = one_line(mask_tokens(str(value)))
    if len(s) > 2000:
        raise BadInput("at most 2000 characters")
    return s


def _users(value: str) -> int:
    s = str(value).strip().replace(",", "").replace("_", "")
    if not s.isdigit() or len(s) > 12:
        raise BadInput(f"users affected {value!r}: expected a whole number like 1200")
    return int(s)


def _yes_no(value: str) -> bool:
    s = str(value).strip().lower()
    if s in ("yes", "y", "true", "1", "on", "required"):
        return True
    if s in ("no", "n", "false", "0", "off", "not required"):
        return False
    raise BadInput(f"{value!r}: expected yes or no")


# field -> (label, parser): in the order the incident screen and the postmortem show them
_PARSERS: dict[str, Callable[[str], Any]] = {
    "impact": _text,
    "impact_users": _users,
    "impact_duration": _text,
    "root_cause": _text,
    "resolution": _text,
    "prevention": _text,
    "postmortem_required": _yes_no,
}
FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    name: (label, _PARSERS[name]) for name, label in RECORD_LABELS.items()}


def parse_field(name: str, text: str) -> Any:
    """The value of record field ``name`` from operator text (raises BadInput); empty text
    clears the field (None)."""
    key = name.strip().lower().replace("-", "_")
    if key not in FIELDS:
        raise BadInput(f"field {name!r}: expected one of {', '.join(FIELDS)}")
    if not str(text).strip():
        return None
    return FIELDS[key][1](text)


def field_text(name: str, value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name == "impact_users" and isinstance(value, int):
        return f"{value:,}"
    return one_line(str(value))


def record_lines(state: IncidentState) -> list[tuple[str, str]]:
    """(label, text) for every record field, set or not (``–``)."""
    return [(label, field_text(name, state.record.get(name)))
            for name, (label, _p) in FIELDS.items()]


def action_lines(state: IncidentState) -> list[str]:
    """``#12 [open] rotate the key (owner ana)`` for each action item, in order added."""
    out = []
    for seq, item in sorted(state.actions.items()):
        owner = f" (owner {one_line(str(item['owner']))})" if item.get("owner") else ""
        out.append(f"#{seq} [{item.get('status', 'open')}] {one_line(item['text'])}{owner}")
    return out


def next_update_due(state: IncidentState, cadence: float) -> datetime | None:
    """When stakeholders are owed the next update: the last status change or comms sent
    (or the declaration) plus ``cadence`` seconds; None when the incident is not open."""
    if not state.is_open or state.last_update_at is None:
        return None
    return state.last_update_at + timedelta(seconds=cadence)


def next_update_text(state: IncidentState, now: datetime, cadence: float = 1800.0) -> str:
    """``next update due in 12m`` or ``update OVERDUE by 3m`` ('' when not open)."""
    due = next_update_due(state, cadence)
    if due is None:
        return ""
    left = (due - now).total_seconds()
    if left < 0:
        return f"update OVERDUE by {age(-left, coarse=True)}"
    return f"next update due in {age(left, coarse=True)}"
