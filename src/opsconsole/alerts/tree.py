"""The tree a parsed alert condition is, and its three-valued evaluation (True, False,
:data:`~opsconsole.alerts.signals.NO_DATA`). Built by :mod:`opsconsole.alerts.expr`; nothing
here executes text. Never imports Textual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from opsconsole.alerts.signals import NO_DATA, SignalRef

# --------------------------------------------------------------------------- the tree

Value = Any  # float | str | NO_DATA
Reader = Callable[["Signal"], Value]
Windowed = Callable[["Call"], Value]


@dataclass(frozen=True)
class Node:
    offset: int

    def walk(self) -> Iterator[Node]:
        yield self


@dataclass(frozen=True)
class Number(Node):
    value: float
    percent: bool = False
    duration: bool = False

    def type(self) -> str:
        return "duration" if self.duration else ("percent" if self.percent else "number")


@dataclass(frozen=True)
class StateConst(Node):
    value: str

    def type(self) -> str:
        return "state"


@dataclass(frozen=True)
class Signal(Node):
    ref: SignalRef

    def type(self) -> str:
        return self.ref.type


@dataclass(frozen=True)
class Call(Node):
    func: str  # avg min max rate p95 ...
    signal: Signal
    window: float  # seconds

    @property
    def key(self) -> tuple[str, str, float]:
        return (self.func, self.signal.ref.key, self.window)

    def type(self) -> str:
        if self.func == "rate":
            return "number"
        return self.signal.ref.type

    def walk(self) -> Iterator[Node]:
        yield self
        yield self.signal


Operand = Number | StateConst | Signal | Call


@dataclass(frozen=True)
class Compare(Node):
    op: str
    left: Operand
    right: Operand

    def walk(self) -> Iterator[Node]:
        yield self
        yield from self.left.walk()
        yield from self.right.walk()


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # and / or
    items: tuple[Expr, ...]

    def walk(self) -> Iterator[Node]:
        yield self
        for i in self.items:
            yield from i.walk()


@dataclass(frozen=True)
class Not(Node):
    item: Expr

    def walk(self) -> Iterator[Node]:
        yield self
        yield from self.item.walk()


Expr = Compare | BoolOp | Not



# --------------------------------------------------------------------------- evaluation

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def _operand(node: Operand, read: Reader, windowed: Windowed) -> Value:
    if isinstance(node, Signal):
        return read(node)
    if isinstance(node, Call):
        return windowed(node)
    return node.value


def evaluate(node: Expr, read: Reader, windowed: Windowed) -> Any:
    """True, False or NO_DATA. ``read(signal)`` and ``windowed(call)`` give operand values."""
    if isinstance(node, Compare):
        a = _operand(node.left, read, windowed)
        if a is NO_DATA:
            return NO_DATA
        b = _operand(node.right, read, windowed)
        if b is NO_DATA:
            return NO_DATA
        try:
            return _OPS[node.op](a, b)
        except TypeError:  # a state signal fed a number: a bug upstream, not a crash here
            return NO_DATA
    if isinstance(node, BoolOp):
        unknown = False
        if node.op == "and":
            for item in node.items:
                v = evaluate(item, read, windowed)
                if v is False:
                    return False
                if v is NO_DATA:
                    unknown = True
            return NO_DATA if unknown else True
        for item in node.items:
            v = evaluate(item, read, windowed)
            if v is True:
                return True
            if v is NO_DATA:
                unknown = True
        return NO_DATA if unknown else False
    v = evaluate(node.item, read, windowed)
    return v if v is NO_DATA else not v


class Condition:
    """A parsed condition: its text, its tree, and what it reads. (Not a dataclass: the
    config loader converts a dataclass from a mapping, a type with ``parse`` from a scalar.)"""

    __slots__ = ("text", "tree")

    def __init__(self, text: str, tree: Expr) -> None:
        self.text = text
        self.tree = tree

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Condition) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"

    @classmethod
    def parse(cls, value: object) -> Condition:
        """For the config loader (schema calls ``parse``; ExprError carries the offset)."""
        from opsconsole.alerts.expr import parse

        return parse(value)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self.text

    def signals(self) -> list[SignalRef]:
        """Every signal read, in order of appearance, without repeats."""
        seen: dict[str, SignalRef] = {}
        for n in self.tree.walk():
            if isinstance(n, Signal) and n.ref.key not in seen:
                seen[n.ref.key] = n.ref
        return list(seen.values())

    def calls(self) -> list[Call]:
        return [n for n in self.tree.walk() if isinstance(n, Call)]

    def primary(self) -> tuple[Operand | None, Number | StateConst | None]:
        """The first comparison's signal side and its constant (``{value}``/``{threshold}``)."""
        for n in self.tree.walk():
            if isinstance(n, Compare):
                if isinstance(n.left, Signal | Call):
                    other = n.right if isinstance(n.right, Number | StateConst) else None
                    return n.left, other
                if isinstance(n.right, Signal | Call):
                    other = n.left if isinstance(n.left, Number | StateConst) else None
                    return n.right, other
        return None, None

    def evaluate(self, read: Reader, windowed: Windowed) -> Any:
        return evaluate(self.tree, read, windowed)
