"""The lock tree as it was first written (memoised DFS over every pg_blocking_pids() edge,
worse than quadratic on a long queue): the oracle the linear build is checked against.
Kept verbatim apart from the name; do not optimise."""

from __future__ import annotations

from collections.abc import Mapping

from opsconsole.postgres.locktree import WaitInfo
from opsconsole.postgres.model import Backend, LockNode


def oracle_build_tree(backends: Mapping[int, Backend], waits: Mapping[int, WaitInfo]) -> list[LockNode]:
    """Tree order: roots by (most blocked, longest waiting/idle), each followed depth-first by
    its waiters (oldest wait first)."""
    known = set(backends)
    blockers: dict[int, tuple[int, ...]] = {
        pid: tuple(b for b in w.blocked_by if b in known and b != pid)
        for pid, w in waits.items() if pid in known
    }
    involved = set(blockers) | {b for bs in blockers.values() for b in bs}
    roots = {p for p in involved if not blockers.get(p)}

    # longest distance from a root (memoised DFS, cycle-safe)
    depth: dict[int, int] = {}

    def depth_of(pid: int, stack: frozenset[int]) -> int:
        if pid in depth:
            return depth[pid]
        bs = [b for b in blockers.get(pid, ()) if b not in stack]
        d = 0 if not bs else 1 + max(depth_of(b, stack | {pid}) for b in bs)
        depth[pid] = d
        return d

    for p in sorted(involved):
        depth_of(p, frozenset())
    if not roots and involved:  # a pure cycle (deadlock about to be broken): pick one
        roots = {min(involved)}
        depth[min(involved)] = 0

    # parent: the deepest blocker (ties: the one that started waiting earliest, then pid)
    def wait_key(pid: int) -> tuple[float, int]:
        w = waits.get(pid)
        age = w.wait_age if w and w.wait_age is not None else 0.0
        return (-age, pid)

    parent: dict[int, int | None] = {}
    for p in involved:
        bs = [b for b in blockers.get(p, ()) if depth.get(b, 0) < depth.get(p, 0) or b in roots]
        if p in roots or not bs:
            parent[p] = None
        else:
            parent[p] = min(bs, key=lambda b: (-depth.get(b, 0), *wait_key(b)))
    # every waiter's ancestors over *all* blocker edges → transitive counts per root
    ancestors: dict[int, set[int]] = {}

    def ancestors_of(pid: int, stack: frozenset[int]) -> set[int]:
        if pid in ancestors:
            return ancestors[pid]
        acc: set[int] = set()
        for b in blockers.get(pid, ()):
            if b in stack:
                continue
            acc.add(b)
            acc |= ancestors_of(b, stack | {pid})
        ancestors[pid] = acc
        return acc

    blocks: dict[int, int] = dict.fromkeys(involved, 0)
    for p in involved:
        for a in ancestors_of(p, frozenset()):
            if a != p:
                blocks[a] += 1

    children: dict[int, list[int]] = {}
    for p, par in parent.items():
        if par is not None:
            children.setdefault(par, []).append(p)
    drawn_roots = [p for p in involved if parent[p] is None]

    def root_key(pid: int) -> tuple[int, float, int]:
        b = backends[pid]
        age = b.state_age if b.idle_in_transaction else (b.xact_age or b.query_age)
        return (-blocks[pid], -(age or 0.0), pid)

    out: list[LockNode] = []

    def emit(pid: int, d: int, par: int | None, root: int, seen: set[int]) -> None:
        if pid in seen:
            return
        seen.add(pid)
        w = waits.get(pid)
        out.append(LockNode(
            backend=backends[pid], depth=d, parent=par,
            blocked_by=tuple(sorted(blockers.get(pid, ()))),
            locktype=w.locktype if w else None, mode=w.mode if w else None,
            relation=w.relation if w else None, wait_age=w.wait_age if w else None,
            blocks=blocks[pid], root=root,
        ))
        for c in sorted(children.get(pid, ()), key=wait_key):
            emit(c, d + 1, pid, root, seen)

    seen: set[int] = set()
    for r in sorted(drawn_roots, key=root_key):
        emit(r, 0, None, r, seen)
    return out
