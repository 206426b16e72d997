"""The alert condition language: parsed into a tree, never ``eval``'d. Never imports Textual.

Grammar (whitespace between tokens is free; keywords and state names are case-sensitive)::

    expr       := or
    or         := and ( "or" and )*
    and        := not ( "and" not )*
    not        := "not" not | primary
    primary    := "(" expr ")" | comparison
    comparison := operand OP operand            OP: > >= < <= == !=
    operand    := number [ "%" ] | duration | STATE | signal | call
    call       := FUNC "(" signal "," duration ")"
    FUNC       := avg | min | max | rate | pNN  (NN = 1..99: p50, p95, p99)
    signal     := NAME ( "." NAME | "[" index "]" )+
    index      := "quoted string" | 'quoted string' | integer
    NAME       := [A-Za-z_][A-Za-z0-9_-]*      (check names with other characters: check["my api"])
    duration   := number unit, unit one of ms s m h d w (30s, 5m, 1h, 3d, 1h30m)
    STATE      := OK | WARNING | CRITICAL | UNKNOWN

Signals are typed (see :mod:`opsconsole.alerts.signals`): a *state* signal compares with a
STATE by ``==``/``!=`` only; a *seconds* signal (ages, latency) compares with a duration or
a number of seconds; ``80%`` is allowed only against a percentage signal. A window function
takes a numeric signal and a duration; ``rate`` is per second. One comparison per operand pair
(no ``a < b < c``). Every error carries the 0-based ``offset`` of the token at fault.

A condition evaluates to True, False or :data:`~opsconsole.alerts.signals.NO_DATA`
(three-valued logic: ``False and NO_DATA`` is False, ``True or NO_DATA`` is True, anything
else with NO_DATA is NO_DATA).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opsconsole.alerts.signals import RefError, SignalType, resolve_ref
from opsconsole.alerts.tree import (  # noqa: F401 - re-exported: the tree's names
    BoolOp,
    Call,
    Compare,
    Condition,
    Expr,
    Not,
    Number,
    Operand,
    Signal,
    StateConst,
    evaluate,
)
from opsconsole.units import Duration, Invalid, _short

STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
OPERATORS = (">=", "<=", "==", "!=", ">", "<")
FUNCTIONS = ("avg", "min", "max", "rate", "pNN")
MAX_EXPR = 2000  # characters; a condition longer than this is a mistake or an attack
MAX_DEPTH = 32  # nesting of parentheses / not


class ExprError(Invalid):
    """A condition that does not parse; ``offset`` is the 0-based position in the text."""

    def __init__(self, message: str, offset: int, text: str = "") -> None:
        super().__init__(message)
        self.offset = offset
        self.text = text

    @property
    def column(self) -> int:
        """1-based column inside the expression."""
        return self.offset + 1

    def pointer(self) -> str:
        """The expression with a caret under the fault (for a terminal)."""
        return f"{self.text}\n{' ' * self.offset}^"


# --------------------------------------------------------------------------- tokens

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<dur>\d+(?:\.\d+)?(?:ms|s|m|h|d|w)(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))*)(?![A-Za-z0-9_.])
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![A-Za-z0-9_.])
  | (?P<op>>=|<=|==|!=|>|<|=)
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<str>"[^"\\\x00-\x1f\x7f]*"|'[^'\\\x00-\x1f\x7f]*')
  | (?P<punct>[()\[\].,%])
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str  # dur num op name str punct end
    text: str
    offset: int


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            if ch in "\"'":
                raise ExprError("unterminated string (backslashes and control characters are "
                                "not allowed in names)", pos, text)
            if re.match(r"\d+(?:\.\d+)?[A-Za-z]", text[pos:]):
                word = re.match(r"[\w.]+", text[pos:])
                raise ExprError(f"not a duration: {_short(word.group(0) if word else ch)} "
                                "(expected a number and a unit: ms, s, m, h, d or w)", pos, text)
            hint = {"&": " (write and)", "|": " (write or)", "!": " (write not, or !=)"}.get(ch, "")
            raise ExprError(f"unexpected character {ch!r}{hint}", pos, text)
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(Token(kind, m.group(0), pos))
        pos = m.end()
    out.append(Token("end", "", len(text)))
    return out


# --------------------------------------------------------------------------- parser

_FUNC_RE = re.compile(r"^(avg|min|max|rate|p([1-9]\d?))$")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def fail(self, message: str, tok: Token | int) -> ExprError:
        offset = tok if isinstance(tok, int) else tok.offset
        return ExprError(message, offset, self.text)

    def expect(self, text: str, what: str) -> Token:
        t = self.peek()
        if t.text != text or t.kind in ("str",):
            raise self.fail(f"expected {what}, got {self._got(t)}", t)
        return self.take()

    @staticmethod
    def _got(t: Token) -> str:
        return "the end of the expression" if t.kind == "end" else repr(t.text)

    def parse(self) -> Expr:
        if not self.text.strip():
            raise self.fail("empty condition (expected e.g. host.cpu > 80)", 0)
        e = self.parse_or()
        t = self.peek()
        if t.kind != "end":
            raise self.fail(f"unexpected {self._got(t)} (expected and, or, or the end)", t)
        return e

    def nest(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested too deeply (the limit is {MAX_DEPTH})", tok)

    def parse_or(self) -> Expr:
        first = self.peek()
        items = [self.parse_and()]
        while self.peek().kind == "name" and self.peek().text == "or":
            self.take()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else BoolOp(first.offset, "or", tuple(items))

    def parse_and(self) -> Expr:
        first = self.peek()
        items = [self.parse_not()]
        while self.peek().kind == "name" and self.peek().text == "and":
            self.take()
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else BoolOp(first.offset, "and", tuple(items))

    def parse_not(self) -> Expr:
        t = self.peek()
        if t.kind == "name" and t.text == "not":
            self.take()
            self.nest(t)
            item = self.parse_not()
            self.depth -= 1
            return Not(t.offset, item)
        return self.parse_primary()

    def parse_primary(self) -> Expr:
        t = self.peek()
        if t.kind == "punct" and t.text == "(":
            self.take()
            self.nest(t)
            e = self.parse_or()
            self.depth -= 1
            close = self.peek()
            if close.text != ")":
                raise self.fail(f"expected ')' to close the '(' at column {t.offset + 1}, "
                                f"got {self._got(close)}", close)
            self.take()
            return e
        return self.parse_comparison()

    def parse_comparison(self) -> Compare:
        left = self.parse_operand()
        op = self.peek()
        if op.kind != "op":
            if op.kind == "end" or op.text in ("and", "or", ")"):
                raise self.fail("expected a comparison (> >= < <= == !=) after "
                                f"{self.text[left.offset:op.offset].strip()!r}", op)
            raise self.fail(f"expected an operator (> >= < <= == !=), got {self._got(op)}", op)
        if op.text == "=":
            nxt = self.tokens[self.i + 1]
            if nxt.kind == "op" and nxt.offset == op.offset + 1 and nxt.text in "<>":
                raise self.fail(f"unknown operator '={nxt.text}' (did you mean "
                                f"'{nxt.text}='?)", op)
            raise self.fail("unknown operator '=' (did you mean '=='?)", op)
        self.take()
        right = self.parse_operand()
        nxt = self.peek()
        if nxt.kind == "op":
            raise self.fail("one comparison at a time: write a < x and x < b", nxt)
        return self.check_types(Compare(op.offset, op.text, left, right))

    def parse_operand(self) -> Operand:
        t = self.peek()
        if t.kind == "num":
            self.take()
            value = float(t.text)
            if self.peek().text == "%" and self.peek().kind == "punct":
                self.take()
                return Number(t.offset, value, percent=True)
            return Number(t.offset, value)
        if t.kind == "dur":
            self.take()
            try:
                seconds = Duration.parse(t.text)
            except Invalid as exc:
                raise self.fail(str(exc), t) from None
            return Number(t.offset, float(seconds), duration=True)
        if t.kind == "name":
            if t.text in STATES:
                self.take()
                return StateConst(t.offset, t.text)
            if t.text.upper() in STATES:
                raise self.fail(f"states are written in capitals: {t.text.upper()}", t)
            if t.text in ("and", "or", "not"):
                raise self.fail(f"expected a signal, a number or a state, got {t.text!r}", t)
            nxt = self.tokens[self.i + 1]
            if nxt.text == "(" and nxt.kind == "punct":
                return self.parse_call()
            return self.parse_signal()
        raise self.fail(f"expected a signal, a number or a state, got {self._got(t)}", t)

    def parse_signal(self) -> Signal:
        start = self.take()
        parts: list[tuple[str | int, int, bool]] = [(start.text, start.offset, False)]
        while True:
            t = self.peek()
            if t.kind == "punct" and t.text == ".":
                self.take()
                n = self.peek()
                if n.kind not in ("name",) and not (n.kind == "num" and n.text.isdigit()):
                    raise self.fail(f"expected a name after '.', got {self._got(n)}", n)
                self.take()
                parts.append((n.text, n.offset, False))
            elif t.kind == "punct" and t.text == "[":
                self.take()
                n = self.peek()
                if n.kind == "str":
                    parts.append((n.text[1:-1], n.offset, True))
                elif n.kind == "num" and re.fullmatch(r"\d+", n.text):
                    parts.append((int(n.text), n.offset, True))
                else:
                    raise self.fail(f"expected a quoted name or an index inside [ ], got "
                                    f"{self._got(n)}", n)
                self.take()
                self.expect("]", "']'")
            else:
                break
        try:
            ref = resolve_ref(parts)
        except RefError as exc:
            raise self.fail(str(exc), exc.offset) from None
        return Signal(start.offset, ref)

    def parse_call(self) -> Call:
        name = self.take()
        m = _FUNC_RE.match(name.text)
        if not m:
            hint = ""
            if re.fullmatch(r"p\d+", name.text):
                hint = " (a percentile is p1 to p99)"
            raise self.fail(f"unknown function {name.text!r}{hint}; expected one of: "
                            "avg, min, max, rate, p50/p95/p99 (any pNN)", name)
        open_ = self.take()
        args_start = self.peek()
        if args_start.kind != "name" or args_start.text in STATES:
            raise self.fail(f"{name.text}() takes a signal first, got "
                            f"{self._got(args_start)}", args_start)
        sig = self.parse_signal()
        if sig.ref.type == "state":
            raise self.fail(f"{name.text}() needs a numeric signal; {sig.ref.key} is a state",
                            sig.offset)
        comma = self.peek()
        if comma.text != ",":
            if comma.text == ")":
                raise self.fail(f"{name.text}() takes 2 arguments (signal, window), got 1", comma)
            raise self.fail(f"expected ',' then a window like 5m, got {self._got(comma)}", comma)
        self.take()
        w = self.peek()
        if w.kind == "dur":
            window = float(Duration.parse(w.text))
        elif w.kind == "num":
            raise self.fail(f"the window needs a unit: {w.text}s, {w.text}m, ...", w)
        else:
            raise self.fail(f"expected a window duration like 5m, got {self._got(w)}", w)
        if window <= 0:
            raise self.fail("the window must be longer than 0", w)
        self.take()
        close = self.peek()
        if close.text == ",":
            raise self.fail(f"{name.text}() takes 2 arguments (signal, window), got more", close)
        if close.text != ")":
            raise self.fail(f"expected ')' to close {name.text}( at column {open_.offset + 1}, "
                            f"got {self._got(close)}", close)
        self.take()
        return Call(name.offset, name.text, sig, window)

    def check_types(self, c: Compare) -> Compare:
        lt, rt = c.left.type(), c.right.type()
        sides = ((c.left, lt, c.right, rt), (c.right, rt, c.left, lt))
        if "state" in (lt, rt):
            for _a, at, b, bt in sides:
                if at == "state" and bt not in ("state",):
                    raise self.fail(f"a state compares with OK, WARNING, CRITICAL or UNKNOWN, "
                                    f"not {self.text[b.offset:].split()[0]!r}", b.offset)
            if c.op not in ("==", "!="):
                raise self.fail(f"states compare with == or != only, not {c.op!r}", c.offset)
            return c
        for a, at, b, bt in sides:
            if at == "duration" and isinstance(b, Signal | Call) and bt != SignalType.SECONDS:
                name = b.ref.key if isinstance(b, Signal) else f"{b.func}({b.signal.ref.key})"
                raise self.fail(f"{name} is not a time: compare it with a number, not a "
                                "duration", a.offset)
            if at == "percent" and isinstance(b, Signal | Call) and bt != SignalType.PERCENT:
                name = b.ref.key if isinstance(b, Signal) else f"{b.func}({b.signal.ref.key})"
                raise self.fail(f"{name} is not a percentage: drop the %", a.offset)
        if isinstance(c.left, Number) and isinstance(c.right, Number):
            raise self.fail("a comparison needs a signal on one side", c.left.offset)
        return c


def parse(text: str) -> Condition:
    """Parse a condition; raises :class:`ExprError` (with the offset) if it is not one."""
    if not isinstance(text, str):
        raise ExprError(f"expected a condition like host.cpu > 80, got {_short(text)}", 0, "")
    if len(text) > MAX_EXPR:
        raise ExprError(f"condition too long ({len(text)} characters; the limit is "
                        f"{MAX_EXPR})", MAX_EXPR, text[:MAX_EXPR])
    return Condition(text, _Parser(text).parse())


