"""The incident screen's ``r`` key: pick a postmortem record field (or an action item) and
type its value; each change is a new timeline event (see incidents/fields.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsconsole import events as ev
from opsconsole.incidents import fields as rf
from opsconsole.incidents import timeline as tl
from opsconsole.secrets import mask_tokens
from opsconsole.ui.modals import ChoiceModal, TextModal

ADD_ACTION = "add an action item"
ACTION_DONE = "mark an action item done"


def record_flow(screen: Any, state: tl.IncidentState,
                record: Callable[[str, dict[str, Any], str], None]) -> None:
    """Field → value, then ``record(type, data, label)`` (the screen's worker path)."""
    labels = {label: name for name, (label, _p) in rf.FIELDS.items()}
    choices = [*labels, ADD_ACTION] + ([ACTION_DONE] if state.actions else [])

    def chosen(choice: str | None) -> None:
        if not choice:
            return
        if choice == ADD_ACTION:
            def added(text: str | None) -> None:
                if text:
                    record(ev.ACTION_ADDED, {"text": mask_tokens(text)}, "action item")
            screen.app.push_screen(TextModal("New action item", "what will be done, by whom",
                                             id="record-modal"), added)
            return
        if choice == ACTION_DONE:
            items = rf.action_lines(state)

            def done(line: str | None) -> None:
                if line:
                    seq = int(line.split()[0].lstrip("#"))
                    record(ev.ACTION_STATUS, {"action": seq, "status": "done"}, "action item")
            screen.app.push_screen(ChoiceModal("Action item done", items), done)
            return
        name = labels[choice]

        def typed(text: str | None) -> None:
            if text is None:
                return
            try:
                value = rf.parse_field(name, text)
            except tl.BadInput as exc:
                screen.app.notify(str(exc), title=choice, severity="error")
                return
            data: dict[str, Any] = {"field": name, "value": value}
            if name in state.record:
                data["previous"] = state.record[name]
            record(ev.RECORD_SET, data, choice.lower())

        hint = "yes or no" if name == "postmortem_required" else (
            "a number, e.g. 1200" if name == "impact_users" else "empty clears it")
        current = state.record.get(name)
        screen.app.push_screen(TextModal(choice, hint, value=rf.field_text(name, current)
                                         if current is not None else "", allow_empty=True,
                                         id="record-modal"), typed)

    screen.app.push_screen(ChoiceModal(f"Postmortem record of {state.id}", choices), chosen)
