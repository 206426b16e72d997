"""Hostile text through the command line: incident fields, ``$USER``, runbook titles and step
output never reach stdout/stderr or the Markdown export as terminal control sequences."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import cli_env

OSC52 = "\x1b]52;c;aGFja2Vk\x07"  # would write "hacked" to the operator's clipboard
CLEAR = "\x1b[2J"
C1_CSI = "\x9b2J"  # the 8-bit CSI: clears the screen on terminals that honour C1
EVIL_USER = "evil\x1b[2J"


def control_bytes(out: bytes) -> list[str]:
    """The ESC, BEL and C1 controls in ``out``: UTF-8 encoded or as raw 8-bit bytes."""
    text = out.decode("utf-8", "surrogateescape")
    bad = {"\x1b", "\x07", *map(chr, range(0x80, 0xA0)), *map(chr, range(0xDC80, 0xDCA0))}
    return sorted({ch for ch in text if ch in bad})


def run(tmp_path: Path, *args: str, user: str = "alice") -> subprocess.CompletedProcess[bytes]:
    env = cli_env({"OPSCONSOLE_DATA_DIR": str(tmp_path / "data"),
                   "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "USER": user, "LOGNAME": user})
    env.pop("SUDO_USER", None)
    return subprocess.run([sys.executable, "-m", "opsconsole", *args], capture_output=True,
                          timeout=60, env=env, cwd=str(tmp_path))


def declare_hostile(tmp_path: Path) -> str:
    r = run(tmp_path, "incident", "declare", "--title", "db down | \x1b]0;PWN\x07 [bold]x[/]",
            "--severity", "SEV2", "--service", OSC52, "--service", "api\n# Injected heading",
            "--commander", f"bob{CLEAR}\n## also injected | cell", user=EVIL_USER)
    assert r.returncode == 0, r.stderr
    iid = r.stdout.decode().strip()
    r = run(tmp_path, "incident", "note", iid, f"saw {C1_CSI} and {OSC52}\n# not a heading | x",
            user=EVIL_USER)
    assert r.returncode == 0, r.stderr
    return iid


def test_incident_show_prints_hostile_fields_visibly_never_raw(tmp_path):
    iid = declare_hostile(tmp_path)
    r = run(tmp_path, "incident", "show", iid)
    assert r.returncode == 0, r.stderr
    assert control_bytes(r.stdout) == [] and control_bytes(r.stderr) == []
    out = r.stdout.decode()
    assert "␛]52;c;aGFja2Vk␇" in out  # shown, visibly
    assert "evil␛[2J@" in out  # the actor from $USER
    assert "<U+009B>2J" in out  # the C1 CSI in the note
    # the JSON twin stays valid JSON and holds the exact text
    r = run(tmp_path, "incident", "show", iid, "--json")
    assert r.returncode == 0 and control_bytes(r.stdout) == []
    doc = json.loads(r.stdout)
    assert OSC52 in doc["services"] and doc["declared_by"].startswith(EVIL_USER + "@")


def test_markdown_export_escapes_header_fields_and_folds_newlines(tmp_path):
    iid = declare_hostile(tmp_path)
    r = run(tmp_path, "incident", "export", iid)
    assert r.returncode == 0, r.stderr
    assert control_bytes(r.stdout) == []
    md = r.stdout.decode()
    lines = md.splitlines()
    # a newline in a header field never starts a line of its own (no forged heading)
    assert not any(line.startswith(("# Injected", "## also injected", "# not a heading"))
                   for line in lines)
    header = next(line for line in lines if line.startswith("**SEV2**"))
    assert "api # Injected heading" in header
    assert "commander: bob␛\\[2J ## also injected \\| cell" in header
    title = next(line for line in lines if line.startswith(f"# {iid}: "))
    assert "db down \\| ␛\\]0;PWN␇ \\[bold\\]x\\[/\\]" in title
    note = next(line for line in lines if "saw &lt;U+009B&gt;2J" in line)  # < as an entity
    assert "# not a heading \\| x" in note
    assert "evil␛\\[2J@" in note  # the actor cell
    # the JSON export keeps the text exactly, as JSON escapes (C1 included)
    r = run(tmp_path, "incident", "export", iid, "--format", "json")
    assert r.returncode == 0 and control_bytes(r.stdout) == []
    doc = json.loads(r.stdout)
    assert any(OSC52 in s for s in doc["incident"]["services"])
    assert any(C1_CSI in str(e["data"].get("text", "")) for e in doc["events"])
    assert any(e["actor"]["user"] == EVIL_USER for e in doc["events"])


def hostile_runbook(tmp_path: Path) -> Path:
    p = tmp_path / "evil.yaml"
    # YAML double quotes: \e is ESC, \a is BEL
    p.write_text('id: evil\n'
                 'title: "Evil \\e]0;TITLE\\a runbook"\n'
                 'steps:\n'
                 '  - title: "print \\e]0;STEP\\a"\n'
                 '    kind: shell\n'
                 "    run: printf '\\033]0;X\\007\\033[2J\\302\\233K\\n'; echo after-the-escapes\n")
    return p


def test_runbook_run_streams_step_output_without_escapes(tmp_path):
    r = run(tmp_path, "runbook", "run", str(hostile_runbook(tmp_path)), user=EVIL_USER)
    assert r.returncode == 0, r.stderr
    assert control_bytes(r.stdout) == [] and control_bytes(r.stderr) == []
    out = r.stdout.decode()
    assert "␛]0;X␇␛[2J<U+009B>K" in out and "after-the-escapes" in out
    assert "Evil ␛]0;TITLE␇ runbook" in out or "print ␛]0;STEP␇" in out


def test_argument_errors_show_hostile_values_visibly(tmp_path):
    # argparse echoes unrecognised arguments as they are
    r = run(tmp_path, "incident", "list", OSC52)
    assert r.returncode == 2
    assert control_bytes(r.stderr) == [] and b"Traceback" not in r.stderr
    assert "unrecognized arguments: ␛]52;c;aGFja2Vk␇" in r.stderr.decode()
