"""One probe per check kind: ``PROBES[spec.kind](spec, config, details)``.

A probe does the work of one run of one check. It returns ``(state, message, latency,
details)`` (latency in seconds, or None when there is nothing to time), or raises
:class:`opsconsole.checks.engine.Outcome` to finish early. It may add to ``details`` (the
dict it is given) and must honour ``spec.timeout`` itself; :func:`run_check` adds an outer
guard, turns any other exception into an UNKNOWN result and fills in the elapsed time.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from opsconsole.checks.engine import State
    from opsconsole.config import AppConfig


class Probe(Protocol):
    async def __call__(self, spec: Any, config: AppConfig | None, details: dict[str, Any], /
                       ) -> tuple[State, str, float | None, dict[str, Any]]: ...


KINDS = ("http", "tcp", "postgres", "process", "command", "disk", "file_age", "log_errors",
         "promql", "json", "sql")
_MODULE = {"json": "json_body"}  # not a module named json


class _Probes(Mapping[str, Probe]):
    """kind → probe, each probe module imported on first use: ``opsconsole check`` with a
    command check does not load asyncpg (the postgres probe) or httpx (the http probe)."""

    def __getitem__(self, kind: str) -> Probe:
        if kind not in KINDS:
            raise KeyError(kind)
        module = importlib.import_module(f"opsconsole.checks.probes.{_MODULE.get(kind, kind)}")
        probe: Probe = module.probe
        return probe

    def __iter__(self) -> Iterator[str]:
        return iter(KINDS)

    def __len__(self) -> int:
        return len(KINDS)


PROBES: Mapping[str, Probe] = _Probes()

__all__ = ["PROBES", "Probe"]
