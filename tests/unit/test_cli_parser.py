"""The argument parser: every option documented, completion and the man page built from it."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest

from opsconsole.cli.completion import completion_script, manpage, subparsers
from opsconsole.cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]


def test_every_option_and_argument_has_help():
    missing = []
    for path, parser in subparsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing += [f"{' '.join(path)} {a.dest}" for a in action._choices_actions
                            if not a.help]
            elif not action.help:
                missing.append(f"opsconsole {' '.join(path)} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_registers_and_completes(tmp_path):
    script = tmp_path / "c.bash"
    script.write_text(completion_script("bash"))
    got = subprocess.run(["bash", "-c", f"source {script}; complete -p opsconsole; "
                          "COMP_WORDS=(opsconsole incident s); COMP_CWORD=2; "
                          "_shtab_opsconsole; echo \"${COMPREPLY[@]}\""],
                         capture_output=True, text=True, timeout=30)
    assert got.returncode == 0, got.stderr
    lines = got.stdout.splitlines()
    assert lines[0].startswith("complete ") and lines[0].endswith(" opsconsole")
    assert set(lines[1].split()) >= {"show", "severity", "status"}


def test_zsh_completion_names_the_commands():
    script = completion_script("zsh")
    assert script.startswith("#compdef opsconsole")
    for word in ("incident", "runbook", "--dsn-file", "--data-dir", "completion"):
        assert word in script
    if shutil.which("zsh"):
        got = subprocess.run(["zsh", "-n", "-c", script], capture_output=True, text=True)
        assert got.returncode == 0, got.stderr


def test_shipped_man_page_is_the_parser_s():
    shipped = (REPO / "man" / "opsconsole.1").read_text()
    assert shipped == manpage(), "regenerate: opsconsole manpage > man/opsconsole.1"
    assert "\\fB\\-\\-dsn\\-file\\fR" in shipped and ".SS opsconsole incident show" in shipped
    if shutil.which("man"):
        got = subprocess.run(["man", "-l", str(REPO / "man" / "opsconsole.1")],
                             capture_output=True, text=True, env={"MANWIDTH": "100",
                                                                  "PATH": "/usr/bin:/bin"})
        assert "opsconsole incident declare" in got.stdout and "--title" in got.stdout


def test_the_command_table_is_what_the_modules_register():
    from opsconsole.cli.main import COMMANDS, MODULES

    def names(parser: argparse.ArgumentParser) -> list[str]:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return list(sub.choices)

    assert names(build_parser()) == list(COMMANDS)
    for module in MODULES:
        assert names(build_parser((module,))) == [c for c, m in COMMANDS.items() if m == module]


# argument lists: good ones, and every kind the probe parser leaves to the whole parser
ARGVS = [
    [], ["--theme", "opsconsole-light", "--refresh", "500ms"], ["check"],
    ["check", "--json", "--only", "a", "--config", "c.yaml"], ["--config", "c.yaml", "check"],
    ["--data-dir", "d", "incident", "note", "INC-1", "text"], ["incident", "list", "--all"],
    ["watch", "--interval", "3"], ["silence", "list"], ["manpage"], ["runbook", "list"],
    ["--help"], ["-h", "check"], ["check", "--help"], ["incident", "-h"], ["--version"],
    ["--vers"], ["--he"], ["chekc"], ["check", "--bogus"], ["--bogus", "check"],
    ["--refresh", "0", "check"], ["--refresh"], ["incident"], ["incident", "status"],
    ["--dsn", "x", "--dsn-file", "y"], ["check", "--"], ["--", "check"], ["stray"],
]


def _same(value: object) -> object:
    """A value, or for a function (the subcommands' ``run``, some made per parser by a
    closure) its name and what its closure holds."""
    if callable(value):
        cells = tuple(c.cell_contents for c in getattr(value, "__closure__", None) or ())
        return (value.__module__, value.__qualname__, repr(cells))
    return value


def _outcome(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[object, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            result: object = sorted((k, _same(v)) for k, v in vars(parser.parse_args(argv)).items())
        except SystemExit as exc:
            result = ("exit", exc.code)
    return result, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("argv", ARGVS, ids=" ".join)
def test_the_parser_for_a_command_answers_as_the_whole_parser(argv, monkeypatch):
    """``parser_for`` builds one subcommand's parser (or none): the same namespace, or the
    same help, version, error message and exit status as the whole parser."""
    from opsconsole.cli.main import parser_for

    monkeypatch.setenv("COLUMNS", "100")
    assert _outcome(parser_for(argv), argv) == _outcome(build_parser(), argv)
