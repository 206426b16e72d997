"""libpq's rules, resolved without a server: parse, service files, environment, refusals."""

from __future__ import annotations

import pytest

from opsconsole.config import database_targets, parse_config
from opsconsole.postgres.libpq import DsnError, password_from_pgpass, resolve
from opsconsole.schema import ConfigError


def test_key_value_with_spaces_quotes_and_escapes():
    got = resolve(r"host = db1  port=6432 dbname='my db' password='it\'s \\ ok' "
                  "connect_timeout=5 sslmode=verify-full sslrootcert=/ca.pem "
                  "target_session_attrs=read-write", env={})
    assert got == {"host": "db1", "port": "6432", "dbname": "my db", "password": "it's \\ ok",
                   "connect_timeout": "5", "sslmode": "verify-full", "sslrootcert": "/ca.pem",
                   "target_session_attrs": "read-write"}


def test_service_then_environment_in_libpq_order(tmp_path):
    svc = tmp_path / "svc.conf"
    svc.write_text("# comment\n[other]\nhost=wrong\n[app]\nhost=db9\nport=6000\ndbname=appdb\n")
    env = {"PGSERVICEFILE": str(svc), "PGDATABASE": "envdb", "PGUSER": "envuser",
           "PGHOST": "envhost"}
    got = resolve("service=app", env)
    assert (got["host"], got["port"], got["dbname"], got["user"]) == ("db9", "6000", "appdb", "envuser")
    assert resolve("", {**env, "PGSERVICE": "app"})["dbname"] == "appdb"
    assert resolve("postgresql://?service=app", env)["host"] == "db9"
    assert resolve("service=app dbname=mine", env)["dbname"] == "mine"  # the DSN wins


def test_system_service_file_and_unknown_service(tmp_path):
    (tmp_path / "pg_service.conf").write_text("[sys]\nhost=sysdb\n")
    env = {"HOME": str(tmp_path / "nohome"), "PGSYSCONFDIR": str(tmp_path)}
    assert resolve("service=sys", env)["host"] == "sysdb"
    with pytest.raises(DsnError, match='definition of service "nope" not found'):
        resolve("service=nope", env)


@pytest.mark.parametrize("dsn, message", [
    ("host=a keepalives_idle=30", "not supported: keepalives_idle"),
    ("host=a keepalives=1", "not supported: keepalives"),
    ("host=a gssencmode=require", "not supported: gssencmode=require"),
    ("host=a options='-X'", "not supported: options '-X'"),
    ("host=a junk", 'missing "=" after "junk"'),
    ("host=a bogus=1", 'invalid connection option "bogus"'),
    ("host=a connect_timeout=soon", 'invalid integer value'),
])
def test_refused_by_name(dsn, message):
    with pytest.raises(DsnError, match=message):
        resolve(dsn, env={})


def test_a_config_dsn_opsconsole_cannot_honour_fails_at_load():
    with pytest.raises(ConfigError, match="not supported: keepalives_idle") as info:
        parse_config("databases:\n  - name: db\n    dsn: host=a keepalives_idle=30\n", "c.yaml")
    assert "c.yaml:3" in str(info.value)


def test_pgpass_escapes_and_socket_directories(tmp_path, capsys):
    pgpass = tmp_path / "pgpass"
    pgpass.write_text("# comment\n/srv/sock:5432:*:u:sock\\:pw\nlocalhost:*:*:u:local\\\\pw\n")
    pgpass.chmod(0o600)
    p = {"passfile": str(pgpass), "user": "u"}
    assert password_from_pgpass({**p, "host": "/srv/sock"}, {}) == "sock:pw"
    assert password_from_pgpass({**p, "host": "/var/run/postgresql"}, {}) == "local\\pw"
    assert password_from_pgpass({**p, "host": "db1"}, {}) is None
    pgpass.chmod(0o644)
    assert password_from_pgpass({**p, "host": "localhost"}, {}) is None
    assert "has group or world access" in capsys.readouterr().err


def test_environment_alone_gives_an_implicit_target(monkeypatch):
    for var in ("PGHOST", "PGHOSTADDR", "PGSERVICE", "PGDATABASE"):
        monkeypatch.delenv(var, raising=False)
    assert database_targets(parse_config(""), None) == []
    monkeypatch.setenv("PGHOST", "db7")
    monkeypatch.setenv("PGDATABASE", "shop")
    (target,) = database_targets(parse_config(""), None)
    assert target.dsn == "" and target.name == "shop@db7"
