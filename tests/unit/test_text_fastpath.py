"""for_terminal / one_line's printable fast path (issue 13: the big export translated every
plain sentence) returns exactly what the translation does: on every code point, alone and in
context, and on thousands of generated strings (the translation kept here as the oracle)."""

from __future__ import annotations

import random
import sys

from opsconsole import text as t


def old_for_terminal(s: str, *, keep_newlines: bool = False, keep_tabs: bool = False) -> str:
    """for_terminal as it was: always the translation (the oracle)."""
    if not isinstance(s, str):
        s = str(s)
    if keep_newlines:
        if "\r\n" in s:
            s = s.replace("\r\n", "\n")
        return s.translate(t._TABLE_KEEP_BOTH if keep_tabs else t._TABLE_KEEP_NL)
    return s.translate(t._TABLE_KEEP_TAB if keep_tabs else t._TABLE)


def old_one_line(s: str, width: int | None = None) -> str:
    s = t._FOLD.sub(" ", old_for_terminal(s, keep_newlines=True, keep_tabs=True)).strip()
    return s if width is None else t._cut(s, width)


FLAGS = [{}, {"keep_newlines": True}, {"keep_tabs": True},
         {"keep_newlines": True, "keep_tabs": True}]


def test_the_fast_path_is_on_and_no_rewritten_character_is_printable():
    assert t._PRINTABLE_IS_SAFE
    assert not [cp for cp in t._TABLE if chr(cp).isprintable()]


def test_every_code_point_gives_what_the_translation_gives():
    for cp in range(sys.maxunicode + 1):
        s = f" a{chr(cp)}b "
        assert t.for_terminal(s) == old_for_terminal(s), hex(cp)
        assert t.one_line(s) == old_one_line(s), hex(cp)


PIECES = ["plain", " ", "  ", "é", "日本", "→", "“q”", "\t", "\n", "\r\n", "\r", "\x1b[2J",
          "\x7f", "\x85", "\x9b", "\u202e", "\u200b", "\u00a0", "\u2028", "\udc9b",
          "\U000e0041", "\u00ad", "\ufeff", "\u200d", "e\u0301", "😀", "\x00", "[b]", "|"]


def test_generated_strings_give_what_the_translation_gives():
    rng = random.Random(13)
    for _ in range(20_000):
        s = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 10)))
        for flags in FLAGS:
            assert t.for_terminal(s, **flags) == old_for_terminal(s, **flags), (repr(s), flags)
        width = rng.choice([None, 1, 5, 20])
        assert t.one_line(s, width) == old_one_line(s, width), repr(s)
    assert t.for_terminal(42) == "42"
