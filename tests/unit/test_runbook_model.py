"""Runbook files: YAML and Markdown parsing, located errors, search."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsconsole.paths import shipped_dir
from opsconsole.runbooks.library import load_all, load_runbook, runbook_files
from opsconsole.runbooks.model import ManualStep, ShellStep, SqlStep
from opsconsole.runbooks.search import fuzzy_score, search
from opsconsole.schema import ConfigError
from samples import ISSUE_EXAMPLE

SHIPPED = sorted(runbook_files([shipped_dir("runbooks")]))


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_runbook(path)
    return info.value


def test_the_shipped_runbooks_are_all_there():
    ids = {load_runbook(p).id for p in SHIPPED}
    assert {"high-cpu", "high-memory", "disk-almost-full", "pg-slow-queries", "pg-lock-contention",
            "pg-connection-saturation", "service-down", "high-traffic", "backup-verification",
            "daily-ops-checklist"} <= ids


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_runbook_validates(path):
    rb = load_runbook(path)
    assert rb.title and rb.steps and rb.tags and rb.symptoms


def test_the_issue_example_loads_as_written(tmp_path):
    rb = load_runbook(write(tmp_path, "ex.yaml", ISSUE_EXAMPLE))
    assert [s.kind for s in rb.steps] == ["sql", "sql", "http", "manual", "shell"]
    assert rb.steps[1].confirm == "cancel"
    assert rb.steps[2].milestone == "mitigated"
    assert float(rb.steps[4].timeout) == 10.0
    assert isinstance(rb.steps[0], SqlStep) and rb.steps[0].args == ["pid"]


@pytest.mark.parametrize(
    "text, where, words",
    [
        # malformed YAML
        ("id: x\ntitle: [unclosed\nsteps: []\n", "3:", "invalid YAML"),
        # unknown step kind
        ("id: x\ntitle: t\nsteps:\n  - title: a\n    kind: teleport\n", "5:11", "unknown kind 'teleport'"),
        # missing field
        ("id: x\ntitle: t\nsteps:\n  - title: a\n    kind: shell\n", "4:5", "missing required key 'run'"),
        # bad regex
        ("id: x\ntitle: t\nparams:\n  - name: a\n    pattern: '(['\nsteps:\n  - title: a\n    kind: manual\n",
         "5:14", "expected a regular expression"),
        # a parameter inside the command's single quotes (column of the {{)
        ("id: x\ntitle: t\nparams:\n  - name: p\nsteps:\n  - title: a\n    kind: shell\n"
         "    run: echo '{{ p }}'\n", "8:16",
         "{{ p }} inside single quotes cannot be substituted safely; close the quote"),
        # inside backticks, in a block scalar
        ("id: x\ntitle: t\nparams:\n  - name: p\nsteps:\n  - title: a\n    kind: shell\n"
         "    run: |\n      echo ok\n      kill `echo {{ p }}`\n", "10:18", "inside backticks"),
        # inside ${ … }, in a wait step's until
        ("id: x\ntitle: t\nparams:\n  - name: p\nsteps:\n  - title: a\n    kind: wait\n"
         "    until: test ${x:-{{ p }}}\n", "8:22", "inside ${ … }"),
        # a string parameter inside $(( … ))
        ("id: x\ntitle: t\nparams:\n  - name: p\nsteps:\n  - title: a\n    kind: shell\n"
         "    run: echo $(( {{ p }} + 1 ))\n", "8:19", "must be an int parameter"),
        # a quoted here-document delimiter
        ("id: x\ntitle: t\nparams:\n  - name: p\nsteps:\n  - title: a\n    kind: shell\n"
         "    run: |\n      cat <<'EOF'\n      {{ p }}\n      EOF\n", "10:7", "quoted delimiter"),
        # undefined SQL arg
        ("id: x\ntitle: t\nsteps:\n  - title: a\n    kind: sql\n    database: m\n    sql: select $1\n    args: [who]\n",
         "8:12", "undefined parameter 'who'"),
        # SQL must not paste parameters
        ("id: x\ntitle: t\nparams:\n  - name: p\nsteps:\n  - title: a\n    kind: sql\n    database: m\n"
         "    sql: select {{ p }}\n", "9:17", "never {{ name }}"),
        # $2 without a second arg
        ("id: x\ntitle: t\nparams:\n  - name: p\nsteps:\n  - title: a\n    kind: sql\n    database: m\n"
         "    sql: select $1, $2\n    args: [p]\n", "9:10", "uses $2"),
        # unknown key
        ("id: x\ntitle: t\nsteps:\n  - title: a\n    kind: shell\n    run: ls\n    timout: 3s\n", "7:5",
         "unknown key 'timout'"),
        # bad duration
        ("id: x\ntitle: t\nsteps:\n  - title: a\n    kind: shell\n    run: ls\n    timeout: soon\n", "7:14",
         "expected a duration"),
        # a capture is a regex too
        ("id: x\ntitle: t\nsteps:\n  - title: a\n    kind: shell\n    run: ls\n    capture: {v: '(x'}\n",
         "7:14", "capture v"),
        # enum needs choices
        ("id: x\ntitle: t\nparams:\n  - name: a\n    type: enum\nsteps:\n  - title: a\n    kind: manual\n",
         "5:11", "needs choices"),
        # wait needs one condition
        ("id: x\ntitle: t\nsteps:\n  - title: a\n    kind: wait\n", "5:11", "exactly one of"),
        # no steps
        ("id: x\ntitle: t\nsteps: []\n", "3:8", "at least one step"),
    ],
)
def test_errors_are_located(tmp_path, text, where, words):
    path = write(tmp_path, "bad.yaml", text)
    err = error_of(path)
    assert str(err).startswith(f"{path}:{where}"), str(err)
    assert words in str(err)


def test_captured_variables_are_known_to_later_steps_only(tmp_path):
    ok = ("id: x\ntitle: t\nsteps:\n  - title: a\n    kind: shell\n    run: echo v=1\n    capture: {v: 'v=(\\d+)'}\n"
          "  - title: b\n    kind: shell\n    run: echo {{ v }}\n")
    assert load_runbook(write(tmp_path, "ok.yaml", ok)).steps[0].capture == {"v": "v=(\\d+)"}
    bad = ("id: x\ntitle: t\nsteps:\n  - title: b\n    kind: shell\n    run: echo {{ v }}\n"
           "  - title: a\n    kind: shell\n    run: echo v=1\n    capture: {v: 'v=(\\d+)'}\n")
    assert "{{ v }} is captured only by a later step" in str(error_of(write(tmp_path, "bad.yaml", bad)))


MARKDOWN = """\
---
id: md-example
tags: [wiki]
params:
  - name: unit
    default: nginx
database: main
---
# Restart the web tier

Used when the web tier hangs.

## Look first

Status of the unit.

```bash timeout=5s
systemctl status {{ unit }}
```

```sql
select count(*) from pg_stat_activity where application_name = {{ unit }}
```

## Then by hand

- [ ] Tell the channel
- [ ] Watch the dashboard

```python
print("not a step")
```
"""


def test_markdown_headings_are_sections_fences_and_checklists_are_steps(tmp_path):
    rb = load_runbook(write(tmp_path, "wiki.md", MARKDOWN))
    assert rb.id == "md-example" and rb.title == "Restart the web tier"
    assert rb.description.startswith("Used when the web tier hangs")
    kinds = [(s.kind, s.section, s.title) for s in rb.steps]
    assert kinds == [
        ("shell", "Look first", "Status of the unit"),  # the line before the block
        ("sql", "Look first", "Look first"),  # no text before it: the heading
        ("manual", "Then by hand", "Tell the channel"),
        ("manual", "Then by hand", "Watch the dashboard"),
    ]
    shell, sql = rb.steps[0], rb.steps[1]
    assert isinstance(shell, ShellStep) and float(shell.timeout) == 5.0
    assert shell.text == "Status of the unit."
    # {{ name }} in a Markdown SQL block is bound as $1, never pasted
    assert isinstance(sql, SqlStep) and sql.sql.endswith("= $1") and sql.args == ["unit"]
    assert sql.database == "main"
    assert isinstance(rb.steps[2], ManualStep)


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("---\nparams: [{name: p}]\n---\n# T\n\n## A\n\n```sh\necho '{{ p }}'\n```\n", 8,
         "inside single quotes"),
        ("# T\n\n```sh retries=lots\nls\n```\n", 3, "retries"),
        ("# T\n\n```sh colour=red\nls\n```\n", 3, "unknown fence option 'colour'"),
        ("---\nid: [x\n---\n# T\n- [ ] a\n", 2, "invalid YAML"),
        ("just text\n", 1, "no steps"),
    ],
)
def test_markdown_errors_name_the_line_of_the_block(tmp_path, text, line, words):
    path = write(tmp_path, "bad.md", text)
    err = error_of(path)
    assert err.line == line, str(err)
    assert words in str(err)


def test_a_broken_runbook_is_listed_with_its_error_while_the_others_load(tmp_path):
    write(tmp_path, "good.yaml", ISSUE_EXAMPLE)
    write(tmp_path, "broken.yaml", "id: b\ntitle: t\nsteps:\n  - title: a\n    kind: nope\n")
    write(tmp_path, "dup.yaml", ISSUE_EXAMPLE)
    write(tmp_path, "notes.txt", "ignored")
    loaded = load_all([tmp_path])
    by_name = {i.path.name: i for i in loaded}
    assert set(by_name) == {"good.yaml", "broken.yaml", "dup.yaml"}
    assert by_name["broken.yaml"].error is not None and ":5:11:" in str(by_name["broken.yaml"].error)
    # files load in name order: the later file with the same id is the broken one
    assert by_name["dup.yaml"].runbook is not None
    assert by_name["good.yaml"].runbook is None and "already used by" in str(by_name["good.yaml"].error)


def test_fuzzy_search_over_title_tags_and_symptoms():
    loaded = load_all([shipped_dir("runbooks")])
    ids = lambda q: [i.runbook.id for i in search(loaded, q) if i.runbook]  # noqa: E731
    assert ids("lock")[0] == "pg-lock-contention"
    assert ids("pglock")[0] == "pg-lock-contention"  # letters in order
    assert "disk-almost-full" in ids("no space left")  # symptoms
    assert ids("oom")[0] == "high-memory"  # tags
    assert "backup-verification" in ids("daily")
    assert ids("zzzz-nothing") == []
    assert len(search(loaded, "")) == len(loaded)
    assert fuzzy_score("abc", "a-b-c") is not None and fuzzy_score("cba", "abc") is None
