"""``alerts:`` through the real config loader: the issue's example as written, and every
kind of mistake reported at file:line:column (the column inside the expression)."""

from __future__ import annotations

import textwrap

import pytest

from alertseeds import EXAMPLE
from opsconsole.config import ConfigError, load_config


def write(tmp_path, text: str):
    p = tmp_path / "config.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_the_issue_example_loads_as_written(tmp_path):
    cfg = load_config(write(tmp_path, EXAMPLE))
    api, cpu, pool = cfg.alerts
    assert (api.name, str(api.expr), float(api.for_), api.severity) == (
        "api-down", "check.api.state == CRITICAL", 30.0, "critical")
    assert api.notify == ["oncall", "am"] and api.runbook == "service-down"
    assert api.declare == "SEV2"
    assert str(cpu.clear) == "host.cpu < 70" and float(cpu.for_) == 300.0
    assert [(float(e.after), e.notify) for e in cpu.escalate] == [(0.0, ["oncall"]),
                                                                 (900.0, ["am"])]
    assert pool.runbook == "pg-connection-saturation" and float(pool.for_) == 120.0
    assert pool.no_data == "nodata" and pool.enabled


def test_every_documented_field_loads(tmp_path):
    cfg = load_config(write(tmp_path, """\
        notify:
          - {name: oncall, kind: webhook, url: "http://127.0.0.1:9/a"}
          - {name: secondary, kind: webhook, url: "http://127.0.0.1:9/b"}
          - {name: manager, kind: webhook, url: "http://127.0.0.1:9/c"}
        alerts:
          - name: pg-locks
            expr: pg.main.blocked > 0 and max(pg.main.idle_in_xact_age, 5m) > 30m
            for: 1m
            keep_firing_for: 2m
            severity: critical
            labels: {team: dba}
            summary: "{name}: {value} sessions blocked by pid {pid} since {since} ({labels.team})"
            description: "{{literal}} braces"
            notify: [oncall]
            runbook: pg-lock-contention
            params: {pid: "{pid}", database: "{database}"}
            declare: attach
            escalate: [{after: 15m, notify: [secondary]}, {after: 30m, notify: [manager]}]
            no_data: keep
            auto_run: 1
            enabled: false
        """))
    (rule,) = cfg.alerts
    assert rule.params == {"pid": "{pid}", "database": "{database}"}
    assert rule.no_data == "keep" and rule.auto_run == 1 and not rule.enabled
    assert rule.windows == {"pg.main.idle_in_xact_age": 300.0}


BAD = [
    # (yaml, line, column, words)
    ("alerts:\n  - name: a\n    expr: host.cpu > 80\n    notify: [oncall]\n", 2, 3,
     "alert 'a' notifies 'oncall', which is not a notify: target"),
    ("alerts:\n  - name: a\n    expr: hots.cpu > 80\n", 3, 11, "alerts[0].expr: unknown signal family 'hots'"),
    ("alerts:\n  - name: a\n    expr: host.cpu > 80 and host.mem = 3\n", 3, 38,
     "unknown operator '='"),
    ('alerts:\n  - name: a\n    expr: "host.cpu > 80 and hots.mem > 3"\n', 3, 30, "'hots'"),
    ("alerts:\n  - name: a\n    expr: 'avg(host.cpu, 5) > 80'\n", 3, 26, "the window needs a unit"),
    ("alerts:\n  - name: a\n    expr: host.cpu > 80\n    clear: host.cpu < 7x\n", 4, 23,
     "alerts[0].clear: not a duration: '7x'"),
    ("alerts:\n  - name: a\n    expr: bogus(host.cpu, 5m) > 1\n", 3, 11, "unknown function 'bogus'"),
    ("alerts:\n  - name: a\n    expr: avg(host.cpu) > 1\n", 3, 23, "got 1"),
    ("alerts:\n  - name: a\n    expr: |\n      host.cpu > 80 and\n        hots.mem > 3\n", 5, 9,
     "unknown signal family 'hots'"),
    ("alerts:\n  - name: a\n    expr: host.cpu > 80\n    for: soon\n", 4, 10,
     "alerts[0].for: expected a duration"),
    ("alerts:\n  - name: a\n    expr: host.cpu > 80\n    severity: page\n", 4, 15,
     "expected one of: info, warning, critical"),
    ("alerts:\n  - name: a\n    expr: host.cpu > 80\n    fro: 5m\n", 4, 5,
     "unknown key 'fro'; did you mean 'for'?"),
    ("alerts:\n  - name: a\n    expr: host.cpu > 80\n    declare: SEV9\n", 4, 14,
     "expected SEV1..SEV5 or attach"),
    ("alerts:\n  - name: a\n    expr: host.cpu > 80\n    no_data: ignore\n", 4, 14,
     "expected one of: nodata, ok, firing, keep"),
    ("alerts:\n  - name: a\n    expr: host.cpu > 80\n    summary: 'cpu {value.__class__}'\n",
     4, 19, "unknown placeholder {value.__class__}"),
    ("alerts:\n  - name: a\n    expr: host.cpu > 80\n    summary: 'cpu {0}'\n", 4, 19,
     "unknown placeholder {0}"),
    ("alerts:\n  - name: a\n    expr: host.cpu > 80\n    summary: 'cpu {'\n", 4, 19, "unmatched '{'"),
    ("alerts:\n  - name: a\n    expr: host.cpu > 80\n    escalate: [{after: 1m}, {after: 30s}]\n",
     4, 15, "escalation levels must be in order"),
    ("alerts:\n  - name: a\n    expr: host.cpu > 80\n    auto_run: 1\n", 4, 15, "set runbook: too"),
    ("alerts:\n  - name: a\n    expr: host.cpu > 80\n  - name: a\n    expr: host.mem > 1\n", 2, 3,
     "alert names must be unique; repeated: a"),
    ("alerts:\n  - name: 'a b'\n    expr: host.cpu > 80\n", 2, 11, "expected a name of letters"),
    ("alerts:\n  - name: a\n", 2, 5, "missing required key 'expr'"),
    ("alerts:\n  - name: a\n    expr: 80\n", 3, 11, "expected a condition"),
]


@pytest.mark.parametrize("text,line,column,words", BAD)
def test_mistakes_are_located(tmp_path, text, line, column, words):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    err = info.value
    assert words in err.message, str(err)
    assert (err.path, err.line, err.column) == (str(p), line, column), str(err)
