"""Typed alert rules (``alerts:`` in the config file). Never imports Textual.

A rule is data, validated by the config loader like the rest (``file:line:column``, the
column inside ``expr:``/``clear:`` pointing at the fault; unknown keys refused)::

    - name: high-cpu
      expr: host.cpu > 80            # the condition (alerts.expr)
      for: 5m                        # held this long before firing (pending until then)
      clear: host.cpu < 70           # hysteresis: resolves only when this holds ...
      keep_firing_for: 1m            # ... for this long (without clear: expr false this long)
      severity: warning              # info | warning | critical
      labels: {team: ops}
      summary: "CPU {value}% over {threshold}% since {since}"
      description: "..."
      notify: [oncall]               # names of notify: targets
      runbook: high-cpu              # a runbook id, with
      params: {pid: "{pid}"}         # its parameters filled from the signal
      declare: SEV2                  # SEV1..SEV5 declares an incident on firing; attach: joins
      escalate: [{after: 15m, notify: [am]}]
      no_data: nodata                # nodata (own state, shown) | ok | firing | keep
      auto_run: 1                    # a runbook step to run when it fires (index or id)
      enabled: true                  # false switches a (shipped) rule off

Templates are filled by :meth:`Template.render`: ``{value}``, ``{threshold}``, ``{since}``,
``{for}``, ``{name}``, ``{severity}``, ``{state}``, ``{labels.X}`` and what the signal fills
(:data:`SIGNAL_PARAMS`: ``{pid}``, ``{mount}``, ``{check}``, ``{database}`` ...). No attribute
or index access, no format specs: ``{{`` and ``}}`` are literal braces; an unknown name is a
config error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from opsconsole.alerts.expr import Condition, ExprError
from opsconsole.schema import Duration, Invalid, field, non_negative
from opsconsole.text import one_line

TEMPLATE_NAMES = ("value", "threshold", "since", "for", "name", "severity", "state")
SIGNAL_PARAMS = ("pid", "mount", "check", "database", "label", "interface", "core", "device",
                 "uom", "slo", "source")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_LABEL = re.compile(r"labels\.([A-Za-z_][A-Za-z0-9_-]*)\Z")
MAX_TEMPLATE = 4000
MAX_RENDERED_VALUE = 200


class Template(str):
    """A text with ``{name}`` placeholders, checked when the config is read."""

    @classmethod
    def parse(cls, value: object) -> Template:
        if not isinstance(value, str):
            raise Invalid(f"expected a text, got {value!r}")
        if len(value) > MAX_TEMPLATE:
            raise Invalid(f"text too long ({len(value)} characters; the limit is {MAX_TEMPLATE})")
        for m in _PLACEHOLDER.finditer(value):
            tok = m.group(0)
            if tok in ("{{", "}}"):
                continue
            if tok in ("{", "}"):
                raise ExprError(f"unmatched {tok!r} (write {tok * 2} for a literal brace)",
                                m.start(), value)
            name = m.group(1).strip()
            if name in TEMPLATE_NAMES or name in SIGNAL_PARAMS or _LABEL.match(name):
                continue
            raise ExprError(f"unknown placeholder {{{name}}}; expected one of: "
                            + ", ".join("{" + n + "}" for n in (*TEMPLATE_NAMES, *SIGNAL_PARAMS))
                            + ", {labels.NAME}", m.start(), value)
        return cls(value)

    def names(self) -> list[str]:
        return [m.group(1).strip() for m in _PLACEHOLDER.finditer(self) if m.group(1) is not None]

    def render(self, values: Mapping[str, object]) -> str:
        """Fill the placeholders from plain values (a missing one shows as ``?``). Values
        are cut to one line of :data:`MAX_RENDERED_VALUE` characters, control characters
        neutralised: a hostile query text or process name cannot forge lines."""

        def one(m: re.Match[str]) -> str:
            tok = m.group(0)
            if tok == "{{":
                return "{"
            if tok == "}}":
                return "}"
            if m.group(1) is None:
                return tok
            v = values.get(m.group(1).strip())
            return "?" if v is None else one_line(str(v), MAX_RENDERED_VALUE)

        return _PLACEHOLDER.sub(one, str(self))


_SEV = re.compile(r"SEV[1-5]\Z")


def _declare(v: str | None) -> str | None:
    if v is None or v == "attach" or _SEV.match(v):
        return None
    return f"expected SEV1..SEV5 or attach, got {v!r}"


def _rule_name(v: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}", v):
        return ("expected a name of letters, digits and - _ . : (up to 100, starting with a "
                f"letter or digit), got {v!r}")
    return None


@dataclass(frozen=True, kw_only=True)
class Escalation:
    """One escalation level: reached ``after`` the alert started firing, unless it was
    acknowledged or resolved by then."""

    after: Duration = field(check=non_negative)
    notify: list[str] = field([])


@dataclass(frozen=True, kw_only=True)
class AlertRule:
    name: str = field(check=_rule_name)
    expr: Condition
    for_: Duration = field(Duration(0.0), yaml_name="for", check=non_negative)
    clear: Condition | None = None
    keep_firing_for: Duration | None = field(None, check=lambda v: v is not None
                                             and non_negative(v))
    severity: Literal["info", "warning", "critical"] = "warning"
    labels: dict[str, str] = field({})
    summary: Template = field(Template("{name}: {value} (threshold {threshold})"))
    description: Template = field(Template(""))
    notify: list[str] = field([])
    runbook: str | None = None
    params: dict[str, Template] = field({})
    declare: str | None = field(None, check=_declare)
    escalate: list[Escalation] = field([])
    no_data: Literal["nodata", "ok", "firing", "keep"] = "nodata"
    auto_run: int | str | None = None
    enabled: bool = True

    def __check__(self) -> None:
        for k in self.labels:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", k):
                raise Invalid(f"label names are letters, digits, - and _; got {k!r}", "labels")
        afters = [float(e.after) for e in self.escalate]
        if afters != sorted(afters):
            raise Invalid("escalation levels must be in order of after:", "escalate")
        if self.auto_run is not None and not self.runbook:
            raise Invalid("auto_run: names a step of the rule's runbook: set runbook: too",
                          "auto_run")
        if self.params and not self.runbook:
            raise Invalid("params: fill the rule's runbook: set runbook: too", "params")

    @property
    def windows(self) -> dict[str, float]:
        """Signal key -> the longest window this rule's functions look back."""
        out: dict[str, float] = {}
        for cond in (self.expr, self.clear):
            if cond is None:
                continue
            for c in cond.calls():
                k = c.signal.ref.key
                out[k] = max(out.get(k, 0.0), c.window)
        return out


def check_rules(rules: list[AlertRule]) -> str | None:
    """Cross-rule checks (from AppConfig): unique names."""
    names = [r.name for r in rules]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        return f"alert names must be unique; repeated: {', '.join(dup)}"
    return None
