"""What the help screen lists: every binding active on the screen the operator is on."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.screen import Screen

from opsconsole.ui.compat import binding_chain, check_action_state
from opsconsole.ui.panes.base import Pane
from opsconsole.ui.screens.help import HelpRow, HelpScreen

if TYPE_CHECKING:
    from opsconsole.ui.app import OpsConsoleApp


def screen_label(screen: Screen[Any]) -> str:
    """``IncidentScreen`` → ``Incident screen`` (a screen may set ``HELP_TITLE``)."""
    title = getattr(screen, "HELP_TITLE", None)
    if title:
        return str(title)
    words = re.findall(r"[A-Z][a-z0-9]*", type(screen).__name__.removesuffix("Screen"))
    return (" ".join(words).capitalize() or type(screen).__name__) + " screen"


def help_rows(app: OpsConsoleApp, screen: Screen[Any] | None = None) -> list[HelpRow]:
    """Every binding active now on the screen the operator is on: that screen's (or the
    focused pane's) first, then the global ones."""
    if screen is None:
        stack = [s for s in app.screen_stack if not isinstance(s, HelpScreen)]
        screen = stack[-1] if stack else app.screen
    try:
        main: Screen[Any] | None = app.main
    except LookupError:
        main = None
    on_main = screen is main
    own = screen_label(screen)
    pane = app.pane(app.current_pane) if main is not None else None
    rows: list[tuple[tuple[bool, bool, str, bool], HelpRow]] = []
    seen: set[str] = set()

    def add(node: Any, b: Binding, enabled: bool) -> None:
        # one row per action and meaning (q and ctrl+q both quit, but say different things)
        what = f"{b.action.removeprefix('app.')}:{b.tooltip or b.description}"
        if what in seen or b.system or (b.id or "").startswith("runbook-hotkey-"):
            return
        seen.add(what)
        if isinstance(node, Pane):
            section = f"{node.title} pane"
        elif node is app or node is main:
            section = "Global"
        elif node is screen:
            section = own
        elif not on_main:
            section = "Moving around"  # the focused widget's own keys (scrolling…)
        else:
            section = f"{pane.title} pane" if pane is not None else "Global"
        desc = b.tooltip or b.description
        row = HelpRow(section, app.get_key_display(b), desc, enabled)
        # a section's own keys (ActionSpecs have ids) before Textual's built-in ones
        rows.append(((section == "Global", section != own, section, b.id is None), row))

    for ab in screen.active_bindings.values():
        add(ab.node, ab.binding, ab.enabled)
    if screen.is_modal:  # a modal screen cuts the app's bindings but the priority ones
        for node, bmap in binding_chain(screen):  # what Textual dispatches, keymap applied
            if node is not app:
                continue
            for _, b in bmap:
                if b.priority:
                    state = check_action_state(app, b.action, app)
                    if state is not False:
                        add(app, b, bool(state))
    rows.sort(key=lambda r: r[0])
    out = [row for _, row in rows]
    if not screen.is_modal:
        from opsconsole.ui.screens.runbook_picker import hotkey_help_rows

        out.extend(hotkey_help_rows(app, app.hotkey_specs))  # runbook hotkeys from the config
    return out
