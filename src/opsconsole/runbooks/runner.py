"""Run runbook steps: substitute parameters safely, execute, stream, stop, capture, record.

- Shell steps run ``/bin/sh -c`` in their own process group (new session, so no
  controlling terminal) with stdin from /dev/null. ``{{ name }}`` becomes one shell-quoted
  word (``shlex.quote``); a secret parameter becomes ``"$OPSCONSOLE_SECRET_NAME"``, passed in
  the environment, so the secret never appears on a command line, on screen or on record.
- On timeout or stop: SIGTERM to the whole group, then SIGKILL after a grace period.
- Output is read in chunks and handled line by line with bounded memory: the first and last
  lines, a live tail for the screen, a SHA-256 of everything, and the full (masked) output
  in a file in the data directory.
- SQL parameters are bound through asyncpg arguments, never pasted into the SQL.
- Every attempt is recorded: ``runbook.step_started`` and ``runbook.step_finished``; skips
  as ``runbook.step_skipped``; milestones as ``incident.milestone_set``.

Never imports Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets as _secrets
import shlex
import signal
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote

from opsconsole.events import (
    MILESTONE_SET,
    RUNBOOK_FINISHED,
    RUNBOOK_SKIPPED,
    RUNBOOK_STARTED,
    EventSink,
)
from opsconsole.runbooks.model import (
    PLACEHOLDER,
    CheckStep,
    HttpStep,
    ManualStep,
    Param,
    Runbook,
    ShellStep,
    SqlStep,
    WaitStep,
)
from opsconsole.secrets import MASK, mask_tokens, mask_values, safe_dsn

HEAD_LINES = 10
TAIL_LINES = 10
LIVE_LINES = 500
MAX_LINE = 4096  # longer lines are cut into pieces of this many characters
CAPTURE_BYTES = 256 * 1024  # output searched by `capture:` regexes
FILE_CAP = 64 * 1024 * 1024  # the saved output file stops growing here (the hash does not)
KILL_GRACE = 2.0
SECRET_ENV = "OPSCONSOLE_SECRET_"

TTY_HINTS = re.compile(
    r"(?i)(not a tty|no tty present|/dev/tty|inappropriate ioctl for device|"
    r"must be run from a terminal|stdin is not a terminal|input device is not a tty|"
    r"not a terminal|a terminal is required|unable to open terminal|"
    r"terminal is not fully functional|cannot open tty|no controlling terminal)"
)
TTY_MESSAGE = (
    "This step seems to need an interactive terminal (TTY). Runbook steps run without one "
    "(stdin is /dev/null, no controlling terminal) so nothing can wait for a keypress. Make "
    "the command non-interactive (sudo -n, ssh -T, apt-get -y, psql -X -c …, PAGER=cat) or "
    "run it yourself in a shell and tick the step as done."
)

STATES = ("pending", "running", "ok", "failed", "skipped", "stopped")


# --------------------------------------------------------------------------- parameters


class ParamError(ValueError):
    pass


def resolve_params(rb: Runbook, given: dict[str, str], *, context: dict[str, str] | None = None,
                   allow_missing: bool = False) -> dict[str, str]:
    """Values for every parameter: given > context > default. Raises :class:`ParamError`
    naming every problem (unknown names, missing values, values that do not fit)."""
    problems = []
    known = {p.name for p in rb.params}
    for name in given:
        if name not in known:
            problems.append(f"unknown parameter {name!r} (this runbook takes: "
                            f"{', '.join(sorted(known)) or 'none'})")
    values: dict[str, str] = {}
    for p in rb.params:
        if p.name in given:
            v = given[p.name]
        elif context and p.name in context and not p.secret:
            v = str(context[p.name])
        elif p.default is not None:
            v = p.default
        else:
            v = ""
        if v == "" and allow_missing:
            values[p.name] = v
            continue
        problem = p.problem(v)
        if problem:
            problems.append(problem)
        values[p.name] = v
    if problems:
        raise ParamError("; ".join(problems))
    return values


# --------------------------------------------------------------------------- output


_TOKEN_TRIGGERS = ("bearer", "token", "api", "secret", "passw", "pwd", "authorization",
                   "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "xox", "akia", "eyj")


def _cut(line: str) -> str:
    return line if len(line) <= MAX_LINE else line[:MAX_LINE] + " …"


class OutputCapture:
    """Everything a step printed, with bounded memory."""

    def __init__(self, path: Path | None, secrets: list[str],
                 on_line: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.secrets = [s for s in secrets if s]
        self.on_line = on_line
        self.head: list[str] = []
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.live: deque[str] = deque(maxlen=LIVE_LINES)
        self.lines = 0
        self.bytes = 0
        self.file_bytes = 0
        self.truncated = False
        self._hash = hashlib.sha256()
        self._partial = b""
        self._capture = bytearray()
        self._fh = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self._fh = os.fdopen(fd, "wb")

    def feed(self, data: bytes) -> None:
        data = self._partial + data
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) < MAX_LINE:
                self._partial = data
                return
            cut = len(data) - 1
            data = data + b"\n"
        block, self._partial = data[: cut + 1], data[cut + 1:]
        self._emit(block)

    def _emit(self, block: bytes) -> None:
        text = block.decode("utf-8", errors="replace")
        if self.secrets:
            text = mask_values(text, self.secrets)
        low = text.lower()
        if any(t in low for t in _TOKEN_TRIGGERS):  # the token regexes are slow: look first
            text = mask_tokens(text)
        out = text.encode()
        self.bytes += len(out)
        self._hash.update(out)
        if len(self._capture) < CAPTURE_BYTES:
            self._capture.extend(out[: CAPTURE_BYTES - len(self._capture)])
        if self._fh is not None and not self.truncated:
            room = FILE_CAP - self.file_bytes
            if len(out) > room:
                self._fh.write(out[:room])
                self.file_bytes += room
                self.truncated = True
            else:
                self._fh.write(out)
                self.file_bytes += len(out)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        self.lines += len(lines)
        if len(self.head) < HEAD_LINES:
            self.head.extend(_cut(x) for x in lines[: HEAD_LINES - len(self.head)])
        self.tail.extend(_cut(x) for x in lines[-TAIL_LINES:])
        self.live.extend(_cut(x) for x in lines[-LIVE_LINES:])
        if self.on_line is not None:
            for line in lines:
                self.on_line(_cut(line))

    def note(self, line: str) -> None:
        """A line written by opsconsole itself (status, rows of a query)."""
        self._emit((line + "\n").encode())

    def close(self) -> None:
        if self._partial:
            self._emit(self._partial + b"\n")
            self._partial = b""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def captured_text(self) -> str:
        return self._capture.decode("utf-8", errors="replace")

    def last_lines(self) -> list[str]:
        """The last lines that are not already among the first ones."""
        extra = self.lines - len(self.head)
        if extra <= 0:
            return []
        return list(self.tail)[-min(extra, TAIL_LINES):]


# --------------------------------------------------------------------------- outcome


@dataclass
class StepOutcome:
    status: str  # ok, failed, timeout, stopped, refused, skipped, dry-run
    exit_code: int | None = None
    message: str = ""
    duration: float = 0.0
    output_first: list[str] = field(default_factory=list)
    output_last: list[str] = field(default_factory=list)
    output_sha256: str | None = None
    output_file: str | None = None
    output_lines: int = 0
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "dry-run")


@dataclass(frozen=True)
class Rendered:
    """What a step will run, after substitution: ``display`` is safe to show and record."""

    kind: str
    display: str
    command: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    sql: str | None = None
    args: tuple[Any, ...] = ()
    url: str | None = None
    target: str | None = None  # database name, check name


# --------------------------------------------------------------------------- host figures


def host_figures_default(source: Any = None) -> Callable[[], dict[str, Any]]:
    """A function returning the key host figures (call it in a thread). ``source`` is
    anything with ``.collect() -> HostSnapshot`` (default: a fresh HostCollector)."""
    from opsconsole.sources.host import HostCollector, key_figures

    collector: list[Any] = [source] if source is not None else []

    def figures() -> dict[str, Any]:
        if not collector:
            collector.append(HostCollector(process_interval=0.0, filesystem_interval=0.0))
        return key_figures(collector[0].collect())

    return figures


# --------------------------------------------------------------------------- databases & checks


async def _pg_connect(target: Any, config: Any, timeout: float) -> Any:
    try:
        from opsconsole.postgres.connect import connect  # issue 4, when it has landed
    except ImportError:
        connect = None
    if connect is not None:
        return await connect(target, config.postgres, application_name="opsconsole runbook")
    import asyncpg

    return await asyncpg.connect(
        target.dsn, timeout=float(config.postgres.connect_timeout),
        server_settings={"application_name": "opsconsole runbook"},
    )


async def _run_check(spec: Any, config: Any) -> Any:
    from opsconsole.checks.engine import run_check  # never raises; honours spec.timeout

    return await run_check(spec, config)


def asyncpg_errors() -> type[BaseException]:
    import asyncpg

    return asyncpg.PostgresError


def _coerce(value: Any, pg_type: Any) -> Any:
    """Turn a parameter's text into the Python type asyncpg wants for ``pg_type``."""
    if not isinstance(value, str):
        return value
    name = getattr(pg_type, "name", "")
    if name in ("int2", "int4", "int8", "oid", "xid"):
        return int(value.strip())
    if name in ("float4", "float8"):
        return float(value)
    if name == "numeric":
        from decimal import Decimal

        return Decimal(value)
    if name == "bool":
        return value.strip().lower() in ("1", "t", "true", "yes", "on")
    if name == "interval":
        from datetime import timedelta

        from opsconsole.schema import Duration

        return timedelta(seconds=float(Duration.parse(value)))
    return value


def _format_rows(rows: list[Any], max_rows: int) -> list[str]:
    if not rows:
        return ["(0 rows)"]
    cols = list(rows[0].keys())
    shown = rows[:max_rows]
    cells = [[_cell(r[c]) for c in cols] for r in shown]
    widths = [min(max(len(c), *(len(row[i]) for row in cells)), 60) for i, c in enumerate(cols)]
    out = [" | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip(),
           "-+-".join("-" * w for w in widths)]
    for row in cells:
        out.append(" | ".join(v[:60].ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    more = f", {len(rows) - max_rows} not shown" if len(rows) > max_rows else ""
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''}{more})")
    return out


def _cell(v: Any) -> str:
    if v is None:
        return "NULL"
    return " ".join(str(v).split())


# --------------------------------------------------------------------------- the session


class RunbookSession:
    """One walk through a runbook: parameter values, step states, and the running step."""

    def __init__(
        self,
        runbook: Runbook,
        values: dict[str, str],
        *,
        config: Any,
        sink: EventSink,
        data_dir: Path,
        incident_id: str | None = None,
        host_figures: Callable[[], dict[str, Any]] | None = None,
        dry_run: bool = False,
        read_only: bool = False,
        on_line: Callable[[str], None] | None = None,
        kill_grace: float = KILL_GRACE,
        auto_confirm: bool = False,
        on_note: Callable[[str], None] | None = None,
        databases: list[Any] | None = None,
        record_in_thread: bool = False,
    ) -> None:
        self.runbook = runbook
        self.config = config
        self.record_in_thread = record_in_thread  # the console: its loop never waits on disk
        # the database targets sql steps may name: the config's, plus any the caller watches
        # (the console's --dsn target); default: the config's databases
        self.databases = list(databases if databases is not None
                              else getattr(config, "databases", None) or [])
        self.sink = sink
        self.data_dir = Path(data_dir)
        self.incident_id = incident_id
        self.host_figures = host_figures
        self.dry_run = dry_run
        self.read_only = read_only
        self.on_line = on_line
        self.kill_grace = kill_grace
        self.auto_confirm = auto_confirm  # the CLI's --yes
        self.on_note = on_note or on_line  # opsconsole's own messages (retries, captures)
        self.run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + _secrets.token_hex(3)
        self.params: dict[str, Param] = {p.name: p for p in runbook.params}
        self.values: dict[str, Any] = {}
        for name, v in values.items():
            p = self.params.get(name)
            self.values[name] = p.convert(v) if p else v
        self.states: list[str] = ["pending"] * len(runbook.steps)
        self.outcomes: list[StepOutcome | None] = [None] * len(runbook.steps)
        self.running: int | None = None
        self.capture: OutputCapture | None = None
        self._stop: asyncio.Event | None = None  # made on the running loop, per step run

    # ----------------------------------------------------------- masking & rendering
    @property
    def secret_values(self) -> list[str]:
        return [str(self.values[n]) for n, p in self.params.items()
                if p.secret and self.values.get(n) not in (None, "")]

    def masked_params(self) -> dict[str, Any]:
        return {n: (MASK if (self.params.get(n) and self.params[n].secret) else v)
                for n, v in self.values.items()}

    def _is_secret(self, name: str) -> bool:
        p = self.params.get(name)
        return bool(p and p.secret)

    def text(self, template: str) -> str:
        """Prose with ``{{ name }}`` filled in (secrets masked): titles, instructions."""
        return PLACEHOLDER.sub(
            lambda m: MASK if self._is_secret(m.group(1)) else str(self.values.get(m.group(1), m.group(0))),
            template)

    def shell(self, template: str) -> tuple[str, dict[str, str]]:
        """A shell command with each ``{{ name }}`` as one quoted word; secrets by environment."""
        env: dict[str, str] = {}

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if self._is_secret(name):
                env[SECRET_ENV + name.upper()] = str(self.values.get(name, ""))
                return f'"${SECRET_ENV}{name.upper()}"'
            return shlex.quote(str(self.values.get(name, "")))

        return PLACEHOLDER.sub(sub, template), env

    def url(self, template: str) -> tuple[str, str]:
        """A URL with each ``{{ name }}`` percent-encoded (a placeholder that starts the URL
        is the whole base URL and goes in as given)."""

        def value(m: re.Match[str], masked: bool) -> str:
            if masked and self._is_secret(m.group(1)):
                return MASK
            v = str(self.values.get(m.group(1), ""))
            return v if m.start() == 0 else url_quote(v, safe="")

        real = PLACEHOLDER.sub(lambda m: value(m, False), template)
        shown = PLACEHOLDER.sub(lambda m: value(m, True), template)
        return real, shown

    def render(self, step: Any, *, dry: bool = False) -> Rendered:
        """What ``step`` will run now (``dry``: its dry_run variant)."""
        if isinstance(step, ShellStep):
            cmd, env = self.shell(step.dry_run if dry and step.dry_run else step.run)
            return Rendered("shell", "$ " + cmd, command=cmd, env=env)
        if isinstance(step, SqlStep):
            sql = step.dry_run if dry and step.dry_run else step.sql
            args = tuple(self.values.get(a, "") for a in step.args)
            shown = [MASK if self._is_secret(a) else self.values.get(a, "") for a in step.args]
            binds = "".join(f"\n  ${i} = {v!r}" for i, v in enumerate(shown, 1))
            db = self.text(step.database)
            return Rendered("sql", f"[{db}] {sql.strip()}{binds}", sql=sql, args=args, target=db)
        if isinstance(step, HttpStep):
            real, shown = self.url(step.url)
            return Rendered("http", f"{step.method} {shown} (expect {step.expect_status})", url=real)
        if isinstance(step, CheckStep):
            return Rendered("check", f"health check {step.check}", target=step.check)
        if isinstance(step, WaitStep):
            if step.check:
                return Rendered("wait", f"wait until health check {step.check} is OK "
                                f"(every {float(step.interval):g}s, up to {float(step.timeout):g}s)",
                                target=step.check)
            if step.url:
                real, shown = self.url(step.url)
                return Rendered("wait", f"wait until GET {shown} answers {step.expect_status} "
                                f"(every {float(step.interval):g}s, up to {float(step.timeout):g}s)", url=real)
            cmd, env = self.shell(step.until or "")
            return Rendered("wait", f"wait until `{cmd}` exits 0 (every {float(step.interval):g}s, "
                            f"up to {float(step.timeout):g}s)", command=cmd, env=env)
        assert isinstance(step, ManualStep)
        lines = [self.text(step.text)] if step.text else []
        lines += [f"[ ] {self.text(c)}" for c in step.checklist]
        return Rendered("manual", "\n".join(lines) or "(manual step: do it, then mark it done)")

    # ----------------------------------------------------------- control
    def stop(self) -> bool:
        """Stop the running step (its process group gets SIGTERM, then SIGKILL)."""
        if self.running is None:
            return False
        if self._stop is not None:
            self._stop.set()
        return True

    def next_pending(self, after: int = -1) -> int | None:
        for i in range(after + 1, len(self.states)):
            if self.states[i] in ("pending", "failed", "stopped"):
                return i
        return None

    def skip(self, index: int, reason: str = "") -> None:
        self._record(RUNBOOK_SKIPPED, self._mark_skipped(index, reason))

    def skip_later(self, index: int, reason: str = "") -> Coroutine[Any, Any, None]:
        """Mark step ``index`` skipped now; the returned coroutine records it (in a thread):
        for the console, whose loop must not wait on the store."""
        return self._arecord(RUNBOOK_SKIPPED, self._mark_skipped(index, reason))

    def _mark_skipped(self, index: int, reason: str) -> dict[str, Any]:
        step = self.runbook.steps[index]
        self.states[index] = "skipped"
        self.outcomes[index] = StepOutcome("skipped", message=reason)
        return {**self._base(index, step), "reason": reason}

    def _base(self, index: int | str, step: Any) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "runbook": self.runbook.id,
            "runbook_title": self.runbook.title,
            "runbook_source": self.runbook.source,
            "step": index + 1 if isinstance(index, int) else index,
            "step_title": self.text(step.title),
            "kind": step.kind,
            "host": socket.gethostname(),
        }

    def _record(self, type: str, data: dict[str, Any]) -> None:
        try:
            self.sink.record(type, data, incident_id=self.incident_id)
        except OSError as exc:  # the run goes on; the operator is told
            self._note(f"[opsconsole] could not record {type}: {exc}")

    async def _arecord(self, type: str, data: dict[str, Any]) -> None:
        """Record from async code. With ``record_in_thread`` (the console) the sink writes
        (SQLite, fsync) in a thread, so the loop never waits on the disk or on another
        writer's lock; the CLI records inline (nothing else runs on its loop)."""
        if not self.record_in_thread:
            self._record(type, data)
            return
        try:
            await asyncio.to_thread(self.sink.record, type, data, incident_id=self.incident_id)
        except OSError as exc:  # the run goes on; the operator is told
            self._note(f"[opsconsole] could not record {type}: {exc}")

    def _note(self, line: str) -> None:
        if self.on_note is not None:
            self.on_note(line)

    async def _figures(self) -> dict[str, Any] | None:
        if self.host_figures is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.host_figures), 5.0)
        except Exception as exc:  # figures are a nicety; never fail a step for them
            return {"error": f"{type(exc).__name__}: {exc}"}

    # ----------------------------------------------------------- running
    async def run_step(self, index: int, confirmation: str | None = None) -> StepOutcome:
        """Run step ``index`` (with retries, on_failure steps, capture and milestone)."""
        step = self.runbook.steps[index]
        if self.running is not None:
            return StepOutcome("refused", message="another step is running")
        self.states[index] = "running"
        self.running = index
        self._stop = asyncio.Event()
        try:
            outcome = await self._run_with_retries(step, index, confirmation)
            if outcome.status in ("failed", "timeout") and step.on_failure:
                for j, sub in enumerate(step.on_failure):
                    self._note(f"[opsconsole] on_failure {j + 1}/{len(step.on_failure)}: "
                                 f"{self.text(sub.title)}")
                    label = f"{index + 1}.on_failure.{j + 1}"
                    sub_outcome = await self._run_with_retries(
                        sub, label, confirmation if sub.confirm else None)
                    if sub_outcome.status == "stopped":
                        break
        finally:
            self.running = None
        if outcome.status == "refused":
            self.states[index] = "pending"
        elif outcome.status in ("ok", "dry-run"):
            self.states[index] = "ok"
        elif outcome.status == "stopped":
            self.states[index] = "stopped"
        else:
            self.states[index] = "failed"
        self.outcomes[index] = outcome
        return outcome

    async def _run_with_retries(self, step: Any, index: int | str,
                                confirmation: str | None) -> StepOutcome:
        if self.read_only and step.runs_something:
            return StepOutcome("refused", message="read-only: runbook steps are shown, nothing runs")
        dry = self.dry_run
        if step.confirm and not dry and not self.auto_confirm and confirmation != step.confirm:
            return StepOutcome("refused", message=f"this step needs confirmation: type {step.confirm!r}")
        attempts = 1 + (step.retries if step.runs_something else 0)
        outcome = StepOutcome("failed")
        for attempt in range(1, attempts + 1):
            outcome = await self._attempt(step, index, attempt, attempts, dry)
            outcome.attempts = attempt
            if outcome.status in ("ok", "dry-run", "stopped", "refused"):
                break
            if attempt < attempts:
                self._note(f"[opsconsole] attempt {attempt} of {attempts} {outcome.status}; "
                             f"retrying in {float(step.retry_delay):g}s")
                if await self._sleep_or_stop(float(step.retry_delay)):
                    outcome = StepOutcome("stopped", message="stopped by the operator")
                    break
        if outcome.ok and not dry:
            self._apply_captures(step, index)
            if step.milestone:
                await self._arecord(MILESTONE_SET, {
                    "milestone": step.milestone,
                    "at": datetime.now(UTC).isoformat(),
                    "source": f"runbook {self.runbook.id} step {index + 1 if isinstance(index, int) else index}: "
                              f"{self.text(step.title)}",
                    "run_id": self.run_id,
                })
        return outcome

    def _apply_captures(self, step: Any, index: int | str) -> None:
        if not step.capture or self.capture is None:
            return
        text = self.capture.captured_text
        for name, pattern in step.capture.items():
            m = re.search(pattern, text, re.MULTILINE)
            if m:
                self.values[name] = (m.group(1) if m.groups() else m.group(0)).strip()
                self._note(f"[opsconsole] captured {name} = {self.values[name]}")

    async def _sleep_or_stop(self, seconds: float) -> bool:
        assert self._stop is not None
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
            return True
        except TimeoutError:
            return False

    def _output_path(self, index: int | str, attempt: int) -> Path:
        label = index + 1 if isinstance(index, int) else index
        return (self.data_dir / "runbook-output" /
                f"{self.run_id}-{self.runbook.id}-step{label}-try{attempt}.log")

    async def _attempt(self, step: Any, index: int | str, attempt: int, attempts: int,
                       dry: bool) -> StepOutcome:
        if self._stop is None:
            self._stop = asyncio.Event()
        would_only = dry and not self._runs_in_dry_run(step)
        rendered = self.render(step, dry=dry and bool(step.dry_run))
        base = self._base(index, step)
        base.update({"command": rendered.display, "params": self.masked_params(), "attempt": attempt,
                     "attempts": attempts, "dry_run": dry, "operator": self.sink_actor()})
        if isinstance(step, SqlStep):
            base["database"] = rendered.target
        before = None if would_only or step.kind == "manual" else await self._figures()
        started = datetime.now(UTC)
        await self._arecord(RUNBOOK_STARTED, {**base, "started_at": started.isoformat(),
                                                     "host_before": before})
        capture = OutputCapture(self._output_path(index, attempt), self.secret_values, self.on_line)
        self.capture = capture
        t0 = time.monotonic()
        status, code, message = "ok", None, ""
        try:
            if would_only:
                capture.note(f"[dry run] would run: {rendered.display}")
                status = "dry-run"
            elif isinstance(step, ManualStep):
                capture.note(rendered.display)
                status, message = "ok", "done by the operator"
            else:
                status, code, message = await self._execute(step, rendered, capture)
                if dry and status == "ok":
                    status = "dry-run"
        except asyncio.CancelledError:
            # the whole run is being stopped (Ctrl+C, app closing): the step's processes are
            # already gone (see _execute); record it, then let the cancellation go on
            capture.close()
            _, data = self._finish(base, started, t0, capture, "stopped", None,
                                   "interrupted: the run was stopped", before, None, step)
            self._record(RUNBOOK_FINISHED, data)  # (cancelled: no awaiting here)
            raise
        except Exception as exc:  # a step's failure is an outcome, never a crash
            status, message = "failed", f"{type(exc).__name__}: {mask_values(str(exc), self.secret_values)}"
        finally:
            capture.close()
        if status == "failed" and step.kind == "shell" and self._needs_tty(capture):
            message = (message + " — " if message else "") + TTY_MESSAGE
        after = None if before is None else await self._figures()
        outcome, data = self._finish(base, started, t0, capture, status, code, message, before,
                                     after, step)
        await self._arecord(RUNBOOK_FINISHED, data)
        return outcome

    def _finish(self, base: dict[str, Any], started: datetime, t0: float, capture: OutputCapture,
                status: str, code: int | None, message: str, before: dict[str, Any] | None,
                after: dict[str, Any] | None, step: Any) -> tuple[StepOutcome, dict[str, Any]]:
        """The step's outcome and its ``runbook.step_finished`` data (the caller records it)."""
        duration = time.monotonic() - t0
        if message:
            message = mask_tokens(mask_values(message, self.secret_values))
        outcome = StepOutcome(
            status=status, exit_code=code, message=message, duration=duration,
            output_first=list(capture.head), output_last=capture.last_lines(),
            output_sha256=capture.sha256, output_file=str(capture.path) if capture.path else None,
            output_lines=capture.lines,
        )
        data = {
            **base,
            "started_at": started.isoformat(),
            "duration": round(duration, 3),
            "status": status,
            "exit_status": code,
            "message": message,
            "output_first": outcome.output_first,
            "output_last": outcome.output_last,
            "output_lines": capture.lines,
            "output_bytes": capture.bytes,
            "output_sha256": capture.sha256,
            "output_file": outcome.output_file,
            "output_truncated": capture.truncated,
            "host_before": before,
            "host_after": after,
        }
        return outcome, data

    def sink_actor(self) -> str | None:
        actor = getattr(self.sink, "actor", None)
        return actor.label() if actor is not None and hasattr(actor, "label") else None

    @staticmethod
    def _runs_in_dry_run(step: Any) -> bool:
        if isinstance(step, ShellStep | SqlStep):
            return bool(step.dry_run)
        if isinstance(step, HttpStep):
            return step.method in ("GET", "HEAD")
        return isinstance(step, CheckStep | ManualStep)

    @staticmethod
    def _needs_tty(capture: OutputCapture) -> bool:
        return any(TTY_HINTS.search(line) for line in [*capture.head, *capture.tail])

    async def _execute(self, step: Any, rendered: Rendered,
                       capture: OutputCapture) -> tuple[str, int | None, str]:
        """Run the step's work as a task; stop it at its timeout or when asked."""
        assert self._stop is not None
        work: Awaitable[tuple[str, int | None, str]]
        if isinstance(step, ShellStep):
            work = self._shell(rendered.command or "", rendered.env, step.cwd, step.env, capture)
        elif isinstance(step, SqlStep):
            work = self._sql(step, rendered, capture)
        elif isinstance(step, HttpStep):
            work = self._http(step, rendered.url or "", capture)
        elif isinstance(step, CheckStep):
            work = self._check(step.check, capture)
        elif isinstance(step, WaitStep):
            work = self._wait(step, rendered, capture)
        else:  # pragma: no cover
            raise TypeError(step)
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(self._stop.wait())
        timeout = float(step.timeout)
        try:
            done, _ = await asyncio.wait({task, stopper}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise
        finally:
            stopper.cancel()
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._stop.is_set():
            capture.note("[opsconsole] stopped by the operator")
            return "stopped", None, "stopped by the operator"
        capture.note(f"[opsconsole] timed out after {timeout:g}s")
        if isinstance(step, WaitStep):
            return "timeout", None, f"condition not met within {timeout:g}s"
        return "timeout", None, f"timed out after {timeout:g}s"

    # ----------------------------------------------------------- kinds
    async def _shell(self, command: str, secret_env: dict[str, str], cwd: str | None,
                     extra_env: dict[str, str], capture: OutputCapture) -> tuple[str, int | None, str]:
        env = dict(os.environ)
        env.update({k: self.text(v) for k, v in extra_env.items()})
        env.update(secret_env)
        env.setdefault("PAGER", "cat")
        env["OPSCONSOLE_RUNBOOK"] = self.runbook.id
        spawn = asyncio.ensure_future(asyncio.create_subprocess_exec(
            "/bin/sh", "-c", command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=os.path.expanduser(cwd) if cwd else None,
        ))
        try:
            proc = await asyncio.shield(spawn)
        except OSError as exc:
            return "failed", None, f"could not start /bin/sh: {exc}"
        except asyncio.CancelledError:
            # stopped while the shell was starting: it may already run (and have children);
            # let the start finish, then stop its whole process group
            with contextlib.suppress(Exception):
                await self._terminate(await spawn)
            raise
        assert proc.stdout is not None
        reader = asyncio.ensure_future(self._pump(proc.stdout, capture))
        try:
            code = await proc.wait()
        except asyncio.CancelledError:
            await self._terminate(proc)
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
            raise
        # the shell is gone; a background child may still hold the pipe: read what is there
        try:
            await asyncio.wait_for(asyncio.shield(reader), 2.0)
        except TimeoutError:
            reader.cancel()
            capture.note("[opsconsole] stopped reading: a background process still holds the output")
        if code == 0:
            return "ok", 0, ""
        if code < 0:
            return "failed", code, f"killed by signal {-code}"
        return "failed", code, f"exit status {code}"

    async def _pump(self, stream: asyncio.StreamReader, capture: OutputCapture) -> None:
        while True:
            chunk = await stream.read(65536)
            if not chunk:
                return
            capture.feed(chunk)
            await asyncio.sleep(0)  # let the UI breathe during a flood

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        """SIGTERM the whole process group, then SIGKILL after the grace period."""
        pgid = proc.pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), self.kill_grace)
        except (TimeoutError, asyncio.CancelledError):
            pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(proc.wait(), 5.0)

    async def _sql(self, step: SqlStep, rendered: Rendered,
                   capture: OutputCapture) -> tuple[str, int | None, str]:
        name = rendered.target or step.database
        target = next((d for d in self.databases if d.name == name), None)
        if target is None:
            known = ", ".join(d.name for d in self.databases) or "none configured"
            return "failed", None, f"database {name!r} is not in the config (databases: {known})"
        try:
            conn = await _pg_connect(target, self.config, min(float(step.timeout), 10.0))
        except (OSError, TimeoutError, ValueError, asyncpg_errors()) as exc:
            msg = str(exc).replace(target.dsn, safe_dsn(target.dsn)) if target.dsn else str(exc)
            capture.note(f"could not connect to {name}: {msg}")
            return "failed", None, f"could not connect to {name}: {type(exc).__name__}: {msg}"
        try:
            ms = int(float(step.timeout) * 1000)
            await conn.execute(f"set statement_timeout = {ms}")
            sql = rendered.sql or ""
            if rendered.args:
                stmt = await conn.prepare(sql)
                types = stmt.get_parameters()
                try:
                    args = [_coerce(v, types[i] if i < len(types) else None)
                            for i, v in enumerate(rendered.args)]
                except ValueError as exc:
                    return "failed", None, f"a parameter does not fit its SQL type: {exc}"
                rows = await stmt.fetch(*args)
            else:
                try:
                    rows = await conn.fetch(sql)
                except Exception as exc:
                    if "multiple commands" not in str(exc):
                        raise
                    status = await conn.execute(sql)
                    capture.note(status)
                    return "ok", 0, ""
            for line in _format_rows(list(rows), step.max_rows):
                capture.note(line)
            return "ok", 0, ""
        except Exception as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            state = getattr(exc, "sqlstate", None)
            msg = f"{type(exc).__name__}: {exc}"
            capture.note(f"ERROR: {msg}")
            return "failed", None, msg + (f" (SQLSTATE {state})" if state else "")
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2.0)

    async def _http(self, step: HttpStep, url: str, capture: OutputCapture) -> tuple[str, int | None, str]:
        import httpx

        headers = {k: self.text(v) for k, v in step.headers.items()}
        async with httpx.AsyncClient(timeout=float(step.timeout), follow_redirects=False) as client:
            try:
                r = await client.request(step.method, url, headers=headers,
                                         content=self.text(step.body) if step.body else None)
            except httpx.HTTPError as exc:
                capture.note(f"{type(exc).__name__}: {exc}")
                return "failed", None, f"{type(exc).__name__}: {exc or 'request failed'}"
        capture.note(f"HTTP {r.status_code} {r.reason_phrase}")
        for line in r.text.splitlines()[:40]:
            capture.note(line)
        if r.status_code == step.expect_status:
            return "ok", r.status_code, ""
        return "failed", r.status_code, f"HTTP {r.status_code}, expected {step.expect_status}"

    async def _check(self, name: str, capture: OutputCapture) -> tuple[str, int | None, str]:
        spec = next((c for c in self.config.checks if c.name == name), None)
        if spec is None:
            known = ", ".join(c.name for c in self.config.checks) or "none configured"
            return "failed", None, f"health check {name!r} is not in the config (checks: {known})"
        result = await _run_check(spec, self.config)
        latency = getattr(result, "latency", None)
        lat = f" ({latency * 1000:.0f} ms)" if isinstance(latency, int | float) else ""
        capture.note(f"{result.state} {name}: {result.message}{lat}")
        if result.state == "OK":
            return "ok", 0, ""
        return "failed", None, f"{name} is {result.state}: {result.message}"

    async def _wait(self, step: WaitStep, rendered: Rendered,
                    capture: OutputCapture) -> tuple[str, int | None, str]:
        n = 0
        while True:
            n += 1
            if step.check:
                status, _, msg = await self._check(step.check, capture)
            elif step.url:
                import httpx

                try:
                    async with httpx.AsyncClient(timeout=min(float(step.interval) * 2, 10.0)) as c:
                        r = await c.get(rendered.url or "")
                    ok = r.status_code == step.expect_status
                    capture.note(f"attempt {n}: HTTP {r.status_code}")
                    status = "ok" if ok else "failed"
                except httpx.HTTPError as exc:
                    capture.note(f"attempt {n}: {type(exc).__name__}: {exc}")
                    status = "failed"
            else:
                status, code, msg = await self._shell(rendered.command or "", rendered.env, None,
                                                      {}, capture)
                capture.note(f"attempt {n}: exit status {code}")
            if status == "ok":
                return "ok", 0, f"condition met after {n} attempt(s)"
            await asyncio.sleep(float(step.interval))


def step_summary(rb: Runbook, index: int) -> str:
    step = rb.steps[index]
    extra = []
    if isinstance(step, SqlStep):
        extra.append(f"sql on {step.database}")
    else:
        extra.append(step.kind)
    if step.confirm:
        extra.append(f"confirm '{step.confirm}'")
    if step.milestone:
        extra.append(f"milestone {step.milestone}")
    return f"{step.title} [{', '.join(extra)}]"
