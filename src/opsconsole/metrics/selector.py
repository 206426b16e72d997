"""Series selectors as PromQL writes them: ``name{label="v", code!~"5.."}``.

Matchers: ``=`` (equal), ``!=`` (not equal), ``=~`` (regex, **anchored** as in PromQL:
``5..`` matches ``500`` but not ``1500``), ``!~`` (regex does not match). A label the
series does not have reads as the empty string (PromQL: ``{env=""}`` matches series with no
``env``). A bare ``{...}`` without a metric name is refused here (each indicator names its
metric). Errors carry the 0-based ``offset`` of the fault, so the config error points at it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from opsconsole.units import Invalid

MAX_SELECTOR = 1000
MAX_REGEX = 200
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_OPS = ("=~", "!~", "!=", "=")


class SelectorError(Invalid):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str
    _re: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        v = labels.get(self.label, "")
        if self.op == "=":
            return v == self.value
        if self.op == "!=":
            return v != self.value
        assert self._re is not None
        hit = self._re.fullmatch(v) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f"{self.label}{self.op}{_quote(self.value)}"


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[Matcher, ...] = ()

    @classmethod
    def parse(cls, value: object) -> Selector:
        if not isinstance(value, str):
            raise Invalid(f"expected a series selector such as http_requests_total"
                          f'{{code=~"5.."}}, got {value!r}')
        return parse_selector(value)

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        return name == self.metric and all(m.matches(labels) for m in self.matchers)

    def match_labels(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def with_metric(self, metric: str) -> Selector:
        return Selector(metric, self.matchers)

    def __str__(self) -> str:
        if not self.matchers:
            return self.metric
        return self.metric + "{" + ", ".join(str(m) for m in self.matchers) + "}"


def parse_selector(text: str) -> Selector:
    """``name`` or ``name{l op "v", ...}`` → a :class:`Selector` (or :class:`SelectorError`)."""
    if len(text) > MAX_SELECTOR:
        raise SelectorError(f"selector too long ({len(text)} characters; the limit is "
                            f"{MAX_SELECTOR})", 0)
    i = _skip(text, 0)
    m = _NAME.match(text, i)
    if not m:
        raise SelectorError("expected a metric name (letters, digits, _ and :)", i)
    name = m.group(0)
    i = _skip(text, m.end())
    matchers: list[Matcher] = []
    if i < len(text) and text[i] == "{":
        i = _skip(text, i + 1)
        while i < len(text) and text[i] != "}":
            lm = _LABEL.match(text, i)
            if not lm:
                raise SelectorError("expected a label name", i)
            label = lm.group(0)
            i = _skip(text, lm.end())
            op = next((o for o in _OPS if text.startswith(o, i)), None)
            if op is None:
                raise SelectorError("expected one of = != =~ !~ after the label name", i)
            op_at = i
            i = _skip(text, i + len(op))
            value, i = _string(text, i)
            rx = None
            if op in ("=~", "!~"):
                if len(value) > MAX_REGEX:
                    raise SelectorError(f"regex too long (limit {MAX_REGEX})", op_at)
                try:
                    rx = re.compile(value)
                except re.error as exc:
                    raise SelectorError(f"bad regular expression: {exc}", op_at) from None
            matchers.append(Matcher(label, op, value, rx))
            i = _skip(text, i)
            if i < len(text) and text[i] == ",":
                i = _skip(text, i + 1)
            elif i < len(text) and text[i] != "}":
                raise SelectorError("expected , or } after a matcher", i)
        if i >= len(text):
            raise SelectorError("missing } at the end of the matchers", len(text))
        i = _skip(text, i + 1)
    if i != len(text):
        raise SelectorError(f"unexpected {text[i]!r} after the selector", i)
    return Selector(name, tuple(matchers))


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _string(text: str, i: int) -> tuple[str, int]:
    if i >= len(text) or text[i] not in "\"'`":
        raise SelectorError('expected a quoted value, e.g. "5.."', i)
    q = text[i]
    out: list[str] = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and q != "`" and j + 1 < len(text):
            n = text[j + 1]
            out.append({"n": "\n", "t": "\t"}.get(n, n))
            j += 2
            continue
        if c == q:
            return "".join(out), j + 1
        out.append(c)
        j += 1
    raise SelectorError("unterminated quoted value", i)
