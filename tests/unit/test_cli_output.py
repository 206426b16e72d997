"""The writer in front of the subcommands' stdout/stderr."""

from __future__ import annotations

import io
import json
import sys

import pytest

from opsconsole.cli.output import NeutralisingWriter, neutralised_stdio


def test_controls_are_shown_newlines_and_tabs_kept():
    raw = io.StringIO()
    w = NeutralisingWriter(raw)
    n = w.write("a\x1b]52;c;aGk=\x07\tb\x9b2J\r\nc\n")
    assert n == len("a\x1b]52;c;aGk=\x07\tb\x9b2J\r\nc\n")  # what the caller wrote
    assert raw.getvalue() == "a␛]52;c;aGk=␇\tb<U+009B>2J\nc\n"


def test_json_stays_valid_and_exact():
    raw = io.StringIO()
    doc = {"service": "\x1b]0;PWN\x07", "c1": "\x9b"}
    NeutralisingWriter(raw).write(json.dumps(doc, ensure_ascii=False) + "\n")
    assert json.loads(raw.getvalue())["service"] == "\x1b]0;PWN\x07"  # escaped by json.dumps
    assert "\x1b" not in raw.getvalue() and "\x9b" not in raw.getvalue()


def test_stdio_is_wrapped_inside_and_restored_after(capsys):
    before = sys.stdout
    with neutralised_stdio():
        print("x\x1b[2Jy")
        print("e\x07", file=sys.stderr)
        with pytest.raises(AttributeError):
            sys.stdout.buffer  # noqa: B018 - bytes there would bypass the writer
    assert sys.stdout is before
    out = capsys.readouterr()
    assert out.out == "x␛[2Jy\n" and out.err == "e␇\n"
