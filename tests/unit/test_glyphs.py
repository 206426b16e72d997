"""The glyph table: when the console draws ASCII only, and what it draws then."""

from __future__ import annotations

import pytest

from opsconsole.ui import glyphs


@pytest.mark.parametrize("env, utf8_mode, ascii_only", [
    ({"TERM": "xterm-256color", "LANG": "en_US.UTF-8"}, False, False),
    ({"TERM": "linux", "LANG": "en_US.UTF-8"}, False, True),
    ({"TERM": "dumb", "LANG": "C.UTF-8"}, False, True),
    ({"TERM": "xterm", "LANG": "C"}, False, True),
    ({"TERM": "xterm", "LANG": "C", "LC_CTYPE": "C.UTF-8"}, True, True),  # PEP 538 coercion
    ({"TERM": "xterm", "LC_CTYPE": "C.UTF-8"}, False, False),  # the user's own choice
    ({"TERM": "xterm", "LANG": "en_US.UTF-8", "LC_ALL": "POSIX"}, False, True),
    ({"TERM": "xterm", "LC_ALL": "de_DE.utf8"}, False, False),
    ({"TERM": "xterm"}, False, True),  # no locale at all: C
])
def test_wants_ascii(env, utf8_mode, ascii_only):
    assert glyphs.wants_ascii(env, utf8_mode) is ascii_only


def test_ascii_mode_draws_fallbacks_and_cells_keep_their_width():
    glyphs.configure(True)
    try:
        assert glyphs.g("●") == "*"
        assert glyphs.spark_chars() == "_.-=+*#@"
        assert glyphs.cells_to_ascii("╭─ ▶ a…") == "+- > a."
        assert glyphs.cells_to_ascii("漢x") == "??x"  # a wide cell stays two cells
    finally:
        glyphs.configure(False)
    assert glyphs.g("●") == "●"


def test_what_the_panes_write_themselves_has_a_real_fallback():
    """Summaries and sentences carry ≥, quotes and the recovered mark: they read as ASCII,
    not as question marks."""
    assert glyphs.cells_to_ascii("7 sessions ≥500ms") == "7 sessions >500ms"
    assert glyphs.cells_to_ascii("Declared “orders locked” ↺") == 'Declared "orders locked" @'
    assert glyphs.to_ascii("≥ 1s") == ">= 1s"
