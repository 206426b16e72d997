"""The linear lock tree (and the server-side reduction it is fed) against the original
algorithm, kept as the oracle in tests/locktree_oracle.py, on generated graphs: queues, fans,
several roots, mixed-mode queues, random DAGs, cycles, duplicate, unknown and self pids."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from locktree_oracle import oracle_build_tree
from opsconsole.postgres.locktree import NeedsFullGraph, WaitInfo, build_tree, reduce_waits
from opsconsole.postgres.model import Backend, LockNode

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def be(pid: int, rng: random.Random) -> Backend:
    state = rng.choice(["active", "active", "idle in transaction", "idle in transaction (aborted)"])
    return Backend(pid=pid, user="app", database="shop", application=f"app{pid % 3}", client=None,
                   state=state, wait_event_type=None, wait_event=None, backend_start=T0,
                   query_start=T0, query_age=rng.choice([None, 1.0, 2.0, float(pid % 7)]),
                   xact_age=rng.choice([None, 3.0, float(pid % 5)]),
                   state_age=rng.choice([None, 4.0, float(pid % 4)]),
                   holds_xid=False, holds_xmin=False, query=f"select {pid}")


def wait(bs: list[int], rng: random.Random) -> WaitInfo:
    age = rng.choice([None, 1.0, 2.0, 5.0, rng.random() * 10])  # ties on purpose
    return WaitInfo(tuple(bs), "relation", rng.choice(["AccessExclusiveLock", "ShareLock"]),
                    "t", age)


def queue(rng: random.Random, base: int, n: int, mixed: bool) -> dict[int, list[int]]:
    """A lock queue behind holder ``base``: each waiter named by those ahead that conflict."""
    out: dict[int, list[int]] = {}
    excl = {}
    for i in range(1, n + 1):
        pid = base + i
        excl[pid] = not mixed or rng.random() < 0.5
        ahead = [base + j for j in range(1, i)]
        bs = [base] + [a for a in ahead if excl[pid] or excl[a]]  # holders, then the queue
        if rng.random() < 0.1:
            rng.shuffle(bs)  # (an order the server reduction does not recognise)
        out[pid] = bs
    return out


def shape(kind: str, rng: random.Random) -> tuple[dict[int, Backend], dict[int, WaitInfo]]:
    edges: dict[int, list[int]] = {}
    if kind == "chain":
        edges = queue(rng, 100, rng.randint(1, 60), mixed=False)
    elif kind == "mixed-queue":
        edges = queue(rng, 100, rng.randint(2, 60), mixed=True)
    elif kind == "fan":
        edges = {100 + i: [100] for i in range(1, rng.randint(2, 50))}
    elif kind == "roots":
        for r in range(rng.randint(2, 5)):
            edges |= queue(rng, 1000 * (r + 1), rng.randint(0, 15), mixed=rng.random() < 0.5)
        for i in range(rng.randint(0, 8)):  # plain fans on top
            edges[9000 + i] = [rng.choice([1000, 2000, 9999])]
    elif kind == "dag":
        n = rng.randint(2, 60)
        for p in range(1, n):
            k = rng.randint(0, min(p, 4))
            edges[p] = rng.sample(range(p), k)
        edges = {p: bs for p, bs in edges.items() if bs or rng.random() < 0.3}
    elif kind == "closed-dag":  # transitively closed like a queue, but a DAG
        n = rng.randint(2, 40)
        anc: dict[int, set[int]] = {0: set()}
        for p in range(1, n):
            direct = rng.sample(range(p), rng.randint(1, min(p, 3)))
            anc[p] = set(direct).union(*(anc[d] for d in direct))
            edges[p] = sorted(anc[p]) if rng.random() < 0.8 else direct
    elif kind == "cycle":
        n = rng.randint(3, 25)
        for p in range(1, n):
            edges[p] = rng.sample(range(n), rng.randint(1, min(n, 3)))
        c = rng.sample(range(1, n), min(n - 1, rng.randint(2, 4)))
        for a, b in zip(c, c[1:] + c[:1], strict=True):
            edges.setdefault(a, []).append(b)
    elif kind == "deadlock-queue":  # two sessions in a deadlock with a queue behind one
        edges = {1: [2], 2: [1]} | queue(rng, 1, rng.randint(1, 20), mixed=False)
        edges[1] = [2]
    all_pids = set(edges) | {b for bs in edges.values() for b in bs}
    # noise: duplicates, self, unknown pids (vanished), pid 0, a waiter that vanished
    for p, bs in edges.items():
        if bs and rng.random() < 0.2:
            bs.append(rng.choice(bs))
        if rng.random() < 0.05:
            bs.append(p)
        if rng.random() < 0.1:
            bs.append(77777)
    if rng.random() < 0.2 and edges:
        edges[rng.choice(list(edges))].append(0)
        all_pids.add(0)
    known = {p for p in all_pids if p != 77777 and not (p and rng.random() < 0.03)}
    backends = {p: be(p, rng) for p in known}
    waits = {p: wait(bs, rng) for p, bs in edges.items()}
    return backends, waits


def expected(nodes: list[LockNode], waits: dict[int, WaitInfo]) -> list[LockNode]:
    """The oracle's nodes with the counts it did not have: pids named, waiters naming it."""
    named: dict[int, int] = {}
    for n in nodes:
        for b in set(n.blocked_by):
            named[b] = named.get(b, 0) + 1
    return [replace(n, n_blocked_by=len(waits[n.pid].blocked_by) if n.pid in waits else 0,
                    blocks_direct=named.get(n.pid, 0)) for n in nodes]


def cyclic(backends: dict[int, Backend], waits: dict[int, WaitInfo]) -> bool:
    g = {p: {b for b in w.blocked_by if b in backends and b != p}
         for p, w in waits.items() if p in backends}
    state: dict[int, int] = {}

    def visit(p: int) -> bool:
        state[p] = 1
        for b in g.get(p, ()):
            if state.get(b) == 1 or (b not in state and visit(b)):
                return True
        state[p] = 2
        return False

    return any(p not in state and visit(p) for p in g)


KINDS = ["chain", "mixed-queue", "fan", "roots", "dag", "closed-dag", "cycle", "deadlock-queue"]


@pytest.mark.parametrize("kind", KINDS)
def test_linear_tree_equals_the_original_on_full_lists(kind):
    for seed in range(60):
        backends, waits = shape(kind, random.Random(f"{kind}-{seed}"))
        assert build_tree(backends, waits) == expected(oracle_build_tree(backends, waits), waits), seed


@pytest.mark.parametrize("kind", KINDS)
def test_reduced_lists_give_the_same_tree(kind):
    """What the server sends (reduce_waits models LOCKS_SQL): same roots, order, depths,
    parents, counts; each node keeps a non-empty subset of what it names."""
    reduced_cases = sent = named = 0
    for seed in range(60):
        backends, waits = shape(kind, random.Random(f"{kind}-{seed}"))
        want = expected(oracle_build_tree(backends, waits), waits)
        small = reduce_waits(backends, waits)
        sent += sum(len(w.blocked_by) for w in small.values())
        named += sum(len(w.blocked_by) for w in waits.values())
        try:
            got = build_tree(backends, small, reduced=True)
        except NeedsFullGraph:
            assert cyclic(backends, waits), seed
            continue
        assert not cyclic(backends, waits), seed
        reduced_cases += 1
        assert [replace(n, blocked_by=()) for n in got] == [
            replace(n, blocked_by=()) for n in want], seed
        for g, w in zip(got, want, strict=True):
            assert set(g.blocked_by) <= set(w.blocked_by) and bool(g.blocked_by) == bool(w.blocked_by)
    if kind not in ("cycle", "deadlock-queue"):
        assert reduced_cases == 60
    if kind == "chain":
        assert sent * 1.5 < named  # not vacuous (noise at a list's end stops it there)


def test_a_queue_arrives_as_a_chain_of_single_blockers():
    rng = random.Random(1)
    edges = queue(rng, 100, 200, mixed=False)
    backends = {p: be(p, rng) for p in range(100, 301)}
    edges = {p: sorted(bs) for p, bs in edges.items()}  # holder, then the queue ahead
    small = reduce_waits(backends, {p: WaitInfo(tuple(bs)) for p, bs in edges.items()})
    assert {p: w.blocked_by for p, w in small.items() if p > 101} == {
        p: (p - 1,) for p in range(102, 301)}
    assert sum(len(w.blocked_by) for w in small.values()) == 200  # not 200 * 201 / 2
    nodes = build_tree(backends, small, reduced=True)
    assert [(n.pid, n.depth, n.blocks) for n in nodes] == [
        (p, p - 100, 300 - p) for p in range(100, 301)]
    assert nodes[0].blocks_direct == 200 and nodes[-1].n_blocked_by == 200


def test_a_thousand_deep_queue_needs_no_deep_recursion():
    n = 1500  # deeper than Python's recursion limit: the build is iterative
    backends = {p: be(p, random.Random(p)) for p in range(n + 1)}
    waits = reduce_waits(backends, {p: WaitInfo(tuple(range(p))) for p in range(1, n + 1)})
    nodes = build_tree(backends, waits, reduced=True)
    assert [x.depth for x in nodes] == list(range(n + 1)) and nodes[0].blocks == n
    assert [x.blocks_direct for x in nodes] == [n - p for p in range(n + 1)]
