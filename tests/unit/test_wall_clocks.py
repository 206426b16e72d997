"""The wall's clocks: a deadline drawn to the second only while under ten minutes away
(when seconds matter), every other clock to the minute, and redrawn only when what they show changes — each second
a wall changes costs every browser viewer a share of a core (bench/bench_serve.py)."""

from __future__ import annotations

import pytest

from opsconsole.ui.wall.wall_model import (
    clock_text,
    clock_unit,
    countdown_text,
    elapsed,
    redraw_in,
)


@pytest.mark.parametrize(("seconds", "text", "unit"), [
    (0, "0:00", "m:ss"), (59.9, "0:59", "m:ss"), (61, "1:01", "m:ss"),
    (599.5, "9:59", "m:ss"), (600, "0:10", "h:mm"), (3599, "0:59", "h:mm"),
    (3600 + 125, "1:02", "h:mm"), (26 * 3600 + 3 * 60 + 59, "26:03", "h:mm"),
])
def test_a_countdown_to_the_second_under_ten_minutes(seconds, text, unit):
    assert clock_text(seconds, countdown=True) == text
    assert clock_unit(seconds, countdown=True) == unit


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0:00"), (61, "0:01"), (599.5, "0:09"), (3600 + 125, "1:02"),
])
def test_other_clocks_to_the_minute(seconds, text):
    assert clock_text(seconds) == text
    assert clock_unit(seconds) == "h:mm"


def test_deadlines_in_words_to_the_second_under_ten_minutes_ages_to_the_minute():
    assert countdown_text(250) == "4m10s"
    assert countdown_text(600) == "10m"
    assert elapsed(30) == "<1m"
    assert elapsed(192) == "3m"
    assert elapsed(7500) == "2h05m"


NOW = 1_800_000_030.25  # 30.25 s past a minute


def test_nothing_under_ten_minutes_waits_for_the_next_minute_of_a_clock():
    # a clock started 2 h 0 min 10 s ago, to the minute: it turns in 49.98 s; the small
    # print's HH:MM in 29.75 s: the earlier wins
    assert redraw_in([(NOW - 7210.0, True)], NOW) == pytest.approx(29.75 + 0.02)
    # started 2 h 0 min 50 s ago: its next minute comes first
    assert redraw_in([(NOW - 7250.0, True)], NOW) == pytest.approx(10.0 + 0.02)


def test_a_clock_under_ten_minutes_ticks_each_second():
    # 3 min 12.5 s into a step: the shown 3m12s turns in 0.5 s
    assert redraw_in([(NOW - 7210.0, True), (NOW - 192.5, True)], NOW) == pytest.approx(0.52)


def test_a_countdown_turns_when_what_is_left_crosses_a_whole_second_or_minute():
    # 4 min 10.4 s left (to the second): 4:10 turns 4:09 in 0.4 s
    assert redraw_in([(NOW + 250.4, True)], NOW) == pytest.approx(0.42)
    # 1 h 2 min 5.4 s left (to the minute): 1:02 turns 1:01 in 5.4 s
    assert redraw_in([(NOW + 3725.4, True)], NOW) == pytest.approx(5.42)


def test_an_age_that_may_not_tick_waits_for_its_minute_even_when_young():
    # the other incidents' "since 3m": to the minute whatever its age (3 min 50 s: in 10 s)
    assert redraw_in([(NOW - 230.0, False)], NOW) == pytest.approx(10.0 + 0.02)
