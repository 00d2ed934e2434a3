"""The servers a production-shaped Airflow stands on, as throwaway instances for the end-to-end tests:
PostgreSQL (the metadata database) and Redis (the Celery broker), Debian's packages, on 127.0.0.1.

Each runs in a temporary directory of its own and is stopped by ``stop()``, which the fixtures call
also when a test fails. PostgreSQL refuses to run as root: as root, its cluster belongs to an
unprivileged user (``nobody``) and every PostgreSQL program runs as that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from .deployment import free_port, wait_for

__all__ = ["Postgres", "Redis", "missing_servers", "running"]

POSTGRES_BINARIES = "/usr/lib/postgresql/*/bin"
UNPRIVILEGED_USER = "nobody"


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob(f"{POSTGRES_BINARIES}/pg_ctl"), key=lambda path: int(Path(path).parts[-3]))
    return Path(found[-1]).parent if found else None


def missing_servers() -> list[str]:
    """The Debian packages a production deployment needs that this machine lacks (``.ci/run`` installs them)."""
    missing = []
    if _postgres_bin() is None:
        missing.append("postgresql")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    return missing


class Postgres:
    """A PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only, database ``airflow``."""

    user = "airflow"  # the cluster's superuser; trust authentication on 127.0.0.1 and its socket
    database = "airflow"

    def __init__(self, root: Path | None = None) -> None:
        bin_dir = _postgres_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL not installed (apt-get install postgresql)")
        self.bin = bin_dir
        self.root = root or Path(tempfile.mkdtemp(prefix="e2e-postgres-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self._as_user: dict[str, Any] = {}
        if os.geteuid() == 0:
            account = pwd.getpwnam(UNPRIVILEGED_USER)
            self._as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    @property
    def url(self) -> str:
        """The SQLAlchemy URL Airflow connects with (psycopg2, the driver of its synchronous engine)."""
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, program: str, *args: str, timeout: float = 120) -> None:
        subprocess.run(
            [str(self.bin / program), *args],
            check=True,
            capture_output=True,
            timeout=timeout,
            cwd=self.root,
            **self._as_user,
        )

    def start(self) -> None:
        """Create the cluster (first call only) and start it; return once it accepts connections."""
        if not self.data.exists():
            self.socket_dir.mkdir(parents=True, exist_ok=True)
            if self._as_user:
                for path in (self.root, self.socket_dir):
                    os.chown(path, self._as_user["user"], self._as_user["group"])
            # A test cluster: no fsync, trust authentication (it listens on 127.0.0.1 and its own socket only).
            self._run("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8", "--no-sync")
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-p {self.port}",
                f"-k {self.socket_dir}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=300",
            ]
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        if not self._has_database():
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.database)

    def restart(self) -> None:
        """``pg_ctl restart``: every client is disconnected and the server is down for a moment."""
        self.stop()
        self.start()

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions and disconnect every client)."""
        if not (self.data / "postmaster.pid").exists():
            return
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        except subprocess.SubprocessError:
            self._kill_postmaster()

    def _kill_postmaster(self) -> None:
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _has_database(self) -> bool:
        return bool(self.query("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,), database="postgres"))

    def query(self, sql: str, params: Sequence[Any] = (), *, database: str | None = None) -> list[tuple[Any, ...]]:
        """Rows of one statement, in a connection of its own (the tests read Airflow's tables with it)."""
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname=database or self.database, connect_timeout=10
        )
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(sql, tuple(params))
                return list(cursor.fetchall()) if cursor.description else []
        finally:
            connection.close()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class Redis:
    """A Redis server bound to 127.0.0.1, nothing persisted: the Celery broker."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="e2e-redis-"))
        self.port = free_port()
        self.log = self.root / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        program = shutil.which("redis-server")
        if program is None:
            raise RuntimeError("Redis not installed (apt-get install redis-server)")
        args = ["--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [program, *args, "--dir", str(self.root)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for("Redis to answer PING", self.ping, 30, interval=0.2)

    def ping(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise AssertionError(f"redis-server exited with {self._process.returncode}: see {self.log}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def running(*servers: Postgres | Redis) -> Iterator[None]:
    """Start ``servers`` in order; stop every one that started, in reverse order, however the block ends."""
    started: list[Postgres | Redis] = []
    try:
        for server in servers:
            started.append(server)
            server.start()
        yield
    finally:
        for server in reversed(started):
            server.stop()
