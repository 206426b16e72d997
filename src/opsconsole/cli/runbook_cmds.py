"""The ``opsconsole runbook`` commands; their parser is :mod:`opsconsole.cli.runbook`.
Never imports Textual."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import signal
import sys
from pathlib import Path
from typing import Any

from opsconsole.cli.common import EXIT_USAGE
from opsconsole.runbooks.library import find, load_all, runbook_dirs, runbook_files
from opsconsole.runbooks.model import ManualStep, Runbook
from opsconsole.schema import ConfigError
from opsconsole.text import one_line

EXIT_OK = 0
EXIT_FAILED = 1


def _config(args: argparse.Namespace) -> Any:
    from opsconsole.cli.common import load_or_exit

    return load_or_exit(getattr(args, "config", None))


def _data_dir(args: argparse.Namespace, cfg: Any) -> Path:
    from opsconsole.config import resolve_data_dir

    return resolve_data_dir(getattr(args, "data_dir", None), cfg)


def list_json(loaded: list[Any]) -> str:
    """``runbook list --json``: a JSON array, broken files included (with their error)."""
    import json

    out: list[dict[str, Any]] = []
    for item in loaded:
        if item.runbook:
            rb = item.runbook
            out.append({"id": rb.id, "title": rb.title, "tags": list(rb.tags),
                        "steps": len(rb.steps), "path": str(item.path)})
        else:
            out.append({"path": str(item.path), "error": str(item.error)})
    return json.dumps(out, indent=2, ensure_ascii=False)


def cmd_list(args: argparse.Namespace) -> int:
    cfg = _config(args)
    loaded = load_all(runbook_dirs(cfg.runbook_dirs))
    if getattr(args, "json", False):
        print(list_json(loaded))
        return EXIT_USAGE if any(not i.runbook for i in loaded) else EXIT_OK
    width = max((len(i.runbook.id) for i in loaded if i.runbook), default=10)
    bad = 0
    for item in loaded:
        if item.runbook:
            rb = item.runbook
            tags = f"  [{', '.join(rb.tags)}]" if rb.tags else ""
            print(f"{rb.id:<{width}}  {rb.title}{tags}  ({len(rb.steps)} steps)")
        else:
            bad += 1
            print(f"{'✗ BROKEN':<{width}}  {item.error}")
    return EXIT_USAGE if bad else EXIT_OK


def hotkey_errors(cfg: Any, loaded: list[Any]) -> list[str]:
    """Config ``hotkeys:`` that name a runbook or step that does not exist, located in the
    config file when there is one."""
    from opsconsole.runbooks.model import locate
    from opsconsole.schema import compose, read_text_file

    root = None
    if cfg.source:
        try:
            root = compose(read_text_file(cfg.source), cfg.source)
        except ConfigError:
            root = None
    out = []
    by_id = {i.runbook.id: i.runbook for i in loaded if i.runbook}
    for n, hk in enumerate(cfg.hotkeys):
        problem, key = None, "runbook"
        rb = by_id.get(hk.runbook)
        if rb is None:
            problem = f"hotkeys[{n}].runbook: no runbook {hk.runbook!r}; known: {', '.join(sorted(by_id))}"
        elif hk.step is not None:
            try:
                rb.find_step(hk.step)
            except LookupError as exc:
                problem, key = f"hotkeys[{n}].step: {exc.args[0]}", "step"
        if problem:
            node = locate(root, ["hotkeys", n, key]) if root is not None else None
            where = (f"{cfg.source}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"
                     if node is not None else (cfg.source or "config"))
            out.append(f"{where}: {problem}")
    return out


def cmd_validate(args: argparse.Namespace) -> int:
    cfg = None
    if args.paths:
        paths = [Path(p) for p in args.paths]
    else:
        cfg = _config(args)
        paths = runbook_dirs(cfg.runbook_dirs)
    errors = 0
    count = 0
    for p in paths:
        if not p.exists():
            print(f"{p}: no such file or directory", file=sys.stderr)
            errors += 1
    for item in load_all([p for p in paths if p.exists()]):
        count += 1
        if item.error:
            errors += 1
            print(str(item.error), file=sys.stderr)
        else:
            print(f"ok  {item.path}  ({item.runbook.id if item.runbook else ''})")
    if cfg is not None:
        for line in hotkey_errors(cfg, load_all([p for p in paths if p.exists()])):
            errors += 1
            print(line, file=sys.stderr)
    if not count and not errors:
        files = runbook_files([p for p in paths if p.exists()])
        if not files:
            print("no runbook files found (*.yaml, *.yml, *.md)", file=sys.stderr)
            return EXIT_USAGE
    if errors:
        print(f"{errors} error(s) in {count} file(s)", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _parse_params(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--param {item!r}: expected NAME=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v
    return out


def _interactive() -> bool:
    try:
        return os.isatty(sys.stdin.fileno())
    except (OSError, ValueError):
        return False


def cmd_run(args: argparse.Namespace) -> int:
    cfg = _config(args)
    read_only = bool(getattr(args, "read_only", False) or cfg.read_only)
    loaded = load_all(runbook_dirs(cfg.runbook_dirs))
    try:
        rb = find(loaded, args.runbook)
    except ConfigError as exc:
        print(f"opsconsole: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LookupError as exc:
        print(f"opsconsole: {exc.args[0]}", file=sys.stderr)
        return EXIT_USAGE
    if read_only and not args.dry_run:
        print("opsconsole: read-only: runbooks can be read, not run (try --dry-run)", file=sys.stderr)
        return EXIT_USAGE
    data_dir = _data_dir(args, cfg)
    opened = _open_sink(cfg, data_dir, args.incident)
    if isinstance(opened, int):
        return opened
    sink, incident_id, store = opened
    try:
        return _run_with_sink(args, cfg, rb, read_only, data_dir, sink, incident_id)
    finally:
        _give_up_pending(sink)
        if store is not None:
            store.close()


def _give_up_pending(sink: Any) -> None:
    """One last try for events kept in memory (a full disk); what still cannot be written is
    printed on stderr as JSON lines, so the operator has the record."""
    import json

    if not hasattr(sink, "close") or not sink.close():
        return
    print(f"opsconsole: {sink.pending} event(s) could not be recorded ({sink.failure}); "
          "here they are:", file=sys.stderr)
    for e in sink.pending_events():
        print(json.dumps(e.to_json(), default=str, sort_keys=True), file=sys.stderr)


def _open_sink(cfg: Any, data_dir: Path, incident: str | None) -> tuple[Any, str | None, Any] | int:
    """The sink a CLI run records through, like the console: the incident store in the data
    directory (the operator journal takes events when the store is unusable). ``--incident``
    must name an existing incident: exit 2 before anything runs when it does not."""
    from opsconsole.incidents.sink import IncidentSink, JournalSink
    from opsconsole.incidents.store import StoreError

    journal = JournalSink(data_dir / "journal.jsonl")
    incident_id = incident.strip() if incident else None
    try:
        from opsconsole.sharedstore.choose import open_configured

        store = open_configured(cfg, data_dir)
    except StoreError as exc:
        print(f"opsconsole: {exc}; recording to the journal {journal.path} instead",
              file=sys.stderr)
        return IncidentSink(None, fallback=journal), incident_id, None
    if incident_id is not None:
        try:
            known = store.exists(incident_id)
        except StoreError as exc:
            print(f"opsconsole: {exc}; recording to the journal {journal.path} instead",
                  file=sys.stderr)
            known = True
        if not known:
            store.close()
            print(f"opsconsole: --incident {incident_id}: no such incident "
                  "(see `opsconsole incident list`)", file=sys.stderr)
            return EXIT_USAGE
    return IncidentSink(store, fallback=journal), incident_id, store


def _run_with_sink(args: argparse.Namespace, cfg: Any, rb: Runbook, read_only: bool,
                   data_dir: Path, sink: Any, incident_id: str | None) -> int:
    from opsconsole.config import database_targets
    from opsconsole.runbooks.dbparams import default_databases
    from opsconsole.runbooks.params import ParamError, resolve_params
    from opsconsole.runbooks.session import RunbookSession, SessionOptions, host_figures_default

    try:
        given = _parse_params(args.param)
    except ValueError as exc:
        print(f"opsconsole: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for p in rb.params:
        env_name = f"OPSCONSOLE_PARAM_{p.name.upper()}"
        if p.name not in given and env_name in os.environ:
            given[p.name] = os.environ[env_name]
    # a database parameter defaults to the configured (watched) target, not the file's 'main'
    given.update(default_databases(rb, given, database_targets(cfg, None)))
    interactive = _interactive()
    if interactive:
        for p in rb.params:
            if p.name in given or p.default is not None:
                continue
            ask = getpass.getpass if p.secret else input
            try:
                # input() writes its prompt straight to the tty: neutralise it here
                given[p.name] = ask(f"{one_line(p.label)}: ")
            except EOFError:
                break
    try:
        values = resolve_params(rb, given)
    except ParamError as exc:
        print(f"opsconsole: {rb.id}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    steps = list(range(len(rb.steps)))
    if args.step:
        try:
            steps = [rb.find_step(int(s) if s.isdigit() else s) for s in args.step]
        except LookupError as exc:
            print(f"opsconsole: {exc.args[0]}", file=sys.stderr)
            return EXIT_USAGE

    def on_line(line: str) -> None:
        sys.stdout.write(f"  │ {line}\n")
        sys.stdout.flush()

    session = RunbookSession(rb, values, SessionOptions(
        config=cfg, sink=sink, data_dir=data_dir, incident_id=incident_id,
        host_figures=host_figures_default(), dry_run=args.dry_run, read_only=read_only,
        on_line=on_line, auto_confirm=args.yes,
    ))

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)  # before the loop runs: nothing to stop yet
    try:
        return asyncio.run(_run_stoppable(session, rb, steps, interactive, args.yes))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\nopsconsole: interrupted; the running step was stopped", file=sys.stderr)
        return 130


async def _run_stoppable(session: Any, rb: Runbook, steps: list[int], interactive: bool,
                         yes: bool) -> int:
    """:func:`_run`, stopped by SIGTERM like by Ctrl+C. While a step runs, its task is
    cancelled at the next await, so the step stops its process group and is recorded as
    stopped (an exception raised from the signal handler could land inside asyncio's own
    code, e.g. while the shell is being started, and skip that); otherwise (at a prompt,
    between steps) the handler raises KeyboardInterrupt at once."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def on_term(signum: int, frame: Any) -> None:
        if session.running is None:
            raise KeyboardInterrupt
        loop.call_soon_threadsafe(task.cancel)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        return await _run(session, rb, steps, interactive, yes)
    finally:
        signal.signal(signal.SIGTERM, previous)


def unconfirmed(rb: Runbook, steps: list[int]) -> list[int]:
    """The steps among ``steps`` that need a typed confirmation (their ``confirm:`` word)."""
    return [i for i in steps if rb.steps[i].confirm and rb.steps[i].runs_something]


async def _run(session: Any, rb: Runbook, steps: list[int], interactive: bool, yes: bool) -> int:
    mode = " (dry run)" if session.dry_run else ""
    print(f"runbook {rb.id}: {rb.title}{mode}")
    need = [] if yes or interactive or session.dry_run else unconfirmed(rb, steps)
    if need:
        # refuse before anything runs: stopping half-way through a procedure is worse
        for i in need:
            print(f"   refused: step {i + 1} ({session.text(rb.steps[i].title)}) needs "
                  f"confirmation; type {rb.steps[i].confirm!r} interactively or pass --yes",
                  file=sys.stderr)
        print(f"\nrunbook {rb.id}: nothing run: {len(need)} step(s) need confirmation and "
              "there is no terminal to ask on", file=sys.stderr)
        return EXIT_FAILED
    failed = False
    for i in steps:
        step = rb.steps[i]
        rendered = session.render(step, dry=session.dry_run and bool(step.dry_run))
        print(f"\n── step {i + 1}/{len(rb.steps)}: {session.text(step.title)} [{step.kind}]")
        for line in rendered.display.splitlines():
            print(f"   {line}")
        if isinstance(step, ManualStep):
            if session.dry_run:
                print("   (manual step: shown only)")
                continue
            if interactive:
                answer = input("   done? [y = done / s = skip / q = stop] ").strip().lower()
                if answer.startswith("q"):
                    session.skip(i, "operator stopped the run")
                    print("stopped by the operator")
                    return EXIT_FAILED
                if not answer.startswith("y"):
                    session.skip(i, "skipped by the operator")
                    continue
                await session.run_step(i)
            else:
                session.skip(i, "manual step: printed, not ticked (non-interactive run)")
                print("   skipped: manual steps are ticked in the console or an interactive run")
            continue
        confirmation = None
        if step.confirm and not yes and not session.dry_run:
            if not interactive:
                print(f"   refused: this step needs confirmation; type {step.confirm!r} "
                      "interactively or pass --yes", file=sys.stderr)
                failed = True
                break
            confirmation = input(f"   dangerous step: type {step.confirm!r} to run it: ").strip()
        outcome = await session.run_step(i, confirmation)
        tail = f" — {one_line(outcome.message, 300)}" if outcome.message else ""
        if outcome.status == "skipped":
            print(f"   → SKIPPED{tail}")
            continue
        code = f" (exit {outcome.exit_code})" if outcome.exit_code is not None else ""
        print(f"   → {outcome.status.upper()}{code} in {outcome.duration:.2f}s{tail}")
        if session.finished_early is not None:
            rest = [j for j in steps if j > i]
            if rest:
                print(f"   → the run ends here; {len(rest)} later step(s) skipped")
            print(f"\nrunbook {rb.id}: done — {one_line(session.finished_early, 300)}")
            return EXIT_OK
        if not outcome.ok:
            if step.continue_on_failure:
                continue
            failed = True
            break
    if failed:
        print(f"\nrunbook {rb.id}: stopped at a failed step", file=sys.stderr)
        return EXIT_FAILED
    print(f"\nrunbook {rb.id}: done")
    return EXIT_OK
