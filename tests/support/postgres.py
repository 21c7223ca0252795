"""A real PostgreSQL server for tests, started on loopback in a temporary folder.

Uses ``initdb`` / ``pg_ctl`` from ``/usr/lib/postgresql/*/bin`` (Debian's ``postgresql``
package, which ``.ci/run`` installs) or from ``PATH``. PostgreSQL refuses to run as root,
so under root the server runs as the ``postgres`` user (``runuser``). One server per test
process, started on first use and stopped at exit; each test gets a fresh database.
Tests call :func:`postgres_server`, which skips them with the reason when no server binary
exists or the server cannot start.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["PostgresServer", "free_port", "postgres_server"]

_USER = "yamasat"


class _CannotStartError(Exception):
    pass


def _bin_dir() -> Path | None:
    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", p.parent.parent.name)) or (0,)

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=version, reverse=True)
    if found:
        return found[0].parent
    which = shutil.which("initdb")
    return Path(which).resolve().parent if which else None


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server: loopback port, data folder, and how to reach it."""

    bin_dir: Path
    root: Path
    port: int
    run_as: str | None
    version: str = ""

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        return ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else cmd

    def _run(self, *args: str, timeout: float = 90) -> None:
        proc = subprocess.run(
            self._cmd(*args),
            check=False,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise _CannotStartError(f"{args[0]} failed: {proc.stderr.strip()[-800:]} {tail}")

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3) of ``database`` on this server."""
        return f"postgresql+psycopg://{_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database; returns its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={_USER} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)

    def start(self) -> None:
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-U", _USER, "-A", "trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")  # fmt: skip
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(data), "-l", str(self.root / "server.log"), "-w",
                  "-t", "60", "-o", options, "start")  # fmt: skip
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={_USER} dbname=postgres"
        ) as conn:
            row = conn.execute("SELECT version()").fetchone()
            self.version = str(row[0]) if row else ""

    def stop(self) -> None:
        with contextlib.suppress(_CannotStartError, OSError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


class _State:
    server: PostgresServer | None = None
    failure: str | None = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_orphans(bin_dir: Path) -> None:
    """Stop servers this module started for test processes that died without cleaning up
    (a crash skips ``atexit``); each server folder records the pid of its test process."""
    for owner in Path(tempfile.gettempdir()).glob("yamasat-pg-*/owner.pid"):
        try:
            pid = int(owner.read_text().strip())
        except (OSError, ValueError):
            continue
        if _alive(pid):
            continue
        root = owner.parent
        stale = PostgresServer(
            bin_dir, root, 0, owner.parent.owner() if os.geteuid() == 0 else None
        )
        stale.stop()


def start_server() -> PostgresServer:
    """A new PostgreSQL server on loopback in a temporary folder; the caller stops it."""
    bin_dir = _bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        raise _CannotStartError(
            "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or "
            "PATH; install Debian's postgresql package (.ci/run does)"
        )
    _reap_orphans(bin_dir)
    run_as = None
    root = Path(tempfile.mkdtemp(prefix="yamasat-pg-"))
    (root / "owner.pid").write_text(str(os.getpid()))
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            raise _CannotStartError(
                "running as root and there is no 'postgres' user to run the server as"
            ) from None
        if shutil.which("runuser") is None:
            raise _CannotStartError("running as root and 'runuser' is missing")
        os.chown(root, account.pw_uid, account.pw_gid)
        run_as = "postgres"
    server = PostgresServer(bin_dir, root, free_port(), run_as)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


def postgres_server() -> PostgresServer:
    """The test process's PostgreSQL server (started once); skips the test when impossible."""
    if _State.server is None and _State.failure is None:
        try:
            _State.server = start_server()
            atexit.register(_State.server.stop)
        except (_CannotStartError, OSError, subprocess.SubprocessError) as e:
            _State.failure = f"PostgreSQL could not be started locally: {e}"
    if _State.server is None:
        pytest.skip(_State.failure or "PostgreSQL unavailable")
    return _State.server
