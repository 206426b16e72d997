"""``opsconsole runbook list`` / ``validate`` with hostile files: the others are listed, the
bad ones with their located error, exit 2, never a traceback."""

from __future__ import annotations

import os

GOOD = "id: good-one\ntitle: A good runbook\nsteps:\n  - title: Look\n    kind: manual\n"


def _dir(tmp_path):
    d = tmp_path / "rb"
    d.mkdir()
    (d / "good.yaml").write_text(GOOD)
    (d / "rec.yaml").write_text("id: rec\ntitle: Rec\nsteps: &s\n  - *s\n")
    (d / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(d / "fifo.yaml")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"runbook_dirs: [{d}]\n")
    return d, cfg


def test_runbook_list_lists_the_others_and_locates_a_recursive_alias(run_cli, tmp_path):
    d, cfg = _dir(tmp_path)
    r = run_cli("runbook", "list", "--config", str(cfg), timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert "A good runbook" in r.stdout and "PostgreSQL lock contention" in r.stdout
    assert f"{d / 'rec.yaml'}:4:5: alias *s is inside the node it refers to" in r.stdout
    assert f"{d / 'zero.yaml'}: is a character device, not a regular file" in r.stdout
    assert f"{d / 'fifo.yaml'}: is a FIFO" in r.stdout


def test_runbook_validate_locates_each_bad_file(run_cli, tmp_path):
    d, _cfg = _dir(tmp_path)
    r = run_cli("runbook", "validate", str(d), timeout=120)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr + r.stdout
    assert f"ok  {d / 'good.yaml'}" in r.stdout
    assert f"{d / 'rec.yaml'}:4:5:" in r.stderr and "fifo.yaml: is a FIFO" in r.stderr
