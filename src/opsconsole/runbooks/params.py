"""Runbook parameter values: resolving them, and filling ``{{ name }}`` placeholders safely.

Each context gets its own substitution: prose (titles, instructions) shows values with
secrets masked; a shell command never contains a value: each parameter travels as an
environment variable (``OPSCONSOLE_P_NAME``) the command refers to, quoted for where the
placeholder stands (:mod:`opsconsole.runbooks.shellscan`), so no value, typed or captured
from a target's output, can become shell code; a URL gets values percent-encoded (a path
value is exactly one segment). SQL never gets placeholders: its parameters are bound as
``$1, $2 …`` arguments (see the model's checks).

Never imports Textual.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any
from urllib.parse import quote as url_quote

from opsconsole.runbooks.model import Param, Runbook
from opsconsole.runbooks.shellscan import REFUSED, TEMPLATE, UNQUOTED, env_name, reference, scan
from opsconsole.secrets import MASK


class ParamError(ValueError):
    pass


def resolve_params(rb: Runbook, given: dict[str, str], *, context: dict[str, str] | None = None,
                   allow_missing: bool = False) -> dict[str, str]:
    """Values for every parameter: given > context > default. Raises :class:`ParamError`
    naming every problem (unknown names, missing values, values that do not fit)."""
    problems = []
    known = {p.name for p in rb.params}
    for name in given:
        if name not in known:
            problems.append(f"unknown parameter {name!r} (this runbook takes: "
                            f"{', '.join(sorted(known)) or 'none'})")
    values: dict[str, str] = {}
    for p in rb.params:
        if p.name in given:
            v = given[p.name]
        elif context and p.name in context and not p.secret:
            v = str(context[p.name])
        elif p.default is not None:
            v = p.default
        else:
            v = ""
        if v == "" and allow_missing:
            values[p.name] = v
            continue
        problem = p.problem(v)
        if problem:
            problems.append(problem)
        values[p.name] = v
    if problems:
        raise ParamError("; ".join(problems))
    return values


class Substitution:
    """The current values (parameters, then variables captured by steps) and the ways of
    putting them into a step's text. ``values`` is shared with the session, which adds
    captured variables to it as steps run. ``declared``: the names ``{{ … }}`` may refer to
    (parameters and captures); any other ``{{ … }}`` is text, and ``{{{{`` writes ``{{``."""

    def __init__(self, params: dict[str, Param], values: dict[str, Any],
                 declared: set[str] | None = None) -> None:
        self.params = params
        self.values = values
        self.declared = set(declared) if declared is not None else None

    def is_declared(self, name: str) -> bool:
        if self.declared is not None:
            return name in self.declared
        return name in self.params or name in self.values

    def is_secret(self, name: str) -> bool:
        p = self.params.get(name)
        return bool(p and p.secret)

    @property
    def secret_values(self) -> list[str]:
        return [str(self.values[n]) for n, p in self.params.items()
                if p.secret and self.values.get(n) not in (None, "")]

    def masked(self) -> dict[str, Any]:
        """Every value, secrets replaced by the mask: what may be shown and recorded."""
        return {n: (MASK if self.is_secret(n) else v) for n, v in self.values.items()}

    def _value(self, name: str, masked: bool) -> str:
        return MASK if masked and self.is_secret(name) else str(self.values.get(name, ""))

    def _fill(self, template: str, piece: Callable[[re.Match[str], str], str]) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name is None:
                return "{{"
            return piece(m, name) if self.is_declared(name) else m.group(0)

        return TEMPLATE.sub(sub, template)

    def text(self, template: str) -> str:
        """Prose with ``{{ name }}`` filled in (secrets masked): titles, instructions."""
        return self._fill(template, lambda m, n: self._value(n, True))

    def real(self, template: str) -> str:
        """``template`` with the real values (secrets too): for values that go to a program
        without a shell parsing them (an ``env:`` value, an HTTP header or body). Never show
        or record it; show :meth:`text` instead."""
        return self._fill(template, lambda m, n: self._value(n, False))

    def shell(self, template: str) -> tuple[str, dict[str, str], str]:
        """A shell command: (what runs, its parameter environment, what to show).

        What runs refers to each parameter as an environment variable, quoted for where it
        stands (see :mod:`opsconsole.runbooks.shellscan`); the values travel only in the
        environment. What is shown has the values filled in (secrets masked)."""
        env: dict[str, str] = {}
        run: list[str] = []
        shown: list[str] = []
        last = 0
        for tok in scan(template):
            run.append(template[last:tok.start])
            shown.append(template[last:tok.start])
            last = tok.end
            if tok.name is None:
                run.append("{{")
                shown.append("{{")
                continue
            if not self.is_declared(tok.name):
                run.append(template[tok.start:tok.end])
                shown.append(template[tok.start:tok.end])
                continue
            if tok.context in REFUSED:  # the model refuses these when a runbook is loaded
                raise ParamError(f"{{{{ {tok.name} }}}} {REFUSED[tok.context]}")
            env[env_name(tok.name)] = str(self.values.get(tok.name, ""))
            run.append(reference(tok.name, tok.context))
            value = self._value(tok.name, True)
            shown.append(shlex.quote(value) if tok.context == UNQUOTED and value != MASK
                         else value)
        run.append(template[last:])
        shown.append(template[last:])
        return "".join(run), env, "".join(shown)

    def url(self, template: str) -> tuple[str, str]:
        """A URL with each ``{{ name }}`` encoded: in the path as exactly one segment (``/``
        and the dot-segments ``.``/``..`` percent-encoded), in the query or fragment with
        every reserved character encoded. A placeholder that starts the URL is the whole
        base URL and goes in as given. Returns the real URL and the one to show."""
        query_at = min((i for i in (template.find("?"), template.find("#")) if i >= 0),
                       default=len(template))

        def value(m: re.Match[str], name: str, masked: bool) -> str:
            if masked and self.is_secret(name):
                return MASK
            v = str(self.values.get(name, ""))
            if m.start() == 0:
                return v
            if m.start() > query_at:
                return url_quote(v, safe="")
            return path_segment(v)

        real = self._fill(template, lambda m, n: value(m, n, False))
        shown = self._fill(template, lambda m, n: value(m, n, True))
        return real, shown


def path_segment(value: str) -> str:
    """``value`` as one URL path segment: every reserved character percent-encoded, and a
    value of ``.`` or ``..`` written ``%2E``/``%2E%2E`` so it is no dot-segment (clients and
    servers remove those, escaping the path: ``/users/../status`` is ``/status``)."""
    out = url_quote(value, safe="")
    return out.replace(".", "%2E") if out in (".", "..") else out
