"""The incident screen (live timeline, state, durations) and the incident modals: declare,
note, pick one of a list, type a value.

Every write runs in a thread worker (a commit is an fsync, and another console may hold the
write lock for a moment), so the UI loop never waits on the disk. The screen polls the store
for this incident's new events off the UI loop and appends them to the timeline, which is a
Line API widget: opening an incident with 10,000 events draws only the visible lines.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from rich.segment import Segment
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.screen import ModalScreen, Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Input, OptionList, Static

from opsconsole import events as ev
from opsconsole.events import Event
from opsconsole.fmt import one_line
from opsconsole.incidents import postmortem
from opsconsole.incidents import timeline as tl
from opsconsole.incidents.describe import describe, inner_type, shown
from opsconsole.secrets import mask_tokens
from opsconsole.ui.actions import ActionSpec, bindings, dangerous_actions
from opsconsole.ui.widgets import LineBlock


def coarse(seconds: float) -> str:
    """A calm age (changes once a minute): <1m, 12m, 2h05m, 3d04h."""
    s = int(max(seconds, 0))
    if s < 60:
        return "<1m"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def coarse_clock(state: tl.IncidentState, now: datetime, target: float) -> tuple[str, bool]:
    """The response-target clock at minute precision: ``4m left``, ``OVERDUE 3m``,
    ``acked 2m``."""
    return state.response_clock(now, target, fmt=coarse)


def summary_lines(state: tl.IncidentState, now: datetime, target: float) -> list[Text]:
    """The incident screen's head: id/severity/status/title, roles, clocks, milestones."""
    t1 = Text()
    t1.append(f" {state.id} ", style="bold reverse")
    t1.append(f" {state.severity} ", style="bold")
    t1.append(f"{state.status.upper()} ", style="bold")
    t1.append(one_line(mask_tokens(state.title)))
    t2 = Text("services: ", style="bold")
    t2.append(", ".join(state.services) or "–")
    for role in tl.ROLES:
        t2.append(f" · {role}: ", style="bold")
        t2.append(state.roles.get(role, "–"))
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
    return [t1, t2, t3, t4]


def timeline_text(e: Event) -> Text:
    e = shown(e)  # an event attached at declaration: at its original time and actor
    t = Text()
    t.append(e.ts.astimezone(UTC).strftime("%H:%M:%S"), style="dim")
    t.append(f" {one_line(e.actor.user, 10):<10} ")
    kind = inner_type(e).split(".", 1)[0]
    marks = {"incident": "•", "health": "♥", "db": "⚡", "runbook": "▸", "host": "◷"}
    t.append(marks.get(kind, "·") + " ")
    style = "bold" if e.type in (ev.DECLARED, ev.STATUS_CHANGED, ev.SEVERITY_CHANGED) else ""
    t.append(describe(e), style=style)
    return t


def timeline_width(events: list[Event], sample: int = 1000) -> int:
    """The widest timeline line among the last ``sample`` events (columns)."""
    return max((22 + len(describe(e)) for e in events[-sample:]), default=0)


PAGE = 200


class TimelineView(ScrollView, can_focus=True):
    """The timeline: one line per event. It knows every event's sequence number but holds
    only the pages read so far; a line scrolled into view whose page is not read yet shows
    ``…`` and asks ``loader`` (a worker) for it. Only visible lines are formatted. Follows
    the tail while the operator is at the bottom."""

    DEFAULT_CSS = "TimelineView { height: 1fr; }"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.seqs: list[int] = []
        self.loaded: dict[int, Event] = {}
        self.loader: Callable[[int, int], None] | None = None  # (after_seq, count)
        self._cache: dict[int, Text] = {}
        self._asked: set[int] = set()
        self._width = 0
        self.painted_at: float | None = None  # perf_counter of the first line with an event
        self._jumping = False

    @property
    def events(self) -> list[Event]:
        """The events read so far, in order."""
        return [self.loaded[s] for s in self.seqs if s in self.loaded]

    def _resize(self, follow: bool) -> None:
        self.virtual_size = Size(self._width, len(self.seqs))
        self.refresh()
        if follow:
            self.call_after_refresh(self._follow)

    def _follow(self) -> None:
        self.scroll_end(animate=False, immediate=True)
        if self._jumping:
            self.call_after_refresh(self._jumped)

    def reset(self, seqs: list[int], page: list[Event], width: int) -> None:
        """The whole timeline's sequence numbers and its newest page."""
        self.seqs = list(seqs)
        self.loaded = {e.seq: e for e in page if e.seq is not None}
        self._cache.clear()
        self._asked.clear()
        self._width = max(self._width, width)
        self.virtual_size = Size(self._width, len(self.seqs))
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)  # the newest
        self._jumping = True  # lines drawn at the top until the jump lands are not read
        self._resize(follow=True)

    def _jumped(self) -> None:
        self._jumping = False
        self.refresh()

    def add(self, events: list[Event], width: int | None = None) -> None:
        """Append new events (``width``: their widest line if measured off the UI loop)."""
        known = set(self.seqs[-len(events):]) if events else set()
        fresh = [e for e in events if e.seq not in known]
        if not fresh:
            return
        follow = self.scroll_y >= self.max_scroll_y - 1 or not self.seqs
        for e in fresh:
            if e.seq is not None:
                self.seqs.append(e.seq)
                self.loaded[e.seq] = e
        self._width = max(self._width, width if width is not None else timeline_width(fresh))
        self._resize(follow)

    def fill(self, events: list[Event], width: int) -> None:
        """An older page arrived."""
        for e in events:
            if e.seq is not None:
                self.loaded[e.seq] = e
        if width > self._width:
            self._width = width
            self.virtual_size = Size(self._width, len(self.seqs))
        self.refresh()

    def line_text(self, index: int) -> Text | None:
        t = self._cache.get(index)
        if t is None:
            e = self.loaded.get(self.seqs[index])
            if e is None:
                return None
            t = timeline_text(e)
            self._cache[index] = t
        return t

    @property
    def plain(self) -> str:
        return "\n".join(t.plain for i in range(len(self.seqs))
                         if (t := self.line_text(i)) is not None)

    def action_scroll_home(self) -> None:
        self.scroll_home(animate=False)  # 10,000 lines: jump, do not glide

    def action_scroll_end(self) -> None:
        self.scroll_end(animate=False)

    def _ask(self, index: int) -> None:
        page = index // PAGE
        if page in self._asked or self.loader is None or self._jumping:
            return
        top = int(self.scroll_y)
        if not top <= index < top + max(self.size.height, 1):
            return  # scrolled past already (e.g. the jump to the newest events)
        self._asked.add(page)
        first = page * PAGE
        after = self.seqs[first - 1] if first > 0 else 0
        self.loader(after, PAGE)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        width = self.size.width
        base = self.rich_style
        if index >= len(self.seqs):
            return Strip.blank(width, base)
        text = self.line_text(index)
        if text is None:
            self.call_later(self._ask, index)
            text = Text(f"… #{self.seqs[index]}", style="dim")
        elif self.painted_at is None:
            self.painted_at = time.perf_counter()
        segments = [Segment(s.text, base + s.style if s.style else base)
                    for s in text.render(self.app.console) if not s.control and s.text != "\n"]
        return Strip(segments).crop_extend(scroll_x, scroll_x + width, base)


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
        ActionSpec("incident-export", "e", "export", "export",
                   "Write the postmortem draft (Markdown) to the data directory"),
        ActionSpec("incident-comms", "c", "comms", "comms",
                   "Draft a status message (initial / update / resolved)"),
        ActionSpec("incident-back", "escape", "back", "back", "Back to the console"),
    )
    BINDINGS: ClassVar[list[Binding]] = bindings(ACTIONS)  # type: ignore[assignment]

    DEFAULT_CSS = """
    IncidentScreen { layout: vertical; }
    IncidentScreen #incident-summary { background: $panel; color: $foreground; padding: 0 1; }
    IncidentScreen #incident-status-line { height: 1; padding: 0 1; color: $text-muted; }
    IncidentScreen TimelineView { background: $surface; padding: 0 1; }
    """

    def __init__(self, incident_id: str, poll_interval: float = 0.5) -> None:
        super().__init__(id="incident-screen")
        self.incident_id = incident_id
        self.state = tl.IncidentState(id=incident_id)
        self.last_seq = 0
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
        yield Footer()

    def on_mount(self) -> None:
        timeline = self.query(TimelineView)
        if not timeline:  # dismissed (or the app quitting) before it was composed
            return
        timeline.first().focus()
        self.draw_summary()
        self.poll()
        self.set_interval(self.poll_interval, self.poll)
        self.set_interval(15.0, self.draw_summary)

    @property
    def store(self) -> Any:
        return getattr(self.app, "incident_store", None)

    def now(self) -> datetime:
        services = getattr(self.app, "services", None)
        return services.clock() if services is not None else datetime.now(UTC)

    def target(self) -> float:
        cfg = getattr(self.app, "config", None)
        if cfg is None:
            return 3600.0
        return cfg.incidents.response_targets.for_severity(self.state.severity)

    def draw_summary(self) -> None:
        lines = summary_lines(self.state, self.now(), self.target())
        self.query_one("#incident-summary", LineBlock).set_lines(lines)

    # ------------------------------------------------------------------ polling
    def poll(self) -> None:
        if self._polling or self.store is None:
            return
        self._polling = True
        self.run_worker(self._read, thread=True, exit_on_error=False, group="incident-poll")

    def _read(self) -> None:
        """(thread) The first time: every sequence number, the lifecycle events (enough to
        fold the state) and the newest page. Later: the events after the last one seen."""
        try:
            if not self.loaded:
                seqs = self.store.seqs(self.incident_id)
                page = self.store.events(self.incident_id, newest=PAGE)
                state = tl.fold(self.store.events(self.incident_id, types=ev.LIFECYCLE),
                                incident_id=self.incident_id)
                state.event_count = len(seqs)
                state.last_seq = seqs[-1] if seqs else 0
                if page:
                    state.last_event_at = page[-1].ts
                self.app.call_from_thread(self._got_first, seqs, page, state,
                                          timeline_width(page))
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
            self.app.call_from_thread(self._failed, str(exc))
            return
        self.app.call_from_thread(self._got, events, state, width)

    def _load_page(self, after: int, count: int) -> None:
        """An older page of the timeline, read in a worker."""
        store = self.store
        iid = self.incident_id
        view = self.query_one(TimelineView)

        def work() -> None:
            try:
                events = store.events(iid, after=after, limit=count)
            except Exception as exc:
                self.app.call_from_thread(self._failed, str(exc))
                return
            self.app.call_from_thread(view.fill, events, timeline_width(events))

        self.run_worker(work, thread=True, exit_on_error=False, group="incident-page")

    def _failed(self, msg: str) -> None:
        self._polling = False
        self.error = msg
        self.query_one("#incident-status-line", Static).update(Text(f"STALE · {msg}",
                                                                    style="bold"))

    def _status_line(self) -> None:
        n = self.state.event_count
        if n == 0:
            msg = f"no incident {self.incident_id} in the store"
        else:
            msg = (f"{n} events · live · n note · s status · v severity · m milestone · "
                   f"o roles · e export")
        self.query_one("#incident-status-line", Static).update(msg)

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
        self.error = None
        if events:
            self.state = state
            self.last_seq = events[-1].seq or self.last_seq
            self.query_one(TimelineView).add(events, width)
            self.draw_summary()
            self._status_line()

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if getattr(self.app, "read_only", False) and action in dangerous_actions(self.ACTIONS):
            return False
        return True

    def action_back(self) -> None:
        self.dismiss(None)

    def record(self, type: str, data: dict[str, Any], label: str) -> None:
        record_in_worker(self.app, type, data, self.incident_id, label, self.poll)

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
                                         list(tl.SEVERITIES), current=self.state.severity), done)

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
                if self.state.roles.get(role):
                    data["previous"] = self.state.roles[role]
                self.record(ev.ROLE_ASSIGNED, data, "role")

            self.app.push_screen(TextModal(f"{role.capitalize()} of {self.incident_id}",
                                           "name (empty: unassign)",
                                           value=self.state.roles.get(role, ""),
                                           allow_empty=True, id="role-modal"), person)

        self.app.push_screen(ChoiceModal(f"Role on {self.incident_id}", list(tl.ROLES)), chosen)

    def action_snapshot(self) -> None:
        snapshot_in_worker(self.app, self.incident_id, self.poll)

    def action_comms(self) -> None:
        cfg = getattr(self.app, "config", None)
        templates = dict(cfg.incidents.templates) if cfg is not None else {}
        every = float(cfg.incidents.update_every) if cfg is not None else None
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
                self.app.call_from_thread(self.app.push_screen, CommsModal(name, text))

            run_io(self.app, work, "comms")

        default = "resolved" if not self.state.is_open else (
            "initial" if self.state.event_count <= 3 else "update")
        self.app.push_screen(ChoiceModal(f"Message about {iid}", names, current=default),
                             chosen)

    def action_export(self) -> None:
        data_dir = Path(getattr(self.app, "data_dir", "."))
        store = self.store
        iid = self.incident_id
        now = self.now()

        def work() -> None:
            state, events = tl.fold(store.events(iid), incident_id=iid), store.events(iid)
            out = data_dir / "postmortems" / f"{iid}.md"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(postmortem.markdown(state, events, generated_at=now))
            self.app.call_from_thread(self.app.notify, f"written to {out}", title="postmortem")

        run_io(self.app, work, "export")


# ---------------------------------------------------------------------- workers
def run_io(app: Any, fn: Callable[[], Any], label: str) -> None:
    """Run blocking store I/O in a thread; failures are shown, never raised."""

    def work() -> None:
        try:
            fn()
        except Exception as exc:
            app.call_from_thread(app.notify, f"{label} failed: {exc}", title=label,
                                 severity="error", timeout=10)

    app.run_worker(work, thread=True, exit_on_error=False, group="incident-io")


def record_in_worker(app: Any, type: str, data: dict[str, Any], incident_id: str | None,
                     label: str, after: Callable[[], None] | None = None) -> None:
    def fn() -> None:
        app.sink.record(type, data, incident_id=incident_id)
        if after is not None:
            app.call_from_thread(after)
        pane = _pane(app)
        if pane is not None:
            app.call_from_thread(pane.poll_now)

    run_io(app, fn, label)


def snapshot_in_worker(app: Any, incident_id: str | None,
                       after: Callable[[], None] | None = None) -> None:
    from opsconsole.sources.host import take_snapshot

    def fn() -> None:
        take_snapshot(app.sink, getattr(app.services, "host_collector", None),
                      incident_id=incident_id)
        app.call_from_thread(app.notify, "host figures recorded on the timeline",
                             title="snapshot")
        if after is not None:
            app.call_from_thread(after)

    run_io(app, fn, "snapshot")


def _pane(app: Any) -> Any:
    try:
        return app.pane("incidents")
    except Exception:
        return None


def open_incident(app: Any, incident_id: str) -> None:
    """Make ``incident_id`` the active incident of this console and show its screen."""
    sink = getattr(app, "sink", None)
    if hasattr(sink, "active"):
        sink.active = incident_id
    app.active_incident = incident_id
    app.update_header()
    app.push_screen(IncidentScreen(incident_id))


def declare(app: Any) -> None:
    """``i``: the declare modal, then declare in a worker and open the new incident."""

    def done(result: dict[str, Any] | None) -> None:
        if not result:
            return
        broken = health_not_ok(app)  # what was broken at the moment of declaring

        def fn() -> None:
            sink = app.sink
            if hasattr(sink, "declare"):
                e = sink.declare(result["title"], result["severity"], result["services"])
            else:
                raise OSError("the incident store is not available "
                              f"({getattr(app, 'store_error', None) or 'not opened'})")
            if broken:
                sink.record(ev.HEALTH_AT_DECLARATION, {"checks": broken},
                            incident_id=e.incident_id)
            app.call_from_thread(app.notify, f"{e.incident_id} declared", title="incident")
            app.call_from_thread(open_incident, app, e.incident_id)
            pane = _pane(app)
            if pane is not None:
                app.call_from_thread(pane.poll_now)

        run_io(app, fn, "declare")

    app.push_screen(DeclareModal(), done)


def health_not_ok(app: Any) -> list[dict[str, Any]]:
    """The health checks that are not OK now, with how long they have been so (from the
    health pane's tracker; [] when there are no checks). Checks not run yet are left out."""
    from opsconsole.checks.tracker import PENDING

    try:
        pane = app.pane("health")
        tracker = pane.tracker
        now = pane.clock()
    except Exception:
        return []
    out: list[dict[str, Any]] = []
    for s in tracker.statuses():
        if s.state in ("OK", PENDING):
            continue
        secs = s.time_in_state(now)
        out.append({"check": s.name, "state": s.state, "message": mask_tokens(s.message),
                    "since": s.since.isoformat() if s.since else None,
                    "for": None if secs is None else round(secs, 1)})
    order = {"CRITICAL": 0, "WARNING": 1}
    return sorted(out, key=lambda c: (order.get(c["state"], 2), -(c["for"] or 0)))


def note(app: Any) -> None:
    """``n``: a note on the active incident."""
    iid = getattr(app, "active_incident", None)
    if not iid:
        app.notify("No active incident: declare one with i, or open one from the incidents "
                   "pane (5, enter).", title="note", severity="warning")
        return

    def done(text: str | None) -> None:
        if text:
            record_in_worker(app, ev.NOTE, {"text": mask_tokens(text)}, iid, "note",
                             _refresh_incident_screen(app, iid))

    app.push_screen(TextModal(f"Note on {iid}", "what happened / what you see / what you did",
                              id="note-modal"), done)


def _refresh_incident_screen(app: Any, iid: str) -> Callable[[], None]:
    def after() -> None:
        for screen in app.screen_stack:
            if isinstance(screen, IncidentScreen) and screen.incident_id == iid:
                screen.poll()

    return after


def timeline(app: Any) -> None:
    """``t``: the active incident's screen."""
    iid = getattr(app, "active_incident", None)
    if not iid:
        app.notify("No active incident: declare one with i, or open one from the incidents "
                   "pane (5, enter).", title="timeline", severity="warning")
        return
    if isinstance(app.screen, IncidentScreen) and app.screen.incident_id == iid:
        return
    open_incident(app, iid)


# ---------------------------------------------------------------------- modals
class DeclareModal(ModalScreen[dict[str, Any] | None]):
    """Title, severity, services. Enter declares; escape cancels."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "cancel", "cancel", id="modal-cancel")]
    DEFAULT_CSS = """
    DeclareModal { align: center middle; background: $background 60%; }
    DeclareModal > Vertical { width: 70; max-width: 95%; height: auto; border: round $error;
                              background: $surface; padding: 0 1; }
    DeclareModal Input { margin: 0; }
    DeclareModal .modal-error { color: $error; text-style: bold; height: auto; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Declare an incident", style="bold"))
            yield Static("Title")
            yield Input(placeholder="what is broken, in a few words", id="declare-title")
            yield Static("Severity (SEV1 worst … SEV4; 1-4)")
            yield Input(placeholder="SEV3", id="declare-severity")
            yield Static("Affected services (comma-separated)")
            yield Input(placeholder="api, checkout", id="declare-services")
            yield Static("", classes="modal-error", id="declare-error")
            yield Static(Text("enter declares · tab next field · escape cancels", style="italic"))

    def on_mount(self) -> None:
        self.query_one("#declare-title", Input).focus()

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        event.stop()
        title = one_line(self.query_one("#declare-title", Input).value)
        sev_text = self.query_one("#declare-severity", Input).value.strip() or "SEV3"
        services = [s.strip() for s in self.query_one("#declare-services", Input).value.split(",")
                    if s.strip()]
        err = self.query_one("#declare-error", Static)
        if not title:
            err.update("A title is needed.")
            self.query_one("#declare-title", Input).focus()
            return
        try:
            sev = tl.parse_severity(sev_text)
        except tl.BadInput as exc:
            err.update(str(exc))
            self.query_one("#declare-severity", Input).focus()
            return
        self.dismiss({"title": mask_tokens(title), "severity": sev, "services": services})

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextModal(ModalScreen[str | None]):
    """One line of text. Enter accepts; escape cancels."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "cancel", "cancel", id="modal-cancel")]
    DEFAULT_CSS = """
    TextModal { align: center middle; background: $background 60%; }
    TextModal > Vertical { width: 76; max-width: 95%; height: auto; border: round $primary;
                           background: $surface; padding: 0 1; }
    """

    def __init__(self, title: str, placeholder: str = "", value: str = "",
                 allow_empty: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title_text = title
        self.placeholder = placeholder
        self.value = value
        self.allow_empty = allow_empty

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text, style="bold"))
            yield Input(value=self.value, placeholder=self.placeholder, id="text-input")
            yield Static(Text("enter saves · escape cancels", style="italic"))

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        if not value and not self.allow_empty:
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceModal(ModalScreen[str | None]):
    """Pick one of a few values (arrows + enter, or the first letter/number)."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "cancel", "cancel", id="modal-cancel")]
    DEFAULT_CSS = """
    ChoiceModal { align: center middle; background: $background 60%; }
    ChoiceModal > Vertical { width: 50; height: auto; border: round $primary;
                             background: $surface; padding: 0 1; }
    ChoiceModal OptionList { height: auto; max-height: 12; }
    """

    def __init__(self, title: str, choices: list[str], current: str | None = None) -> None:
        super().__init__(id="choice-modal")
        self.title_text = title
        self.choices = choices
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text, style="bold"))
            yield OptionList(*[c + ("  (now)" if c == self.current else "")
                               for c in self.choices], id="choices")
            yield Static(Text("↑↓ enter picks · escape cancels", style="italic"))

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.focus()
        if self.current in self.choices:
            ol.highlighted = self.choices.index(self.current)

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.choices[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)


class CommsModal(ModalScreen[None]):
    """A communication draft to copy (select with the mouse, or from the export)."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape,enter", "close", "close",
                                                 id="modal-close")]
    DEFAULT_CSS = """
    CommsModal { align: center middle; background: $background 60%; }
    CommsModal > Vertical { width: 90; max-width: 95%; height: auto; max-height: 90%;
                            border: round $primary; background: $surface; padding: 0 1; }
    CommsModal #comms-text { height: auto; }
    """

    def __init__(self, template: str, text: str) -> None:
        super().__init__(id="comms-modal")
        self.template = template
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Draft: {self.template}", style="bold"))
            yield Static(Text(self.text), id="comms-text")
            yield Static(Text("escape closes · same text: opsconsole incident comms ID "
                              f"--template {self.template}", style="italic"))

    def action_close(self) -> None:
        self.dismiss(None)
