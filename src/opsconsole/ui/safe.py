"""Untrusted text handed to widgets: a Rich ``Text`` (never parsed as markup) of the
neutralised string (see :mod:`opsconsole.text`)."""

from __future__ import annotations

from rich.text import Text

from opsconsole.text import for_terminal


def rich_text(s: str, style: str = "", *, keep_newlines: bool = False,
              keep_tabs: bool = False) -> Text:
    """A ``rich.text.Text`` of ``for_terminal(s)``: never parsed as markup — the preferred
    way to hand untrusted text to a widget."""
    return Text(for_terminal(s, keep_newlines=keep_newlines, keep_tabs=keep_tabs), style=style)
