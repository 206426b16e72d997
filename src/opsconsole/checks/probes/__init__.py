"""One probe per check kind: ``PROBES[spec.kind](spec, config, details)``.

A probe does the work of one run of one check. It returns ``(state, message, latency,
details)`` (latency in seconds, or None when there is nothing to time), or raises
:class:`opsconsole.checks.engine.Outcome` to finish early. It may add to ``details`` (the
dict it is given) and must honour ``spec.timeout`` itself; :func:`run_check` adds an outer
guard, turns any other exception into an UNKNOWN result and fills in the elapsed time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from opsconsole.checks.probes import (
    command,
    disk,
    file_age,
    http,
    log_errors,
    postgres,
    process,
    tcp,
)

if TYPE_CHECKING:
    from opsconsole.checks.engine import State
    from opsconsole.config import AppConfig


class Probe(Protocol):
    async def __call__(self, spec: Any, config: AppConfig | None, details: dict[str, Any], /
                       ) -> tuple[State, str, float | None, dict[str, Any]]: ...


PROBES: dict[str, Probe] = {
    "http": http.probe,
    "tcp": tcp.probe,
    "postgres": postgres.probe,
    "process": process.probe,
    "command": command.probe,
    "disk": disk.probe,
    "file_age": file_age.probe,
    "log_errors": log_errors.probe,
}

__all__ = ["PROBES", "Probe"]
