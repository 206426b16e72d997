"""The memo behind the panes' cells gives exactly what the uncached path gives (hostile text,
redaction on and off, widths), stays bounded, and never serves one row's text for another."""

from __future__ import annotations

import random

from opsconsole.fmt import one_line
from opsconsole.postgres import view
from opsconsole.postgres.redact import redact_sql

PIECES = ["select * from t where id = 42", "\x1b]52;c;aGk=\x07", "'secret'", "\u202e", "\n\t",
          "名前", "e\u0301", "$1", "-- x", "é" * 30, " ", "\x00", "\r\n", "\x9b2J"]


def text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 12)))


def test_memo_equals_the_uncached_cells():
    rng = random.Random(13)
    view._MEMO.clear()
    for _ in range(3000):
        s = text(rng) if rng.random() < 0.7 else rng.choice(PIECES)
        redact = rng.random() < 0.5
        width = rng.choice([None, 12, 16, 40, 200, 400])
        want = one_line(redact_sql(s) if redact else s, width)
        assert view.query_text(s, redact, width) == want
        assert view._line(s, width, redact) == want  # and again, from the memo
    assert 0 < len(view._MEMO) <= view._MEMO_MAX


def test_memo_stays_bounded():
    view._MEMO.clear()
    for i in range(view._MEMO_MAX * 2 + 5):
        assert view.query_text(f"select {i}", True, 50) == "select ?"
    assert len(view._MEMO) <= view._MEMO_MAX
