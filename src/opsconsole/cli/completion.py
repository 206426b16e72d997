"""``opsconsole completion bash|zsh`` (shtab, from the argument parser) and
``opsconsole manpage`` (roff, from the same parser, so neither can drift from the options).
Never imports Textual."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator

SHELLS = ("bash", "zsh")


def register(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
             common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("completion", help="print a shell completion script",
                       description="Print a completion script: for bash, "
                                   "`source <(opsconsole completion bash)` in ~/.bashrc; for "
                                   "zsh, save `opsconsole completion zsh` as _opsconsole in a "
                                   "directory of your $fpath.")
    p.add_argument("shell", choices=SHELLS, help="the shell: bash or zsh")
    p.set_defaults(run=cmd_completion)
    m = sub.add_parser("manpage", help="print the opsconsole(1) manual page (roff)",
                       description="Print the manual page, generated from the options: "
                                   "`opsconsole manpage | man -l -`.")
    m.set_defaults(run=cmd_manpage)


def subparsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
               ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser under ``parser`` (itself first) with its command words."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from subparsers(child, (*path, name))


def _mark_paths(parser: argparse.ArgumentParser) -> None:
    """Options taking a PATH complete file names."""
    import shtab

    for _, p in subparsers(parser):
        for action in p._actions:
            if action.metavar in ("PATH", "FILE", "ID|PATH"):
                action.complete = shtab.FILE  # type: ignore[attr-defined]


def completion_script(shell: str) -> str:
    """The completion script for ``shell`` (bash or zsh)."""
    import shtab

    from opsconsole.cli.main import build_parser

    parser = build_parser()
    _mark_paths(parser)
    return shtab.complete(parser, shell=shell)


def cmd_completion(args: argparse.Namespace) -> int:
    print(completion_script(args.shell))
    return 0


def _roff(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + ln) if ln.startswith((".", "'")) else ln for ln in text.splitlines())


def _option_lines(p: argparse.ArgumentParser) -> list[str]:
    out: list[str] = []
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            metavar = "" if action.nargs == 0 else " " + str(
                action.metavar or action.dest.upper())
            label = ", ".join(f"\\fB{_roff(o)}\\fR" for o in action.option_strings)
            label += _roff(metavar)
        else:
            label = f"\\fI{_roff(str(action.metavar or action.dest))}\\fR"
        out += [".TP", label, _roff(str(action.help or ""))]
    return out


def manpage(parser: argparse.ArgumentParser | None = None) -> str:
    """The opsconsole(1) page in roff, one section per command."""
    from opsconsole import __version__
    from opsconsole.cli.main import build_parser

    parser = parser or build_parser()
    # no date: the page is reproducible (a test compares it with the shipped one)
    lines = [f'.TH OPSCONSOLE 1 "" "opsconsole {__version__}" "User Commands"',
             ".SH NAME", "opsconsole \\- " + _roff(parser.description or ""),
             ".SH SYNOPSIS", "\\fBopsconsole\\fR [\\fIOPTIONS\\fR] [\\fICOMMAND\\fR ...]",
             ".SH OPTIONS", *_option_lines(parser), ".SH COMMANDS"]
    helps = {(*path, a.dest): str(a.help or "") for path, p in subparsers(parser)
             for s in p._actions if isinstance(s, argparse._SubParsersAction)
             for a in s._choices_actions}
    for path, p in list(subparsers(parser))[1:]:
        lines += [".SS " + _roff("opsconsole " + " ".join(path)),
                  _roff(p.description or helps.get(path, "")), *_option_lines(p)]
    lines += [".SH ENVIRONMENT", ".TP", "\\fBOPSCONSOLE_CONFIG\\fR, \\fBOPSCONSOLE_DATA_DIR\\fR",
              "config file and data directory (see \\fB\\-\\-config\\fR, \\fB\\-\\-data\\-dir\\fR)",
              ".TP", "\\fBPGHOST\\fR, \\fBPGSERVICE\\fR, \\fBPGDATABASE\\fR, \\fBPGPASSFILE\\fR ...",
              "the PostgreSQL server to watch, as for psql(1)",
              ".TP", "\\fBOPSCONSOLE_HOST\\fR",
              "the host name recorded on events and shown in the header (default: the "
              "system's host name)",
              ".SH SEE ALSO", "psql(1)", ""]
    return "\n".join(lines)


def cmd_manpage(args: argparse.Namespace) -> int:
    print(manpage(), end="")
    return 0
