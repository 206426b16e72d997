"""The alert condition language: what parses, what it means, and where a bad one is wrong."""

from __future__ import annotations

import pytest

from opsconsole.alerts.expr import Call, ExprError, Number, Signal, parse
from opsconsole.alerts.signals import NO_DATA, SignalSet

GOOD = [
    ("check.api.state == CRITICAL", ["check.api.state"]),
    ("host.cpu > 80", ["host.cpu"]),
    ("host.cpu > 80%", ["host.cpu"]),
    ("host.load1_per_core >= 1.0", ["host.load1_per_core"]),
    ("host.mem > 85 or host.swap > 50", ["host.mem", "host.swap"]),
    ('host.fs["/var/lib/postgresql"].used_pct > 90', ['host.fs["/var/lib/postgresql"].used_pct']),
    ("host.fs['/'].free_bytes < 5000000000", ['host.fs["/"].free_bytes']),
    ("check.api.latency > 500ms", ["check.api.latency"]),
    ("check.api.failures >= 3", ["check.api.failures"]),
    ('check.disk.perf["/"] > 90', ['check.disk.perf["/"]']),
    ('check["my api"].state != OK', ['check["my api"].state']),
    ("check.api-gw.state == WARNING", ["check.api-gw.state"]),
    ("pg.main.connections_used_pct > 80", ["pg.main.connections_used_pct"]),
    ("pg.main.blocked > 0", ["pg.main.blocked"]),
    ("pg.main.idle_in_xact_age > 30m", ["pg.main.idle_in_xact_age"]),
    ("pg.main.oldest_xact_age > 1h30m", ["pg.main.oldest_xact_age"]),
    ("pg.main.longest_query > 300", ["pg.main.longest_query"]),
    ("log_errors.app.count > 5", ["log_errors.app.count"]),
    ("process.nginx.cpu > 50 and process.nginx.mem > 10", ["process.nginx.cpu",
                                                           "process.nginx.mem"]),
    ("host.core[3] > 95", ["host.core[3]"]),
    ('host.net["eth0"].rx_bps > 100000000', ['host.net["eth0"].rx_bps']),
    ("host.disk.write_bps > 1e8", ["host.disk.write_bps"]),
    ("avg(host.cpu, 5m) > 80", ["host.cpu"]),
    ("rate(log_errors.app.count, 5m) > 0.1", ["log_errors.app.count"]),
    ("p95(check.api.latency, 10m) > 1s and not (check.api.state == OK)",
     ["check.api.latency", "check.api.state"]),
    ("max(host.cpu, 1h) >= 99 and min(host.cpu, 1h) > 50", ["host.cpu"]),
    ("((host.cpu > 1))", ["host.cpu"]),
    ("80 < host.cpu", ["host.cpu"]),
    ("host.cpu > -1", ["host.cpu"]),
]


@pytest.mark.parametrize("text,keys", GOOD)
def test_good_conditions_parse_and_name_their_signals(text, keys):
    cond = parse(text)
    assert [r.key for r in cond.signals()] == keys
    assert str(cond) == text


def test_durations_and_percent_become_numbers_of_the_signal_unit():
    c = parse("pg.main.idle_in_xact_age > 30m")
    sig, th = c.primary()
    assert isinstance(sig, Signal) and isinstance(th, Number)
    assert th.value == 1800.0 and th.duration
    c = parse("p99(check.api.latency, 1h30m) > 250ms")
    call, th = c.primary()
    assert isinstance(call, Call) and call.func == "p99" and call.window == 5400.0
    assert th.value == 0.25


# (text, column of the fault (1-based), words the message must hold)
BAD = [
    ("hots.cpu > 80", 1, "unknown signal family 'hots'; did you mean 'host'"),
    ("host.cpux > 80", 6, "unknown host signal 'cpux'; did you mean 'cpu'"),
    ("check.api.stat == OK", 11, "unknown field 'stat' of check.api; did you mean 'state'"),
    ("pg.main.connectons_used_pct > 80", 9, "did you mean 'connections_used_pct'"),
    ("host.cpu = 80", 10, "unknown operator '=' (did you mean '=='?)"),
    ("host.cpu => 80", 10, "unknown operator '=>' (did you mean '>='?)"),
    ("host.cpu > 80 && host.mem > 3", 15, "unexpected character '&' (write and)"),
    ("host.cpu > 5x", 12, "not a duration: '5x'"),
    ("pg.main.idle_in_xact_age > 30mins", 28, "not a duration"),
    ("host.cpu > 30s", 12, "host.cpu is not a time"),
    ("host.load1 > 80%", 14, "host.load1 is not a percentage"),
    ("check.api.state > OK", 17, "states compare with == or != only"),
    ("check.api.state == 3", 20, "a state compares with OK, WARNING, CRITICAL or UNKNOWN"),
    ("check.api.state == ok", 20, "states are written in capitals: OK"),
    ("foo(host.cpu, 5m) > 1", 1, "unknown function 'foo'"),
    ("p100(host.cpu, 5m) > 1", 1, "a percentile is p1 to p99"),
    ("avg(host.cpu) > 1", 13, "avg() takes 2 arguments (signal, window), got 1"),
    ("avg(host.cpu, 5m, 1m) > 1", 17, "takes 2 arguments (signal, window), got more"),
    ("avg(host.cpu, 5) > 1", 15, "the window needs a unit"),
    ("avg(5m, host.cpu) > 1", 5, "avg() takes a signal first"),
    ("avg(check.api.state, 5m) > 1", 5, "needs a numeric signal"),
    ("host.cpu", 9, "expected a comparison"),
    ("host.cpu > ", 12, "expected a signal, a number or a state, got the end"),
    ("(host.cpu > 80", 15, "expected ')' to close the '(' at column 1"),
    ("host.cpu > 80)", 14, "unexpected ')'"),
    ("host.cpu > 1 > 2", 14, "one comparison at a time"),
    ("1 > 2", 1, "a comparison needs a signal on one side"),
    ("", 1, "empty condition"),
    ("host.fs.used_pct > 1", 9, "host.fs needs an index in brackets"),
    ('host.fs["/"] > 1', 9, "needs a field"),
    ("host.core['x'] > 1", 11, "host.core takes a core number"),
    ("check.api > 1", 7, "needs a field after the check name"),
    ("check.api.perf > 1", 11, "perfdata label"),
    ('host.cpu["x"] > 1', 10, 'unexpected ["x"] after host.cpu'),
    ("host.cpu > 30mins", 12, "not a duration: '30mins'"),
    ("host.cpu > 3.5.1", 12, "unexpected character"),
    ('check.api.state == "OK', 20, "unterminated string"),
    ("host.cpu > 80 and", 18, "expected a signal, a number or a state, got the end"),
    ("not", 4, "expected a signal"),
]


@pytest.mark.parametrize("text,column,words", BAD)
def test_bad_conditions_point_at_the_column(text, column, words):
    with pytest.raises(ExprError) as info:
        parse(text)
    err = info.value
    assert words in str(err), str(err)
    assert err.column == column, (str(err), err.pointer())
    assert err.pointer().splitlines()[1] == " " * (column - 1) + "^"


def test_nesting_and_length_are_bounded():
    with pytest.raises(ExprError, match="nested too deeply"):
        parse("(" * 100 + "host.cpu > 1" + ")" * 100)
    with pytest.raises(ExprError, match="too long"):
        parse("host.cpu > 1 and " * 200 + "host.cpu > 1")
    with pytest.raises(ExprError, match="expected a condition"):
        parse(42)  # type: ignore[arg-type]


def test_nothing_in_a_condition_is_ever_executed(tmp_path):
    marker = tmp_path / "owned"
    for text in (f"__import__('os').system('touch {marker}') > 0",
                 "host.cpu.__class__ > 1", "exec('1') == OK"):
        with pytest.raises(ExprError):
            parse(text)
    assert not marker.exists()


def _eval(text: str, **values):
    cond = parse(text)
    sigs = SignalSet(values={k.replace("__", "."): v for k, v in values.items()})
    return cond.evaluate(lambda s: sigs.read(s.ref), lambda c: NO_DATA)


def test_comparisons_and_three_valued_logic():
    assert _eval("host.cpu > 80", host__cpu=81.0) is True
    assert _eval("host.cpu > 80", host__cpu=80.0) is False
    assert _eval("host.cpu >= 80", host__cpu=80.0) is True
    assert _eval("80 < host.cpu", host__cpu=90.0) is True
    assert _eval("check.api.state == CRITICAL", check__api__state="CRITICAL") is True
    assert _eval("check.api.state != OK", check__api__state="OK") is False
    # no data is neither true nor false
    assert _eval("host.cpu > 80", host__cpu=None) is NO_DATA
    assert _eval("host.cpu > 80") is NO_DATA
    assert _eval("not host.cpu > 80") is NO_DATA
    # ... except where the other side decides
    assert _eval("host.cpu > 80 and host.mem > 50", host__cpu=10.0) is False
    assert _eval("host.cpu > 80 and host.mem > 50", host__cpu=90.0) is NO_DATA
    assert _eval("host.cpu > 80 or host.mem > 50", host__cpu=90.0) is True
    assert _eval("host.cpu > 80 or host.mem > 50", host__cpu=10.0) is NO_DATA
    assert _eval("not (host.cpu > 80 or host.mem > 50)", host__cpu=10.0, host__mem=10.0) is True
    # and binds tighter than or
    assert _eval("host.cpu > 80 or host.mem > 50 and host.swap > 50",
                 host__cpu=90.0, host__mem=10.0, host__swap=10.0) is True
    assert _eval("(host.cpu > 80 or host.mem > 50) and host.swap > 50",
                 host__cpu=90.0, host__mem=10.0, host__swap=10.0) is False


def test_control_characters_never_get_into_a_signal_name():
    with pytest.raises(ExprError, match="control characters") as info:
        parse('check["a\x1b[2Jb"].state == OK')
    assert info.value.column == 7
