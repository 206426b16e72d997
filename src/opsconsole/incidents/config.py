"""Typed incident configuration (``incidents:``). Never imports Textual.

```yaml
incidents:
  response_targets: {SEV1: 5m, SEV2: 15m, SEV3: 1h, SEV4: 4h}   # time to acknowledge
  update_every: 30m          # "next update within" in comms drafts
  severities:                # your own levels, worst first (instead of SEV1..SEV4):
    P1: {response: 15m, resolution: 1h, update_every: 15m, description: outage}
    P2: {response: 10m, resolution: 30m, update_every: 10m, description: payments}
  postmortem_template: postmortem.md   # Markdown with {{ placeholders }} (see postmortem)
  database: incidents.db     # relative to the data directory
  store: postgresql://ops@db1/opsconsole   # or a databases: name: one store for the team
  attach_window: 30m         # a declaration links the unattached events of the last 30m (0: off)
  templates:                 # extra or replacement comms templates
    update: "[{severity}] {id} is {status}: {latest_note}"
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opsconsole.schema import Duration, field, non_negative, positive

MAX_TEMPLATE_WIDTH = 1000  # a field's width or precision: {title:>3000000000} would be 3 GB

# the format-spec mini-language: [[fill]align][sign][z][#][0][width][grouping][.precision][type]
_SPEC = re.compile(r"^(?:.?[<>=^])?[+\- ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d*))?[a-zA-Z%]?$",
                   re.DOTALL)


def spec_error(spec: str) -> str | None:
    """None when ``spec`` is a format spec a comms template may use: no nested fields, width
    and precision at most :data:`MAX_TEMPLATE_WIDTH`, one Python accepts for text."""
    if "{" in spec or "}" in spec:
        return f"format spec {spec!r}: nested fields are not allowed"
    m = _SPEC.match(spec)
    if m is None:
        return f"format spec {spec[:40]!r}: expected e.g. '>20' or '.80'"
    for part in ("width", "precision"):
        digits = m.group(part) or ""
        if len(digits) > 4 or (digits and int(digits) > MAX_TEMPLATE_WIDTH):
            return f"format spec {spec[:40]!r}: {part} above {MAX_TEMPLATE_WIDTH}"
    try:
        format("text", spec)
    except ValueError as exc:
        return f"format spec {spec[:40]!r}: {exc}"
    return None


def _templates_check(value: dict[str, str]) -> str | None:
    import string

    from opsconsole.incidents.postmortem import template_error

    for name, text in value.items():
        err = template_error(text)
        if err is None:
            for _lit, fname, spec, _conv in string.Formatter().parse(text):
                if fname is not None and spec:
                    err = spec_error(spec)
                    if err:
                        break
        if err:
            return f"template {name!r}: {err}"
    return None


@dataclass(frozen=True)
class ResponseTargets:
    SEV1: Duration = field(Duration(300.0), check=positive)
    SEV2: Duration = field(Duration(900.0), check=positive)
    SEV3: Duration = field(Duration(3600.0), check=positive)
    SEV4: Duration = field(Duration(14400.0), check=positive)

    def for_severity(self, severity: str) -> float:
        return float(getattr(self, severity, self.SEV4))


DEFAULT_SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,23}$")


@dataclass(frozen=True)
class SeverityLevel:
    """One configured severity: its targets (time to acknowledge, to resolve) and how often
    stakeholders get an update."""

    response: Duration = field(Duration(3600.0), check=positive)
    resolution: Duration | None = field(None, check=lambda v: None if v is None else positive(v))
    update_every: Duration | None = field(None,
                                          check=lambda v: None if v is None else positive(v))
    description: str = ""


def _severities_check(value: dict[str, SeverityLevel]) -> str | None:
    seen: set[str] = set()
    for name in value:
        if not _NAME.match(name):
            return (f"severity name {name[:40]!r}: letters, digits, '-', '_' or '.' (up to 24), "
                    f"e.g. P1 or SEV1")
        if name.casefold() in seen:
            return f"severity {name!r} is named twice (names are not case-sensitive)"
        seen.add(name.casefold())
    return None


@dataclass(frozen=True)
class IncidentsConfig:
    response_targets: ResponseTargets = field(ResponseTargets())
    update_every: Duration = field(Duration(1800.0), check=positive)
    database: str | None = None
    attach_window: Duration = field(Duration(1800.0), check=non_negative)
    templates: dict[str, str] = field({}, check=_templates_check)
    severities: dict[str, SeverityLevel] = field({}, check=_severities_check)
    postmortem_template: str | None = None
    # the shared store (issue 17): a postgresql:// DSN or the name of a databases: entry;
    # unset: the SQLite file above (see opsconsole.sharedstore.choose)
    store: str | None = None

    def severity_names(self) -> tuple[str, ...]:
        """The configured severities, worst first (SEV1..SEV4 unless configured)."""
        return tuple(self.severities) or DEFAULT_SEVERITIES

    def level(self, severity: str) -> SeverityLevel:
        """The targets of ``severity`` (an unknown one, e.g. recorded under an older config,
        gets the least urgent level's)."""
        if self.severities:
            return self.severities.get(severity) or list(self.severities.values())[-1]
        return SeverityLevel(response=Duration(self.response_targets.for_severity(severity)))

    def for_severity(self, severity: str) -> float:
        """Time to acknowledge, in seconds."""
        return float(self.level(severity).response)

    def resolution_target(self, severity: str) -> float | None:
        r = self.level(severity).resolution
        return None if r is None else float(r)

    def update_cadence(self, severity: str) -> float:
        """How often stakeholders get an update, in seconds (the level's, else update_every)."""
        u = self.level(severity).update_every
        return float(u if u is not None else self.update_every)
