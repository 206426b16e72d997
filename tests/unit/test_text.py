"""Hostile text is neutralised for every target: terminal, one line, Rich, Textual, Markdown."""

from __future__ import annotations

import random
import re

import pytest
from rich.text import Text

from opsconsole import fmt
from opsconsole.text import (
    for_markdown,
    for_markdown_block,
    for_rich,
    for_terminal,
    for_textual,
    one_line,
)
from opsconsole.ui.safe import rich_text

HOSTILE = [
    "\x1b]0;PWN\x07",                     # OSC 0: window title
    "\x1b]52;c;ZWNobyBwd25lZA==\x07",     # OSC 52: write the clipboard
    "\x1b[2J\x1b[H",                      # CSI 2J: clear the screen
    "\x9b2J",                             # C1 CSI
    "\x9d0;x\x9c",                        # C1 OSC … ST
    "all good\rALL BAD ",                 # CR overwrites the line
    "abc\u202edcba",                      # bidi override
    "\u2066iso\u2069 \u200bzw \ufeffbom",  # isolates, zero-width, BOM
    "nul\x00byte\x7fdel",
    "title\n# Injected",
    "a|b",
    "[bold red]x[/]",
    "^[0-9]+[KMG]$",
    "[@click=app.quit]click me[/]",
    "tab\there\r\nwin",
    "\udc9b2J",                           # surrogateescape'd C1 CSI byte
    "tag\U000e0041\U000e0042smuggle",
]

# What must never reach the screen (kept \t and \n aside).
BAD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b\u200e\u200f"
                 "\u2028\u2029\ufeff\ud800-\udfff\U000e0000-\U000e007f]")
BAD_ANY = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _clean(out: str, *, allow_nl_tab: bool = False) -> None:
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out and "\x9d" not in out
    assert not (BAD if allow_nl_tab else BAD_ANY).search(out), repr(out)


@pytest.mark.parametrize("s", HOSTILE)
def test_every_target_neutralises_the_corpus(s):
    _clean(for_terminal(s))
    _clean(for_terminal(s, keep_newlines=True, keep_tabs=True), allow_nl_tab=True)
    _clean(one_line(s))
    _clean(one_line(s, 8))
    _clean(for_rich(s))
    _clean(for_textual(s))
    _clean(rich_text(s).plain)
    _clean(for_markdown(s))
    _clean(for_markdown_block(s)[1], allow_nl_tab=True)
    _clean(fmt.one_line(s, 20))
    assert "\n" not in one_line(s) and "\t" not in one_line(s) and "\n" not in for_markdown(s)


def test_visible_forms():
    assert for_terminal("\x1b]0;PWN\x07") == "␛]0;PWN␇"
    assert for_terminal("\x00\x7f\r") == "␀␡␍"
    assert for_terminal("\x9b2J") == "<U+009B>2J"
    assert for_terminal("\x9d0;x\x9c") == "<U+009D>0;x<U+009C>"
    assert for_terminal("ab\u202ec") == "ab<U+202E>c"
    assert for_terminal("a\nb\tc") == "a␊b␉c"
    assert for_terminal("a\nb\tc", keep_newlines=True, keep_tabs=True) == "a\nb\tc"
    assert for_terminal("a\r\nb", keep_newlines=True) == "a\nb"  # CRLF is one newline
    assert for_terminal("a\rb", keep_newlines=True) == "a␍b"     # a lone CR still shows
    assert for_terminal("\udc9b") == "<U+DC9B>"
    # ordinary text, accents, CJK, emoji with ZWJ pass untouched
    ok = "héllo 日本語 👩\u200d💻 [x] | # <b>"
    assert for_terminal(ok) == ok


def test_one_line_folds_and_cuts_in_cells():
    assert one_line("  a\n\n\tb  c\n") == "a b  c"
    assert one_line("abcdef", 4) == "abc…"
    assert one_line("abcd", 4) == "abcd"
    assert one_line("日本語日本語", 5) == "日本…"  # 2+2 cells + the ellipsis
    assert one_line("x", 0) == ""
    assert one_line("\x1b[2J", None) == "␛[2J"
    # fmt.one_line keeps its signature and now routes through opsconsole.text
    assert fmt.one_line("a\nb\x1b]0;x\x07", 80) == "a b␛]0;x␇"
    assert fmt.one_line("abcdef", 4) == "abc…"


@pytest.mark.parametrize("s", HOSTILE + ["a\\[bold]x", "x\\\\[0-9]", "[$var]", "[B]x", "[[bold]]"])
def test_markup_renders_literally(s):
    from textual.markup import to_content

    visible = for_terminal(s)
    assert Text.from_markup(for_rich(s), emoji=False).plain == visible
    assert Text.from_markup(for_rich(s) + "[bold]z[/bold]", emoji=False).plain == visible + "z"
    assert to_content(for_textual(s) + "[bold]z[/bold]").plain == visible + "z"
    assert rich_text(s, "red").plain == visible and rich_text(s, "red").spans == []


def test_rich_pattern_and_tags_are_literal():
    assert Text.from_markup(for_rich("^[0-9]+[KMG]$")).plain == "^[0-9]+[KMG]$"
    t = Text.from_markup(for_rich("[bold red]x[/]"))
    assert t.plain == "[bold red]x[/]" and not t.spans
    # a trailing backslash cannot swallow the tag that follows
    t = Text.from_markup(for_rich("C:\\") + "[b]x[/b]")
    assert t.plain == "C:\\x" and [(sp.start, sp.end) for sp in t.spans] == [(3, 4)]
    assert for_textual("a\\") == "a\u29f5"


def test_markdown_cell_and_heading():
    assert for_markdown("title\n# Injected") == "title # Injected"
    assert for_markdown("# Injected") == "\\# Injected"
    assert for_markdown("a|b") == "a\\|b"
    assert for_markdown("a\\|b") == "a\\\\\\|b"  # a backslash cannot un-escape the pipe
    assert for_markdown("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert for_markdown("> quote") == "&gt; quote"
    for lead in "-+=~":
        assert for_markdown(lead + " item").startswith("\\" + lead)
    assert for_markdown("1. item") == "1\\. item"
    assert for_markdown("`code` [link](http://x)") == "\\`code\\` \\[link\\](http://x)"


def test_markdown_block_fence_outgrows_backticks():
    fence, body = for_markdown_block("line1\n```\ninside ````` run\n\x1b[2J")
    assert fence == "``````" and body == "line1\n```\ninside ````` run\n␛[2J"
    assert for_markdown_block("plain")[0] == "```"


def test_deterministic_fuzz_invariants():
    rng = random.Random(10)
    alphabet = ("\x00\x07\x08\t\n\x0b\x0c\r\x1b\x7f\x80\x85\x9b\x9c\x9d\x9f\u00ad\u200b\u200e"
                "\u202a\u202e\u2066\u2069\u2028\ufeff\udc9b\U000e0041[]\\/@#$=:|`<>&*-+ "
                "abcKMG09日é")
    for _ in range(3000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        visible = for_terminal(s)
        _clean(visible)
        _clean(for_terminal(s, keep_newlines=True, keep_tabs=True), allow_nl_tab=True)
        line = one_line(s, rng.randint(1, 30))
        _clean(line)
        assert "\n" not in line and "\t" not in line
        _clean(for_markdown(s))
        assert "\n" not in for_markdown(s)
        fence, body = for_markdown_block(s)
        assert fence not in body
        rich = for_rich(s)
        _clean(rich)
        assert Text.from_markup(rich + "[b]z[/b]", emoji=False).plain == visible + "z"
        if not visible.endswith("\\"):
            assert Text.from_markup(rich, emoji=False).plain == visible


def test_textual_fuzz():
    from textual.markup import to_content

    rng = random.Random(11)
    alphabet = "[]\\/@#$=:ab \x1b\x9b"
    for _ in range(1000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        out = for_textual(s)
        _clean(out)
        assert to_content(out + "[b]z[/b]").plain == for_terminal(s).removesuffix("\\") + (
            "\u29f5" if for_terminal(s).endswith("\\") else "") + "z"


def test_large_inputs_are_linear():
    # 1 MB of mixed hostile text: one translate pass per function (no timing assertion;
    # quadratic code would take minutes here).
    big = ("\x1b]52;c;AAAA\x07[bold]\\" * 40000)[: 1 << 20]
    assert "\x1b" not in for_terminal(big)
    assert len(one_line(big, 100)) <= 100
    assert "\x1b" not in for_rich(big) and "\x1b" not in for_textual(big)
    assert "\x1b" not in for_markdown(big)
    for_rich("\\" * 200_000 + "[" * 200_000)  # rich.markup.escape's regex is quadratic here
    for_rich("[a" * 200_000)
