"""The one list of actions: it drives key bindings, the footer, the help screen, the command
palette and read-only gating. Panes and screens declare their own lists the same way.

Users remap keys by binding id in the config (``keys: {zoom: "Z"}``), as in posting/k9s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.binding import Binding

if TYPE_CHECKING:
    from opsconsole.runbooks.config import Hotkey


@dataclass(frozen=True)
class ActionSpec:
    id: str  # stable id users remap in config `keys:`
    key: str  # default key(s), comma separated
    action: str  # Textual action string, e.g. "focus_pane(1)"
    description: str  # short, for the footer
    help: str = ""  # one line for the help screen and palette
    show: bool = True  # in the footer
    dangerous: bool = False  # hidden and refused in --read-only
    palette: bool = True  # offered in the command palette
    key_display: str | None = None
    priority: bool = False  # Textual's binding priority (before the focused widget's keys)
    rank: int = 5  # footer order, lower first; what does not fit goes behind `? more`


    @property
    def action_name(self) -> str:
        """The action's name without namespace or parameters (what check_action receives)."""
        return self.action.split("(", 1)[0].rsplit(".", 1)[-1]


# binding id → footer rank, filled by bindings() (every spec list goes through it)
RANKS: dict[str, int] = {}


def footer_rank(binding: Binding) -> int:
    """The footer rank of a binding made from an ActionSpec (others: the default)."""
    return RANKS.get(binding.id or "", ActionSpec.rank)


def bindings(specs: list[ActionSpec] | tuple[ActionSpec, ...]) -> list[Binding]:
    """Textual bindings for a list of specs (ids kept so the keymap can remap them)."""
    RANKS.update({s.id: s.rank for s in specs})
    return [
        Binding(
            s.key,
            s.action,
            s.description,
            show=s.show,
            key_display=s.key_display,
            priority=s.priority,
            id=s.id,
            tooltip=s.help,
        )
        for s in specs
    ]


def dangerous_actions(specs: list[ActionSpec] | tuple[ActionSpec, ...]) -> frozenset[str]:
    return frozenset(s.action_name for s in specs if s.dangerous)


GLOBAL_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("help", "question_mark", "app.help", "help", "Show every key of this screen (and the focused pane)", key_display="?"),
    ActionSpec("quit", "q", "app.quit", "quit", "Quit (asks first during an incident or a running step)"),
    ActionSpec("focus-health", "1", "app.focus_pane('health')", "health", "Focus the health pane", show=False),
    ActionSpec("focus-resources", "2", "app.focus_pane('resources')", "resources", "Focus the resources pane", show=False),
    ActionSpec("focus-slow", "3", "app.focus_pane('slow')", "slow queries", "Focus the slow queries pane", show=False),
    ActionSpec("focus-locks", "4", "app.focus_pane('locks')", "locks", "Focus the blocking locks pane", show=False),
    ActionSpec("focus-incidents", "5", "app.focus_pane('incidents')", "incidents", "Focus the incidents pane", show=False),
    ActionSpec("next-pane", "tab", "app.cycle_pane(1)", "next pane", "Focus the next pane", show=False),
    ActionSpec("previous-pane", "shift+tab", "app.cycle_pane(-1)", "previous pane", "Focus the previous pane", show=False),
    ActionSpec("zoom", "z", "app.zoom", "zoom", "Zoom the focused pane to the whole screen (again to restore)"),
    ActionSpec("pause", "p", "app.pause", "pause", "Pause or resume refreshing"),
    ActionSpec("faster", "plus,equals_sign", "app.interval(-1)", "faster", "Refresh more often", key_display="+"),
    ActionSpec("slower", "minus", "app.interval(1)", "slower", "Refresh less often", key_display="-"),
    ActionSpec("filter", "slash", "app.filter", "filter", "Filter the focused pane", key_display="/"),
    ActionSpec("declare", "i", "app.declare_incident", "incident", "Declare an incident", dangerous=True,
               rank=1),
    ActionSpec("note", "n", "app.note", "note", "Add a note to the active incident's timeline",
               dangerous=True, rank=1),
    ActionSpec("runbooks", "r", "app.runbooks", "runbooks", "Open the runbook picker", rank=1),
    ActionSpec("timeline", "t", "app.timeline", "timeline", "Open the active incident's timeline",
               rank=1),
    ActionSpec("back", "escape", "app.back", "back", "Close the filter or go back", show=False),
    ActionSpec("slo", "L", "app.slo", "SLOs", "Show the SLOs: attainment, error budget left, "
               "burn rates", show=False, key_display="L"),
    ActionSpec("wall", "W", "app.wall", "wall", "Show the war-room wall view (read-only; "
               "escape comes back)", show=False, key_display="W"),
    ActionSpec("palette", "ctrl+p", "app.command_palette", "commands", "Open the command palette",
               palette=False, show=False),
)

# `q` is bound on the app too (hidden from the footer), so it quits from every screen
QUIT_SPEC = next(s for s in GLOBAL_ACTIONS if s.id == "quit")


def hotkey_specs(hotkeys: list[Hotkey]) -> list[ActionSpec]:
    """One ActionSpec per configured hotkey (shown in the footer and the help screen).
    A hotkey that launches a step is dangerous (hidden and refused in read-only)."""
    specs = []
    for n, hk in enumerate(hotkeys):
        target = hk.runbook if hk.step is None else f"{hk.runbook} step {hk.step}"
        desc = hk.description or (hk.runbook if hk.step is None else f"{hk.runbook}#{hk.step}")
        specs.append(ActionSpec(
            id=f"runbook-hotkey-{n}", key=hk.key, action=f"app.runbook_hotkey({n})",
            description=desc, help=f"Runbook: {'run ' if hk.step is not None else 'open '}{target}",
            dangerous=hk.step is not None,
        ))
    return specs
