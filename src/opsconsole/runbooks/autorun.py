"""Running one runbook step unattended, for an alert's ``auto_run:`` (issue 14).

The alert layer decides *when* (once per firing episode, never silenced, never read-only:
:mod:`opsconsole.alerts.actions`); this module decides *whether this step may* and runs it:
only a step marked ``auto_run_safe: true`` that needs no confirmation and runs something;
its parameters come from the alert (rendered ``params:``, then labels of the same name, then
the runbook's defaults) and go through the runbook's own checks (type, pattern, choices) and
substitution (environment variables in shell, bound ``$n`` arguments in SQL — never text
pasted into a command). The step is recorded by :class:`RunbookSession` with the same
``runbook.step_started``/``runbook.step_finished`` events as a step run from the console,
as the alert's actor. :func:`check_auto_run` refuses a rule naming an unsafe step when the
config is loaded (file:line:column). Never imports Textual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsconsole.events import Actor, Event
from opsconsole.runbooks.model import Runbook, locate
from opsconsole.schema import ConfigError


class StoreSink:
    """An EventSink writing to a store as ``actor`` (a step an alert ran is the alert's)."""

    def __init__(self, store: Any, actor: Actor) -> None:
        self.store = store
        self.actor = actor

    def record(self, type: str, data: dict[str, Any], *, incident_id: str | None = None) -> Event:
        return self.store.append(type, data, incident_id=incident_id, actor=self.actor)


def step_problem(rb: Runbook, ref: int | str) -> tuple[int, str | None]:
    """(0-based index, None) when step ``ref`` of ``rb`` may run unattended, else why not."""
    try:
        idx = rb.find_step(ref)
    except LookupError as exc:
        return -1, str(exc)
    step = rb.steps[idx]
    if not getattr(step, "auto_run_safe", False):
        return idx, (f"step {idx + 1} of runbook {rb.id} (“{step.title}”) is not marked "
                     "auto_run_safe: true; only such steps run unattended")
    if step.confirm:
        return idx, (f"step {idx + 1} of runbook {rb.id} needs confirmation (confirm: "
                     f"{step.confirm}); it cannot run unattended")
    if not step.runs_something:
        return idx, f"step {idx + 1} of runbook {rb.id} is a manual step; nothing would run"
    return idx, None


def values_for(rb: Runbook, params: Mapping[str, str],
               labels: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """The parameter values (``params``, then ``labels`` of the same name, then defaults)
    and the first problem with them, if any."""
    values: dict[str, str] = {}
    for p in rb.params:
        v = params.get(p.name)
        if v is None or v == "?":  # "?": a template placeholder the signal did not fill
            v = labels.get(p.name)
        if v is None:
            v = p.default
        if v is None:
            if p.required:
                return values, f"parameter {p.name}: the alert gives no value"
            continue
        problem = p.problem(str(v))
        if problem:
            return values, problem
        values[p.name] = str(v)
    return values, None


@dataclass(frozen=True)
class Plan:
    runbook: Runbook
    index: int
    values: dict[str, str]

    @property
    def title(self) -> str:
        return self.runbook.steps[self.index].title


@dataclass(frozen=True)
class Result:
    status: str  # the StepOutcome status (ok, failed, timeout, ...)
    exit_code: int | None
    message: str


class AutoRunner:
    """Loads the runbooks (once, on first need) and runs planned steps."""

    def __init__(self, cfg: Any, store: Any, *, runbooks: list[Runbook] | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self._books = {rb.id: rb for rb in runbooks} if runbooks is not None else None

    def runbooks(self) -> dict[str, Runbook]:
        """Blocking (child processes parse the files): call in a thread."""
        if self._books is None:
            from opsconsole.runbooks.library import load_all, runbook_dirs

            loaded = load_all(runbook_dirs(list(self.cfg.runbook_dirs)))
            self._books = {i.runbook.id: i.runbook for i in loaded if i.runbook}
        return self._books

    async def plan(self, runbook: str, ref: int | str, params: Mapping[str, str],
                   labels: Mapping[str, str]) -> Plan | str:
        """The step to run with its values, or why it may not run."""
        rb = (await asyncio.to_thread(self.runbooks)).get(runbook)
        if rb is None:
            return f"no runbook {runbook!r}"
        idx, problem = step_problem(rb, ref)
        if problem:
            return problem
        values, problem = values_for(rb, params, labels)
        return problem if problem else Plan(rb, idx, values)

    async def run(self, plan: Plan, actor: Actor, incident_id: str | None) -> Result:
        from opsconsole.runbooks.session import RunbookSession, SessionOptions

        session = RunbookSession(plan.runbook, plan.values, SessionOptions(
            config=self.cfg, sink=StoreSink(self.store, actor),
            data_dir=Path(self.store.path).parent, incident_id=incident_id,
            record_in_thread=True))
        outcome = await session.run_step(plan.index)
        return Result(outcome.status, outcome.exit_code, outcome.message)


def check_auto_run(cfg: Any, path: Path | str, text: str | None = None) -> None:
    """Every rule's ``auto_run:`` names a step of its runbook that may run unattended
    (:func:`step_problem`); raises :class:`ConfigError` at the rule's ``auto_run:``."""
    rules = [(i, r) for i, r in enumerate(cfg.alerts) if r.auto_run is not None]
    if not rules:
        return
    from opsconsole.runbooks.library import load_all, runbook_dirs
    from opsconsole.yamlsafe import compose, read_text_file

    root = compose(text if text is not None else read_text_file(path), path)
    books = {i.runbook.id: i.runbook for i in load_all(runbook_dirs(list(cfg.runbook_dirs)))
             if i.runbook}

    def fail(i: int, key: str, msg: str) -> ConfigError:
        node = locate(root, ["alerts", i, key]) or locate(root, ["alerts", i])
        line = node.start_mark.line + 1 if node is not None else None
        col = node.start_mark.column + 1 if node is not None else None
        return ConfigError(path, line, col, f"alert {cfg.alerts[i].name!r}: {msg}")

    for i, rule in rules:
        rb = books.get(str(rule.runbook))
        if rb is None:
            raise fail(i, "runbook", f"auto_run: needs the runbook {rule.runbook!r}, which is "
                                     f"not loaded (known: {', '.join(sorted(books)) or 'none'})")
        _, problem = step_problem(rb, rule.auto_run)
        if problem:
            raise fail(i, "auto_run", problem)
