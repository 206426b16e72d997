"""Silences as the store records them: ``alert.silence_added`` / ``alert.silence_expired``
events (append-only, so who silenced what, when and why stays on the record), replayed into
the silences in force. Read incrementally: :class:`SilenceLog` remembers the last event it
saw, so a tick reads only what is new."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opsconsole.alerts.silences import Silence
from opsconsole.events import SILENCE_ADDED, SILENCE_EXPIRED, view_generation


class SilenceLog:
    def __init__(self) -> None:
        self.silences: dict[str, Silence] = {}
        self.last_seq = 0
        self.generation = 0  # the store's (a change: replayed from seq 0)

    def update(self, store: Any) -> dict[str, Silence]:
        """Apply the silence events recorded since the last call; returns every silence."""
        gen = view_generation(store)
        if gen != self.generation:  # the shared store's seqs were provisional
            self.generation, self.last_seq, self.silences = gen, 0, {}
        for e in store.events_after(self.last_seq, types=(SILENCE_ADDED, SILENCE_EXPIRED)):
            self.last_seq = max(self.last_seq, e.seq or 0)
            try:
                s = Silence.from_dict(e.data)
            except (KeyError, ValueError, TypeError):
                continue  # a damaged record silences nothing
            if e.type == SILENCE_EXPIRED and s.id in self.silences:
                self.silences[s.id] = self.silences[s.id].expire(s.ends_at)
            elif e.type == SILENCE_ADDED:
                self.silences[s.id] = s
        return self.silences

    def in_force(self, now: datetime) -> list[Silence]:
        return [s for s in self.silences.values() if s.state(now) != "expired"]
