"""libpq's connection-parameter rules, resolved without connecting, as ``psql`` applies them.

A DSN (URI or ``key = value`` string, parsed by libpq's own parser through
:func:`psycopg.conninfo.conninfo_to_dict`: quoting, escapes and percent-encoding follow
libpq exactly) is completed in libpq's order: the DSN's own values, then the service it (or
``PGSERVICE``) names from ``PGSERVICEFILE`` / ``~/.pg_service.conf`` and then
``$PGSYSCONFDIR/pg_service.conf``, then the ``PG*`` environment variables. What is still
unset is left to the driver's defaults (the local socket, the OS user, dbname = user, 5432).

Parameters the driver (asyncpg) cannot honour are refused by name — never dropped.
"""

from __future__ import annotations

import getpass
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

# The libpq keywords opsconsole honours (conn.py maps each onto asyncpg).
SUPPORTED = frozenset({
    "host", "hostaddr", "port", "user", "password", "dbname", "passfile", "service",
    "application_name", "fallback_application_name", "connect_timeout", "options",
    "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword",
    "ssl_min_protocol_version", "ssl_max_protocol_version", "sslnegotiation",
    "target_session_attrs", "krbsrvname", "gsslib",
    # accepted only with the value asyncpg behaves as (see _ACCEPTED_VALUES)
    "gssencmode", "channel_binding",
})

# Why a libpq keyword is refused (the rest of libpq's keywords get the generic reason).
_WHY_NOT = {
    "keepalives": "asyncpg does not set TCP keepalives; opsconsole's statement and command "
                  "timeouts detect a dead server instead",
    "keepalives_idle": "asyncpg does not set TCP keepalives",
    "keepalives_interval": "asyncpg does not set TCP keepalives",
    "keepalives_count": "asyncpg does not set TCP keepalives",
    "tcp_user_timeout": "asyncpg does not set TCP_USER_TIMEOUT",
    "require_auth": "asyncpg cannot restrict the authentication method",
    "load_balance_hosts": "asyncpg tries hosts in order",
    "replication": "opsconsole never opens replication connections",
    "requirepeer": "asyncpg cannot check the server process's user",
}
# Values of these keywords that describe what asyncpg does anyway (any other is refused).
_ACCEPTED_VALUES = {
    "gssencmode": ("disable", "prefer"),      # asyncpg never uses GSSAPI encryption
    "channel_binding": ("disable", "prefer"),  # asyncpg's SCRAM does not bind the channel
}

# libpq's environment variables, by keyword.
ENV_VARS = {
    "host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "dbname": "PGDATABASE",
    "user": "PGUSER", "password": "PGPASSWORD", "passfile": "PGPASSFILE",
    "options": "PGOPTIONS", "application_name": "PGAPPNAME", "sslmode": "PGSSLMODE",
    "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "sslrootcert": "PGSSLROOTCERT",
    "sslcrl": "PGSSLCRL", "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
    "sslnegotiation": "PGSSLNEGOTIATION", "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS", "krbsrvname": "PGKRBSRVNAME",
    "gsslib": "PGGSSLIB", "gssencmode": "PGGSSENCMODE",
    "channel_binding": "PGCHANNELBINDING", "require_auth": "PGREQUIREAUTH",
    "load_balance_hosts": "PGLOADBALANCEHOSTS", "requirepeer": "PGREQUIREPEER",
}

# Where libpq looks for the system-wide service file when PGSYSCONFDIR is unset (Debian's
# and the upstream default builds').
_SYSCONFDIRS = ("/etc/postgresql-common", "/usr/local/pgsql/etc", "/etc/postgresql")


class DsnError(ValueError):
    """A connection string or service definition libpq (or opsconsole) would refuse."""


def parse(dsn: str) -> dict[str, str]:
    """libpq's parse of a URI or key=value string (no service, no environment)."""
    dsn = dsn.strip()
    if not dsn:
        return {}
    # psycopg (0.1 s and ~20 MB to import) only for its libpq parser, once a DSN is given
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        return {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    except ProgrammingError as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid"
        raise DsnError(f"cannot parse the connection string: {message}") from None


def _service_files(env: Mapping[str, str]) -> list[Path]:
    user = env.get("PGSERVICEFILE")
    home = env.get("HOME") or str(Path.home())
    files = [Path(user) if user else Path(home) / ".pg_service.conf"]
    sysconf = env.get("PGSYSCONFDIR")
    if sysconf:
        files.append(Path(sysconf) / "pg_service.conf")
    else:
        files += [Path(d) / "pg_service.conf" for d in _SYSCONFDIRS]
    return files


def read_service(name: str, env: Mapping[str, str]) -> tuple[dict[str, str], Path]:
    """The ``[name]`` section of the first service file holding it, as libpq finds it."""
    for path in _service_files(env):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            continue
        except OSError as exc:
            raise DsnError(f"{path}: cannot read the service file: {exc.strerror}") from None
        section = _section(text, name, path)
        if section is not None:
            return section, path
    where = ", ".join(str(p) for p in _service_files(env))
    raise DsnError(f'definition of service "{name}" not found (looked in {where})')


def _section(text: str, name: str, path: Path) -> dict[str, str] | None:
    found: dict[str, str] | None = None
    current = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise DsnError(f"{path}:{lineno}: expected [service-name], got {line!r}")
            current = line[1:-1].strip()
            if current == name and found is None:
                found = {}
            continue
        if current != name or found is None:
            continue
        key, sep, value = line.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise DsnError(f"{path}:{lineno}: syntax error in service file (expected key=value)")
        if key == "service":
            raise DsnError(f"{path}:{lineno}: nested service specifications not supported")
        found.setdefault(key, value.strip())
    return found


def resolve(dsn: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every parameter libpq would use for ``dsn``: the DSN, its service, the environment.

    Raises :class:`DsnError` for an unparsable DSN, an unknown service or a parameter
    opsconsole cannot honour (``not supported: keepalives_idle (...)``)."""
    env = os.environ if env is None else env
    params = {k: v for k, v in parse(dsn).items() if v != ""}
    service = params.pop("service", None) or env.get("PGSERVICE") or None
    if service:
        section, path = read_service(service, env)
        for key, value in section.items():
            if key not in SUPPORTED and key not in _WHY_NOT and key not in ENV_VARS:
                raise DsnError(f'{path}: syntax error in service file: unknown parameter "{key}" '
                               f'in service "{service}"')
            if value != "":
                params.setdefault(key, value)
        params["service"] = service
    for key, var in ENV_VARS.items():
        if key not in params and env.get(var):
            params[key] = env[var]
    check_supported(params)
    return params


def check_supported(params: Mapping[str, str]) -> None:
    """Refuse, by name, what asyncpg cannot do (never drop it silently)."""
    for key, value in params.items():
        if key in _ACCEPTED_VALUES:
            if value not in _ACCEPTED_VALUES[key]:
                ok = " or ".join(_ACCEPTED_VALUES[key])
                raise DsnError(f"not supported: {key}={value} (asyncpg supports only {ok})")
        elif key not in SUPPORTED:
            why = _WHY_NOT.get(key, "asyncpg has no equivalent")
            raise DsnError(f"not supported: {key} ({why})")
    if "options" in params:
        server_options(params["options"])
    if "connect_timeout" in params:
        connect_timeout(params["connect_timeout"])


def connect_timeout(value: str) -> float | None:
    """libpq's ``connect_timeout``: whole seconds, 0 or less meaning "wait forever"."""
    try:
        seconds = int(value.strip())
    except ValueError:
        raise DsnError(f"invalid integer value {value!r} for connection option "
                       f'"connect_timeout"') from None
    return float(max(seconds, 2)) if seconds > 0 else None  # libpq's minimum is 2 s


def server_options(value: str) -> dict[str, str]:
    """``options='-c name=value -c ...'`` → server settings (only ``-c`` is supported)."""
    out: dict[str, str] = {}
    words = _split_options(value)
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-c" and i + 1 < len(words):
            setting, i = words[i + 1], i + 2
        elif word.startswith("-c") and len(word) > 2:
            setting, i = word[2:], i + 1
        elif word.startswith("--") and "=" in word:
            setting, i = word[2:], i + 1
        else:
            raise DsnError(f"not supported: options {word!r} (only -c name=value settings)")
        name, sep, val = setting.partition("=")
        if not sep or not name:
            raise DsnError(f"options: expected -c name=value, got {setting!r}")
        out[name.replace("-", "_")] = val
    return out


def _split_options(value: str) -> list[str]:
    """Split like the server does: on whitespace, a backslash escapes the next character."""
    words: list[str] = []
    cur: list[str] = []
    it = iter(value)
    for ch in it:
        if ch == "\\":
            cur.append(next(it, ""))
        elif ch.isspace():
            if cur:
                words.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    return words


# libpq's compiled-in socket directory on Debian/Ubuntu (psql's build); a socket there
# matches ``localhost`` in .pgpass, a socket elsewhere only its own path.
DEFAULT_SOCKET_DIRS = ("/var/run/postgresql", "/run/postgresql", "/tmp")


def _pgpass_fields(line: str) -> list[str]:
    """Split one .pgpass line on unescaped ``:``; ``\\`` escapes the next character."""
    fields, cur = [], []
    it = iter(line)
    for ch in it:
        if ch == "\\":
            cur.append(next(it, ""))
        elif ch == ":" and len(fields) < 4:
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    fields.append("".join(cur))
    return fields


def password_from_pgpass(params: Mapping[str, str], env: Mapping[str, str]) -> str | None:
    """The password libpq would take from ``.pgpass`` (``passfile``, ``PGPASSFILE``,
    ``~/.pgpass``) for the first host of ``params`` that has one; None if none matches.

    libpq's rules, not asyncpg's: backslash escapes, a socket in a non-default directory
    matches only its path, a file readable by group or others is ignored (with libpq's
    warning on stderr)."""
    path = Path(os.path.expanduser(params.get("passfile") or
                                   os.path.join(env.get("HOME") or str(Path.home()), ".pgpass")))
    try:
        st = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        print(f'WARNING: password file "{path}" has group or world access; permissions '
              "should be u=rw (0600) or less", file=sys.stderr)
        return None
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    user = params.get("user") or getpass.getuser()
    dbname = params.get("dbname") or user
    hosts = (params.get("host") or params.get("hostaddr") or "").split(",")
    ports = (params.get("port") or "").split(",")
    for i, host in enumerate(hosts):
        host = host.strip()
        if not host or host.rstrip("/") in DEFAULT_SOCKET_DIRS:
            host = "localhost"
        port = (ports[i] if i < len(ports) else ports[0]).strip() or "5432"
        for line in lines:
            if not line or line.startswith("#"):
                continue
            f = _pgpass_fields(line)
            if len(f) < 5:
                continue
            if all(want == "*" or want == have
                   for want, have in zip(f[:4], (host, port, dbname, user), strict=True)):
                return f[4]
    return None
