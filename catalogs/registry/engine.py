"""Open the registry database: URL → engine, safety checks, and schema migrations.

SQLite (the default, a file beside the products) is opened in WAL mode with a busy timeout
and foreign keys on; every write transaction starts with ``BEGIN IMMEDIATE`` so that two
writers queue on the busy timeout instead of failing with "database is locked" when a read
transaction tries to become a write. A path on a network filesystem (NFS, SMB, sshfs, ...)
is refused: SQLite's locks are not reliable there. A file that exists but is not a SQLite
database, is empty or is unreadable is reported and never replaced.

PostgreSQL is used when the URL says so (``postgresql://user@host/db``; the psycopg 3 driver
is chosen unless the URL names another).

:func:`upgrade` runs the Alembic migrations in code (no ``alembic.ini``), inside one write
transaction: concurrent first opens are serialised by SQLite's write lock or by a PostgreSQL
advisory lock, so exactly one of them creates the schema.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from ...errors import RegistryUnavailableError

__all__ = [
    "NETWORK_FILESYSTEMS",
    "alembic_config",
    "check_sqlite_file",
    "create_registry_engine",
    "filesystem_type",
    "head_revision",
    "masked",
    "open_failure",
    "sqlite_path",
    "upgrade",
    "writer",
]

log = logging.getLogger(__name__)

NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "afs", "ncpfs", "9p",
        "ceph", "glusterfs", "lustre", "gpfs", "beegfs", "davfs", "fuse.sshfs",
        "fuse.s3fs", "fuse.gcsfuse", "fuse.rclone", "fuse.glusterfs", "fuse.cephfs",
    }
)  # fmt: skip
_SQLITE_MAGIC = b"SQLite format 3\x00"
_MIGRATIONS = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 0x79616D61  # "yama": advisory lock key of schema upgrades
_ALEMBIC_LOCK = threading.Lock()


def masked(url: str | URL) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))
    return parsed.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL (absolute), or None for other or in-memory URLs."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(os.path.abspath(str(url.database)))


def filesystem_type(path: Path, mounts: str | None = None) -> str | None:
    """The type of the filesystem holding ``path`` (``/proc/mounts``), or None if unknown.

    ``mounts`` is the text of a mounts table (for tests); the longest mount point that
    contains the path wins. Escaped characters in mount points (``\\040``) are decoded.
    """
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:
            return None
    target = str(path)
    best, fstype = -1, None
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].encode().decode("unicode_escape")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > best:
            best, fstype = len(point), parts[2].lower()
    return fstype


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def check_sqlite_file(path: Path, *, mounts: str | None = None) -> None:
    """Refuse a registry file that is unsafe or not ours; never modifies anything.

    Raises :class:`RegistryUnavailableError` when the file sits on a network filesystem,
    exists but cannot be read, is empty, or does not start with the SQLite header.
    """
    fstype = filesystem_type(_nearest_existing(path).resolve(), mounts)
    if fstype in NETWORK_FILESYSTEMS or (fstype or "").startswith(("nfs", "cifs", "smb")):
        raise RegistryUnavailableError(
            f"the registry {path} is on a network filesystem ({fstype}): SQLite's file locks "
            "are not reliable there and concurrent registrations could corrupt it. Put it on "
            "a local disk (storage.registry_url: sqlite:////local/path/registry.sqlite) or "
            "use PostgreSQL (storage.registry_url: postgresql://user@host/db)."
        )
    if not path.exists():
        return
    if path.is_dir():
        raise RegistryUnavailableError(
            f"the registry path {path} is a folder, not a SQLite file; point "
            "storage.registry_url at a file such as sqlite:////data/registry.sqlite"
        )
    try:
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as e:
        raise RegistryUnavailableError(
            f"the registry {path} cannot be read ({e.strerror}); fix its permissions. "
            "Nothing was changed."
        ) from e
    if not head:
        raise RegistryUnavailableError(
            f"the registry {path} is empty (0 bytes): it may have been truncated. Restore it "
            "from a backup, or delete it to start a new registry. Nothing was changed."
        )
    if head != _SQLITE_MAGIC:
        raise RegistryUnavailableError(
            f"the registry {path} is not a SQLite database (unknown header): it is corrupted "
            "or another file. Restore it from a backup or point storage.registry_url at "
            "another file; it was left untouched."
        )


def _sqlite_events(engine: Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN below
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            cur.execute("PRAGMA foreign_keys = ON")
            mode = cur.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("SQLite registry could not switch to WAL (journal_mode=%s)", mode)
            cur.execute("PRAGMA synchronous = FULL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("yamasat_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_registry_engine(url: str, *, busy_timeout_s: float = 30.0) -> Engine:
    """An engine for the registry at ``url`` (SQLite file or PostgreSQL), checked, not migrated.

    Raises :class:`RegistryUnavailableError` for a malformed URL, a missing driver or an
    unsafe or foreign SQLite file (see :func:`check_sqlite_file`).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise RegistryUnavailableError(
            f"storage.registry_url {masked(url)!r} is not a database URL ({e}); expected "
            "'sqlite:////abs/path/registry.sqlite' or 'postgresql://user@host/db'"
        ) from e
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend not in ("sqlite", "postgresql"):
        raise RegistryUnavailableError(
            f"registry backend {backend!r} is not supported; use sqlite or postgresql"
        )
    path = sqlite_path(parsed)
    if backend == "sqlite" and path is None:
        raise RegistryUnavailableError(
            f"storage.registry_url {masked(url)!r} names no file: an in-memory registry would "
            "be lost at exit; give a path such as sqlite:////data/registry.sqlite"
        )
    if path is not None:
        check_sqlite_file(path)
        if not path.exists():
            _create_sqlite_file(path, busy_timeout_s)
    try:
        if backend == "sqlite":
            engine = create_engine(parsed, connect_args={"timeout": busy_timeout_s})
            _sqlite_events(engine, busy_timeout_s)
        else:
            engine = create_engine(
                parsed,
                pool_pre_ping=True,
                connect_args={"connect_timeout": max(1, int(busy_timeout_s))},
            )
    except (ImportError, ArgumentError) as e:
        raise RegistryUnavailableError(
            f"cannot use the registry at {masked(parsed)}: {e}. Install the driver "
            "(pip install 'psycopg[binary]') or fix storage.registry_url."
        ) from e
    return engine


def _sqlite_engine(path: Path, busy_timeout_s: float) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": busy_timeout_s})
    _sqlite_events(engine, busy_timeout_s)
    return engine


def _create_sqlite_file(path: Path, busy_timeout_s: float) -> None:
    """Create a new registry file atomically: build the schema in a temporary file beside it,
    then hard-link it into place. Concurrent first opens never see a half-made (empty) file,
    so an empty registry file always means damage; the loser of the race keeps the winner's.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    engine = _sqlite_engine(tmp, busy_timeout_s)
    try:
        upgrade(engine)
        engine.dispose()  # the last connection closes: the WAL is checkpointed into the file
        try:
            os.link(tmp, path)
        except FileExistsError:
            log.info("registry %s was created concurrently; using it", path)
        except OSError:  # no hard links on this filesystem
            if not path.exists():
                os.rename(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        engine.dispose()
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            leftover.unlink(missing_ok=True)


def writer(engine: Engine) -> Engine:
    """The same engine whose transactions take the write lock at BEGIN (SQLite)."""
    return engine.execution_options(yamasat_write=True)


def alembic_config(conn: Connection) -> Any:
    """Alembic's configuration for the registry's migrations, run on ``conn``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def _current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest migration shipped with this version of yamasat."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def open_failure(url: URL, error: BaseException) -> RegistryUnavailableError:
    """The error to raise when the registry at ``url`` cannot be opened, with advice."""
    cause = getattr(error, "orig", None) or error
    if url.get_backend_name() == "sqlite":
        advice = (
            "The file may be corrupted: restore it from a backup, or point "
            "storage.registry_url at another file. Nothing was changed."
        )
    else:
        advice = (
            "Check that the server runs and accepts connections, and that the URL's host, "
            "port, database and user are right (password from the URL or PGPASSWORD)."
        )
    return RegistryUnavailableError(f"cannot open the registry at {masked(url)}: {cause}. {advice}")


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision, in one write transaction (see module doc).

    Alembic keeps its migration context in module globals, so upgrades in one process are
    serialised by a lock; across processes the database's write lock does it.
    """
    from alembic import command

    head = head_revision()
    try:
        with engine.connect() as conn:
            current = _current_revision(conn)
            conn.rollback()
        if current == head:
            return
        with _ALEMBIC_LOCK, writer(engine).connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            if _current_revision(conn) != head:
                log.info("registry %s: upgrading schema to %s", masked(engine.url), head)
                command.upgrade(alembic_config(conn), "head")
    except (DBAPIError, sqlite3.Error) as e:
        raise open_failure(engine.url, e) from e
