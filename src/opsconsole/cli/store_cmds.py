"""The work behind ``opsconsole store status|migrate`` (parsers in :mod:`.store`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsconsole.cli.common import EXIT_USAGE
from opsconsole.config import AppConfig, resolve_data_dir
from opsconsole.fmt import duration
from opsconsole.incidents.store import DB_NAME, NoStoreYet, StoreError, open_store
from opsconsole.secrets import safe_dsn
from opsconsole.sharedstore.choose import shared_target
from opsconsole.sharedstore.outbox import OUTBOX_NAME, Outbox
from opsconsole.sharedstore.store import PgStore, SharedStoreRefused

EXIT_UNREACHABLE = 1


def run(fn: Callable[[argparse.Namespace, AppConfig, Path], int], args: argparse.Namespace) -> int:
    from opsconsole.cli.common import load_or_exit

    cfg = load_or_exit(args.config)
    data_dir = resolve_data_dir(args.data_dir, cfg)
    try:
        return fn(args, cfg, data_dir)
    except SharedStoreRefused as exc:
        print(f"opsconsole store: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"opsconsole store: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0


def _waiting(data_dir: Path) -> tuple[int, float | None]:
    """Events of this host waiting in the local journal, and the oldest one's age."""
    path = data_dir / OUTBOX_NAME
    if not path.exists():
        return 0, None
    box = Outbox(path)
    try:
        rows = box.waiting(1)
        n = box.count_waiting()
    finally:
        box.close()
    if not rows:
        return n, None
    age = (datetime.now(UTC) - datetime.fromisoformat(rows[0].ts)).total_seconds()
    return n, max(age, 0.0)


def cmd_status(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
    target = shared_target(cfg)
    out: dict[str, Any] = {}
    code = 0
    if target is None:
        p = Path(cfg.incidents.database).expanduser() if cfg.incidents.database else Path(DB_NAME)
        p = p if p.is_absolute() else data_dir / p
        out.update(kind="sqlite", store=str(p), reachable=True, waiting=0)
        try:
            s = open_store(data_dir, cfg.incidents.database, read_only=True)
            out["last_seq"] = s.last_seq()
            s.close()
        except NoStoreYet:
            out["last_seq"] = 0
    else:
        n, oldest = _waiting(data_dir)
        out.update(kind="postgresql", store=safe_dsn(target.dsn) if target.dsn else target.name,
                   waiting=n, oldest_waiting_age=oldest)
        s = PgStore(target, data_dir, journal=False, listen=False)
        try:
            out["reachable"] = s.up
            if s.up:
                t0 = time.perf_counter()
                out["last_seq"] = s.last_seq()
                out["round_trip_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            else:
                out["error"] = s.error
                code = EXIT_UNREACHABLE
        finally:
            s.close()
        out["lag_seconds"] = round(oldest, 1) if oldest is not None else 0.0
    if args.json:
        print(json.dumps(out, sort_keys=True))
        return code
    print(f"store: {out['store']} ({'shared PostgreSQL' if out['kind'] == 'postgresql' else 'SQLite, this host only'})")
    if out["kind"] == "postgresql":
        if out["reachable"]:
            print(f"reachable: yes (round trip {out['round_trip_ms']} ms), last seq {out['last_seq']}")
        else:
            print(f"reachable: NO ({out.get('error')}) — consoles record locally and forward later")
        if out["waiting"]:
            print(f"waiting to be forwarded from this host: {out['waiting']} event(s), "
                  f"lag {duration(out['lag_seconds'])} (the oldest)")
        else:
            print("waiting to be forwarded from this host: none (lag 0s)")
    else:
        print(f"last seq {out['last_seq']}; nothing to forward")
    return code


def cmd_migrate(args: argparse.Namespace, cfg: AppConfig, data_dir: Path) -> int:
    from opsconsole.sharedstore.migrate import migrate

    dest = shared_target(replace(cfg, incidents=replace(cfg.incidents, store=args.to)))
    if dest is None:
        print("opsconsole store migrate: --to must name a PostgreSQL store", file=sys.stderr)
        return EXIT_USAGE
    try:
        source = open_store(data_dir, cfg.incidents.database, read_only=True)
    except NoStoreYet:
        print("opsconsole store migrate: nothing recorded on this host yet; nothing to copy")
        return 0
    try:
        pg = PgStore(dest, data_dir, journal=False, listen=False, op_timeout=30.0)
        try:
            if not pg.up:
                print(f"opsconsole store migrate: {pg.label} unreachable ({pg.error})",
                      file=sys.stderr)
                return EXIT_UNREACHABLE
            res = migrate(source, pg)
        finally:
            pg.close()
    finally:
        source.close()
    print(f"copied {res.copied} of {res.read} event(s) from {source.path} to {pg.label} "
          f"({res.read - res.copied} already there)")
    for old, new in sorted(res.renamed.items()):
        print(f"  {old} is {new} in the shared store (another host had {old})")
    return 0
