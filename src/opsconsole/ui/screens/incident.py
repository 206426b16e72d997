"""The incident screen: state, clocks and the live timeline of one incident; keys change it.

The screen polls the store for this incident's new events off the UI loop and appends them
to the timeline (widgets/timeline.py), which draws only the visible lines: opening an
incident with 10,000 events reads and formats one page.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from opsconsole import events as ev
from opsconsole.events import Event, view_generation
from opsconsole.files import ensure_private_dir
from opsconsole.fmt import age, one_line
from opsconsole.incidents import fields as rf
from opsconsole.incidents import postmortem
from opsconsole.incidents import timeline as tl
from opsconsole.secrets import mask_tokens
from opsconsole.ui import flows, presence
from opsconsole.ui.actions import ActionSpec, bindings, dangerous_actions
from opsconsole.ui.console import console_app
from opsconsole.ui.modals import ChoiceModal, CommsModal, TextModal, severity_names
from opsconsole.ui.panes.incidents import coarse_clock as coarse_clock  # re-exported
from opsconsole.ui.safe import rich_text
from opsconsole.ui.screens.record import record_flow
from opsconsole.ui.widgets import PAGE, LineBlock, TimelineView, timeline_width
from opsconsole.ui.widgets.keybar import KeyBar

# What the head of the screen folds on opening: the state's types but the notes (the
# postmortem record and action items included; the comms draft folds everything itself).
_HEAD_TYPES = tuple(t for t in tl.STATE_TYPES if t != ev.NOTE)


def summary_lines(state: tl.IncidentState, now: datetime, target: float,
                  cadence: float | None = None) -> list[Text]:
    """The incident screen's head: id/severity/status/title, roles, clocks (and when the next
    update is due), milestones (with what is wrong with them), the postmortem record."""
    t1 = Text()
    t1.append(f" {one_line(state.id)} ", style="bold reverse")
    t1.append(f" {one_line(state.severity)} ", style="bold")
    t1.append(f"{one_line(state.status.upper())} ", style="bold")
    t1.append(one_line(mask_tokens(state.title)))
    t2 = Text("services: ", style="bold")
    t2.append(one_line(", ".join(state.services)) or "–")
    for role in tl.ROLES:
        t2.append(f" · {role}: ", style="bold")
        t2.append(one_line(state.roles.get(role, "–")))
    clock, overdue = coarse_clock(state, now, target)
    t3 = Text("response: ", style="bold")
    t3.append(("! " if overdue else "") + clock, style="bold reverse" if overdue else "")
    live = state.live_durations(now)
    for short, val in live.items():
        t3.append(f" · {short} ", style="bold")
        t3.append(val)
    t4 = Text("milestones: ", style="bold")
    ms = state.milestones
    t4.append(" · ".join(f"{k} {v.astimezone(UTC).strftime('%H:%M')}" for k, v in ms.items())
              or "–")
    out = [t1, t2, t3, t4]
    if cadence is not None and (nxt := rf.next_update_text(state, now, cadence)):
        t6 = Text("updates: ", style="bold")  # its own line: the clocks fill 80 columns
        t6.append(nxt, style="bold reverse" if "OVERDUE" in nxt else "")
        t6.append(f" (every {age(cadence, coarse=True)})")
        out.insert(3, t6)
    for warning in state.order_warnings() + list(state.remarks().values()):
        out.append(Text("! " + one_line(warning), style="bold"))
    rec = [(label, text) for label, text in rf.record_lines(state) if text != "–"]
    if rec or state.actions:
        t5 = Text()
        for label, text in rec:
            t5.append(f"{label.lower()}: ", style="bold")
            t5.append(one_line(mask_tokens(text), 60) + " · ")
        if state.actions:
            n_open = sum(1 for a in state.actions.values() if a.get("status") == "open")
            t5.append("actions: ", style="bold")
            t5.append(f"{n_open} open of {len(state.actions)}")
        out.append(t5)
    return out


class IncidentScreen(Screen[None]):
    """One incident: state, clocks and the live timeline; keys change it."""

    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("incident-note", "n", "note", "note", "Add a note to this incident",
                   dangerous=True),
        ActionSpec("incident-status", "s", "status", "status", "Change the status",
                   dangerous=True),
        ActionSpec("incident-severity", "v", "severity", "severity", "Change the severity",
                   dangerous=True),
        ActionSpec("incident-milestone", "m", "milestone", "milestone",
                   "Set or backdate a milestone (started, detected, acknowledged, ...)",
                   dangerous=True),
        ActionSpec("incident-role", "o", "role", "roles",
                   "Assign or hand over a role (commander, scribe, communications)",
                   dangerous=True),
        ActionSpec("incident-snapshot", "h", "snapshot", "snapshot",
                   "Record a snapshot of key host figures", dangerous=True),
        ActionSpec("incident-record", "r", "record", "record",
                   "Set the postmortem record: impact, root cause, resolution, prevention, "
                   "action items", dangerous=True),
        ActionSpec("incident-export", "e", "export", "export",
                   "Write the postmortem draft (Markdown) to the data directory", rank=2),
        ActionSpec("incident-comms", "c", "comms", "comms",
                   "Draft a status message (initial / update / resolved)", rank=2),
        ActionSpec("incident-back", "escape", "back", "back", "Back to the console"),
    )
    BINDINGS: ClassVar[list[Binding]] = bindings(ACTIONS)  # type: ignore[assignment]

    DEFAULT_CSS = """
    IncidentScreen { layout: vertical; }
    IncidentScreen #incident-summary { background: $panel; color: $foreground; padding: 0 1; }
    IncidentScreen #incident-status-line { height: 1; padding: 0 1; color: $text-muted; }
    IncidentScreen TimelineView { background: $surface; padding: 0 1; }
    """

    # What the poll and page workers (threads) send back to the screen.
    class TimelineRead(Message, bubble=False):
        """The first read: every sequence number, the newest page and the folded state."""

        def __init__(self, seqs: list[int], page: list[Event], state: tl.IncidentState,
                     width: int, generation: int = 0) -> None:
            super().__init__()
            self.seqs, self.page, self.state, self.width = seqs, page, state, width
            self.generation = generation  # the store's then (read whole again on a change)

    class EventsRead(Message, bubble=False):
        """The events after the last one seen (maybe none), and the state with them."""

        def __init__(self, events: list[Event], state: tl.IncidentState, width: int) -> None:
            super().__init__()
            self.events, self.state, self.width = events, state, width

    class PageRead(Message, bubble=False):
        """An older page of the timeline."""

        def __init__(self, events: list[Event], width: int) -> None:
            super().__init__()
            self.events, self.width = events, width

    class ReadFailed(Message, bubble=False):
        """A read failed: the timeline is stale."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    class CommsDrafted(Message, bubble=False):
        """A status message drafted off the UI loop, to show."""

        def __init__(self, template: str, text: str) -> None:
            super().__init__()
            self.template, self.text = template, text

    def __init__(self, incident_id: str, poll_interval: float = 0.5) -> None:
        super().__init__(id="incident-screen")
        self.incident_id = incident_id
        self.state = tl.IncidentState(id=incident_id)
        self.last_seq = 0
        self.generation, self._local = 0, False  # the store's; "local copy" shown
        self.loaded = False
        self.poll_interval = poll_interval
        self.error: str | None = None
        self._polling = False
        self.opened_at = time.perf_counter()
        self.loaded_after: float | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield LineBlock(id="incident-summary")
        yield Static("loading the timeline…", id="incident-status-line")
        yield TimelineView(id="timeline")
        yield KeyBar()

    def on_mount(self) -> None:
        timeline = self.query(TimelineView)
        if not timeline:  # dismissed (or the app quitting) before it was composed
            return
        timeline.first().focus()
        self.draw_summary()
        self.poll()
        self.set_interval(self.poll_interval, self.poll)
        self.set_interval(1.0, self.draw_summary)  # the clocks show seconds; only their line repaints
        self.people: list[str] = []
        presence.start(self)  # the shared store: who else has it open, from which host
        from opsconsole.ui import incident_budget

        incident_budget.start(self)  # issue 15: the error budget this incident burned

    def show_presence(self, people: list[str]) -> None:
        if people != self.people:
            self.people = people
            if self.loaded and self.error is None:
                self._status_line()

    @property
    def store(self) -> Any:
        return console_app(self).incident_store

    def now(self) -> datetime:
        return console_app(self).services.clock()

    def target(self) -> float:
        return console_app(self).config.incidents.for_severity(self.state.severity)

    def draw_summary(self) -> None:
        inc = console_app(self).config.incidents
        lines = summary_lines(self.state, self.now(), self.target(),
                              inc.update_cadence(self.state.severity))
        if getattr(self, "budget", None) is not None:
            lines.append(self.budget)
        self.query_one("#incident-summary", LineBlock).set_lines(lines)

    # ------------------------------------------------------------------ polling
    def poll(self) -> None:
        if self._polling or self.store is None:
            return
        self._polling = True
        self.run_worker(self._read, thread=True, exit_on_error=False, group="incident-poll")

    def _read(self) -> None:
        """(thread) The first time: every sequence number, the lifecycle events (enough to
        fold the state) and the newest page. Later: the events after the last one seen
        (again from the start when the store's generation changed: seqs were provisional)."""
        try:
            gen = view_generation(self.store)
            if not self.loaded or gen != self.generation:
                seqs = self.store.seqs(self.incident_id)
                page = self.store.events(self.incident_id, newest=PAGE)
                state = tl.fold(self.store.events(self.incident_id, types=_HEAD_TYPES),
                                incident_id=self.incident_id)
                state.event_count = len(seqs)
                state.last_seq = seqs[-1] if seqs else 0
                if page:
                    state.last_event_at = page[-1].ts
                self.post_message(self.TimelineRead(seqs, page, state, timeline_width(page),
                                                    gen))
                return
            events = self.store.events(self.incident_id, after=self.last_seq)
            state = self.state
            width = 0
            if events:
                state = copy.deepcopy(self.state)
                for e in events:
                    state.apply(e)
                width = timeline_width(events)
        except Exception as exc:  # a stale timeline, never a crash
            self.post_message(self.ReadFailed(str(exc)))
            return
        self.post_message(self.EventsRead(events, state, width))

    def _load_page(self, after: int, count: int) -> None:
        """An older page of the timeline, read in a worker."""
        store = self.store
        iid = self.incident_id

        def work() -> None:
            try:
                events = store.events(iid, after=after, limit=count)
            except Exception as exc:
                self.post_message(self.ReadFailed(str(exc)))
                return
            self.post_message(self.PageRead(events, timeline_width(events)))

        self.run_worker(work, thread=True, exit_on_error=False, group="incident-page")

    def on_incident_screen_comms_drafted(self, message: CommsDrafted) -> None:
        app = console_app(self)
        out = None if app.read_only else Path(app.data_dir) / "comms"

        def shared(how: str, path: str | None) -> None:
            self.record(ev.COMMS_SENT, {"template": message.template, "how": how,
                                        **({"path": path} if path else {})}, "comms")

        self.app.push_screen(CommsModal(message.template, message.text, out_dir=out,
                                        incident_id=self.incident_id,
                                        on_shared=None if app.read_only else shared))

    def on_incident_screen_page_read(self, message: PageRead) -> None:
        self.query_one(TimelineView).fill(message.events, message.width)

    def on_incident_screen_read_failed(self, message: ReadFailed) -> None:
        self._failed(message.error)

    def on_incident_screen_timeline_read(self, message: TimelineRead) -> None:
        self.generation = message.generation
        self._got_first(message.seqs, message.page, message.state, message.width)

    def on_incident_screen_events_read(self, message: EventsRead) -> None:
        self._got(message.events, message.state, message.width)

    def _failed(self, msg: str) -> None:
        self._polling = False
        self.error = msg
        self.query_one("#incident-status-line", Static).update(rich_text(f"STALE · {msg}",
                                                                         "bold"))

    def _status_line(self) -> None:
        n = self.state.event_count
        # the shared store, unreachable: what this host has (its waiting events included)
        self._local = getattr(self.store, "showing_local", False)
        where = "local copy, shared store unreachable" if self._local else "live"
        msg = f"no incident {self.incident_id} in the {where if self._local else 'store'}"
        if n:
            msg = (f"{n} events · {where} · n note · s status · v severity · m milestone · "
                   f"o roles · e export{presence.line(getattr(self, 'people', []))}")
        self.query_one("#incident-status-line", Static).update(rich_text(msg))

    def _got_first(self, seqs: list[int], page: list[Event], state: tl.IncidentState,
                   width: int) -> None:
        self._polling = False
        self.loaded = True
        self.error = None
        self.state = state
        self.last_seq = seqs[-1] if seqs else 0
        view = self.query_one(TimelineView)
        view.loader = self._load_page
        view.reset(seqs, page, width)
        self.draw_summary()
        self._status_line()
        self.loaded_after = time.perf_counter() - self.opened_at

    def _got(self, events: list[Event], state: tl.IncidentState, width: int) -> None:
        self._polling = False
        stale, self.error = self.error, None
        if events:
            self.state = state
            self.last_seq = events[-1].seq or self.last_seq
            self.query_one(TimelineView).add(events, width)
            self.draw_summary()
        if events or stale or self._local != getattr(self.store, "showing_local", False):
            self._status_line()

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if console_app(self).read_only and action in dangerous_actions(self.ACTIONS):
            return False
        return True

    def action_back(self) -> None:
        presence.stop(self)
        self.dismiss(None)

    def record(self, type: str, data: dict[str, Any], label: str) -> None:
        flows.record_in_worker(console_app(self), type, data, self.incident_id, label)

    def action_note(self) -> None:
        def done(text: str | None) -> None:
            if text:
                self.record(ev.NOTE, {"text": mask_tokens(text)}, "note")

        self.app.push_screen(TextModal(f"Note on {self.incident_id}", "what happened / what "
                                       "you see / what you did", id="note-modal"), done)

    def action_status(self) -> None:
        def done(status: str | None) -> None:
            if status and status != self.state.status:
                self.record(ev.STATUS_CHANGED, {"status": status,
                                                "previous": self.state.status}, "status")

        self.app.push_screen(ChoiceModal(f"Status of {self.incident_id}", list(tl.STATUSES),
                                         current=self.state.status), done)

    def action_severity(self) -> None:
        def done(sev: str | None) -> None:
            if sev and sev != self.state.severity:
                self.record(ev.SEVERITY_CHANGED, {"severity": sev,
                                                  "previous": self.state.severity}, "severity")

        self.app.push_screen(ChoiceModal(f"Severity of {self.incident_id}",
                                         list(severity_names(self.app)),
                                         current=self.state.severity), done)

    def action_milestone(self) -> None:
        def chosen(name: str | None) -> None:
            if not name:
                return

            def timed(text: str | None) -> None:
                if text is None:
                    return
                try:
                    at = tl.parse_when(text, self.now())
                except tl.BadInput as exc:
                    self.app.notify(str(exc), title="milestone", severity="error")
                    return
                self.record(ev.MILESTONE_SET, {"milestone": name, "at": at.isoformat()},
                            "milestone")

            self.app.push_screen(TextModal(f"{name.capitalize()} at (UTC)",
                                           "now, -15m, 20:10 or 2026-11-24T20:10:00Z",
                                           value="now", id="milestone-modal"), timed)

        self.app.push_screen(ChoiceModal(f"Milestone of {self.incident_id}",
                                         list(tl.MILESTONES)), chosen)

    def action_role(self) -> None:
        def chosen(role: str | None) -> None:
            if not role:
                return

            def person(name: str | None) -> None:
                if name is None:
                    return
                data: dict[str, Any] = {"role": role, "person": one_line(name)}
                current = self.state.roles.get(role)
                if current:
                    data["previous"] = current
                if role == "commander" and current and one_line(name) not in ("", current):
                    # another commander is set (maybe on another host): ask first
                    def confirmed(choice: str | None) -> None:
                        if choice == "take over":
                            self.record(ev.ROLE_ASSIGNED, data, "role")

                    self.app.push_screen(ChoiceModal(
                        f"{one_line(current)} is commander of {self.incident_id}. "
                        f"Make {one_line(name)} commander instead?", ["keep", "take over"]),
                        confirmed)
                    return
                self.record(ev.ROLE_ASSIGNED, data, "role")

            self.app.push_screen(TextModal(f"{role.capitalize()} of {self.incident_id}",
                                           "name (empty: unassign)",
                                           value=self.state.roles.get(role, ""),
                                           allow_empty=True, id="role-modal"), person)

        self.app.push_screen(ChoiceModal(f"Role on {self.incident_id}", list(tl.ROLES)), chosen)

    def action_record(self) -> None:
        record_flow(self, self.state, self.record)

    def action_snapshot(self) -> None:
        flows.snapshot_in_worker(console_app(self), self.incident_id)

    def action_comms(self) -> None:
        cfg = console_app(self).config
        templates = dict(cfg.incidents.templates)
        every = cfg.incidents.update_cadence(self.state.severity)
        names = list(postmortem.DEFAULT_TEMPLATES) + sorted(
            set(templates) - set(postmortem.DEFAULT_TEMPLATES))  # initial, update, resolved…
        store = self.store
        iid = self.incident_id
        now = self.now()

        def chosen(name: str | None) -> None:
            if not name:
                return

            def work() -> None:  # the latest note needs the whole fold: read off the UI loop
                state = tl.fold(store.events(iid), incident_id=iid)
                text = postmortem.comms(state, name, now=now, templates=templates,
                                        update_every=every)
                self.post_message(self.CommsDrafted(name, text))

            flows.run_io(console_app(self), work, "comms")

        default = "resolved" if not self.state.is_open else (
            "initial" if self.state.event_count <= 3 else "update")
        self.app.push_screen(ChoiceModal(f"Message about {iid}", names, current=default),
                             chosen)

    def action_export(self) -> None:
        data_dir = Path(console_app(self).data_dir)
        read_only = console_app(self).read_only
        store = self.store
        iid = self.incident_id
        now = self.now()

        template_path = console_app(self).config.incidents.postmortem_template

        def work() -> None:
            state, events = tl.fold(store.events(iid), incident_id=iid), store.events(iid)
            template = None
            if template_path:  # the configured template (checked when the config loaded)
                from opsconsole.incidents.pmtemplate import load_template

                template = load_template(template_path)
            text = postmortem.markdown(state, events, generated_at=now, template=template)
            if read_only:  # read-only writes no file: the clipboard gets it instead
                self.app.call_from_thread(self.app.copy_to_clipboard, text)
                self.app.notify("read-only: no file written; the postmortem draft was copied "
                                "to the clipboard", title="postmortem")
                return
            out = ensure_private_dir(ensure_private_dir(data_dir) / "postmortems") / f"{iid}.md"
            postmortem.write_export(out, text)  # atomic, 0600, never through a symlink
            self.app.notify(f"written to {out}", title="postmortem")  # thread-safe

        flows.run_io(console_app(self), work, "export")
