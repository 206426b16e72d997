"""Mask literals in SQL text for shared screens (``--redact-queries``). Never imports Textual.

Strings (``'…'``, ``E'…'``, dollar-quoted), numbers and booleans are replaced with ``?``;
identifiers, keywords and ``$1`` parameters stay, so the shape of the query is still readable.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""
    (?P<dq>"(?:[^"]|"")*")                             # quoted identifier: keep
  | (?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$(?P=tag)?\$)  # $$…$$ / $x$…$x$
  | (?P<param>\$\d+)                                   # $1: keep
  | (?P<str>[EeBbXxNn]?'(?:[^'\\]|''|\\.)*'?)          # string literal (unterminated too)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_$]*)                 # identifier/keyword: keep
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)      # number
    """,
    re.VERBOSE,
)


def redact_sql(text: str) -> str:
    """``select * from t where a = 'x' and b = 42`` → ``… where a = ? and b = ?``."""

    def repl(m: re.Match[str]) -> str:
        if m.group("dollar") or m.group("str") or m.group("num"):
            return "?"
        return m.group(0)

    return _TOKEN.sub(repl, text)


_PLAN_EXPR = re.compile(r"^(\s*(?:->\s*)?)?(.*?\b(?:Cond|Filter|Key|Output|One-Time Filter)\b:)(.*)$")


def redact_plan(plan: str) -> str:
    """An EXPLAIN plan fit for a shared screen: literals in conditions, filters, keys and
    outputs are masked; costs and row estimates stay."""
    out = []
    for line in plan.splitlines():
        m = _PLAN_EXPR.match(line)
        if m:
            line = (m.group(1) or "") + m.group(2) + redact_sql(m.group(3))
        out.append(line)
    return "\n".join(out)
