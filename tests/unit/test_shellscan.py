"""Where a placeholder sits in a shell command decides how it may be filled in."""

from __future__ import annotations

import subprocess

import pytest

from opsconsole.runbooks.params import Substitution, path_segment
from opsconsole.runbooks.shellscan import scan


def contexts(text: str) -> list[tuple[str | None, str]]:
    return [(t.name, t.context) for t in scan(text)]


@pytest.mark.parametrize("text, expect", [
    ("echo {{ a }}", [("a", "unquoted")]),
    ('echo "x {{ a }}"', [("a", "double quotes")]),
    ("echo 'x {{ a }}'", [("a", "sq")]),
    ("echo `x {{ a }}`", [("a", "bq")]),
    ('echo "$(ls {{ a }})"', [("a", "unquoted")]),
    ('echo "$(ls "{{ a }}")"', [("a", "double quotes")]),
    ("echo ${x:-{{ a }}}", [("a", "brace")]),
    ("echo $(( {{ a }} + 1 ))", [("a", "arithmetic")]),
    ("echo \\'{{ a }}", [("a", "unquoted")]),  # an escaped quote opens nothing
    ("# don't\necho {{ a }}", [("a", "unquoted")]),  # a quote in a comment opens nothing
    ("echo a#b'{{ a }}'", [("a", "sq")]),  # '#' inside a word is no comment
    ("cat <<EOF\n{{ a }}\nEOF\necho '{{ b }}'", [("a", "here-document"), ("b", "sq")]),
    ("cat <<-'EOF'\n\t{{ a }}\n\tEOF\necho {{ b }}", [("a", "qheredoc"), ("b", "unquoted")]),
    ("echo {{{{ a }}", [(None, "unquoted")]),
])
def test_contexts(text, expect):
    assert contexts(text) == expect


def test_rendered_commands_run_in_a_real_sh_and_keep_values_as_text(tmp_path):
    value = f"it's \"$(touch {tmp_path}/X)\" `touch {tmp_path}/Y` $HOME \\"
    sub = Substitution({}, {"a": value}, {"a"})
    for template, expect in [
        ("printf '%s\\n' {{ a }}", value),
        ('printf "%s\\n" "<{{ a }}>"', f"<{value}>"),
        ("# it's a comment\nprintf '%s\\n' \"$(printf %s {{ a }})\"", value),
        ("cat <<EOF\n[{{ a }}]\nEOF", f"[{value}]"),
    ]:
        cmd, env, shown = sub.shell(template)
        assert value not in cmd
        out = subprocess.run(["/bin/sh", "-c", cmd], env={"PATH": "/usr/bin:/bin", **env},
                             capture_output=True, text=True, timeout=10, check=True).stdout
        assert out == expect + "\n", template
    assert not (tmp_path / "X").exists() and not (tmp_path / "Y").exists()


def test_prose_escapes_and_undeclared_names():
    sub = Substitution({}, {"a": "1"}, {"a"})
    assert sub.text("{{ a }} {{{{ a }} {{ b }} {{ .Status }}") == "1 {{ a }} {{ b }} {{ .Status }}"


@pytest.mark.parametrize("value, segment", [
    ("..", "%2E%2E"), (".", "%2E"), ("...", "..."), ("a/b", "a%2Fb"), ("a b", "a%20b")])
def test_path_segments(value, segment):
    assert path_segment(value) == segment
