"""A real PostgreSQL server for the tests: initdb + pg_ctl on a temporary directory.

PostgreSQL refuses to run as root, so as root the server runs as the system user
``gridint-pg`` (created by ``scripts/install-test-services.sh``; ``postgres`` or
``nobody`` if it is missing) through ``runuser``; the data directory belongs to that
user. One server per test process (pytest-xdist worker), on a free localhost port,
stopped at exit; every test gets a fresh database (:meth:`PostgresServer.create_database`).
"""
from __future__ import annotations

import atexit
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

RUN_AS = ("gridint-pg", "postgres", "nobody")


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                      key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    return versions[-1] if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One throw-away PostgreSQL cluster."""

    def __init__(self):
        self.initdb, self.pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found: run "
                               "scripts/install-test-services.sh (Debian package postgresql)")
        self.user = None
        if os.geteuid() == 0:
            for name in RUN_AS:
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    continue
                self.user = name
                break
            if self.user is None:
                raise RuntimeError("running as root and no unprivileged user for PostgreSQL")
        # as root under /tmp: the server's user must be able to reach its directory
        self.dir = Path(tempfile.mkdtemp(prefix="gridint-pg-", dir="/tmp" if self.user else None))
        self.data = self.dir / "data"
        self.port = None
        self._n = itertools.count()
        self._lock = threading.Lock()

    def _run(self, *cmd: str) -> subprocess.CompletedProcess:
        full = (["runuser", "-u", self.user, "--"] if self.user else []) + list(cmd)
        return subprocess.run(full, capture_output=True, text=True, timeout=120)

    def start(self) -> "PostgresServer":
        if self.user:
            uid = pwd.getpwnam(self.user)
            os.chmod(self.dir, 0o700)
            os.chown(self.dir, uid.pw_uid, uid.pw_gid)
        r = self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                      "--locale=C", "--no-sync")
        if r.returncode:
            raise RuntimeError(f"initdb failed: {r.stderr.strip()}")
        for _ in range(5):
            self.port = _free_port()
            opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
            r = self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.dir / "log"), "-w",
                          "-t", "60", "-o", opts, "start")
            if r.returncode == 0:
                atexit.register(self.stop)
                return self
        log = (self.dir / "log").read_text(errors="replace")[-2000:] if (self.dir / "log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {r.stderr.strip()} {log}")

    def stop(self) -> None:
        if self.port is not None:
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.port = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        with self._lock:
            name = f"t{os.getpid()}_{next(self._n)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)


_SERVER: PostgresServer | None = None
_ERROR: str | None = None


def server() -> PostgresServer:
    """The PostgreSQL server of this test process (started on first use).

    Skips (rather than fails) only when GRIDINT_TEST_POSTGRES=0.
    """
    global _SERVER, _ERROR
    if os.environ.get("GRIDINT_TEST_POSTGRES") == "0":
        pytest.skip("PostgreSQL tests switched off (GRIDINT_TEST_POSTGRES=0)")
    if _ERROR is not None:
        pytest.fail(_ERROR)
    if _SERVER is None:
        try:
            _SERVER = PostgresServer().start()
        except RuntimeError as exc:
            _ERROR = str(exc)
            pytest.fail(_ERROR)
    return _SERVER


def database_url(kind: str, tmp_path: Path) -> str:
    """A fresh empty database of ``kind`` (``sqlite`` or ``postgresql``)."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'gridint.db'}"
    return server().create_database()
