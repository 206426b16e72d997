"""Control flow and success criteria of a step, as data (never evaluated as code).

- ``when:`` a :class:`Condition`: the step runs only when it holds, else it is skipped
  with the reason.
- ``stop_when:`` a :class:`Condition` checked after the step succeeds (or recovers): when it holds the run
  ends with success and the remaining steps are recorded as skipped ("recovered: …").
- ``expect:`` an :class:`Expect`: what success looks like (a value, a row count, a regex on
  the output); a step whose result does not fit fails with the reason.

A condition is one of ``{check: NAME, state: OK}``, ``{captured: VAR, equals: TEXT}``,
``{captured: VAR, matches: REGEX}`` or ``{shell: "test -f /x"}`` (exit 0 is true; parameters
travel as environment variables, as in a shell step). Evaluation is in
:mod:`opsconsole.runbooks.flow`. Never imports Textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from opsconsole.schema import Duration, Invalid, field, positive, regex


@dataclass(frozen=True, kw_only=True)
class Condition:
    check: str | None = None
    state: Literal["OK", "WARNING", "CRITICAL", "UNKNOWN"] | None = None
    captured: str | None = None
    equals: str | None = None
    matches: str | None = field(None, check=regex)
    shell: str | None = None
    timeout: Duration = field(Duration(10.0), check=positive)

    def __check__(self) -> None:
        given = [n for n in ("check", "captured", "shell") if getattr(self, n) is not None]
        if len(given) != 1:
            raise Invalid("a condition needs exactly one of: check, captured, shell", "check")
        if self.check is not None and self.state is None:
            raise Invalid("a check condition needs state: OK, WARNING, CRITICAL or UNKNOWN",
                          "state")
        if self.state is not None and self.check is None:
            raise Invalid("state: only applies to a check condition", "state")
        if self.captured is not None and (self.equals is None) == (self.matches is None):
            raise Invalid("a captured condition needs exactly one of: equals, matches",
                          "captured")
        if self.captured is None and (self.equals is not None or self.matches is not None):
            raise Invalid("equals/matches only apply to a captured condition", "equals")

    def describe(self) -> str:
        """The condition in words, for reasons and records."""
        if self.check is not None:
            return f"check {self.check} is {self.state}"
        if self.captured is not None:
            if self.equals is not None:
                return f"{self.captured} equals {self.equals!r}"
            return f"{self.captured} matches /{self.matches}/"
        return f"shell `{self.shell}` exits 0"


@dataclass(frozen=True, kw_only=True)
class Expect:
    """What a successful result looks like. ``value``: the SQL result's first value (or a
    shell/http step's last output line) equals it (``true``/``false``/``null`` compare as
    PostgreSQL shows them); ``rows``: the SQL result has that many rows; ``matches``: a regex
    found in the output; ``not_matches``: a regex that must not be found."""

    value: Any = None
    rows: int | None = None
    matches: str | None = field(None, check=regex)
    not_matches: str | None = field(None, check=regex)

    def __check__(self) -> None:
        if all(getattr(self, n) is None for n in ("value", "rows", "matches", "not_matches")):
            raise Invalid("expect needs one of: value, rows, matches, not_matches", "value")
        if self.rows is not None and self.rows < 0:
            raise Invalid("expected a row count of 0 or more", "rows")
        if isinstance(self.value, dict | list):
            raise Invalid("expected a single value (text, number, true, false or null)",
                          "value")


_EXPECT_KEYS = ("value", "rows", "matches", "not_matches")


def check_expect(spec: Any) -> str | None:
    """Why ``expect:`` (a mapping, or a single value: short for ``{value: …}``) is not
    valid, or None."""
    if spec is None:
        return None
    if isinstance(spec, list):
        return "expected a value, or a mapping of: " + ", ".join(_EXPECT_KEYS)
    if isinstance(spec, dict):
        for k in spec:
            if k not in _EXPECT_KEYS:
                return f"unknown key {k!r}; expected one of: {', '.join(_EXPECT_KEYS)}"
        rows = spec.get("rows")
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int)):
            return "rows: expected a whole number"
        for k in ("matches", "not_matches"):
            if spec.get(k) is not None:
                if not isinstance(spec[k], str):
                    return f"{k}: expected a regular expression"
                problem = regex(spec[k])
                if problem:
                    return f"{k}: {problem}"
    try:
        as_expect(spec)
    except Invalid as exc:
        return str(exc.args[0])
    return None


def as_expect(spec: Any) -> Expect | None:
    """The :class:`Expect` of a step's ``expect:`` (``expect: false`` is short for
    ``expect: {value: false}``)."""
    if spec is None or isinstance(spec, Expect):
        return spec
    e = Expect(**spec) if isinstance(spec, dict) else Expect(value=spec)
    e.__check__()
    return e
