"""Sample inputs shared by several test modules."""

ISSUE_EXAMPLE = """\
id: pg-lock-contention
title: PostgreSQL lock contention
tags: [postgres, locks]
when_to_use: Queries time out waiting on locks; the locks pane shows a root blocker.
params:
  - name: pid
    prompt: Root blocker pid
    pattern: '^[0-9]+$'
steps:
  - title: Look at the root blocker
    kind: sql
    database: main
    sql: select pid, state, now() - state_change as idle_for, query from pg_stat_activity where pid = $1
    args: [pid]
  - title: Cancel its query
    kind: sql
    database: main
    sql: select pg_cancel_backend($1)
    args: [pid]
    confirm: cancel
  - title: Is the API healthy again?
    kind: http
    url: http://127.0.0.1:8000/health
    expect_status: 200
    milestone: mitigated
  - title: Who held the lock, and why?
    kind: manual
    text: Write it on the timeline with n.
  - title: Server load
    kind: shell
    run: uptime; ps -o pid,stat,etime,cmd -p {{ pid }}
    timeout: 10s
"""
