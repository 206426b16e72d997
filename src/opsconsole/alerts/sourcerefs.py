"""Cross-section rules for the signal sources (called from AppConfig). Never imports Textual.

- an alert's ``promql.TARGET.QUERY`` names a ``prometheus:`` target and one of its
  ``queries:``; a series index ``["…"]`` is given exactly when the query has ``by:``;
- an alert's ``check.NAME.value`` names a check that measures one number (promql, json,
  sql);
- a ``promql`` check names a ``prometheus:`` target.

Each problem is an :class:`~opsconsole.units.Invalid` located at the rule's ``expr:`` or
``clear:`` and the signal's column in it (``path``/``offset`` for the schema).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opsconsole.alerts.tree import Signal
from opsconsole.checks.spec import VALUE_KINDS, PromqlCheck
from opsconsole.units import Invalid, did_you_mean


def _located(message: str, field: str, path: tuple[Any, ...], offset: int | None) -> Invalid:
    exc = Invalid(message, field)
    exc.path = path  # type: ignore[attr-defined]
    exc.offset = offset  # type: ignore[attr-defined]
    return exc


def _hint(word: str, names: Sequence[str]) -> str:
    guess = did_you_mean(word, names)
    known = ", ".join(sorted(names)) or "none"
    return (f"; did you mean {guess!r}?" if guess else "") + f" (known: {known})"


def check_source_refs(checks: Sequence[Any], prometheus: Sequence[Any],
                      alerts: Sequence[Any], metrics: Sequence[Any] = ()) -> Invalid | None:
    targets = {t.name: t for t in prometheus}
    sources = {m.name: m for m in metrics}
    for i, c in enumerate(checks):
        if isinstance(c, PromqlCheck) and c.prometheus not in targets:
            return _located(f"check {c.name!r} names prometheus {c.prometheus!r}, which is "
                            "not in prometheus:" + _hint(c.prometheus, list(targets)),
                            "checks", (i, "prometheus"), None)
    kinds = {c.name: c.kind for c in checks}
    for i, rule in enumerate(alerts):
        for where, cond in (("expr", rule.expr), ("clear", rule.clear)):
            if cond is None:
                continue
            for node in cond.tree.walk():
                if not isinstance(node, Signal):
                    continue
                problem = _problem(node.ref, targets, kinds) or _metrics_problem(node.ref,
                                                                                 sources)
                if problem:
                    return _located(problem, "alerts", (i, where), node.offset)
    return None


def _problem(ref: Any, targets: dict[str, Any], kinds: dict[str, str]) -> str | None:
    if ref.family == "promql":
        t = targets.get(ref.name)
        if t is None:
            return f"no prometheus: target named {ref.name!r}" + _hint(ref.name, list(targets))
        q = t.query(ref.field)
        if q is None:
            return (f"prometheus {t.name!r} has no query named {ref.field!r}"
                    + _hint(ref.field, [q.name for q in t.queries]))
        if q.by and ref.index is None:
            return (f"query {q.name!r} gives one value per {q.by}: pick one, e.g. "
                    f'promql.{t.name}.{q.name}["…"]')
        if not q.by and ref.index is not None:
            return (f"query {q.name!r} gives one value (no by:): drop the "
                    f'["{ref.index}"]')
    if ref.family == "check" and ref.field == "value":
        kind = kinds.get(ref.name)
        if kind is None:
            return f"no check named {ref.name!r}" + _hint(ref.name, list(kinds))
        if kind not in VALUE_KINDS:
            return (f"check {ref.name!r} is a {kind} check: .value is for "
                    f"{', '.join(VALUE_KINDS)} checks")
    return None


def _metrics_problem(ref: Any, sources: dict[str, Any]) -> str | None:
    """``metrics.SOURCE.QUERY``: the source is in metrics: and declares that query."""
    if ref.family != "metrics":
        return None
    m = sources.get(ref.name)
    if m is None:
        return f"no metrics: source named {ref.name!r}" + _hint(ref.name, list(sources))
    names = [q.name for q in getattr(m, "queries", ())]
    if ref.field != "up" and ref.field not in names:
        return (f"metrics source {m.name!r} has no query named {ref.field!r}"
                + _hint(ref.field, ["up", *names]))
    return None
