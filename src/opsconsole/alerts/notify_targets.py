"""One sender per ``notify:`` target kind: the payload it sends and how one attempt runs.
Never imports Textual.

Payloads (:func:`webhook_payload`, :func:`slack_payload`, :func:`pagerduty_payload`,
:func:`alertmanager_payload`, :func:`command_payload`) are pure functions of a
:class:`~opsconsole.alerts.notify.Notification`, so tests and the docs can show them.
Text that could become markup or a control sequence is neutralised where it lands in one:
Slack gets ``&``/``<``/``>`` escaped (no forged ``<!channel>`` or links) and control
characters made visible; the command gets control characters made visible in its JSON and
environment. An attempt never raises: it returns an :class:`Attempt` whose error text the
Notifier masks with every secret the sender knows before it is recorded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opsconsole.alerts.notify_config import (
    AlertmanagerTarget,
    CommandTarget,
    NotifyTarget,
    PagerDutyTarget,
    Secret,
    SecretUnavailable,
    SlackTarget,
    WebhookTarget,
    _HttpTarget,
    _url_check,
    resolve_secret,
    safe_endpoint,
)
from opsconsole.checks.probes.command import _Capture, sweep
from opsconsole.secrets import mask_tokens, mask_values
from opsconsole.text import for_terminal, one_line

if TYPE_CHECKING:
    from opsconsole.alerts.notify import Notification

__all__ = ["Attempt", "TargetSender", "sender_for", "webhook_payload", "slack_payload",
           "pagerduty_payload", "alertmanager_payload", "command_payload", "safe_endpoint"]

USER_AGENT = "opsconsole-notify/1"
SWEEP_TIMEOUT = 0.3
COMMAND_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status: int | None = None
    error: str | None = None
    retry: bool = False  # worth trying again (timeout, refused, 5xx, 429)
    skipped: bool = False


# --------------------------------------------------------------------------- payloads

def _clean(s: object) -> str:
    return for_terminal("" if s is None else str(s), keep_newlines=True)


def _slack_escape(s: object) -> str:
    return _clean(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_payload(n: Notification) -> dict[str, Any]:
    return n.to_dict()


_STATE_ICON = {"firing": "🔥", "resolved": "✅", "pending": "⏳", "acknowledged": "👀",
               "escalated": "📣"}


def slack_payload(n: Notification, target: SlackTarget | None = None) -> dict[str, Any]:
    head = (f"{_STATE_ICON.get(n.state, '')} [{n.state.upper()}] {_slack_escape(n.alert)} "
            f"({_slack_escape(n.severity)}) on {_slack_escape(n.host)}")
    value = "" if n.value is None else f" · value {_slack_escape(n.value)}"
    text = f"{head}: {_slack_escape(n.summary)}{value}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
    ]
    if n.description:
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": _slack_escape(n.description)}})
    ctx = [f"{_slack_escape(k)}={_slack_escape(v)}" for k, v in sorted(n.labels.items())]
    if n.runbook:
        ctx.append(f"runbook: {_slack_escape(n.runbook)}")
    if n.level:
        ctx.append(f"escalation level {n.level}")
    if ctx:
        blocks.append({"type": "context",
                       "elements": [{"type": "mrkdwn", "text": " · ".join(ctx)[:2900]}]})
    out: dict[str, Any] = {"text": text, "blocks": blocks}
    if target is not None and target.channel:
        out["channel"] = target.channel
    if target is not None and target.username:
        out["username"] = target.username
    return out


_PD_ACTION = {"firing": "trigger", "escalated": "trigger", "pending": "trigger",
              "acknowledged": "acknowledge", "resolved": "resolve"}
_PD_SEVERITY = {"critical": "critical", "error": "error", "warning": "warning", "info": "info"}


def pagerduty_payload(n: Notification, routing_key: str) -> dict[str, Any]:
    body: dict[str, Any] = {"routing_key": routing_key, "event_action": _PD_ACTION[n.state],
                            "dedup_key": n.dedup_key}
    if body["event_action"] == "trigger":
        body["payload"] = {
            "summary": (n.summary or n.alert)[:1024], "source": n.host or "opsconsole",
            "severity": _PD_SEVERITY.get(n.severity, "warning"),
            "timestamp": n.to_dict()["at"], "component": n.labels.get("check"),
            "group": n.labels.get("service"), "class": n.alert,
            "custom_details": {"alert": n.alert, "state": n.state, "value": n.value,
                               "description": n.description, "labels": dict(n.labels),
                               "runbook": n.runbook, "level": n.level},
        }
        body["payload"] = {k: v for k, v in body["payload"].items() if v is not None}
    return body


def _am_label(name: str) -> str:
    out = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in name)
    return out if out and not out[0].isdigit() else "_" + out


def alertmanager_payload(n: Notification, generator_url: str | None = None
                         ) -> list[dict[str, Any]]:
    labels = {_am_label(k): str(v) for k, v in n.labels.items() if str(v)}
    labels["alertname"] = n.alert
    labels["severity"] = n.severity
    if n.host and "host" not in labels:
        labels["host"] = n.host
    annotations = {"summary": n.summary}
    if n.description:
        annotations["description"] = n.description
    if n.runbook:
        annotations["runbook"] = n.runbook
    if n.value is not None:
        annotations["value"] = str(n.value)
    d = n.to_dict()
    alert: dict[str, Any] = {"labels": labels, "annotations": annotations,
                             "startsAt": d["starts_at"] or d["at"]}
    if n.state == "resolved":
        alert["endsAt"] = d["ends_at"] or d["at"]
    elif d["ends_at"]:
        alert["endsAt"] = d["ends_at"]
    if generator_url:
        alert["generatorURL"] = generator_url
    return [alert]


def command_payload(n: Notification) -> dict[str, Any]:
    d = n.to_dict()
    for k in ("alert", "summary", "description", "host", "runbook", "severity"):
        if d.get(k) is not None:
            d[k] = _clean(d[k])
    if isinstance(d.get("value"), str):
        d["value"] = _clean(d["value"])
    d["labels"] = {_clean(k): _clean(v) for k, v in n.labels.items()}
    return d


def command_env(n: Notification) -> dict[str, str]:
    d = command_payload(n)
    env = {
        "OPSCONSOLE_ALERT_NAME": d["alert"], "OPSCONSOLE_ALERT_STATE": n.state,
        "OPSCONSOLE_ALERT_SEVERITY": d["severity"],
        "OPSCONSOLE_ALERT_VALUE": "" if d["value"] is None else str(d["value"]),
        "OPSCONSOLE_ALERT_SUMMARY": d["summary"], "OPSCONSOLE_ALERT_HOST": d["host"],
        "OPSCONSOLE_ALERT_AT": d["at"], "OPSCONSOLE_ALERT_DEDUP_KEY": n.dedup_key,
        "OPSCONSOLE_ALERT_LEVEL": str(n.level), "OPSCONSOLE_ALERT_RUNBOOK": d["runbook"] or "",
        "OPSCONSOLE_ALERT_LABELS": json.dumps(d["labels"], ensure_ascii=True, sort_keys=True),
    }
    # one line each: a newline in an env value surprises scripts that `env | grep`
    return {k: v.replace("\u240a", " ").replace("\n", " ") for k, v in env.items()}


# --------------------------------------------------------------------------- masking

def _url_secrets(url: str) -> list[str]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    out = [url, parts.query]
    if parts.path not in ("", "/"):
        out.append(parts.path)
        out += [seg for seg in parts.path.split("/") if len(seg) >= 6]
    if parts.password:
        out.append(parts.password)
    if parts.username:
        out.append(parts.username)
    return [s for s in out if s]


class TargetSender:
    """Base: knows the secrets it has read, masks them out of any text."""

    def __init__(self, target: NotifyTarget, env: dict[str, str] | None = None) -> None:
        self.target = target
        self._env = env
        self._known: list[str] = []
        self.endpoint = ""

    def secret(self, value: Secret, *, url: bool = False) -> str:
        text = resolve_secret(value, self._env)
        self._known += _url_secrets(text) if url else [text]
        return text

    def mask(self, text: str) -> str:
        return one_line(mask_tokens(mask_values(text, self._known)), 300)

    async def attempt(self, n: Notification) -> Attempt:  # pragma: no cover - abstract
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


def _ssl_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    if not verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    cafile = os.path.expanduser(ca_file) if ca_file else os.environ.get("SSL_CERT_FILE") or None
    ctx = ssl.create_default_context(cafile=cafile)
    if cafile is None:
        try:
            import certifi

            ctx.load_verify_locations(certifi.where())
        except Exception:  # noqa: S110 - the system store is enough
            pass
    return ctx


class _MaskHttpxUrls(logging.Filter):
    """httpx logs ``HTTP Request: POST <full URL> …`` at INFO: a Slack hook path or a
    ``?token=`` would land in any log at INFO. The URL is replaced by its safe endpoint."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 2 and str(
                record.msg).startswith("HTTP Request:"):
            args = list(record.args)
            args[1] = safe_endpoint(str(args[1]))
            record.args = tuple(args)
        return True


_HTTPX_FILTER = _MaskHttpxUrls()


def _mask_httpx_logs() -> None:
    lg = logging.getLogger("httpx")
    if _HTTPX_FILTER not in lg.filters:
        lg.addFilter(_HTTPX_FILTER)


class HttpSender(TargetSender):
    """POSTs JSON; keeps one connection pool per target (keep-alive: the second
    notification does not pay the TCP/TLS handshake)."""

    target: _HttpTarget
    path_suffix = ""

    def __init__(self, target: _HttpTarget, env: dict[str, str] | None = None) -> None:
        super().__init__(target, env)
        _mask_httpx_logs()
        self._client: Any = None
        url = target.url if isinstance(target.url, str) else ""
        self.endpoint = (safe_endpoint(url, self.path_suffix) if url
                         else f"{target.url} (read when sent)")

    def body(self, n: Notification) -> Any:
        return webhook_payload(n)

    def url(self) -> str:
        base = self.secret(self.target.url, url=True)
        problem = _url_check(base)
        if problem:  # a URL read from env/file at send time: checked now, never echoed
            raise SecretUnavailable(f"the URL from {self.target.url}: {problem}")
        self.endpoint = safe_endpoint(base, self.path_suffix)
        return base.rstrip("/") + self.path_suffix if self.path_suffix else base

    def _http(self) -> Any:
        import httpx

        if self._client is None:
            t = float(self.target.timeout)
            self._client = httpx.AsyncClient(
                verify=_ssl_context(self.target.verify_tls, self.target.ca_file),
                timeout=httpx.Timeout(t), trust_env=False, follow_redirects=False,
                limits=httpx.Limits(max_connections=4, max_keepalive_connections=4))
        return self._client

    async def attempt(self, n: Notification) -> Attempt:
        import httpx

        try:
            url = self.url()
            headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
            for k, v in self.target.headers.items():
                headers[k] = self.secret(v)
            payload = json.dumps(self.body(n), ensure_ascii=False).encode()
        except SecretUnavailable as exc:
            return Attempt(False, None, str(exc), retry=False)
        except OSError as exc:
            return Attempt(False, None, f"cannot build the request: {exc}", retry=False)
        try:
            resp = await self._http().post(url, content=payload, headers=headers)
        except httpx.TimeoutException:
            return Attempt(False, None, f"timed out after {float(self.target.timeout):g}s",
                           retry=True)
        except (httpx.TransportError, OSError, ssl.SSLError) as exc:
            reason = exc.__class__.__name__ + (f": {exc}" if str(exc) else "")
            return Attempt(False, None, reason, retry=True)
        status = resp.status_code
        if 200 <= status < 300:
            return Attempt(True, status)
        snippet = resp.text[:200] if resp.content else ""
        err = f"HTTP {status} {resp.reason_phrase}" + (f": {snippet}" if snippet else "")
        return Attempt(False, status, err, retry=status >= 500 or status in (408, 429))

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


class WebhookSender(HttpSender):
    pass


class SlackSender(HttpSender):
    target: SlackTarget

    def body(self, n: Notification) -> Any:
        return slack_payload(n, self.target)


class PagerDutySender(HttpSender):
    target: PagerDutyTarget

    def body(self, n: Notification) -> Any:
        return pagerduty_payload(n, self.secret(self.target.routing_key))


class AlertmanagerSender(HttpSender):
    target: AlertmanagerTarget
    path_suffix = "/api/v2/alerts"

    def body(self, n: Notification) -> Any:
        return alertmanager_payload(n, self.target.generator_url)


class CommandSender(TargetSender):
    """Runs the argv in a session of its own; at the timeout its process group and
    everything left in its session are killed (as command checks are)."""

    target: CommandTarget

    def __init__(self, target: CommandTarget, env: dict[str, str] | None = None) -> None:
        super().__init__(target, env)
        self.endpoint = one_line(" ".join(mask_tokens(w) for w in target.command), 120)

    async def attempt(self, n: Notification) -> Attempt:
        try:
            extra = {k: self.secret(v) for k, v in self.target.env.items()}
        except SecretUnavailable as exc:
            return Attempt(False, None, str(exc))
        source = os.environ if self._env is None else self._env
        env = {"PATH": COMMAND_PATH, "LANG": "C.UTF-8", "HOME": source.get("HOME", "/"),
               **command_env(n), **extra}
        stdin = json.dumps(command_payload(n), ensure_ascii=True).encode() + b"\n"
        argv = list(self.target.command)
        loop = asyncio.get_running_loop()
        r, w = os.pipe()
        try:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=asyncio.subprocess.PIPE, stdout=w, stderr=w, env=env,
                    cwd="/", start_new_session=True)
            finally:
                os.close(w)
        except OSError as exc:
            os.close(r)
            return Attempt(False, None, f"cannot run {argv[0]}: {exc.strerror or exc}")
        capture = _Capture(self.target.max_output)
        try:
            transport, _ = await loop.connect_read_pipe(lambda: capture, os.fdopen(r, "rb", 0))
        except BaseException:
            os.close(r)
            sweep(proc.pid, True)
            raise
        timed_out = False
        try:
            try:
                async with asyncio.timeout(float(self.target.timeout)):
                    assert proc.stdin is not None
                    try:
                        proc.stdin.write(stdin)
                        await proc.stdin.drain()
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # it did not read its stdin: its exit code still counts
                    proc.stdin.close()
                    await proc.wait()
            except TimeoutError:
                timed_out = True
            try:
                async with asyncio.timeout(SWEEP_TIMEOUT):
                    await asyncio.to_thread(sweep, proc.pid, timed_out)
                    if timed_out:
                        await proc.wait()
                    await asyncio.shield(capture.closed)
            except TimeoutError:
                pass
        except asyncio.CancelledError:
            threading.Thread(target=sweep, args=(proc.pid, proc.returncode is None),
                             daemon=True).start()
            raise
        finally:
            transport.close()
        out = bytes(capture.kept).decode("utf-8", errors="replace").strip()
        tail = f": {out}" if out else ""
        if timed_out:
            return Attempt(False, None, f"killed after {float(self.target.timeout):g}s "
                           f"timeout (process group {proc.pid}){tail}", retry=True)
        rc = proc.returncode
        if rc == 0:
            return Attempt(True, 0)
        return Attempt(False, rc, f"exit {rc}{tail}", retry=True)


_SENDERS: dict[type, type[TargetSender]] = {
    WebhookTarget: WebhookSender, SlackTarget: SlackSender, PagerDutyTarget: PagerDutySender,
    AlertmanagerTarget: AlertmanagerSender, CommandTarget: CommandSender,
}


def sender_for(target: NotifyTarget, env: dict[str, str] | None = None) -> TargetSender:
    return _SENDERS[type(target)](target, env)  # type: ignore[arg-type]
