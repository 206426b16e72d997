"""Where each ``{{ name }}`` sits in a shell command, by POSIX ``sh`` quoting rules.

A parameter never becomes shell code: it reaches the command as an environment variable,
and the placeholder is replaced by a reference to it that is safe where it stands:

* unquoted (also inside ``$( … )`` and ``( … )``, whose bodies are parsed afresh):
  ``"${OPSCONSOLE_P_NAME}"`` — one word, no field splitting, no globbing;
* inside the command's own ``"…"``: ``${OPSCONSOLE_P_NAME}`` — the result of a parameter
  expansion inside double quotes is not scanned again for ``$( )``, backticks or quotes
  (POSIX 2.6.2/2.6.3 apply once, to the command text), so a value like ``$(touch x)``
  stays text;
* in the body of a here-document with an unquoted delimiter: ``${OPSCONSOLE_P_NAME}`` (the
  body is expanded like double-quoted text);
* inside ``$(( … ))``: ``${OPSCONSOLE_P_NAME}`` for ``int`` parameters only (the model checks
  that): bash evaluates a variable's text as an expression again (``a[$(cmd)]`` runs).

Everywhere else no reference can be made safe, and the runbook is refused when it is
validated: inside single quotes (nothing expands there), inside backticks (their body is
unescaped and parsed again), inside ``${ … }`` and in a here-document whose delimiter is
quoted. Never imports Textual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# {{{{ writes a literal {{ ; {{ name }} is a parameter when name is declared
TEMPLATE = re.compile(r"\{\{\{\{|\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

UNQUOTED, DQUOTE, HEREDOC, ARITH = "unquoted", "double quotes", "here-document", "arithmetic"
REFUSED = {
    "sq": "inside single quotes cannot be substituted safely; close the quote",
    "bq": "inside backticks cannot be substituted safely; use $( … ) instead",
    "brace": "inside ${ … } cannot be substituted safely; assign it to a variable first",
    "qheredoc": "inside a here-document with a quoted delimiter cannot be substituted; "
                "unquote the delimiter",
}
_WORD_START = set(" \t\n;&|()<>")


@dataclass(frozen=True)
class Token:
    """One ``{{{{`` or ``{{ name }}`` in a shell command, and the context it sits in: one of
    :data:`UNQUOTED`, :data:`DQUOTE`, :data:`HEREDOC`, :data:`ARITH` or a key of
    :data:`REFUSED`."""

    start: int
    end: int
    name: str | None  # None for the {{{{ escape
    context: str


def scan(text: str) -> list[Token]:
    """Every template token of ``text`` with its shell context."""
    tokens: list[Token] = []
    stack = ["top"]  # top, sq, dq, bq, cmd, paren, arith, aparen, brace
    heredocs: list[tuple[str, bool, bool]] = []  # (delimiter, quoted, strip tabs)
    i, n = 0, len(text)

    def context() -> str:
        top = stack[-1]
        if top in ("top", "cmd", "paren"):
            return UNQUOTED
        if top == "dq":
            return DQUOTE
        if top in ("arith", "aparen"):
            return ARITH
        return top

    while i < n:
        m = TEMPLATE.match(text, i)
        if m:
            tokens.append(Token(m.start(), m.end(), m.group(1), context()))
            i = m.end()
            continue
        c = text[i]
        top = stack[-1]
        if top == "sq":
            if c == "'":
                stack.pop()
            i += 1
            continue
        if c == "\\":
            # an escaped character is literal; never swallow the start of a placeholder
            i += 1 if TEMPLATE.match(text, i + 1) else 2
            continue
        if top == "bq":
            if c == "`":
                stack.pop()
            i += 1
            continue
        if c == "`":
            stack.append("bq")
            i += 1
            continue
        if text.startswith("$((", i):
            stack.append("arith")
            i += 3
            continue
        if text.startswith("$(", i):
            stack.append("cmd")
            i += 2
            continue
        if text.startswith("${", i):
            stack.append("brace")
            i += 2
            continue
        if top == "dq":
            if c == '"':
                stack.pop()
            i += 1
            continue
        if top in ("arith", "aparen"):
            if c == "(":
                stack.append("aparen")
            elif c == ")" and top == "aparen":
                stack.pop()
            elif text.startswith("))", i) and top == "arith":
                stack.pop()
                i += 1
            i += 1
            continue
        # unquoted-like: top, cmd, paren, brace
        if c == "'":
            stack.append("sq")
        elif c == '"':
            stack.append("dq")
        elif c == "}" and top == "brace":
            stack.pop()
        elif c == "(" and top != "brace":
            stack.append("paren")
        elif c == ")" and top in ("cmd", "paren"):
            stack.pop()
        elif c == "#" and top != "brace" and (i == 0 or text[i - 1] in _WORD_START):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        elif text.startswith("<<", i) and top != "brace" and not text.startswith("<<<", i):
            i, doc = _heredoc_operator(text, i)
            if doc is not None:
                heredocs.append(doc)
            continue
        elif c == "\n" and heredocs:
            i = _heredoc_bodies(text, i + 1, heredocs, tokens)
            heredocs = []
            continue
        i += 1
    return tokens


def _heredoc_operator(text: str, i: int) -> tuple[int, tuple[str, bool, bool] | None]:
    """Parse ``<<[-] WORD`` at ``i``: the index after it and (delimiter, quoted, strip)."""
    i += 2
    strip = text.startswith("-", i)
    if strip:
        i += 1
    while i < len(text) and text[i] in " \t":
        i += 1
    m = re.match(r"""(?:'[^']*'|"[^"]*"|\\.|[^\s;&|()<>])+""", text[i:])
    if not m:
        return i, None
    word = m.group(0)
    quoted = any(q in word for q in "'\"\\")
    delim = re.sub(r"""['"\\]""", "", word)
    return i + len(word), (delim, quoted, strip)


def _heredoc_bodies(text: str, i: int, docs: list[tuple[str, bool, bool]],
                    tokens: list[Token]) -> int:
    """Read the bodies of ``docs`` from ``i`` (the line after the operator), recording
    their tokens; the index after the last delimiter line."""
    for delim, quoted, strip in docs:
        while i < len(text):
            nl = text.find("\n", i)
            end = len(text) if nl < 0 else nl
            line = text[i:end]
            if (line.lstrip("\t") if strip else line) == delim:
                i = end + 1
                break
            for m in TEMPLATE.finditer(line):
                tokens.append(Token(i + m.start(), i + m.end(), m.group(1),
                                    "qheredoc" if quoted else HEREDOC))
            i = end + 1
    return i


def env_name(name: str) -> str:
    """The environment variable that carries parameter ``name`` to a step."""
    return "OPSCONSOLE_P_" + name.upper()


def reference(name: str, context: str) -> str:
    """The shell text that expands to parameter ``name`` safely in ``context``."""
    ref = "${" + env_name(name) + "}"
    return f'"{ref}"' if context == UNQUOTED else ref
