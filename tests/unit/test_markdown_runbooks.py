"""Wiki pages as runbooks, unchanged: what runs, what is only shown, what is asked for, and
what needs a typed confirmation. The fixtures in ``wiki_runbooks/`` are written in the styles
of public ops wikis (prometheus-operator runbooks, GitLab runbooks, MkDocs sites)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsconsole.runbooks.library import load_runbook
from opsconsole.runbooks.model import ManualStep, Runbook, ShellStep, SqlStep
from opsconsole.schema import ConfigError

WIKI = Path(__file__).parent / "wiki_runbooks"


def page(name: str) -> Runbook:
    return load_runbook(WIKI / name)


def write(tmp_path: Path, text: str, name: str = "page.md") -> Runbook:
    p = tmp_path / name
    p.write_bytes(text.encode())
    return load_runbook(p)


def body(step) -> str:
    return step.run if isinstance(step, ShellStep) else step.sql if isinstance(step, SqlStep) else ""


def shape(rb: Runbook) -> list[tuple[str, str | None, str, str | None]]:
    """(kind, section, title, confirmation word) of every step."""
    return [(s.kind, s.section, s.title, s.confirm) for s in rb.steps]


def params(rb: Runbook) -> dict[str, str | None]:
    return {p.name: p.default for p in rb.params}


# --------------------------------------------------------------------------- the fixtures


def test_prometheus_operator_style_page():
    rb = page("kube-pod-crashlooping.md")
    # Hugo front matter: title and tags used, weight/date/draft/aliases accepted
    assert rb.title == "Kube Pod Crash Looping" and rb.tags == ["kubernetes", "pods"]
    assert rb.description == "A pod's containers keep restarting."
    assert shape(rb) == [
        ("shell", "Diagnosis", "Check the pod's events", None),
        ("shell", "Mitigation", "Look at the logs of the previous container", None),
        ("shell", "Mitigation", "If the deployment is broken, roll it back", "undo"),
    ]
    describe, logs, undo = rb.steps
    # a console block runs its prompt lines, never the output it shows
    assert describe.run == "kubectl -n $NAMESPACE describe pod $POD"
    assert logs.run == "kubectl -n $NAMESPACE logs $POD --previous"  # fence inside "1." item
    # the PromQL and the table are reference text next to the step, never run
    assert "```promql\nmax_over_time(" in describe.text and "| OOMKilled |" in describe.text
    # $NAMESPACE, $POD, $DEPLOYMENT are never assigned: asked for, passed in the environment
    assert params(rb) == {"namespace": None, "pod": None, "deployment": None}
    assert describe.env == {"NAMESPACE": "{{ namespace }}", "POD": "{{ pod }}"}
    assert undo.env["DEPLOYMENT"] == "{{ deployment }}"
    assert "Needs confirmation: kubectl rollout undo." in undo.text


def test_gitlab_style_psql_transcripts_placeholders_and_comments():
    rb = page("gitlab-pg-long-running.md")
    assert rb.title == "PostgreSQL: long running transactions"
    assert shape(rb) == [
        ("sql", "Find them", "Connect with sudo gitlab-psql and look for old transactions", None),
        ("sql", "Stop it", "Cancel the query first; it leaves the session open", "cancel"),
        ("sql", "Stop it", "If that does not help, end the session", "terminate"),
        ("sql", "Stop it", "Check it is gone", None),
    ]
    find, cancel, terminate, gone = rb.steps
    # the transcript becomes the statement alone: no prompts, no output, no \x
    assert find.sql == ("select pid, now() - xact_start as age, state, query\n"
                        "  from pg_stat_activity\n"
                        " where xact_start < now() - interval '10 minutes'\n"
                        " order by xact_start;")
    assert "Note: psql meta-command \\x left out" in find.text
    # <pid> is asked for and bound, never pasted: the step that failed on '<' now asks first
    assert terminate.sql == "select pg_terminate_backend($1);" and terminate.args == ["pid"]
    assert cancel.sql == "select pg_cancel_backend($1);" and gone.args == ["pid"]
    # no database named anywhere: a parameter, defaulting to the config's "main"
    assert params(rb) == {"pid": None, "database": "main"}
    assert all(s.database == "{{ database }}" for s in rb.steps)
    # the DELETE inside an HTML comment is neither a step nor shown
    assert not any("ci_builds" in body(s) or "ci_builds" in s.text for s in rb.steps)


def test_mkdocs_style_admonitions_and_documentation_options():
    rb = page("mkdocs-disk-full.md")
    assert shape(rb) == [
        ("shell", "Look", "See what takes the room", None),
        ("shell", "Clean up", "Old build caches are removed; running builds lose theirs", "prune"),
        ("shell", "Clean up", "Then empty the runner's cache directory", "delete"),
        ("shell", "Clean up", "And check again", None),
    ]
    look, prune, rm, _ = rb.steps
    # title="look.sh" linenums="1" copy and {.line-numbers} are the doc tool's, not errors
    assert look.run.startswith("df -h /var\ndu -xsh")
    # the fence inside "!!! note" has no language: shown, not run
    assert "node_filesystem_avail_bytes{mountpoint=" in look.text
    assert prune.run == 'docker system prune --force --filter "until=72h"'  # inside "!!! warning"
    assert rm.run == "rm -rf /var/cache/gitlab-runner/*"
    assert rb.params == []


def test_setext_headings_task_lists_and_fence_kinds():
    rb = page("setext-checklist.md")
    assert rb.title == "Shift handover"
    assert rb.description == "What the outgoing on-call hands over, every time."
    assert shape(rb) == [
        ("manual", "Before you leave", "Open incidents have an owner", None),
        ("manual", "Before you leave", "The pager is routed to the next person", None),
        ("manual", "Before you leave", "Silences have an expiry and a comment", None),
        ("shell", "Status of the fleet", "Status of the fleet", None),
        ("shell", "Status of the fleet", "Status of the fleet (2)", None),
    ]
    assert all(isinstance(s, ManualStep) for s in rb.steps[:3])
    assert rb.steps[3].run == "uptime"  # ~~~ fence
    # a four-backtick fence holds ``` lines as its content
    assert rb.steps[4].run == "cat <<'EOF2'\n```\nnot a fence: inside a four-backtick block\n```\nEOF2"
    # indented code is reference text: the restart is shown, never run
    assert "systemctl restart legacy-agent" in rb.steps[4].text
    assert not any("legacy-agent" in body(s) for s in rb.steps)


def test_github_alerts_and_assigned_placeholders():
    rb = page("github-alerts-drain.md")
    assert shape(rb) == [
        ("shell", "Look", "Look", None),
        ("shell", "Take it out", "Draining evicts every pod on the node", "cordon"),
        ("shell", "Take it out", "Drain with a timeout, so a stuck pod does not block you", "drain"),
    ]
    look, cordon, drain = rb.steps
    # "$ NODE_NAME=<node>" declares the parameter; the block with only that line runs nothing
    assert [(p.name, p.prompt) for p in rb.params] == [("node_name", "NODE_NAME (node)")]
    # $ prompts in a bash block: the commands run, the "Conditions:" output does not
    assert look.run == ("kubectl describe node $NODE_NAME | sed -n '/Conditions:/,/Addresses:/p'\n"
                        "kubectl get pods --all-namespaces --field-selector spec.nodeName=$NODE_NAME -o wide")
    assert all(s.env == {"NODE_NAME": "{{ node_name }}"} for s in rb.steps)
    # the fence inside "> [!WARNING]" is found; the warning is shown with it
    assert cordon.run == "kubectl cordon $NODE_NAME" and "Warning: Draining evicts" in cordon.text
    assert drain.run.startswith("kubectl drain $NODE_NAME")


def test_go_templates_in_commands_pass_through_literally():
    rb = page("docker-go-template.md")
    (step,) = rb.steps
    assert step.run == ("docker inspect -f '{{ .State.Status }} {{ .State.Health.Status }}' "
                        "{{ container }}")
    assert params(rb) == {"container": None}


# --------------------------------------------------------------------------- constructs


def test_an_unclosed_fence_runs_to_the_end_of_the_page(tmp_path):
    rb = write(tmp_path, "# T\n\n```sh\necho one\necho two\n")
    assert [s.run for s in rb.steps] == ["echo one\necho two"]


def test_crlf(tmp_path):
    text = (WIKI / "gitlab-pg-long-running.md").read_text().replace("\n", "\r\n")
    crlf = write(tmp_path, text, "gitlab-pg-long-running.md")
    lf = page("gitlab-pg-long-running.md")
    assert shape(crlf) == shape(lf) and [body(s) for s in crlf.steps] == [body(s) for s in lf.steps]


def test_a_comment_never_becomes_a_step(tmp_path):
    rb = write(tmp_path, "# T\n\n<!--\n```sh\nrm -rf /srv/data\n```\n-->\n\n```sh\nuptime\n```\n")
    assert [s.run for s in rb.steps] == ["uptime"]


def test_unknown_languages_are_reference_text(tmp_path):
    rb = write(tmp_path, "# T\n\n## Look\n\n```yaml\nreplicas: 0\n```\n\n```text\nrm -rf /\n```\n")
    (step,) = rb.steps
    assert isinstance(step, ManualStep) and step.title == "Look"
    assert "replicas: 0" in step.text and "rm -rf /" in step.text


def test_a_console_block_without_prompts_is_only_shown(tmp_path):
    rb = write(tmp_path, "# T\n\n## Output\n\n```console\nConditions: Ready False\n```\n\n- [ ] ok\n")
    assert [s.kind for s in rb.steps] == ["manual"] and "Conditions: Ready False" in rb.steps[0].text


def test_psql_meta_commands_in_a_plain_sql_block_are_left_out_with_a_note(tmp_path):
    rb = write(tmp_path, "# T\n\n```sql\n\\x\nselect 1 \\gx\n\\d pg_class\n```\n")
    (step,) = rb.steps
    assert step.sql == "select 1;"
    assert "\\x left out" in step.text and "\\d left out" in step.text


def test_several_statements_with_placeholders_become_one_step_each(tmp_path):
    rb = write(tmp_path, "# T\n\n```sql\nselect * from pg_locks where pid = <pid>;\n"
               "select pg_cancel_backend(<pid>);\n```\n")
    assert [(s.sql, s.args, s.confirm) for s in rb.steps] == [
        ("select * from pg_locks where pid = $1;", ["pid"], None),
        ("select pg_cancel_backend($1);", ["pid"], "cancel"),
    ]


def test_placeholders_in_quotes_and_your_style_names(tmp_path):
    rb = write(tmp_path, '# T\n\n```sh\ncurl "http://<host>:9090/api" -H \'X-Id: <id>\' '
               '--user YOUR_API_TOKEN\nkill "<pid>"\n```\n')
    (step,) = rb.steps
    assert step.run == ('curl "http://${OPSCONSOLE_P_HOST}:9090/api" -H \'X-Id: \'"${OPSCONSOLE_P_ID}"\'\' '
                        "--user {{ api_token }}\nkill {{ pid }}")
    assert step.env == {"OPSCONSOLE_P_HOST": "{{ host }}", "OPSCONSOLE_P_ID": "{{ id }}"}
    assert [(p.name, p.secret) for p in rb.params] == [
        ("host", False), ("id", False), ("api_token", True), ("pid", False)]
    assert step.confirm == "kill"


def test_a_value_given_earlier_is_the_default_later(tmp_path):
    rb = write(tmp_path, "# T\n\n```console\n$ export NAMESPACE=monitoring\n$ kubectl get ns $NAMESPACE\n"
               "```\n\n```console\n$ kubectl -n $NAMESPACE get pods\n```\n")
    assert params(rb) == {"namespace": "monitoring"}
    assert rb.steps[0].env == {} and rb.steps[1].env == {"NAMESPACE": "{{ namespace }}"}


def test_a_database_placeholder_is_the_database_parameter(tmp_path):
    rb = write(tmp_path, "# T\n\n```sql\nselect datname from pg_database where datname = '<database>'\n```\n")
    assert params(rb) == {"database": None}
    assert rb.steps[0].sql.endswith("= $1") and rb.steps[0].database == "{{ database }}"


def test_undeclared_double_braces_are_not_parameters_in_sql(tmp_path):
    rb = write(tmp_path, "---\nparams: [{name: unit}]\ndatabase: main\n---\n# T\n\n"
               "```sql\nselect {{ unit }}, '<b>'\n```\n")
    assert rb.steps[0].sql == "select $1, '<b>'" and rb.steps[0].args == ["unit"]
    assert [p.name for p in rb.params] == ["unit"]


@pytest.mark.parametrize("text, title", [
    ("Setext title\n------------\n\n- [ ] a\n", "Setext title"),
    ("### Deep title\n\n- [ ] a\n", "Deep title"),
    ("- [ ] a\n", "no-heading"),
    ("---\ntitle: From front matter\n---\n# From front matter\n\n## S\n\n- [ ] a\n", "From front matter"),
])
def test_the_title_is_front_matter_then_first_heading_then_file_name(tmp_path, text, title):
    rb = write(tmp_path, text, "no-heading.md")
    assert rb.title == title
    assert rb.steps[0].section in (None, "S")


def test_a_table_header_is_not_a_step_title(tmp_path):
    rb = write(tmp_path, "# T\n\n## Check\n\n| host | role |\n|---|---|\n| db1 | primary |\n\n"
               "```sh\nuptime\n```\n")
    assert rb.steps[0].title == "Check" and "| db1 | primary |" in rb.steps[0].text


def test_a_fenced_step_inside_a_task_item_is_one_step(tmp_path):
    rb = write(tmp_path, "# T\n\n1. [ ] Replication is streaming\n   ```sql database=main\n"
               "   select count(*) from pg_stat_replication\n   ```\n2. [ ] Tell the channel\n")
    assert shape(rb) == [("sql", None, "Replication is streaming", None),
                         ("manual", None, "Tell the channel", None)]


def test_a_warning_makes_even_a_harmless_looking_step_ask(tmp_path):
    rb = write(tmp_path, "# T\n\n!!! danger\n    Only on the primary.\n\n    ```sh\n    ./failover.sh\n    ```\n")
    assert rb.steps[0].confirm == "run" and "the page warns" in rb.steps[0].text


def test_a_confirm_option_overrides_the_guess(tmp_path):
    rb = write(tmp_path, "# T\n\n```sh confirm=yes-really\nsystemctl restart app\n```\n")
    assert rb.steps[0].confirm == "yes-really"


@pytest.mark.parametrize("text, where, words", [
    ("# T\n\n```sh colour=red\nls\n```\n", ":3:7:", "unknown fence option 'colour'"),
    ("# T\n\n```sh timeout=10s  retries=lots\nls\n```\n", ":3:", "retries"),
    ("---\ntags: {a: 1}\n---\n# T\n- [ ] a\n", ":2:", "tags"),
])
def test_a_bad_page_is_located(tmp_path, text, where, words):
    p = tmp_path / "bad.md"
    p.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_runbook(p)
    assert f"{p}{where}" in str(info.value) and words in str(info.value), str(info.value)


def test_long_runs_of_spaces_load(tmp_path):
    # a regex loader took 49 s on a 3 KB heading like this; markdown-it reads it once
    heading = "#" + " " * 3000 + "x" + " " * 3000 + "#" * 3000
    rb = write(tmp_path, heading + "\n\n```sh\necho <" + " " * 20_000 + "x>\n```\n" + "- [ ]" + " " * 20_000 + "a\n")
    assert rb.title.startswith("x") and rb.steps[0].kind == "shell"


# --------------------------------------------------------------------------- running


def test_a_wiki_page_runs_its_commands_not_their_output(run_cli, tmp_path):
    p = tmp_path / "page.md"
    p.write_text("# Echo\n\n```console\n$ echo \"pid is <pid>\"\nshown output, never run\n"
                 "$ echo node=$NODE_NAME\n```\n")
    r = run_cli("runbook", "run", str(p), "--param", "pid=42", "--param", "node_name=n1")
    assert r.returncode == 0, r.stderr
    assert "│ pid is 42\n" in r.stdout and "│ node=n1\n" in r.stdout
    assert "never run" not in r.stdout.split("│", 1)[1]


def test_a_changing_step_is_refused_without_a_terminal_and_nothing_runs(run_cli, tmp_path):
    first, victim = tmp_path / "first-ran", tmp_path / "victim"
    victim.write_text("keep")
    p = tmp_path / "page.md"
    p.write_text(f"# Clean\n\n```sh\ntouch {first}\n```\n\nRemove it:\n\n```sh\nrm -f {victim}\n```\n")
    r = run_cli("runbook", "run", str(p))
    assert r.returncode == 1 and "step 2 (Remove it) needs confirmation" in r.stderr
    assert "type 'delete'" in r.stderr and not first.exists() and victim.exists()
    r = run_cli("runbook", "run", str(p), "--yes")
    assert r.returncode == 0 and first.exists() and not victim.exists()
