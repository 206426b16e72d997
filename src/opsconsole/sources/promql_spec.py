"""The ``prometheus:`` config section (see :mod:`opsconsole.sources.promql` for the
source itself): parsed with the config, so this module imports no client, no asyncio, no ssl
(the first frame and ``opsconsole check`` do not pay for them). Never imports Textual."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

from opsconsole.schema import ByteSize, Duration, Invalid, field, positive

MAX_RESPONSE = 4 * 1024 * 1024  # bytes of a query answer read at most
MAX_SERIES = 10_000
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+\Z")


def _name(v: str) -> str | None:
    if not _NAME.match(v):
        return f"expected a name of letters, digits, _ and - (starting with a letter), got {v!r}"
    return None


def _url(v: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(v)
        _ = parts.port
    except ValueError as exc:
        return f"expected an http:// or https:// URL: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"expected an http:// or https:// URL with a host, got {v!r}"
    if parts.query or parts.fragment:
        return "expected the server's base URL, without ?query or #fragment"
    return None


@dataclass(frozen=True, kw_only=True)
class PromAuth:
    """The auth header: its value from ``env`` (a variable's name) or ``file`` (a path),
    never written in the config itself."""

    header: str = field("Authorization", check=lambda v: None if _HEADER.match(v)
                        else f"expected an HTTP header name, got {v!r}")
    scheme: str | None = None  # "Bearer" / "Basic": written before the value
    env: str | None = None
    file: str | None = None

    def __check__(self) -> None:
        if (self.env is None) == (self.file is None):
            raise Invalid("expected exactly one of env: (a variable's name) or file: (a path)")

    def value(self) -> str:
        """The header value (raises :class:`PromError` when it cannot be read)."""
        if self.env is not None:
            secret = os.environ.get(self.env, "")
            if not secret:
                raise PromError(f"auth: the environment variable {self.env} is not set")
        else:
            from opsconsole.files import read_bounded

            path = os.path.expanduser(self.file or "")
            try:
                secret = read_bounded(path, limit=64 * 1024).decode("utf-8", "replace").strip()
            except (OSError, ValueError) as exc:
                raise PromError(f"auth: cannot read {self.file}: "
                                f"{getattr(exc, 'strerror', None) or exc}") from None
            if not secret:
                raise PromError(f"auth: {self.file} is empty")
        if any(ch in secret for ch in "\r\n\x00"):
            raise PromError("auth: the header value holds a line break")
        return f"{self.scheme} {secret}" if self.scheme else secret


@dataclass(frozen=True, kw_only=True)
class PromQuery:
    """A named query: ``promql.TARGET.NAME`` in alert rules."""

    name: str = field(check=_name)
    query: str = field(check=lambda v: None if v.strip() else "expected a PromQL query")
    by: str | None = field(None, check=lambda v: v is not None and _name(v))
    aggregate: Literal["max", "min", "sum", "avg", "count"] | None = None
    range: Duration | None = field(None, check=lambda v: v is not None and positive(v))
    step: Duration | None = field(None, check=lambda v: v is not None and positive(v))
    over: Literal["avg", "max", "min", "last"] = "avg"

    def __check__(self) -> None:
        if self.by and self.aggregate:
            raise Invalid("by: (one value per series) and aggregate: (one for all) exclude "
                          "each other", "aggregate")
        if self.step is not None and self.range is None:
            raise Invalid("step: goes with range: (a query over a window)", "step")
        if self.range is not None and float(self.range) / float(self.step or _step(self.range)) > 11000:
            raise Invalid("range: / step: is over 11,000 points (Prometheus refuses that)",
                          "step")


def _step(window: float) -> float:
    return max(float(window) / 60.0, 1.0)


@dataclass(frozen=True, kw_only=True)
class PromTarget:
    """One Prometheus server."""

    name: str = field(check=_name)
    url: str = field(check=_url)
    timeout: Duration = field(Duration(5.0), check=positive)
    interval: Duration = field(Duration(15.0), check=positive)
    auth: PromAuth | None = None
    headers: dict[str, str] = field({})
    verify_tls: bool = True
    ca_file: str | None = None
    max_response: ByteSize = field(ByteSize(MAX_RESPONSE), check=positive)
    queries: list[PromQuery] = field([])

    def __check__(self) -> None:
        names = [q.name for q in self.queries]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise Invalid(f"query names must be unique; repeated: {', '.join(dup)}", "queries")
        for h in self.headers:
            if not _HEADER.match(h):
                raise Invalid(f"expected HTTP header names, got {h!r}", "headers")
            if self.auth is not None and h.lower() == self.auth.header.lower():
                raise Invalid(f"{h} is the auth header: set it under auth:", "headers")

    def query(self, name: str) -> PromQuery | None:
        return next((q for q in self.queries if q.name == name), None)


class PromError(Exception):
    """A query that gave no answer: unreachable, refused, timed out, or an error response."""


