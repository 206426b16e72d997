"""YAML + environment → typed configuration. Never imports Textual.

Where the config comes from: ``--config PATH``, else ``$OPSCONSOLE_CONFIG``, else
``$XDG_CONFIG_HOME/opsconsole/config.yaml`` or ``config.yml`` (``~/.config/...``), else
the same under each ``$XDG_CONFIG_DIRS`` entry (``/etc/xdg``), else the built-in defaults.
Every error names file:line:column and what was expected.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from opsconsole.incidents.config import IncidentsConfig
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.runbooks.config import Hotkey
from opsconsole.schema import (
    ConfigError,
    Duration,
    Invalid,
    field,
    load_file,
    load_text,
    positive,
)

if TYPE_CHECKING:  # the sections' types: imported when the file has the section (below)
    from opsconsole.alerts.notify_config import NotifyTarget
    from opsconsole.alerts.silences import MaintenanceWindow
    from opsconsole.alerts.spec import AlertRule
    from opsconsole.checks.spec import CheckSpec
    from opsconsole.slo.spec import MetricsSource, SloSpec
    from opsconsole.sources.promql_spec import PromTarget

__all__ = ["AppConfig", "ConfigError", "Levels", "Thresholds", "database_targets", "load_config",
           "config_candidates", "resolve_config_path"]


@dataclass(frozen=True)
class Levels:
    """Three thresholds, ascending: careful < warning < critical."""

    careful: float
    warning: float
    critical: float

    def __check__(self) -> None:
        if not (self.careful <= self.warning <= self.critical):
            raise Invalid(
                f"expected careful <= warning <= critical, got "
                f"{self.careful} / {self.warning} / {self.critical}"
            )

    def level(self, value: float | None) -> str:
        """``ok`` / ``careful`` / ``warning`` / ``critical`` for a value."""
        if value is None:
            return "ok"
        if value >= self.critical:
            return "critical"
        if value >= self.warning:
            return "warning"
        if value >= self.careful:
            return "careful"
        return "ok"


def _pct_levels(a: float, b: float, c: float) -> Levels:
    return Levels(a, b, c)


@dataclass(frozen=True)
class Thresholds:
    """Percent thresholds (load is per core). Defaults follow glances."""

    cpu: Levels = field(_pct_levels(50, 70, 90))
    memory: Levels = field(_pct_levels(50, 70, 90))
    swap: Levels = field(_pct_levels(50, 70, 90))
    disk: Levels = field(_pct_levels(50, 70, 90))
    load: Levels = field(Levels(0.7, 1.0, 5.0))


@dataclass(frozen=True)
class ResourcesConfig:
    """How the resources pane samples the host."""

    process_interval: Duration = field(Duration(4.0), check=positive)
    filesystem_interval: Duration = field(Duration(30.0), check=positive)
    history: Duration = field(Duration(300.0), check=positive)
    top: int = field(40, check=positive)
    sort: str = field("cpu", check=lambda v: None if v in ("cpu", "memory") else "expected cpu or memory")


# Every key binding id users may remap in ``keys:`` (the ids of the ActionSpecs and
# Bindings in opsconsole.ui, kept here so the config never imports Textual; a test checks
# the two agree). Runbook hotkeys add ``runbook-hotkey-<n>``, one per ``hotkeys:`` entry.
BINDING_IDS: tuple[str, ...] = (
    # the console (ui.actions.GLOBAL_ACTIONS)
    "help", "quit", "focus-health", "focus-resources", "focus-slow", "focus-locks",
    "focus-incidents", "next-pane", "previous-pane", "zoom", "pause", "faster", "slower",
    "filter", "declare", "note", "runbooks", "timeline", "back", "palette",
    # the panes
    "health-details", "health-run-now", "health-details-close", "health-details-output",
    "sort-processes",
    "slow-view", "slow-sort", "slow-details", "slow-explain", "slow-cancel", "slow-terminate",
    "slow-next-target", "locks-details", "locks-cancel", "locks-terminate",
    "locks-next-target", "open-incident",
    # the screens
    "help-close", "incident-note", "incident-status", "incident-severity",
    "incident-milestone", "incident-role", "incident-snapshot", "incident-export",
    "incident-comms", "incident-back", "modal-cancel", "modal-close", "pg-modal-close",
    "incident-record", "comms-copy", "comms-write",
    "pg-explain-anyway", "runbook-picker-open",
    "runbook-picker-down",
    "runbook-picker-up", "runbook-picker-close", "runbook-run", "runbook-skip", "runbook-stop",
    "runbook-back", "runbook-note", "runbook-down", "runbook-up", "runbook-close",
    "runbook-params-cancel",
    # the alerts strip (ui.alerts_view)
    "alert-runbook", "alert-ack", "alert-silence",
    "slo", "slo-close",  # issue 15: the SLO view
    "wall", "wall-quit", "wall-back",  # issue 16: the war-room wall view
)
_HOTKEY_ID = re.compile(r"runbook-hotkey-(\d+)")


class BindingId(str):
    """A key binding id in ``keys:``; an unknown one is an error with a suggestion."""

    @classmethod
    def parse(cls, value: object) -> BindingId:
        text = str(value)
        if text in BINDING_IDS or _HOTKEY_ID.fullmatch(text):
            return cls(text)
        close = difflib.get_close_matches(text, BINDING_IDS, n=3)
        if close:
            hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
        else:
            hint = "expected one of: " + ", ".join(sorted(BINDING_IDS))
        raise Invalid(f"unknown binding id {text!r}; {hint}")


@dataclass(frozen=True)
class AppConfig:
    """The whole configuration file."""

    refresh: Duration = field(Duration(2.0), check=positive)
    theme: str = "opsconsole-dark"
    read_only: bool = False
    data_dir: str | None = None
    clock_seconds: bool = False
    redact_queries: bool = False
    thresholds: Thresholds = field(Thresholds())
    resources: ResourcesConfig = field(ResourcesConfig())
    # A section's types are imported when the file has it (schema.field ``types``): a
    # config with only checks (``opsconsole check``), or none (the console's first frame),
    # does not load the alert, notify, silence, SLO and PromQL specs.
    checks: list[CheckSpec] = field([], types=("opsconsole.checks.spec",))
    databases: list[DatabaseTarget] = field([])
    postgres: PostgresOptions = field(PostgresOptions())
    incidents: IncidentsConfig = field(IncidentsConfig())
    runbook_dirs: list[str] = field([])
    hotkeys: list[Hotkey] = field([])
    keys: dict[BindingId, str] = field({})  # binding id -> key(s), e.g. {zoom: "Z"}
    # alert rules (opsconsole.alerts.spec)
    alerts: list[AlertRule] = field([], types=("opsconsole.alerts.spec",))
    # alert notification targets (alerts.notify_config)
    notify: list[NotifyTarget] = field([], types=("opsconsole.alerts.notify_config",))
    # maintenance windows (alerts.silences)
    maintenance: list[MaintenanceWindow] = field([], types=("opsconsole.alerts.silences",))
    # /metrics endpoints scraped (slo.spec)
    metrics: list[MetricsSource] = field([], types=("opsconsole.slo.spec",))
    slos: list[SloSpec] = field([], types=("opsconsole.slo.spec",))  # service level objectives
    # PromQL signal sources (sources.promql)
    prometheus: list[PromTarget] = field([], types=("opsconsole.sources.promql_spec",))
    source: str | None = field(None, metadata={"internal": True})

    def __check__(self) -> None:
        names = [c.name for c in self.checks]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise Invalid(f"check names must be unique; repeated: {', '.join(sorted(dup))}", "checks")
        dbs = [d.name for d in self.databases]
        dup = {n for n in dbs if dbs.count(n) > 1}
        if dup:
            raise Invalid(f"database names must be unique; repeated: {', '.join(sorted(dup))}", "databases")
        # each rule's module is imported only when there is something for it to look at
        # (each rule finds nothing in empty sections): same order, same first problem
        if self.checks:
            from opsconsole.checks.spec import check_references

            problem = check_references(self.checks, dbs)
            if problem:
                raise Invalid(problem, "checks")
        if self.alerts:
            from opsconsole.alerts.spec import check_rules

            problem = check_rules(self.alerts)
            if problem:
                raise Invalid(problem, "alerts")
        if self.notify:
            from opsconsole.alerts.notify_config import check_unique

            problem = check_unique(self.notify)
            if problem:
                raise Invalid(problem, "notify")
        targets = {t.name for t in self.notify}
        for rule in self.alerts:
            named = list(rule.notify) + [n for level in rule.escalate for n in level.notify]
            unknown = [n for n in named if n not in targets]
            if unknown:
                known = ", ".join(sorted(targets)) or "none: there is no notify: section"
                raise Invalid(f"alert {rule.name!r} notifies {unknown[0]!r}, which is not a "
                              f"notify: target (known: {known})", "alerts")
        if self.slos or self.metrics:
            from opsconsole.slo.spec import check_slos

            problem = check_slos(self.slos, self.metrics, names)
            if problem:
                raise Invalid(problem, "slos")
        proms = [t.name for t in self.prometheus]
        dup = {n for n in proms if proms.count(n) > 1}
        if dup:
            raise Invalid(f"prometheus names must be unique; repeated: {', '.join(sorted(dup))}",
                          "prometheus")
        # signal references live in alert conditions and promql checks only
        if self.alerts or any(c.kind == "promql" for c in self.checks):
            from opsconsole.alerts.sourcerefs import check_source_refs

            located = check_source_refs(self.checks, self.prometheus, self.alerts,
                                        self.metrics)
            if located is not None:
                raise located
        for key in self.keys:
            m = _HOTKEY_ID.fullmatch(key)
            if m and int(m.group(1)) >= len(self.hotkeys):
                raise Invalid(f"{key!r}: there is no hotkeys: entry {m.group(1)} "
                              f"({len(self.hotkeys)} configured, counted from 0)", "keys")


def database_targets(cfg: AppConfig, dsn: str | None) -> list[DatabaseTarget]:
    """Every database target the console knows: the ``--dsn`` target first (named after its
    host and database, as the PostgreSQL panes show it), then the config's ``databases:``.
    A configured target with the same name as the ``--dsn`` one is left out: the command
    line wins. With neither, ``PGHOST``/``PGSERVICE``/``PGDATABASE`` in the environment
    give one implicit target (libpq defaults, as ``psql`` with no arguments). The PostgreSQL panes watch the first and ``T`` cycles through them all; a
    runbook's sql steps may name any of them."""
    targets = [DatabaseTarget.from_dsn(dsn)] if dsn else []
    names = {t.name for t in targets}
    targets += [t for t in cfg.databases if t.name not in names]
    if not targets and any(os.environ.get(v) for v in _IMPLICIT_VARS):
        # as ``psql`` with no arguments: the server the PG* environment names
        targets = [DatabaseTarget.from_dsn("")]
    return targets


# With none of these set and no databases, the PostgreSQL panes stay off rather than guess.
_IMPLICIT_VARS = ("PGHOST", "PGHOSTADDR", "PGSERVICE", "PGDATABASE")


CONFIG_NAMES = ("config.yaml", "config.yml")
XDG_CONFIG_DIRS_DEFAULT = "/etc/xdg"


def config_candidates(env: Mapping[str, str] | None = None) -> list[Path]:
    """Every file :func:`resolve_config_path` looks for when neither ``--config`` nor
    ``$OPSCONSOLE_CONFIG`` is given, in order: the user's (``$XDG_CONFIG_HOME``, default
    ``~/.config``), then the system-wide ones (``$XDG_CONFIG_DIRS``, default ``/etc/xdg``)."""
    env = os.environ if env is None else env
    home = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    dirs = [home] + [d for d in (env.get("XDG_CONFIG_DIRS") or XDG_CONFIG_DIRS_DEFAULT).split(":")
                     if d]
    return [Path(d) / "opsconsole" / name for d in dirs for name in CONFIG_NAMES]


def resolve_config_path(cli_path: str | None, env: Mapping[str, str] | None = None) -> Path | None:
    """The config file to read, by precedence, or None for built-in defaults."""
    env = os.environ if env is None else env
    if cli_path:
        return Path(cli_path).expanduser()
    if env.get("OPSCONSOLE_CONFIG"):
        return Path(env["OPSCONSOLE_CONFIG"]).expanduser()
    return next((c for c in config_candidates(env) if c.is_file()), None)


def load_config(path: str | Path | None) -> AppConfig:
    """Load a config file (or the defaults for None). Raises :class:`ConfigError`."""
    if path is None:
        return AppConfig()
    p = Path(path)
    if not p.exists():
        raise ConfigError(p, None, None, "config file does not exist")
    cfg = load_file(p, AppConfig)
    template = cfg.incidents.postmortem_template
    if template:  # checked now (file:line:col, exit 2), kept as an absolute path
        from opsconsole.incidents.pmtemplate import load_template

        t = Path(template).expanduser()
        t = t if t.is_absolute() else p.parent / t
        load_template(t)
        cfg = replace(cfg, incidents=replace(cfg.incidents, postmortem_template=str(t)))
    if any(r.auto_run is not None for r in cfg.alerts):  # only then are runbooks read
        from opsconsole.runbooks.autorun import check_auto_run

        check_auto_run(cfg, p)
    return replace(cfg, source=str(p))


def parse_config(text: str, name: str = "<config>") -> AppConfig:
    """Parse config text (for tests and tools)."""
    return load_text(text, AppConfig, name)


def default_data_dir(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("OPSCONSOLE_DATA_DIR"):
        return Path(env["OPSCONSOLE_DATA_DIR"]).expanduser()
    xdg = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local" / "share")
    return Path(xdg) / "opsconsole"


def resolve_data_dir(cli: str | None, cfg: AppConfig, env: dict[str, str] | None = None) -> Path:
    """``--data-dir`` > ``$OPSCONSOLE_DATA_DIR`` > config ``data_dir`` > XDG default."""
    env = os.environ if env is None else env
    if cli:
        return Path(cli).expanduser()
    if env.get("OPSCONSOLE_DATA_DIR"):
        return Path(env["OPSCONSOLE_DATA_DIR"]).expanduser()
    if cfg.data_dir:
        return Path(cfg.data_dir).expanduser()
    return default_data_dir(env)

