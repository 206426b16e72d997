"""Runbook parameter values: resolving them, and filling ``{{ name }}`` placeholders safely.

Each context gets its own substitution: prose (titles, instructions) shows values with
secrets masked; a shell command gets each value as one ``shlex``-quoted word and a secret as
``"$OPSCONSOLE_SECRET_NAME"`` passed in the environment (so it is never on a command line,
on screen or on record); a URL gets values percent-encoded. SQL never gets placeholders:
its parameters are bound as ``$1, $2 …`` arguments (see the model's checks).

Never imports Textual.
"""

from __future__ import annotations

import re
import shlex
from typing import Any
from urllib.parse import quote as url_quote

from opsconsole.runbooks.model import PLACEHOLDER, Param, Runbook
from opsconsole.secrets import MASK

SECRET_ENV = "OPSCONSOLE_SECRET_"


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
    captured variables to it as steps run."""

    def __init__(self, params: dict[str, Param], values: dict[str, Any]) -> None:
        self.params = params
        self.values = values

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

    def text(self, template: str) -> str:
        """Prose with ``{{ name }}`` filled in (secrets masked): titles, instructions."""
        return PLACEHOLDER.sub(
            lambda m: MASK if self.is_secret(m.group(1)) else str(self.values.get(m.group(1), m.group(0))),
            template)

    def shell(self, template: str) -> tuple[str, dict[str, str]]:
        """A shell command with each ``{{ name }}`` as one quoted word; secrets by environment."""
        env: dict[str, str] = {}

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if self.is_secret(name):
                env[SECRET_ENV + name.upper()] = str(self.values.get(name, ""))
                return f'"${SECRET_ENV}{name.upper()}"'
            return shlex.quote(str(self.values.get(name, "")))

        return PLACEHOLDER.sub(sub, template), env

    def url(self, template: str) -> tuple[str, str]:
        """A URL with each ``{{ name }}`` percent-encoded (a placeholder that starts the URL
        is the whole base URL and goes in as given): the real URL and the one to show."""

        def value(m: re.Match[str], masked: bool) -> str:
            if masked and self.is_secret(m.group(1)):
                return MASK
            v = str(self.values.get(m.group(1), ""))
            return v if m.start() == 0 else url_quote(v, safe="")

        real = PLACEHOLDER.sub(lambda m: value(m, False), template)
        shown = PLACEHOLDER.sub(lambda m: value(m, True), template)
        return real, shown
