"""The shipped default rules: the resources thresholds as rules, not magic. Never imports
Textual.

:func:`default_rules` turns the ``thresholds:`` levels (glances' 50/70/90 % by default;
load per core 0.7/1.0/5.0) into warning and critical rules that hold for 5 minutes and clear
one level lower (so a value on a threshold does not flap): ``host-cpu-warning``,
``host-cpu-critical``, ``host-mem-…``, ``host-swap-…``, ``host-load-…`` (5-minute load per
core) and ``host-fs-…`` per mount given. :func:`effective_rules` puts the config's
``alerts:`` over them: a rule with the same name replaces the default (``enabled: false``
switches it off); other rules are added after the defaults.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from opsconsole.alerts.expr import parse
from opsconsole.alerts.spec import AlertRule, Template
from opsconsole.schema import Duration

HOLD = Duration(300.0)

_SIGNALS = (  # (name part, threshold attribute, signal, unit in the summary)
    ("cpu", "cpu", "host.cpu", "%"),
    ("mem", "memory", "host.mem", "%"),
    ("swap", "swap", "host.swap", "%"),
    ("load", "load", "host.load5_per_core", " per core"),
)


def _pair(name: str, signal: str, levels: Any, unit: str, what: str,
          extra: dict[str, str] | None = None) -> list[AlertRule]:
    out = []
    for severity, level, clear in (("warning", levels.warning, levels.careful),
                                   ("critical", levels.critical, levels.warning)):
        out.append(AlertRule(
            name=f"{name}-{severity}", expr=parse(f"{signal} > {level:g}"), for_=HOLD,
            clear=parse(f"{signal} < {clear:g}"), severity=severity,
            labels={"source": "default", **(extra or {})},
            summary=Template(f"{what} at {{value}}{unit} (over {{threshold}}{unit} for 5 min)"),
        ))
    return out


def default_rules(thresholds: Any, mounts: Iterable[str] = ()) -> list[AlertRule]:
    """Warning and critical rules from ``thresholds`` (a :class:`opsconsole.config.Thresholds`:
    ``cpu``/``memory``/``swap``/``disk``/``load`` levels with careful/warning/critical)."""
    rules: list[AlertRule] = []
    for part, attr, signal, unit in _SIGNALS:
        what = {"cpu": "CPU", "mem": "memory", "swap": "swap", "load": "load"}[part]
        rules += _pair(f"host-{part}", signal, getattr(thresholds, attr), unit, what)
    for mount in mounts:
        slug = "".join(c if c.isalnum() else "-" for c in mount.strip("/")) or "root"
        rules += _pair(f"host-fs-{slug}", f"host.fs[{json.dumps(mount)}].used_pct",
                       thresholds.disk, "%", f"{mount} use", {"mount": mount})
    return rules


def effective_rules(defaults: Iterable[AlertRule],
                    configured: Iterable[AlertRule]) -> list[AlertRule]:
    """The defaults with the configured rules over them (same name: replaced), then the
    configured rules of other names, in their order. Disabled rules stay in the list
    (the evaluator skips them; the UI can show them as switched off)."""
    mine = {r.name: r for r in configured}
    out = [mine.pop(r.name, r) for r in defaults]
    return out + list(mine.values())
