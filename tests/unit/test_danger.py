"""Which wiki commands and statements change things (and so need a typed confirmation)."""

from __future__ import annotations

import pytest

from opsconsole.runbooks.danger import shell_danger, sql_danger

SQL = [
    # (statement, confirmation word or None when it only reads)
    ("select * from pg_stat_activity", None),
    ("SELECT pid, state FROM pg_stat_activity WHERE state <> 'idle';", None),
    ("explain select * from t", None),
    ("show work_mem", None),
    ("with x as (select 1) select * from x", None),
    ("select 'pg_terminate_backend(1)' as text_only", None),
    ("-- pg_terminate_backend in a comment\nselect 1", None),
    ("select pg_terminate_backend(123)", "terminate"),
    ("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE state = 'active'", "cancel"),
    ("select pg_reload_conf()", "reload"),
    ("select pg_drop_replication_slot('old')", "drop"),
    ("select setval('s', 1)", "setval"),
    ("update users set admin = true", "update"),
    ("DELETE FROM ci_builds WHERE id = 1", "delete"),
    ("drop table t", "drop"),
    ("alter table t add column c int", "alter"),
    ("truncate t", "truncate"),
    ("vacuum full t", "vacuum"),
    ("insert into t values (1)", "insert"),
    ("create index concurrently i on t (c)", "create"),
    ("grant select on t to u", "grant"),
    ("reindex table t", "reindex"),
    ("select 1; delete from t", "delete"),
    ("with gone as (delete from t returning *) select count(*) from gone", "delete"),
    ("explain analyze delete from t", "delete"),
    ("select * into backup_t from t", "create"),
    ("select * from t for update", "lock"),
]

SHELL = [
    ("kubectl get pods -A", None),
    ("kubectl -n shop describe pod api-1", None),
    ("systemctl status nginx", None),
    ("df -h | sort -k5 -rn > /dev/null 2>&1", None),
    ("docker ps --format '{{ .Names }}'", None),
    ("grep -c 'rm -rf' /var/log/syslog", None),
    ("echo 'kill it' # kill in a comment", None),
    ("psql -c 'select count(*) from pg_stat_activity'", None),
    ("iptables -L -n", None),
    ("git push", None),
    ("kill -9 1234", "kill"),
    ("sudo pkill -f worker", "kill"),
    ("killall nginx", "kill"),
    ("rm -rf /var/cache/app/*", "delete"),
    ("systemctl restart postgresql", "restart"),
    ("sudo systemctl stop nginx", "stop"),
    ("systemctl disable --now cron", "disable"),
    ("service nginx restart", "restart"),
    ("reboot", "reboot"),
    ("shutdown -h now", "shutdown"),
    ("kubectl delete pod api-1", "delete"),
    ("kubectl -n shop scale deployment/api --replicas=0", "scale"),
    ("kubectl drain node-1 --ignore-daemonsets", "drain"),
    ("kubectl cordon node-1", "cordon"),
    ("kubectl rollout restart deployment/api", "restart"),
    ("docker rm -f web", "rm"),
    ("docker stop web", "stop"),
    ("docker kill web", "kill"),
    ("docker system prune -af", "prune"),
    ("iptables -A INPUT -s 10.0.0.1 -j DROP", "firewall"),
    ("dd if=/dev/zero of=/dev/sdb bs=1M", "overwrite"),
    ("mkfs.ext4 /dev/sdb1", "format"),
    ("truncate -s 0 /var/log/huge.log", "truncate"),
    ("echo '' > /var/log/app.log", "overwrite"),
    ("cat /dev/null >| /var/log/app.log", "overwrite"),
    ("uptime && sudo reboot", "reboot"),
    ("ls; rm -f /tmp/lock", "delete"),
    ("ps aux | grep java | awk '{print $2}' | xargs kill", "kill"),
    ("echo $(rm -f /tmp/x)", "delete"),
    ("sh -c 'systemctl restart app'", "restart"),
    ("kubectl exec -it db-0 -- rm /data/lock", "delete"),
    ("psql -c 'select pg_terminate_backend(42)'", "terminate"),
    ("find /tmp -name '*.tmp' -delete", "delete"),
    ("curl -X DELETE http://localhost:9200/old-index", "delete"),
    ("helm rollback shop 3", "rollback"),
    ("sed -i 's/a/b/' /etc/app.conf", "edit"),
    ("sudo -u postgres pg_ctl restart -D /var/lib/postgresql/data", "restart"),
    ("git push --force", "push"),
]


@pytest.mark.parametrize("sql, word", SQL)
def test_sql_that_changes_things_needs_its_word(sql, word):
    found = sql_danger(sql)
    assert (found.word if found else None) == word, found


@pytest.mark.parametrize("command, word", SHELL)
def test_shell_commands_that_stop_kill_delete_or_restart(command, word):
    found = shell_danger(command)
    assert (found.word if found else None) == word, found


def test_a_danger_says_why():
    found = shell_danger("kubectl -n shop rollout undo deployment/api")
    assert found is not None and found.reason == "kubectl rollout undo"
    found = sql_danger("select pg_terminate_backend(1)")
    assert found is not None and "pg_terminate_backend" in found.reason


def test_long_runs_of_spaces_and_quotes_are_read_in_one_pass():
    # a backtracking pattern takes minutes on these; the scanners read them once
    assert shell_danger("echo " + " " * 50_000 + "x") is None
    assert shell_danger("'" + " " * 50_000) is None
    assert sql_danger("select '" + "' '" * 20_000) is None
    assert sql_danger("select 1" + " " * 50_000 + "; drop table t").word == "drop"
