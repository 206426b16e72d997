"""Notifications: what the evaluator hands over on a transition, and the :class:`Notifier`
that delivers it to the ``notify:`` targets. Never imports Textual.

* :class:`Notification` — one transition of one alert (``firing``, ``resolved``, ``pending``,
  ``acknowledged``, ``escalated``); :func:`make_dedup_key` gives the key that is stable for
  one firing episode (rule + sorted labels + firing-since).
* :class:`Notifier` — ``send(notification, targets)`` returns at once: each target gets the
  notification at most once per ``(dedup_key, state, level, target)`` (never once per
  evaluation), sends run concurrently on the running event loop, each attempt bounded by the
  target's timeout, retried with exponential backoff and jitter. Every send ends in one
  :class:`Delivery` record (``on_delivery`` callback, ``deliveries``), fit to become a timeline
  event: secrets (URL paths and tokens, routing keys, header values) are masked out of it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from opsconsole.alerts.notify_config import STATES, NotifyTarget
from opsconsole.alerts.notify_targets import Attempt, TargetSender, sender_for

__all__ = ["Notification", "Delivery", "Notifier", "make_dedup_key"]

log = logging.getLogger(__name__)
SEVERITIES = ("info", "warning", "critical")


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def make_dedup_key(rule: str, labels: Mapping[str, str], firing_since: datetime) -> str:
    """Stable for one firing episode of one alert: the rule, its sorted labels and when it
    started firing. Short (PagerDuty takes 255 characters) and free of label text."""
    blob = json.dumps([rule, sorted(labels.items()), _iso(firing_since)], ensure_ascii=True)
    return f"{rule[:64]}-{hashlib.sha256(blob.encode()).hexdigest()[:20]}"


@dataclass(frozen=True)
class Notification:
    """One alert transition, as every target is told about it."""

    alert: str
    state: str
    severity: str
    summary: str
    at: datetime
    dedup_key: str
    value: float | str | None = None
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    host: str = ""
    level: int = 0
    runbook: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}; got {self.state!r}")
        if self.at.tzinfo is None or (self.starts_at and self.starts_at.tzinfo is None) or (
                self.ends_at and self.ends_at.tzinfo is None):
            raise ValueError("notification times must be timezone-aware")
        object.__setattr__(self, "labels", dict(self.labels))

    def __hash__(self) -> int:  # labels is a dict: hash what identifies the transition
        return hash((self.dedup_key, self.state, self.level))

    def to_dict(self) -> dict[str, Any]:
        """The generic JSON form (the webhook body): times as ISO 8601 UTC."""
        d = asdict(self)
        d["labels"] = dict(self.labels)
        for k in ("at", "starts_at", "ends_at"):
            d[k] = _iso(getattr(self, k))
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Notification:
        kw = dict(d)
        for k in ("at", "starts_at", "ends_at"):
            kw[k] = _parse_iso(kw.get(k))
        return cls(**kw)


@dataclass(frozen=True)
class Delivery:
    """How one send to one target ended (after its retries). No secret is in it."""

    target: str
    kind: str
    alert: str
    state: str
    level: int
    dedup_key: str
    ok: bool
    attempts: int
    at: datetime
    status: int | None = None
    error: str | None = None
    endpoint: str = ""  # where it went, secrets masked (http://host:port/••••)
    seconds: float = 0.0
    skipped: bool = False
    tried: tuple[str, ...] = ()  # each failed attempt's error, masked, in order

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["at"] = _iso(self.at)
        d["tried"] = list(self.tried)
        return d

    def sentence(self) -> str:
        """A timeline sentence: ``notified oncall (webhook) of api-down firing``."""
        what = f"{self.alert} {self.state}" + (f" (level {self.level})" if self.level else "")
        if self.ok:
            tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
            return f"notified {self.target} ({self.kind}) of {what}{tries}"
        return (f"notification to {self.target} ({self.kind}) of {what} failed after "
                f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}: {self.error}")


SentKey = tuple[str, str, int, str]


class Notifier:
    """Delivers notifications to the configured targets; see the module doc.

    ``send`` must be called from the event loop's thread (the evaluator's loop); it never
    awaits. ``clock`` gives aware UTC datetimes (a fixed clock in tests). ``sent`` seeds the
    dedup memory (e.g. from the store after a restart or a lease takeover); ``remember``
    bounds it (oldest keys forgotten first).
    """

    def __init__(self, targets: Sequence[NotifyTarget], *,
                 on_delivery: Callable[[Delivery], None] | None = None,
                 clock: Callable[[], datetime] | None = None,
                 max_concurrency: int = 16, remember: int = 10_000,
                 sent: Iterable[SentKey] = (), env: dict[str, str] | None = None,
                 rng: random.Random | None = None) -> None:
        self.targets: dict[str, NotifyTarget] = {t.name: t for t in targets}
        self.on_delivery = on_delivery
        self.clock = clock or (lambda: datetime.now(UTC))
        self.deliveries: list[Delivery] = []
        self.max_records = 1000
        self._senders: dict[str, TargetSender] = {}
        self._sent: OrderedDict[SentKey, None] = OrderedDict((k, None) for k in sent)
        self._remember = remember
        self._tasks: set[asyncio.Task[Delivery]] = set()
        # the last send scheduled per (target, episode): the next one for the same pair
        # waits for it, so a receiver never hears "resolved" before "firing"
        self._last: dict[tuple[str, str], asyncio.Task[Delivery]] = {}
        self._sem: asyncio.Semaphore | None = None
        self._max_concurrency = max_concurrency
        self._env = env
        self._rng = rng or random.Random()

    # ------------------------------------------------------------------ public

    def send(self, n: Notification, targets: Iterable[str] | None = None
             ) -> list[asyncio.Task[Delivery]]:
        """Schedule ``n`` for each named target (default: all) not yet told about this
        ``(dedup_key, state, level)``; returns the scheduled tasks (empty: all duplicates).
        An unknown target name is a failed Delivery, not an exception."""
        names = list(self.targets) if targets is None else list(dict.fromkeys(targets))
        scheduled = []
        for name in names:
            key: SentKey = (n.dedup_key, n.state, n.level, name)
            if key in self._sent:
                continue
            self._remember_key(key)
            target = self.targets.get(name)
            if target is None:
                self._record(Delivery(name, "unknown", n.alert, n.state, n.level, n.dedup_key,
                                      False, 0, self.clock(),
                                      error=f"no notify target named {name!r}"))
                continue
            if n.state not in target.states:
                continue  # this target is not told about this kind of transition
            chain = (name, n.dedup_key)
            before = self._last.get(chain)
            task = asyncio.get_running_loop().create_task(self._deliver(target, n, before),
                                                          name=f"notify-{name}")
            self._last[chain] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda t, c=chain: self._forget_chain(c, t))
            scheduled.append(task)
        return scheduled

    def send_from_thread(self, loop: asyncio.AbstractEventLoop, n: Notification,
                         targets: Iterable[str] | None = None) -> concurrent.futures.Future[int]:
        """``send`` for an evaluator running in another thread: scheduled on ``loop`` (the
        Notifier's), returns at once; the future says how many sends were scheduled."""
        async def schedule() -> int:
            return len(self.send(n, targets))

        return asyncio.run_coroutine_threadsafe(schedule(), loop)

    def already_sent(self, n: Notification, target: str) -> bool:
        return (n.dedup_key, n.state, n.level, target) in self._sent

    def sent_keys(self) -> list[SentKey]:
        """The dedup memory, oldest first (to persist)."""
        return list(self._sent)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait (at most ``timeout``) for the sends in flight; True when none is left."""
        if not self._tasks:
            return True
        done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        return not pending

    async def aclose(self, timeout: float = 2.0) -> None:
        """Let sends in flight finish for ``timeout``, cancel the rest, close connections."""
        if not await self.drain(timeout):
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for s in self._senders.values():
            await s.aclose()
        self._senders.clear()

    # ------------------------------------------------------------------ internals

    def _remember_key(self, key: SentKey) -> None:
        self._sent[key] = None
        while len(self._sent) > self._remember:
            self._sent.popitem(last=False)

    def _forget_chain(self, chain: tuple[str, str], task: asyncio.Task[Delivery]) -> None:
        if self._last.get(chain) is task:
            del self._last[chain]

    def _record(self, d: Delivery) -> None:
        self.deliveries.append(d)
        if len(self.deliveries) > self.max_records:
            del self.deliveries[: len(self.deliveries) - self.max_records]
        level = logging.INFO if d.ok else logging.WARNING
        log.log(level, "%s", d.sentence())
        if self.on_delivery is not None:
            try:
                self.on_delivery(d)
            except Exception:  # a broken recorder must not break the next delivery
                log.exception("on_delivery failed")

    def _sender(self, target: NotifyTarget) -> TargetSender:
        s = self._senders.get(target.name)
        if s is None:
            s = self._senders[target.name] = sender_for(target, env=self._env)
        return s

    def _delay(self, target: NotifyTarget, attempt: int) -> float:
        """Exponential backoff with full jitter in [base/2, base], base capped."""
        base = min(float(target.max_backoff), float(target.backoff) * (2 ** (attempt - 1)))
        return base * (0.5 + 0.5 * self._rng.random())

    async def _deliver(self, target: NotifyTarget, n: Notification,
                       before: asyncio.Task[Delivery] | None = None) -> Delivery:
        if before is not None and not before.done():
            # in order per target and episode; the earlier send's outcome is its own record
            await asyncio.wait({before})
        if self._sem is None:
            self._sem = asyncio.Semaphore(self._max_concurrency)
        sender = self._sender(target)
        started = time.monotonic()
        attempts = 0
        last: Attempt | None = None
        tried: list[str] = []
        async with self._sem:
            try:
                for attempt in range(1, target.retries + 2):
                    attempts = attempt
                    try:
                        async with asyncio.timeout(float(target.timeout) + 1.0):
                            last = await sender.attempt(n)
                    except TimeoutError:
                        last = Attempt(False, None,
                                       f"timed out after {float(target.timeout):g}s", True)
                    except Exception as exc:  # a bug or a bad secret URL: a record, not a crash
                        last = Attempt(False, None, f"{exc.__class__.__name__}: {exc}")
                    if not last.ok:
                        tried.append(sender.mask(last.error or "failed"))
                    if last.ok or last.skipped or not last.retry or attempt > target.retries:
                        break
                    await asyncio.sleep(self._delay(target, attempt))
            except asyncio.CancelledError:
                self._record(self._delivery(target, n, sender, Attempt(
                    False, None, "cancelled (shutting down)", False), attempts, started, tried))
                raise
        assert last is not None
        d = self._delivery(target, n, sender, last, attempts, started, tried)
        self._record(d)
        return d

    def _delivery(self, target: NotifyTarget, n: Notification, sender: TargetSender,
                  a: Attempt, attempts: int, started: float,
                  tried: list[str] | None = None) -> Delivery:
        return Delivery(target.name, target.kind, n.alert, n.state, n.level, n.dedup_key,
                        a.ok, attempts, self.clock(), status=a.status,
                        error=None if a.ok else sender.mask(a.error or "failed"),
                        endpoint=sender.endpoint, seconds=round(time.monotonic() - started, 4),
                        skipped=a.skipped, tried=tuple(tried or ()))

