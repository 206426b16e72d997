"""Hostile runbook and config files: each is refused at file:line:column (or named, for a
file that is not a regular file or is too large) in bounded time, and the others load."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opsconsole.config import parse_config
from opsconsole.runbooks.library import MAX_RUNBOOK_BYTES, load_all
from opsconsole.schema import ConfigError

GOOD = "id: good-one\ntitle: Good\nsteps:\n  - title: Look\n    kind: manual\n"

BAD_RUNBOOKS = {
    # file name, text, the error as `runbook list` shows it (after the directory)
    "alias.yaml": ("id: rec\ntitle: Rec\nsteps: &s\n  - *s\n",
                   "alias.yaml:4:5: alias *s is inside the node it refers to"),
    "deep.yaml": ("id: deep\ntitle: Deep\nsteps: " + "[" * 600 + "]" * 600 + "\n",
                  "deep.yaml:3:71: nested too deeply (the limit is 64 levels)"),
    "bigint.yaml": ("id: bigint\ntitle: T\nsteps:\n  - title: a\n    kind: manual\n    retries: "
                    + "9" * 5000 + "\n",
                    "bigint.yaml:6:14: integer too large (5000 digits)"),
    "nul.yaml": ("id: nul\ntitle: a\x00b\nsteps: []\n",
                 "nul.yaml:2:9: NUL character (U+0000) is not allowed in YAML text"),
    "bomb.yaml": ("a: &a [x, x, x, x, x, x, x, x, x]\n"
                  + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                            for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
                  "bomb.yaml:6:8: expansion too large"),
    "front.md": ("---\ntitle: [unclosed\n---\n# T\n", "front.md:"),
}


def _errors(d: Path) -> dict[str, str]:
    return {i.path.name: str(i.error) for i in load_all([d]) if i.error}


@pytest.mark.parametrize("name", sorted(BAD_RUNBOOKS))
def test_a_bad_runbook_is_located_and_the_others_load(tmp_path, name):
    text, located = BAD_RUNBOOKS[name]
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / name).write_text(text)
    loaded = load_all([tmp_path])
    assert [i.runbook.id for i in loaded if i.runbook] == ["good-one"]
    errors = _errors(tmp_path)
    assert list(errors) == [name]
    assert errors[name].startswith(str(tmp_path / located.split(":", 1)[0]))
    assert located in errors[name]


def test_a_runbook_that_never_ends_or_is_too_large_is_refused(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo.yaml")  # nobody writes it: reading it would wait forever
    (tmp_path / "huge.yaml").write_text("id: huge\n# " + "x" * MAX_RUNBOOK_BYTES + "\n")
    errors = _errors(tmp_path)
    assert "is a character device, not a regular file" in errors["zero.yaml"]
    assert "is a FIFO" in errors["fifo.yaml"]
    assert f"the limit is {MAX_RUNBOOK_BYTES}" in errors["huge.yaml"]
    assert [i.runbook.id for i in load_all([tmp_path]) if i.runbook] == ["good-one"]


def test_a_runbook_that_parses_too_long_is_skipped(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "slow.yaml").write_text('id: slow\ntitle: S\ndescription: "' + "x " * (1900 * 1024)
                                        + '"\nsteps: []\n')
    (tmp_path / "zz.yaml").write_text(GOOD.replace("good-one", "after-the-slow-one"))
    loaded = load_all([tmp_path], timeout=0.5)
    assert [i.runbook.id for i in loaded if i.runbook] == ["good-one", "after-the-slow-one"]
    assert _errors_of(loaded) == {"slow.yaml": f"{tmp_path / 'slow.yaml'}: took too long to parse "
                                               "(more than 0.5 s); skipped"}


def _errors_of(loaded) -> dict[str, str]:
    return {i.path.name: str(i.error) for i in loaded if i.error}


@pytest.mark.parametrize("text, located", [
    ("refresh: .inf\n", "<config>:1:10: refresh: expected a finite number"),
    ("hotkeys:\n  - key: ''\n    runbook: high-cpu\n", "<config>:2:10: hotkeys[0].key: expected a key name"),
    ("incidents:\n  templates:\n    update: '{title:>3000000000}'\n",
     "<config>:3:5: incidents.templates: template 'update': format spec '>3000000000': width above 1000"),
    ("incidents:\n  templates:\n    update: '{title:.5000}'\n", "precision above 1000"),
    ("incidents:\n  templates:\n    update: '{title:{id}}'\n", "nested fields are not allowed"),
    ("incidents:\n  templates:\n    update: '{title.__class__}'\n", "unknown template field"),
])
def test_config_values_that_would_hang_or_break_are_refused_at_load(text, located):
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    assert located in str(exc.value)


def test_a_sane_comms_template_still_loads():
    cfg = parse_config("incidents:\n  templates:\n    update: '[{severity:^6}] {title:.80} {id!r:>12}'\n")
    assert "update" in cfg.incidents.templates
