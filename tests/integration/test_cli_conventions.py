"""CLI conventions, through the real command: global options before or after the
subcommand, the config lookup and its example, --dsn-file and the --dsn password warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

CHECK_CONFIG = """checks:
  - name: from-the-given-config
    kind: command
    command: "true"
"""


@pytest.mark.parametrize("order", ["before", "after"])
def test_config_before_or_after_the_subcommand(order, run_cli, tmp_path):
    cfg = tmp_path / "given.yaml"
    cfg.write_text(CHECK_CONFIG)
    args = ["--config", str(cfg), "check"] if order == "before" else ["check", "--config", str(cfg)]
    got = run_cli(*args, "--json")
    assert got.returncode == 0, got.stderr
    assert "from-the-given-config" in got.stdout


@pytest.mark.parametrize("order", ["before", "after"])
def test_data_dir_before_or_after_the_subcommand(order, run_cli, tmp_path):
    data = tmp_path / "chosen-data"
    declared = run_cli("--data-dir", str(data), "incident", "declare", "--title", "db down",
                       "--severity", "SEV2")
    assert declared.returncode == 0, declared.stderr
    args = (["--data-dir", str(data), "incident", "list"] if order == "before"
            else ["incident", "list", "--data-dir", str(data)])
    listed = run_cli(*args)
    assert listed.returncode == 0, listed.stderr
    assert "db down" in listed.stdout
    assert "db down" not in run_cli("incident", "list").stdout  # the default dir is another


def test_config_example_is_the_documented_file(run_cli):
    shipped = (REPO / "src" / "opsconsole" / "data" / "config.example.yaml").read_text()
    assert shipped == (REPO / "config.example.yaml").read_text()
    got = run_cli("config", "example")
    assert got.returncode == 0 and got.stdout == shipped


def test_config_path_finds_config_yml_and_the_system_wide_file(run_cli, tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "home"), "XDG_CONFIG_DIRS": str(tmp_path / "etc")}
    system = tmp_path / "etc" / "opsconsole" / "config.yaml"
    system.parent.mkdir(parents=True)
    system.write_text(CHECK_CONFIG)
    got = run_cli("config", "path", env=env)
    assert got.returncode == 0, got.stderr
    assert f"config in use: {system}" in got.stdout
    assert "from-the-given-config" in run_cli("check", "--json", env=env).stdout
    user = tmp_path / "home" / "opsconsole" / "config.yml"
    user.parent.mkdir(parents=True)
    user.write_text("checks: []\n")
    got = run_cli("config", "path", "--data-dir", str(tmp_path / "d"), env=env)
    assert f"config in use: {user}" in got.stdout
    assert f"data directory: {tmp_path / 'd'}" in got.stdout


def test_runbook_list_json(run_cli):
    got = run_cli("runbook", "list", "--json")
    assert got.returncode == 0, got.stderr
    items = json.loads(got.stdout)
    assert items and all({"id", "title", "tags", "steps", "path"} <= set(i) for i in items)


def test_dsn_password_on_the_command_line_is_warned_about(run_cli, tmp_path):
    got = run_cli("--dsn", "host=db1 password=hunter2 connect_timeout=x", "check")
    assert "warning: the password in --dsn" in got.stderr and "blanked" in got.stderr
    assert "--dsn-file" in got.stderr and "hunter2" not in got.stderr


def test_dsn_password_is_blanked_in_the_process_command_line(tmp_path):
    """What `ps` shows of a running opsconsole: the --dsn password is gone from
    /proc/PID/cmdline while the command still runs (a check that takes a few seconds)."""
    import subprocess
    import sys

    from conftest import cli_env
    from eventually import eventually_sync

    cfg = tmp_path / "c.yaml"
    cfg.write_text("checks:\n  - {name: slow, kind: command, command: 'sleep 5', timeout: 10s}\n")
    secret = "hunter2-" + tmp_path.name[-6:]
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsconsole", "--config", str(cfg), "--dsn",
         f"postgresql://u:{secret}@127.0.0.1:1/x", "check"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=cli_env({"OPSCONSOLE_DATA_DIR": str(tmp_path / "d")}))
    try:
        def cmdline() -> bytes:
            with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
                return f.read()

        shown = eventually_sync(lambda: b"*" * len(secret) in cmdline() and cmdline(),
                                timeout=20, what="the password blanked", last=cmdline)
        assert secret.encode() not in shown and b"postgresql://u:" in shown
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def test_dsn_file_errors_are_located(run_cli, tmp_path):
    got = run_cli("--dsn-file", str(tmp_path / "missing"), "check")
    assert got.returncode == 2 and "--dsn-file" in got.stderr and "Traceback" not in got.stderr
    empty = tmp_path / "empty.dsn"
    empty.write_text("# nothing here\n\n")
    got = run_cli("--dsn-file", str(empty), "check")
    assert got.returncode == 2 and "no DSN in the file" in got.stderr
    got = run_cli("--dsn", "host=a junk", "check")
    assert got.returncode == 2 and '--dsn: cannot parse the connection string: missing "="' in got.stderr
