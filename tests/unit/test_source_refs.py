"""Cross-section references of the signal sources, located at file:line:column: an alert's
``promql.TARGET.QUERY`` naming an unknown target or query, a promql check naming an unknown
target, ``check.NAME.value`` on a check that measures no number."""

from __future__ import annotations

import pytest

from opsconsole.config import ConfigError, load_config

PROM = """prometheus:
  - name: fleet
    url: http://127.0.0.1:9090
    queries:
      - {name: error_rate, query: up}
      - {name: up, query: up, by: instance}
"""

BAD = [
    (PROM + "alerts:\n  - name: a\n    expr: promql.flet.error_rate > 1\n", 9, 11,
     "no prometheus: target named 'flet'", "fleet"),
    (PROM + "alerts:\n  - name: a\n    expr: promql.fleet.eror_rate > 1\n", 9, 11,
     "has no query named 'eror_rate'", "error_rate"),
    (PROM + "alerts:\n  - name: a\n    expr: host.cpu > 1 or promql.fleet.nope > 1\n", 9, 27,
     "has no query named 'nope'", ""),
    (PROM + "alerts:\n  - name: a\n    expr: promql.fleet.up > 0\n", 9, 11,
     "one value per instance", ""),
    (PROM + "alerts:\n  - name: a\n    expr: host.cpu > 1\n    clear: promql.fleet.x < 1\n",
     10, 12, "has no query named 'x'", ""),
    (PROM + "checks:\n  - {name: p, kind: promql, prometheus: other, query: up}\n", 8, None,
     "names prometheus 'other'", ""),
    ("checks:\n  - {name: api, kind: http, url: 'http://127.0.0.1:9/'}\n"
     "alerts:\n  - name: a\n    expr: check.api.value > 1\n", 5, 11,
     "is a http check: .value is for", ""),
]


@pytest.mark.parametrize("text,line,column,words,hint", BAD)
def test_unknown_sources_are_located(tmp_path, text, line, column, words, hint):
    p = tmp_path / "opsconsole.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    err = info.value
    assert words in err.message, str(err)
    assert hint in err.message, str(err)
    assert (err.path, err.line) == (str(p), line), str(err)
    if column is not None:
        assert err.column == column, str(err)


def test_the_cli_refuses_the_config_naming_the_place(tmp_path, run_cli):
    p = tmp_path / "opsconsole.yaml"
    p.write_text(PROM + "alerts:\n  - name: a\n    expr: promql.fleet.eror_rate > 1\n")
    r = run_cli("--config", str(p), "slo", "--json")
    assert r.returncode != 0
    assert f"{p}:9:11" in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
