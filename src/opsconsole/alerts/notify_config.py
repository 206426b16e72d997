"""``notify:`` in the config: the targets alert notifications go to. Never imports Textual.

A list of ``{name, kind, ...}``; ``kind`` is one of ``webhook`` (generic JSON POST),
``slack`` (incoming-webhook JSON), ``pagerduty`` (Events API v2), ``alertmanager`` (push to
``/api/v2/alerts``) and ``command`` (an argv list, the notification as JSON on stdin).
Every target has ``timeout`` (each attempt), ``retries`` with exponential backoff and jitter
(``backoff`` the first delay, ``max_backoff`` the cap) and ``states`` (the transitions it is
told about; ``pending`` is left out by default: nobody is paged for what has not fired).

A secret (a webhook URL with a token in its path, a Slack hook, a PagerDuty routing key, an
``Authorization`` header) may be written inline or as ``{env: VAR}`` / ``{file: PATH}`` so
the config file itself holds no secret; it is read when a notification is sent. Errors are
located at file:line:column like the rest of the config.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from opsconsole.files import read_bounded
from opsconsole.schema import (
    Duration,
    Invalid,
    _Ctx,
    convert,
    field,
    load_text,
    non_negative,
    positive,
)
from opsconsole.secrets import MASK

__all__ = [
    "SecretRef", "Secret", "WebhookTarget", "SlackTarget", "PagerDutyTarget",
    "AlertmanagerTarget", "CommandTarget", "NotifyTarget", "parse_notify_targets",
    "load_notify_targets", "resolve_secret", "SecretUnavailable", "STATES",
]

STATES = ("firing", "resolved", "pending", "acknowledged", "escalated")
State = Literal["firing", "resolved", "pending", "acknowledged", "escalated"]
_DEFAULT_STATES: list[str] = ["firing", "resolved", "acknowledged", "escalated"]
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
MAX_SECRET_FILE = 64 * 1024


class SecretUnavailable(Exception):
    """A ``{env: …}``/``{file: …}`` secret could not be read (the message names where from,
    never the value)."""


@dataclass(frozen=True)
class SecretRef:
    """A secret kept outside the config: an environment variable or a file (first line)."""

    env: str | None = None
    file: str | None = None

    def __check__(self) -> None:
        if (self.env is None) == (self.file is None):
            raise Invalid("expected exactly one of env: or file:")
        if self.env is not None and not _ENV_NAME.fullmatch(self.env):
            raise Invalid(f"expected an environment variable name, got {self.env!r}", "env")

    def __str__(self) -> str:
        return f"${self.env}" if self.env else f"<file {self.file}>"


Secret = str | SecretRef


def resolve_secret(value: Secret, env: dict[str, str] | None = None) -> str:
    """The secret's text. Raises :class:`SecretUnavailable` (no value in the message)."""
    if isinstance(value, str):
        return value
    if value.env is not None:
        source = os.environ if env is None else env
        got = source.get(value.env)
        if not got:
            raise SecretUnavailable(f"environment variable {value.env} is not set")
        return got
    path = os.path.expanduser(value.file or "")
    try:
        data = read_bounded(path, limit=MAX_SECRET_FILE, what="secret file")
    except OSError as exc:
        raise SecretUnavailable(f"cannot read secret file {path}: "
                                f"{exc.strerror or exc.__class__.__name__}") from None
    text = data.decode("utf-8", errors="replace").strip()
    if not text:
        raise SecretUnavailable(f"secret file {path} is empty")
    return text.splitlines()[0].strip()


def safe_endpoint(url: str, suffix: str = "") -> str:
    """``scheme://host:port`` and a masked path/query: what a record may show of a URL."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return MASK
    if ":" in host:
        host = f"[{host}]"
    hidden = "/" + MASK if (parts.path not in ("", "/") or parts.query) else ""
    return urlunsplit((parts.scheme, host + port, hidden, "", "")) + suffix


def _url_check(v: Secret) -> str | None:
    if not isinstance(v, str):
        return None  # read at send time; checked then
    try:
        parts = urlsplit(v)
        _ = parts.port
    except ValueError:
        return "expected an http:// or https:// URL with a host"  # no echo: may hold a token
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected an http:// or https:// URL with a host"
    return None


def _states_check(v: list[str]) -> str | None:
    bad = [s for s in v if s not in STATES]
    if bad:
        return f"unknown state {bad[0]!r}; expected some of: {', '.join(STATES)}"
    return None if v else "expected at least one state"


def _headers_check(v: dict[str, Secret]) -> str | None:
    for k, val in v.items():
        if not _HEADER_NAME.fullmatch(k):
            return f"{k!r} is not a valid HTTP header name"
        if isinstance(val, str) and any(c in val for c in "\r\n\0"):
            return f"header {k}: a value may not contain a line break"
    return None


def _name_check(v: str) -> str | None:
    return None if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", v) else (
        "expected a name of letters, digits, '-', '_' or '.' (up to 64)")


@dataclass(frozen=True, kw_only=True, repr=False)
class _Target:
    name: str = field(check=_name_check)
    timeout: Duration = field(Duration(5.0), check=positive)
    retries: int = field(3, check=lambda v: None if 0 <= v <= 10 else "expected 0 to 10")
    backoff: Duration = field(Duration(0.5), check=non_negative)
    max_backoff: Duration = field(Duration(10.0), check=non_negative)
    states: list[str] = field(list(_DEFAULT_STATES), check=_states_check)

    def __check__(self) -> None:
        if self.max_backoff < self.backoff:
            raise Invalid(f"expected max_backoff >= backoff ({float(self.backoff):g}s)",
                          "max_backoff")

    def secrets(self) -> list[Secret]:
        """Every secret-bearing value of this target (masked out of records)."""
        return []

    def __repr__(self) -> str:
        """Fields with every secret masked: a target may be logged or shown in a traceback."""
        parts = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "url" and isinstance(v, str):
                v = safe_endpoint(v)
            elif f.name in ("headers", "env") and v:
                v = {k: (x if isinstance(x, SecretRef) else MASK) for k, x in v.items()}
            elif f.name == "routing_key" and isinstance(v, str):
                v = MASK
            parts.append(f"{f.name}={v!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


@dataclass(frozen=True, kw_only=True, repr=False)
class _HttpTarget(_Target):
    url: Secret = field(check=_url_check)
    headers: dict[str, Secret] = field({}, check=_headers_check)
    verify_tls: bool = True
    ca_file: str | None = None

    def secrets(self) -> list[Secret]:
        return [self.url, *self.headers.values()]


@dataclass(frozen=True, kw_only=True, repr=False)
class WebhookTarget(_HttpTarget):
    """Generic JSON: one POST per transition with the Notification's fields."""

    kind: Literal["webhook"] = "webhook"


@dataclass(frozen=True, kw_only=True, repr=False)
class SlackTarget(_HttpTarget):
    """Slack-compatible incoming webhook: ``text`` + ``blocks``; the hook URL is a secret."""

    kind: Literal["slack"] = "slack"
    channel: str | None = None
    username: str | None = None


@dataclass(frozen=True, kw_only=True, repr=False)
class PagerDutyTarget(_HttpTarget):
    """PagerDuty Events API v2; ``routing_key`` is a secret."""

    kind: Literal["pagerduty"] = "pagerduty"
    url: Secret = field("https://events.pagerduty.com/v2/enqueue", check=_url_check)
    routing_key: Secret = field()

    def secrets(self) -> list[Secret]:
        return [*super().secrets(), self.routing_key]


@dataclass(frozen=True, kw_only=True, repr=False)
class AlertmanagerTarget(_HttpTarget):
    """An Alertmanager: alerts pushed to ``{url}/api/v2/alerts``."""

    kind: Literal["alertmanager"] = "alertmanager"
    states: list[str] = field(["firing", "resolved", "escalated"], check=_states_check)
    generator_url: str | None = None


def _argv_check(v: list[str]) -> str | None:
    if not v or not v[0].strip():
        return "expected a command as a list of words, e.g. [/usr/local/bin/page, --team, ops]"
    return None


@dataclass(frozen=True, kw_only=True, repr=False)
class CommandTarget(_Target):
    """Run ``command`` (argv, never a shell string): the notification as JSON on stdin and
    ``OPSCONSOLE_ALERT_*`` in an explicit environment (plus ``env:``)."""

    kind: Literal["command"] = "command"
    command: list[str] = field(check=_argv_check)
    env: dict[str, Secret] = field({})
    max_output: int = field(4096, check=positive)

    def __check__(self) -> None:
        super().__check__()
        for k in self.env:
            if not _ENV_NAME.fullmatch(k):
                raise Invalid(f"{k!r} is not an environment variable name", "env")

    def secrets(self) -> list[Secret]:
        return list(self.env.values())


NotifyTarget = WebhookTarget | SlackTarget | PagerDutyTarget | AlertmanagerTarget | CommandTarget


def check_unique(targets: list[NotifyTarget]) -> str | None:
    names = [t.name for t in targets]
    dup = sorted({n for n in names if names.count(n) > 1})
    return f"notify target names must be unique; repeated: {', '.join(dup)}" if dup else None


def parse_notify_targets(node: Any, ctx: _Ctx, where: str = "notify") -> list[NotifyTarget]:
    """Convert the YAML node of ``notify:`` (a list of targets); located ConfigErrors."""
    targets = convert(node, list[NotifyTarget], ctx, where)
    problem = check_unique(targets)
    if problem:
        raise ctx.error(node, f"{where}: {problem}")
    return targets


def load_notify_targets(text: str, name: str = "<notify>") -> list[NotifyTarget]:
    """``notify:`` targets from YAML text holding just the list (tests and tools)."""
    targets = load_text(text, list[NotifyTarget], name, empty=[])
    problem = check_unique(targets)
    if problem:
        raise Invalid(problem)
    return targets
