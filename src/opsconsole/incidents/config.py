"""Typed incident configuration (``incidents:``). Owned by the incidents work (issue 5)."""

from __future__ import annotations

from dataclasses import dataclass

from opsconsole.schema import Duration, field, positive


@dataclass(frozen=True)
class ResponseTargets:
    SEV1: Duration = field(Duration(300.0), check=positive)
    SEV2: Duration = field(Duration(900.0), check=positive)
    SEV3: Duration = field(Duration(3600.0), check=positive)
    SEV4: Duration = field(Duration(14400.0), check=positive)


@dataclass(frozen=True)
class IncidentsConfig:
    response_targets: ResponseTargets = field(ResponseTargets())
