"""The incident vocabulary, names only: statuses, milestones, roles, the postmortem record's
fields and the action items' statuses. Never imports Textual.

Kept apart from :mod:`opsconsole.incidents.timeline` (the fold) and
:mod:`opsconsole.incidents.fields` (the record's parsers) so that the command line, whose
parser is built on every ``opsconsole`` run, can spell them in its help without loading the
timeline's event types.
"""

from __future__ import annotations

STATUSES = ("investigating", "identified", "monitoring", "resolved", "closed")
OPEN_STATUSES = ("investigating", "identified", "monitoring")
MILESTONES = ("started", "detected", "acknowledged", "mitigated", "resolved")
ROLES = ("commander", "scribe", "communications")

# the postmortem record's fields and their labels, in the order the incident screen and
# the postmortem show them (their parsers: incidents.fields.FIELDS)
RECORD_LABELS: dict[str, str] = {
    "impact": "Impact",
    "impact_users": "Users affected",
    "impact_duration": "Impact duration",
    "root_cause": "Root cause",
    "resolution": "Resolution",
    "prevention": "Prevention",
    "postmortem_required": "Postmortem required",
}
ACTION_STATUSES = ("open", "done", "wontfix")
