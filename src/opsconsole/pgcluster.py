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
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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

    def stop(self, mode: str = "fast", timeout: float = 60) -> bool:
        """``pg_ctl stop``; False when it failed or did not finish within ``timeout``."""
        if not self.data.exists():
            return True
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t",
                      str(max(1, int(timeout))), "stop", timeout=timeout + 5)
            return True
        except (ClusterError, subprocess.TimeoutExpired, OSError):
            return not self.server_alive()

    def server_pid(self) -> int | None:
        """The postmaster's pid from ``postmaster.pid`` (None when there is none)."""
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def server_alive(self) -> bool:
        pid = self.server_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def teardown(self, log: Callable[[str], None] = lambda s: None) -> None:
        """Stop the server and remove the cluster's directory, bounded in time whatever the
        server does: a fast stop (10 s), else an immediate one (5 s), else SIGKILL."""
        pid = self.server_pid()
        if pid is not None and self.server_alive():
            log(f"stopping the demo PostgreSQL (pid {pid})…")
            if not self.stop("fast", timeout=10) and not self.stop("immediate", timeout=5):
                log(f"PostgreSQL did not stop: killing pid {pid}")
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
                deadline = time.monotonic() + 5
                while self.server_alive() and time.monotonic() < deadline:
                    time.sleep(0.05)
        if self.base is not None and self.base.exists():
            shutil.rmtree(self.base, ignore_errors=True)
            log(f"removed {self.base}")

    def reaper(self) -> subprocess.Popen[bytes]:
        """A watcher in its own session that tears the cluster down once this process is gone,
        however it went (a hard exit after a hang-up, SIGKILL, a crash). It waits for EOF on a
        pipe whose write end only this process holds; when the cluster is already removed
        by then, it has nothing to do."""
        import opsconsole

        r, w = os.pipe()  # both ends non-inheritable: servers and steps never hold ``w``
        env = dict(os.environ)
        src = str(Path(opsconsole.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "opsconsole.pgcluster", "--reap", str(self.base),
                 str(self.bindir), self._run_as or ""],
                stdin=r, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                start_new_session=True, cwd="/")
        finally:
            os.close(r)
        proc._reaper_pipe = w  # type: ignore[attr-defined]  # kept open for our lifetime
        return proc

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


def _reap(argv: list[str]) -> int:
    """``python -m opsconsole.pgcluster --reap BASE BINDIR RUN_AS``: see :meth:`reaper`."""
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    base, bindir, run_as = Path(argv[0]), Path(argv[1]), argv[2] or None
    while True:
        try:
            if not os.read(0, 4096):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    if base.exists():
        cluster = LocalCluster.__new__(LocalCluster)
        cluster.base, cluster.bindir, cluster._run_as = base, bindir, run_as
        cluster.teardown()
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["--reap"]:
    raise SystemExit(_reap(sys.argv[2:]))
