"""Typed health-check configuration (``checks:`` in the config file).

Owned by the health-checks work (issue 3): every check kind is a frozen dataclass with a
``kind: Literal[...]`` field; :data:`CheckSpec` is their union, told apart by ``kind``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from opsconsole.schema import Duration, field, positive


@dataclass(frozen=True)
class _Common:
    name: str
    interval: Duration = field(Duration(30.0), check=positive)
    timeout: Duration = field(Duration(5.0), check=positive)
    failures_before_critical: int = field(1, check=positive)


@dataclass(frozen=True)
class HttpCheck(_Common):
    kind: Literal["http"] = "http"
    url: str = ""
    expect_status: int = 200


@dataclass(frozen=True)
class TcpCheck(_Common):
    kind: Literal["tcp"] = "tcp"
    address: str = ""


@dataclass(frozen=True)
class CommandCheck(_Common):
    kind: Literal["command"] = "command"
    command: str = ""


@dataclass(frozen=True)
class FileAgeCheck(_Common):
    kind: Literal["file_age"] = "file_age"
    path: str = ""
    max_age: Duration = Duration(86400.0)


CheckSpec = HttpCheck | TcpCheck | CommandCheck | FileAgeCheck
