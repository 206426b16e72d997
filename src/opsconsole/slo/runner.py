"""What the watcher and the console share: scrape the ``metrics:`` sources on their
intervals (in a thread, bounded), turn increases into SLO events, record check results and
SLI counts per minute, flush the closed minutes once a minute (in a thread) and give the
``slo.*``/``metrics.*`` signal values for the evaluator. Never imports Textual.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from opsconsole.metrics.queries import evaluate
from opsconsole.metrics.scrape import Scrape, scrape
from opsconsole.metrics.source import CounterDeltas, histogram_events, ratio_events
from opsconsole.slo.engine import SloEngine
from opsconsole.slo.history import HistoryDB, MinuteRecorder
from opsconsole.slo.spec import MetricsSource, SloSpec

PRUNE_EVERY = 3600.0


class SloRunner:
    def __init__(self, metrics: list[MetricsSource], slos: list[SloSpec],
                 db: HistoryDB | None = None, clock: Callable[[], float] = time.time,
                 fetch: Callable[..., Scrape] = scrape) -> None:
        self.sources = {m.name: m for m in metrics}
        self.slos = slos
        self.db = db
        self.clock = clock
        self.fetch = fetch
        self.recorder = MinuteRecorder()
        self.engine = SloEngine(slos, clock)
        self.engine.attach(self.recorder)
        self.deltas = {m.name: CounterDeltas() for m in metrics}
        for s in slos:
            ind = s.indicator
            if ind.metrics is None:
                continue
            if ind.histogram is not None:
                names = [ind.histogram.selector.metric + "_bucket"]
            else:
                names = [ind.good.selector.metric, ind.total.selector.metric]  # type: ignore[union-attr]
            self.deltas[ind.metrics].want(names)
        self.next_due: dict[str, float] = {m.name: 0.0 for m in metrics}
        self.last: dict[str, Scrape] = {}
        self.previous: dict[str, Scrape] = {}
        self.queries = {m.name: list(m.queries) for m in metrics}
        self._last_prune = 0.0
        self._busy = False

    def load(self) -> None:
        if self.db is not None:
            self.engine.load(self.db, self.clock())

    def on_scrape(self, source: str, s: Scrape) -> None:
        """One scrape's increases become events of the SLOs that read that source."""
        prev = self.last.get(source)
        if prev is not None:
            self.previous[source] = prev  # for the rate: queries (metrics.queries)
        self.last[source] = s
        deltas = self.deltas[source].step(s)
        if deltas is None:
            return  # the target is away: no events (NO DATA), not zero
        for slo in self.slos:
            ind = slo.indicator
            if ind.metrics != source:
                continue
            if ind.histogram is not None:
                g, t = histogram_events(deltas, ind.histogram.selector, float(ind.below or 0))
            else:
                g, t = ratio_events(deltas, ind.good.selector, ind.total.selector)  # type: ignore[union-attr]
            self.engine.add(slo.name, s.at, g, t)

    async def tick(self) -> None:
        """Scrape what is due, then flush closed minutes (both in threads)."""
        if self._busy:
            return
        self._busy = True
        try:
            now = self.clock()
            for name, src in self.sources.items():
                if self.next_due[name] > now:
                    continue
                s = await asyncio.to_thread(self.fetch, src.url, float(src.timeout),
                                            int(src.max_bytes), None, now)
                self.on_scrape(name, s)
                self.next_due[name] = now + float(src.interval)
            await asyncio.to_thread(self.flush)
        finally:
            self._busy = False

    def flush(self) -> int:
        now = self.clock()
        try:
            n = self.recorder.flush(self.db, now)
            if self.db is not None and now - self._last_prune >= PRUNE_EVERY:
                self.db.prune(now)
                self._last_prune = now
        except Exception:  # a locked or full store: those minutes are lost from the
            return 0  # history (the in-memory figures keep them); evaluation goes on
        return n

    def signals(self) -> dict[str, Any]:
        out: dict[str, Any] = self.engine.signals(self.clock())
        for name in self.sources:
            s = self.last.get(name)
            out[f"metrics.{name}.up"] = 1.0 if s is not None and s.ok else None
            for q in self.queries.get(name, ()):
                out[f"metrics.{name}.{q.name}"] = evaluate(q, s, self.previous.get(name))
        return out
