"""The modal screens: one :class:`Modal` base (escape cancels, once for all of them) and
the incident modals: declare, type a value, pick one of a list, read a message draft."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static

from opsconsole.fmt import one_line
from opsconsole.incidents import timeline as tl
from opsconsole.secrets import mask_tokens
from opsconsole.ui.safe import rich_text

ResultType = TypeVar("ResultType")


class Modal(ModalScreen[ResultType]):
    """A modal screen that escape cancels: it is dismissed with None. Subclasses may bind
    more keys to ``cancel`` (or ``close``, the same thing) and replace the escape binding."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "cancel", "cancel", id="modal-cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.action_cancel()


def severity_names(app: Any) -> tuple[str, ...]:
    """The configured severities of the console ``app``, worst first (SEV1..SEV4 unless the
    config names them)."""
    from opsconsole.ui.console import console_app

    return console_app(app).config.incidents.severity_names()


class DeclareModal(Modal[dict[str, Any] | None]):
    """Title, severity, services. Enter declares; escape cancels."""

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
            names = severity_names(self.app)
            yield Static(f"Severity ({names[0]} worst … {names[-1]})")
            yield Input(placeholder=names[min(2, len(names) - 1)], id="declare-severity")
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
        names = severity_names(self.app)
        sev_text = (self.query_one("#declare-severity", Input).value.strip()
                    or names[min(2, len(names) - 1)])
        services = [s.strip() for s in self.query_one("#declare-services", Input).value.split(",")
                    if s.strip()]
        err = self.query_one("#declare-error", Static)
        if not title:
            err.update("A title is needed.")
            self.query_one("#declare-title", Input).focus()
            return
        try:
            sev = tl.parse_severity(sev_text, names)
        except tl.BadInput as exc:
            err.update(rich_text(str(exc)))
            self.query_one("#declare-severity", Input).focus()
            return
        self.dismiss({"title": mask_tokens(title), "severity": sev, "services": services})


class TextModal(Modal[str | None]):
    """One line of text. Enter accepts; escape cancels."""

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


class ChoiceModal(Modal[str | None]):
    """Pick one of a few values (arrows + enter, or the first letter/number)."""

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
            yield Static(rich_text(self.title_text, "bold"))
            # Text prompts: an OptionList parses a str prompt as markup
            yield OptionList(*[rich_text(c + ("  (now)" if c == self.current else ""))
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


class CommsModal(Modal[None]):
    """A communication draft: ``y`` copies it (OSC 52, where the terminal allows), ``w``
    writes it to a private file in the data directory (not in --read-only)."""

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape,enter", "cancel", "close", id="modal-close"),
        Binding("y", "copy", "copy", id="comms-copy"),
        Binding("w", "write", "write to a file", id="comms-write"),
    ]
    DEFAULT_CSS = """
    CommsModal { align: center middle; background: $background 60%; }
    CommsModal > Vertical { width: 90; max-width: 95%; height: auto; max-height: 90%;
                            border: round $primary; background: $surface; padding: 0 1; }
    CommsModal #comms-text { height: auto; }
    CommsModal #comms-result { height: auto; text-style: bold; }
    """

    def __init__(self, template: str, text: str, *, out_dir: Path | None = None,
                 incident_id: str = "incident",
                 on_shared: Callable[[str, str | None], None] | None = None) -> None:
        super().__init__(id="comms-modal")
        self.template = template
        self.text = text
        self.out_dir = out_dir  # None: read-only, nothing is written
        self.incident_id = incident_id
        self.on_shared = on_shared

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(rich_text(f"Draft: {self.template}", "bold"))
            yield Static(rich_text(self.text, keep_newlines=True), id="comms-text")
            yield Static("", id="comms-result")
            write = " · w writes to a file" if self.out_dir is not None else ""
            yield Static(Text(f"y copies{write} · escape closes · same text: opsconsole "
                              f"incident comms ID --template {self.template}", style="italic"))

    def _said(self, text: str) -> None:
        self.query_one("#comms-result", Static).update(rich_text(text))

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.text)  # OSC 52: the terminal decides if it lands
        self._said("copied to the clipboard (if your terminal allows OSC 52)")
        if self.on_shared:
            self.on_shared("copied", None)

    def action_write(self) -> None:
        if self.out_dir is None:
            self._said("read-only: nothing is written (y copies)")
            return
        self.write_file()

    @work(thread=True, exit_on_error=False)
    def write_file(self) -> None:
        from datetime import UTC, datetime

        from opsconsole.files import ensure_private_dir, os_reason
        from opsconsole.incidents.postmortem import write_export

        assert self.out_dir is not None
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"{self.incident_id}-{self.template}-{stamp}.txt".replace("/", "_")
        try:
            path = write_export(ensure_private_dir(self.out_dir) / name, self.text)
        except OSError as exc:
            self.app.call_from_thread(self._said, f"not written: {os_reason(exc)}")
            return
        self.app.call_from_thread(self._said, f"written to {path}")
        if self.on_shared:
            self.app.call_from_thread(self.on_shared, "written", str(path))
