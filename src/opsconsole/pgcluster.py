"""A private, throwaway PostgreSQL cluster (initdb + pg_ctl) for tests, the demo and benches.

PostgreSQL refuses to run as root: when we are root, the server runs as the ``postgres`` OS
user (its directory lives directly under the system temp dir so that user can reach it).
Superuser ``postgres`` is trusted on 127.0.0.1; every other role needs its password, so
authentication failures can be produced for real.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


class ClusterError(RuntimeError):
    pass


def find_bindir() -> Path | None:
    """Directory holding initdb/pg_ctl: PATH first, then Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalCluster:
    base: Path | None = None
    port: int = 0
    preload: tuple[str, ...] = ("pg_stat_statements",)
    max_connections: int = 400
    settings: dict[str, str] = field(default_factory=dict)
    bindir: Path | None = None
    _run_as: str | None = None

    def __post_init__(self) -> None:
        self.bindir = self.bindir or find_bindir()
        if self.bindir is None:
            raise ClusterError(
                "PostgreSQL server binaries (initdb, pg_ctl) not found; "
                "install them with: apt-get install -y postgresql"
            )
        if self.base is None:
            self.base = Path(tempfile.mkdtemp(prefix="opsconsole-pg-", dir="/tmp"))
        self.port = self.port or free_port()
        if os.geteuid() == 0:
            self._run_as = "postgres"
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise ClusterError("running as root needs a 'postgres' OS user") from None
            os.chmod(self.base, 0o755)
            os.chown(self.base, pw.pw_uid, pw.pw_gid)

    @property
    def data(self) -> Path:
        assert self.base is not None
        return self.base / "data"

    @property
    def log(self) -> Path:
        assert self.base is not None
        return self.base / "server.log"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        assert self.bindir is not None
        cmd = [str(self.bindir / args[0]), *args[1:]]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                              user=self._run_as, cwd=str(self.base))
        if proc.returncode != 0:
            raise ClusterError(f"{args[0]} failed ({proc.returncode}): {proc.stderr or proc.stdout}")
        return proc

    def init(self) -> LocalCluster:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
        assert self.base is not None
        conf = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.base}'",
            "max_connections": str(self.max_connections),
            "shared_buffers": "'32MB'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "log_min_messages": "warning",
            "deadlock_timeout": "'100ms'",
            "track_activity_query_size": "4096",
        }
        if self.preload:
            conf["shared_preload_libraries"] = "'" + ",".join(self.preload) + "'"
            conf["pg_stat_statements.track"] = "'all'"
        conf.update(self.settings)
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("\n# opsconsole throwaway cluster\n")
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")
        hba = self.data / "pg_hba.conf"
        text = hba.read_text()
        hba.write_text("host all postgres 127.0.0.1/32 trust\n" + text)
        return self

    def start(self) -> LocalCluster:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        self.wait_ready()
        return self

    def stop(self, mode: str = "fast") -> None:
        if self.data.exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
            except ClusterError:
                pass

    def restart(self) -> None:
        self.stop()
        self.start()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise ClusterError(f"server did not accept connections on port {self.port}")

    def dsn(self, user: str = "postgres", database: str = "postgres", password: str | None = None) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the superuser through psql (setup only)."""
        psql = shutil.which("psql") or str(self.bindir / "psql") if self.bindir else "psql"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        proc = subprocess.run(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", "127.0.0.1", "-p",
             str(self.port), "-U", "postgres", "-d", database, "-c", sql],
            capture_output=True, text=True, timeout=60, env=env,
        )
        if proc.returncode != 0:
            raise ClusterError(proc.stderr.strip())
        return proc.stdout

    def destroy(self) -> None:
        self.stop("immediate")
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.init().start()

    def __exit__(self, *exc: object) -> None:
        self.destroy()
