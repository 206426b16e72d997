"""Issue 11 through the CLI: configured severities, the postmortem record, a checked
postmortem template, out-of-order milestones, next update due."""

from __future__ import annotations


def ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


P_LEVELS = """incidents:
  severities:
    P0: {response: 5m, resolution: 30m, update_every: 10m}
    P1: {response: 15m, resolution: 1h, update_every: 15m}
    P2: {response: 1h, resolution: 8h, update_every: 1h}
"""


def test_configured_severities_are_accepted_and_listed_worst_first(run_cli, tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(P_LEVELS)
    c = ("--config", str(cfg))
    low = ok(run_cli("incident", "declare", "--title", "slow", "--severity", "P2", *c)).strip()
    high = ok(run_cli("incident", "declare", "--title", "down", "--severity", "p1", *c)).strip()
    rows = ok(run_cli("incident", "list", *c)).splitlines()[1:]
    assert [r.split()[0] for r in rows] == [high, low]
    assert "P1" in rows[0]
    show = ok(run_cli("incident", "show", high, *c))
    assert "next update due in 15m" in show or "next update due in 14m" in show
    comms = ok(run_cli("incident", "comms", high, *c))
    assert "Next update within 15m00s" in comms
    assert "Services affected: not yet known." in comms and "our services" not in comms
    r = run_cli("incident", "declare", "--title", "x", "--severity", "SEV1", *c)
    assert r.returncode == 2 and "expected one of P0, P1, P2" in r.stderr


def test_a_bad_severity_config_is_located(run_cli, tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("incidents:\n  severities:\n    P1: {response: 5m, resolve: 1h}\n")
    r = run_cli("incident", "list", "--config", str(cfg))
    assert r.returncode == 2
    assert f"{cfg}:3:" in r.stderr and "resolve" in r.stderr and "Traceback" not in r.stderr


def test_a_bad_postmortem_template_exits_2_at_file_line_col(run_cli, tmp_path):
    (tmp_path / "pm.md").write_text("# {{ title }}\n\nwhy: {{ root_couse }}\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text("incidents:\n  postmortem_template: pm.md\n")
    r = run_cli("incident", "list", "--config", str(cfg))
    assert r.returncode == 2
    assert f"{tmp_path / 'pm.md'}:3:6: unknown placeholder {{{{ root_couse }}}}" in r.stderr


def test_record_fields_actions_and_the_configured_template(run_cli, tmp_path):
    (tmp_path / "pm.md").write_text("# {{ title }}\ncause: {{ root_cause }}\n"
                                    "users: {{ impact_users }}\n{{ action_items }}\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text("incidents:\n  postmortem_template: pm.md\n")
    c = ("--config", str(cfg))
    iid = ok(run_cli("incident", "declare", "--title", "db", "--severity", "2", *c)).strip()
    out = ok(run_cli("incident", "set", iid, "--root-cause", "a missing index",
                     "--impact-users", "1,200", "--postmortem-required", "yes", *c))
    assert "Root cause: a missing index" in out and "Users affected: 1,200" in out
    seq = ok(run_cli("incident", "action", iid, "add the index", "--owner", "bo", *c)).split()[1]
    ok(run_cli("incident", "action", iid, seq, "--status", "done", *c))
    r = run_cli("incident", "set", iid, "--impact-users", "lots", *c)
    assert r.returncode == 2 and "expected a whole number" in r.stderr
    show = ok(run_cli("incident", "show", iid, *c))
    assert "root cause: a missing index" in show and f"action {seq} [done] add the index" in show
    md = ok(run_cli("incident", "export", iid, *c))
    assert md.startswith("# db\ncause: a missing index\nusers: 1,200\n")
    assert f"| {seq[1:]} | add the index | bo | done |" in md


def test_backdated_detection_warns_and_says_n_a(run_cli):
    iid = ok(run_cli("incident", "declare", "--title", "x", "--severity", "3",
                     "--started=-10m")).strip()
    ok(run_cli("incident", "milestone", iid, "detected", "--at=-20m"))
    show = ok(run_cli("incident", "show", iid))
    assert "MTTD n/a" in show
    assert "warning: detected (" in show and ") is before started (" in show
    assert "MTTD: n/a — detected (" in show


def test_a_bad_postmortem_template_stops_the_console_and_every_command(run_cli, tmp_path):
    (tmp_path / "pm.md").write_text("# {{ titel }}\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text("incidents:\n  postmortem_template: pm.md\n")
    for args in (("check",), ("incident", "list"), ()):  # the checks, the CLI, the console
        r = run_cli(*args, "--config", str(cfg), timeout=30)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert f"{tmp_path / 'pm.md'}:1:3: unknown placeholder" in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr
