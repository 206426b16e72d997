"""The work behind ``opsconsole watch``, ``opsconsole alerts`` and ``opsconsole silence``
(parsers in :mod:`opsconsole.cli.alerts`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsconsole.cli.common import EXIT_USAGE
from opsconsole.config import AppConfig, resolve_data_dir
from opsconsole.fmt import duration, one_line
from opsconsole.incidents.store import StoreError, open_store

EXIT_STORE = 1


class _Usage(Exception):
    pass


def _run(fn: Callable[[argparse.Namespace, AppConfig, Path], int],
         args: argparse.Namespace, what: str) -> int:
    from opsconsole.cli.common import load_or_exit

    cfg = load_or_exit(args.config)
    data_dir = resolve_data_dir(args.data_dir, cfg)
    try:
        return fn(args, cfg, data_dir)
    except _Usage as exc:
        print(f"opsconsole {what}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"opsconsole {what}: {exc}", file=sys.stderr)
        # a role that may not create the shared schema: exit 2 (the GRANT is printed)
        return 2 if getattr(exc, "statements", None) else EXIT_STORE
    except BrokenPipeError:
        return 0


def _store(cfg: AppConfig, data_dir: Path, read_only: bool = False) -> Any:
    from opsconsole.sharedstore.choose import open_configured, shared_target

    if shared_target(cfg) is not None:  # the shared store: one evaluator per store
        return open_configured(cfg, data_dir, read_only=read_only)
    return open_store(data_dir, cfg.incidents.database, read_only=read_only)


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- watch

def cmd_watch(args: argparse.Namespace) -> int:
    def work(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
        if getattr(args, "read_only", False):
            raise _Usage("--read-only writes nothing, and an evaluator records everything it "
                         "decides: run it without --read-only")
        if args.interval <= 0:
            raise _Usage("--interval must be a positive number of seconds")
        from opsconsole.alerts.watcher import Watcher
        from opsconsole.runbooks.autorun import AutoRunner

        store = _store(cfg, data_dir)

        def say(text: str) -> None:
            print(f"{_now():%Y-%m-%d %H:%M:%SZ} {one_line(text)}", flush=True)

        async def main() -> int:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.add_signal_handler(sig, stop.set)
            watcher = Watcher(cfg, store, interval=args.interval, say=say,
                              record_signals=args.record_signals,
                              auto_runner=AutoRunner(cfg, store))
            return await watcher.run(stop, max_ticks=args.ticks)

        try:
            return asyncio.run(main())
        finally:
            store.close()

    return _run(work, args, "watch")


# --------------------------------------------------------------------------- alerts

def alert_rows(cfg: AppConfig, store: Any, include_all: bool = False) -> list[dict[str, Any]]:
    """The alerts as the evaluator last recorded them, silenced ones marked ``silenced``."""
    import psutil

    from opsconsole.alerts.defaults import default_rules, effective_rules
    from opsconsole.alerts.rules import Evaluator
    from opsconsole.alerts.silencelog import SilenceLog
    from opsconsole.alerts.silences import silenced_by
    from opsconsole.alerts.watcher import EVALUATOR_STATE
    from opsconsole.sources.host import real_filesystems

    mounts = [p.mountpoint for p in real_filesystems(psutil.disk_partitions(all=False))]
    rules = [r for r in effective_rules(default_rules(cfg.thresholds, mounts), cfg.alerts)
             if r.enabled]
    ev = Evaluator(rules)
    last = store.events_after(0, types=(EVALUATOR_STATE,)) if store is not None else []
    if last:
        ev.restore(last[-1].data)
    rows = ev.rows(include_inactive=include_all)
    if store is not None:
        now = _now()
        log = SilenceLog()
        log.update(store)
        in_force = log.in_force(now)
        for row in rows:
            quiet = silenced_by(row["labels"], now, in_force, cfg.maintenance)
            if quiet is not None and row["state"] in ("firing", "pending", "nodata"):
                row["silenced_state"] = row["state"]
                row["state"] = "silenced"
                row["silenced_by"] = quiet.describe() if hasattr(quiet, "describe") \
                    else getattr(quiet, "name", "?")
    return rows


def _evaluator_line(store: Any) -> str:
    """Who evaluates, and how fresh the figures are: a state recorded by an evaluator
    that is gone is said to be old."""
    import time

    from opsconsole.incidents.lease import LeaseError
    from opsconsole.sharedstore.choose import lease_for

    try:
        info = lease_for(store).current()
    except LeaseError:
        return ""
    if info is None:
        return "evaluator: none running (opsconsole watch) — figures as last recorded"
    if info.expired(time.time()):
        return (f"evaluator: none running — the last one ({info.label()}) stopped "
                f"{duration(time.time() - info.renewed_at)} ago; figures as it left them")
    return f"evaluator: {info.label()}, last seen {duration(time.time() - info.renewed_at)} ago"


def _reader(cfg: AppConfig, data_dir: Path) -> Any:
    try:
        return _store(cfg, data_dir, read_only=True)
    except StoreError as exc:
        if "no incident store" in str(exc).lower() or isinstance(exc, FileNotFoundError):
            return None
        raise


def cmd_alerts_test(args: argparse.Namespace, cfg: AppConfig) -> int:
    from opsconsole.alerts.replay import HistoryError, read_samples, replay

    if not args.file:
        raise _Usage("alerts test needs the history FILE (JSON Lines)")
    try:
        samples = list(read_samples(args.file))
        transitions = replay(cfg.alerts, samples)
    except HistoryError as exc:
        raise _Usage(str(exc)) from None
    except OSError as exc:
        raise _Usage(f"{args.file}: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps([t.to_dict() for t in transitions], indent=2, default=str))
        return 0
    span = f"{duration(samples[-1].at - samples[0].at)}" if samples else "nothing"
    n = len(cfg.alerts)
    print(f"{len(samples)} samples over {span}, {n} rule{'s' if n != 1 else ''}")
    for t in transitions:
        at = datetime.fromtimestamp(t.at, UTC)
        value = f"{t.value:.4g}" if isinstance(t.value, float) else str(t.value)
        print(f"{at:%Y-%m-%d %H:%M:%SZ}  {one_line(t.rule, 40)}: {t.from_state} → "
              f"{t.to_state} ({t.event}) value {one_line(value, 30)}")
    fired = sum(1 for t in transitions if t.event == "firing")
    print(f"would have fired {fired} time{'s' if fired != 1 else ''}")
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    def work(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
        if args.action == "test":
            return cmd_alerts_test(args, cfg)
        store = _reader(cfg, data_dir)
        try:
            rows = alert_rows(cfg, store, include_all=args.all)
            evaluator = _evaluator_line(store) if store is not None else None
        finally:
            if store is not None:
                store.close()
        if args.json:
            print(json.dumps(rows, indent=2, default=str))
            return 0
        if evaluator:
            print(evaluator)
        if not rows:
            print("no alert firing or pending" + ("" if store is not None else
                                                   " (nothing recorded yet: is watch running?)"))
            return 0
        for r in rows:
            since = f" for {duration(r['for'])}" if r.get("for") is not None else ""
            extra = f"  [silenced: {r['silenced_by']}]" if r["state"] == "silenced" else ""
            rb = f"  runbook {r['runbook']}" if r.get("runbook") else ""
            print(f"{r['state'].upper():<9} {r['severity']:<8} {one_line(str(r['name']), 40):<40}"
                  f" value {one_line(str(r['value']), 20)}{since}{rb}{extra}")
        return 0

    return _run(work, args, "alerts")


# --------------------------------------------------------------------------- silence

def cmd_silence_add(args: argparse.Namespace) -> int:
    def work(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
        from opsconsole.alerts.silences import Silence
        from opsconsole.events import SILENCE_ADDED, current_actor
        from opsconsole.schema import Duration, Invalid

        if getattr(args, "read_only", False):
            raise _Usage("--read-only writes nothing: a silence is recorded")
        try:
            seconds = float(Duration.parse(args.duration))
        except (Invalid, ValueError, TypeError) as exc:
            raise _Usage(f"--for {args.duration!r}: {exc}") from None
        if seconds <= 0:
            raise _Usage(f"--for {args.duration!r}: expected a positive duration such as 2h")
        if not args.reason.strip():
            raise _Usage("--reason must say why")
        try:
            sil = Silence.create(args.match, seconds, now=_now(),
                                 created_by=current_actor().label(), reason=args.reason)
        except (Invalid, ValueError) as exc:
            raise _Usage(str(exc)) from None
        store = _store(cfg, data_dir)
        try:
            store.append(SILENCE_ADDED, sil.to_dict())
        finally:
            store.close()
        print(sil.id)
        return 0

    return _run(work, args, "silence")


def _silences(cfg: AppConfig, data_dir: Path) -> dict[str, Any]:
    from opsconsole.alerts.silencelog import SilenceLog

    store = _reader(cfg, data_dir)
    if store is None:
        return {}
    try:
        log = SilenceLog()
        return log.update(store)
    finally:
        store.close()


def cmd_silence_list(args: argparse.Namespace) -> int:
    def work(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
        now = _now()
        rows = [s for s in _silences(cfg, data_dir).values()
                if args.all or s.state(now) != "expired"]
        if args.json:
            print(json.dumps([{**s.to_dict(), "state": s.state(now)} for s in rows], indent=2))
            return 0
        if not rows:
            print("no silence in force")
        for s in rows:
            print(f"{s.id}  {s.state(now):<8} {one_line(s.describe(), 160)}")
        return 0

    return _run(work, args, "silence")


def cmd_silence_expire(args: argparse.Namespace) -> int:
    def work(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
        from opsconsole.events import SILENCE_EXPIRED

        if getattr(args, "read_only", False):
            raise _Usage("--read-only writes nothing: expiring a silence is recorded")
        found = _silences(cfg, data_dir).get(args.id)
        if found is None:
            raise _Usage(f"no silence {args.id!r} (see `opsconsole silence list --all`)")
        now = _now()
        if found.state(now) == "expired":
            raise _Usage(f"silence {args.id!r} has already expired")
        store = _store(cfg, data_dir)
        try:
            store.append(SILENCE_EXPIRED, found.expire(now).to_dict())
        finally:
            store.close()
        print(f"expired {args.id}")
        return 0

    return _run(work, args, "silence")
