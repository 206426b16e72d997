"""Typed incident configuration (``incidents:``). Never imports Textual.

```yaml
incidents:
  response_targets: {SEV1: 5m, SEV2: 15m, SEV3: 1h, SEV4: 4h}   # time to acknowledge
  update_every: 30m          # "next update within" in comms drafts
  database: incidents.db     # relative to the data directory
  attach_window: 30m         # a declaration links the unattached events of the last 30m (0: off)
  templates:                 # extra or replacement comms templates
    update: "[{severity}] {id} is {status}: {latest_note}"
```
"""

from __future__ import annotations

from dataclasses import dataclass

from opsconsole.schema import Duration, field, non_negative, positive


def _templates_check(value: dict[str, str]) -> str | None:
    from opsconsole.incidents.postmortem import template_error

    for name, text in value.items():
        err = template_error(text)
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


@dataclass(frozen=True)
class IncidentsConfig:
    response_targets: ResponseTargets = field(ResponseTargets())
    update_every: Duration = field(Duration(1800.0), check=positive)
    database: str | None = None
    attach_window: Duration = field(Duration(1800.0), check=non_negative)
    templates: dict[str, str] = field({}, check=_templates_check)
