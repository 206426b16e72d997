"""Runbook suggestion for what is firing (issue 14): a pure ranking over the shipped
runbooks — a lock chain puts the lock-contention runbook first, the rule's runbook: first
of all."""

from __future__ import annotations

import pytest

from opsconsole.runbooks.library import load_all, runbook_dirs
from opsconsole.runbooks.search import ranked, search, suggest


@pytest.fixture(scope="module")
def shipped():
    loaded = load_all(runbook_dirs())
    assert len([i for i in loaded if i.ok]) >= 8
    return loaded


def ids(rows):
    return [item.runbook.id for item, *_ in rows]


LOCKS = {"name": "pg-blocked", "state": "firing", "severity": "warning", "runbook": None,
         "expr": "pg.main.blocked_sessions > 0", "labels": {"database": "main"}}


def test_a_lock_chain_puts_the_lock_runbook_first(shipped):
    assert search(shipped, "")[0].runbook.id != "pg-lock-contention"  # not first without it
    rows = ranked(shipped, "", [LOCKS])
    assert rows[0][0].runbook.id == "pg-lock-contention"
    assert rows[0][1] == "pg-blocked"
    assert len(rows) == len(shipped)  # everything still listed, each once
    assert len(set(ids(rows))) == len(rows)


def test_the_rules_own_runbook_comes_first_then_matches_worst_alert_first(shipped):
    cpu = {"name": "high-cpu", "state": "pending", "runbook": None, "expr": "host.cpu > 80",
           "labels": {}}
    api = {"name": "api-down", "state": "firing", "runbook": "service-down",
           "expr": "check.api.state == CRITICAL", "labels": {"check": "api"}}
    got = suggest(shipped, [cpu, api, LOCKS])
    assert [(i.runbook.id, a) for i, a in got][:3] == [
        ("service-down", "api-down"), ("pg-lock-contention", "pg-blocked"),
        ("high-cpu", "high-cpu")]
    assert suggest(shipped, [{**api, "state": "resolved"}]) == []  # only what is live
    assert suggest(shipped, []) == []


def test_a_query_keeps_search_order_and_the_marks(shipped):
    rows = ranked(shipped, "postgres", [LOCKS])
    assert ids(rows) == [i.runbook.id for i in search(shipped, "postgres")]
    assert dict((i.runbook.id, a) for i, a in rows)["pg-lock-contention"] == "pg-blocked"
    assert ranked(shipped, "", None) == [(i, None) for i in search(shipped, "")]
