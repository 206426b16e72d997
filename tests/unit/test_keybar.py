"""The footer line: the keys that matter first, as many as fit, then `? more`."""

from __future__ import annotations

from opsconsole.ui.widgets.keybar import Key, fit_keys, order_keys

KEYS = [Key("c", "cancel"), Key("K", "terminate"), Key("i", "incident"), Key("n", "note"),
        Key("r", "runbooks"), Key("t", "timeline"), Key("q", "quit"), Key("z", "zoom")]


def test_everything_fits_ends_with_help():
    assert fit_keys(KEYS, 200).plain == (" c cancel  K terminate  i incident  n note  r runbooks"
                                         "  t timeline  q quit  z zoom  ? help")


def test_too_narrow_keeps_the_first_keys_and_says_more():
    line = fit_keys(KEYS, 62).plain
    assert line == " c cancel  K terminate  i incident  n note  r runbooks  ? more"
    assert len(line) <= 62
    assert fit_keys(KEYS, 61).plain == " c cancel  K terminate  i incident  n note  ? more"
    assert fit_keys(KEYS, 8).plain == " ? more"


def test_order_is_group_then_rank_then_declaration():
    entries = [(1, 5, Key("q", "quit")), (1, 1, Key("n", "note")), (0, 5, Key("c", "cancel")),
               (2, 5, Key("^", "up")), (1, 1, Key("r", "runbooks")), (0, -1, Key("esc", "back"))]
    assert [k.key for k in order_keys(entries)] == ["esc", "c", "n", "r", "q", "^"]
