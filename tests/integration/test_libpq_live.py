"""DSN forms against the reference, ``psql``: for each, with the same environment and files,
psql and opsconsole connect to the same database as the same user (or both refuse, saying
the same thing)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import asyncpg
import pytest

from opsconsole.postgres import connect
from opsconsole.postgres.config import DatabaseTarget, PostgresOptions
from opsconsole.postgres.conn import DsnError, connect_kwargs
from opsconsole.postgres.source import PgSource

PSQL = shutil.which("psql")
PW = "s3 cr'et\\x"  # a space, a quote and a backslash: every escape libpq has
QUOTED_PW = "'s3 cr\\'et\\\\x'"
WHO = "select current_user, current_database(), current_setting('application_name')"


@pytest.fixture(scope="module")
def role(pg_cluster):
    pg_cluster.psql("do $$ begin if not exists (select from pg_roles where rolname = 'libpq_u')"
                    " then create role libpq_u login; end if; end $$")
    pg_cluster.psql("alter role libpq_u password '" + PW.replace("'", "''") + "'")
    if not pg_cluster.psql("select 1 from pg_database where datname = 'libpq_db'").strip():
        pg_cluster.psql("create database libpq_db owner libpq_u")
    return "libpq_u"


def files(home: Path, port: int, sock: str) -> dict[str, str]:
    """~/.pgpass, ~/.pg_service.conf, a PGSERVICEFILE and a PGSYSCONFDIR service file."""
    pw = PW.replace("\\", "\\\\").replace(":", "\\:")
    (home / ".pgpass").write_text(f"127.0.0.1:{port}:*:libpq_u:{pw}\n")
    (home / ".pgpass").chmod(0o600)
    (home / "other.pgpass").write_text(f"*:*:libpq_db:libpq_u:{pw}\n")
    (home / "other.pgpass").chmod(0o600)
    (home / ".pg_service.conf").write_text(
        f"# the user's services\n[app]\nhost=127.0.0.1\nport={port}\nuser=libpq_u\n"
        f"dbname=libpq_db\n\n[sock]\nhost={sock}\nport={port}\nuser=postgres\ndbname=libpq_db\n")
    (home / "custom.conf").write_text(
        f"[custom]\nhost=127.0.0.1\nport={port}\nuser=libpq_u\ndbname=postgres\n")
    (home / "etc").mkdir(exist_ok=True)
    (home / "etc" / "pg_service.conf").write_text(
        f"[system]\nhost=127.0.0.1\nport={port}\nuser=postgres\ndbname=libpq_db\n")
    return {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PGSYSCONFDIR": str(home / "etc")}


# (id, DSN with {port} and {sock}, extra environment, expected user, database, app name)
FORMS = [
    ("uri-with-password", "postgresql://libpq_u:s3%20cr'et%5Cx@127.0.0.1:{port}/libpq_db", {},
     "libpq_u", "libpq_db", "opsconsole"),
    ("kv-spaces-quotes-escapes", "host = 127.0.0.1  port = {port} user=libpq_u "
     "password=" + QUOTED_PW + " dbname = 'libpq_db' connect_timeout=5 sslmode=disable "
     "target_session_attrs=any", {}, "libpq_u", "libpq_db", "opsconsole"),
    ("kv-pgpass", "host=127.0.0.1 port={port} user=libpq_u dbname=postgres", {},
     "libpq_u", "postgres", "opsconsole"),
    ("uri-pgpassfile", "postgresql://libpq_u@127.0.0.1:{port}/libpq_db",
     {"PGPASSFILE": "{home}/other.pgpass"}, "libpq_u", "libpq_db", "opsconsole"),
    ("service-kv-pgpass", "service=app", {}, "libpq_u", "libpq_db", "opsconsole"),
    ("service-dsn-wins", "service=app dbname=postgres", {}, "libpq_u", "postgres", "opsconsole"),
    ("service-uri", "postgresql://?service=app", {}, "libpq_u", "libpq_db", "opsconsole"),
    ("service-unix-socket", "service=sock", {}, "postgres", "libpq_db", "opsconsole"),
    ("PGSERVICE+PGSERVICEFILE", "", {"PGSERVICE": "custom", "PGSERVICEFILE": "{home}/custom.conf"},
     "libpq_u", "postgres", "opsconsole"),
    ("PGSYSCONFDIR", "service=system", {}, "postgres", "libpq_db", "opsconsole"),
    ("env-only", "", {"PGHOST": "127.0.0.1", "PGPORT": "{port}", "PGUSER": "libpq_u",
                      "PGDATABASE": "libpq_db", "PGPASSWORD": PW}, "libpq_u", "libpq_db", "opsconsole"),
    ("service-beats-env", "service=app", {"PGDATABASE": "postgres", "PGUSER": "postgres"},
     "libpq_u", "libpq_db", "opsconsole"),
    ("PGAPPNAME", "service=app", {"PGAPPNAME": "oncall-alice"}, "libpq_u", "libpq_db", "oncall-alice"),
    ("application_name-in-dsn", "service=app application_name='my app'", {"PGAPPNAME": "x"},
     "libpq_u", "libpq_db", "my app"),
]


def _env(base: dict[str, str], extra: dict[str, str], **fmt: object) -> dict[str, str]:
    return {**base, **{k: v.format(**fmt) for k, v in extra.items()}}


def run_psql(dsn: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [PSQL, "-X", "-At", "-F", "|", "-w", "-c", WHO] + (["-d", dsn] if dsn else [])
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=30)


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
@pytest.mark.parametrize("form", FORMS, ids=[f[0] for f in FORMS])
async def test_dsn_form_reaches_what_psql_reaches(form, role, pg_cluster, tmp_path, monkeypatch):
    _, dsn, extra, user, db, app = form
    sock = str(pg_cluster.base)
    env = _env(files(tmp_path, pg_cluster.port, sock), extra, port=pg_cluster.port,
               home=tmp_path)
    dsn = dsn.format(port=pg_cluster.port, sock=sock)
    ref = run_psql(dsn, {**env, "PGAPPNAME": env.get("PGAPPNAME", "opsconsole")}
                   if "application_name" not in dsn else env)
    assert ref.returncode == 0, ref.stderr
    assert ref.stdout.strip() == f"{user}|{db}|{app}"
    for k in [k for k in os.environ if k.startswith("PG")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    conn = await connect(DatabaseTarget("t", dsn), PostgresOptions())
    try:
        got = tuple(await conn.fetchrow(WHO))
    finally:
        await conn.close()
    assert "|".join(got) == ref.stdout.strip()


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
async def test_refusals_say_what_psql_says(role, pg_cluster, tmp_path, monkeypatch):
    env = files(tmp_path, pg_cluster.port, str(pg_cluster.base))
    for k in [k for k in os.environ if k.startswith("PG")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    require = f"host=127.0.0.1 port={pg_cluster.port} user=postgres sslmode=require"
    ref = run_psql(require, env)
    assert ref.returncode != 0
    assert "server does not support SSL, but SSL was required" in ref.stderr
    with pytest.raises(ConnectionError, match="server does not support SSL, but SSL was required"):
        await connect(DatabaseTarget("t", require), PostgresOptions())
    ref = run_psql("service=nope", env)
    assert 'definition of service "nope" not found' in ref.stderr
    with pytest.raises(DsnError, match='definition of service "nope" not found'):
        connect_kwargs(DatabaseTarget("t", "service=nope"), PostgresOptions())
    with pytest.raises(DsnError, match="not supported: keepalives_idle"):
        connect_kwargs(DatabaseTarget("t", "service=app keepalives_idle=30"), PostgresOptions())


async def test_own_backends_excluded_under_a_user_chosen_name(role, pg_cluster, monkeypatch):
    """With PGAPPNAME set the server no longer sees "opsconsole": the panes still leave out
    every connection opsconsole itself has open (the pid recorded at connect) — and show
    a stranger using the same name."""
    monkeypatch.setenv("PGAPPNAME", "oncall-alice")
    dsn = pg_cluster.dsn()
    ours = await connect(DatabaseTarget("t", dsn), PostgresOptions(statement_timeout=60.0))
    stranger = await asyncpg.connect(dsn, server_settings={"application_name": "oncall-alice"})
    src = PgSource(DatabaseTarget("t", dsn), PostgresOptions(min_duration=0.0))
    tasks = [asyncio.create_task(c.execute("select pg_sleep(30)")) for c in (ours, stranger)]
    try:
        for _ in range(200):
            snap = await src.activity(min_duration=0.0)
            pids = {b.pid for b in snap.backends}
            if stranger.get_server_pid() in pids:
                break
            await asyncio.sleep(0.05)
        assert stranger.get_server_pid() in pids
        assert ours.get_server_pid() not in pids
        assert src.server and src.server.own_pid not in pids
        assert {b.application for b in snap.backends if b.pid == stranger.get_server_pid()} == {
            "oncall-alice"}
    finally:
        for t in tasks:
            t.cancel()
        await src.close()
        ours.terminate()
        stranger.terminate()


async def test_no_password_anywhere_is_a_clear_refusal(role, pg_cluster, tmp_path, monkeypatch):
    for k in [k for k in os.environ if k.startswith("PG")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(tmp_path))  # no .pgpass
    dsn = f"host=127.0.0.1 port={pg_cluster.port} user=libpq_u dbname=libpq_db"
    with pytest.raises(Exception, match="password") as info:
        await connect(DatabaseTarget("t", dsn), PostgresOptions())
    assert not isinstance(info.value, TypeError)
