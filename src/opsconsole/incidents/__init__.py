"""Incidents: the append-only event store (``store``), where the console's events go
(``sink``), the fold of a timeline into state (``timeline``), one sentence per event
(``describe``), exports and comms drafts (``postmortem``) and ``incidents:`` (``config``).
Never imports Textual."""
