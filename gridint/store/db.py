"""Engine, sessions, serialised write transactions and migrations.

SQLite (default): WAL journal and foreign keys switched on for every connection; the
driver's own transaction handling is off and gridint emits ``BEGIN`` itself, so a write
transaction can start with ``BEGIN IMMEDIATE`` (it takes the database write lock first,
instead of failing later when a read lock cannot be upgraded); threads of one process
queue for it on an in-process lock first (no busy polling).

PostgreSQL (``postgresql+psycopg://...``, psycopg 3): READ COMMITTED; a write transaction
that touches a feeder's capacity locks the feeder's row of ``feeder_locks`` with
``SELECT ... FOR UPDATE`` first, so reservations on one feeder are serialised while
other feeders proceed in parallel.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event, make_url, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from gridint.config import get_settings
from gridint.errors import ConfigError
from gridint.store.models import FeederLock

__all__ = ["make_engine", "make_sessionmaker", "init_db", "alembic_config", "write_transaction",
           "shared_sessionmaker", "MIGRATIONS_DIR"]

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_WRITE = "gridint_write"


def _normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default ``get_settings().database_url``).

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL: ``sqlite:///path.db`` or ``postgresql+psycopg://user@host:port/db``
        (``postgresql://`` is taken to mean psycopg 3).

    Returns
    -------
    sqlalchemy.Engine

    Raises
    ------
    ConfigError
        For a database other than SQLite or PostgreSQL.
    """
    s = get_settings()
    url = _normalise_url(url or s.database_url)
    if url.startswith("sqlite"):
        memory = make_url(url).database in (None, "", ":memory:")
        engine = create_engine(url, connect_args={"timeout": s.database_busy_timeout_s,
                                                  "check_same_thread": False},
                               **({"poolclass": StaticPool} if memory else {}))
        _sqlite_events(engine)
    elif url.startswith("postgresql"):
        engine = create_engine(url, pool_size=s.database_pool_size,
                               max_overflow=s.database_max_overflow, pool_pre_ping=True)
    else:
        raise ConfigError(f"GRIDINT_DATABASE_URL: only sqlite:// and postgresql:// are supported, "
                          f"got {url.split(':', 1)[0]!r}")
    return engine


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # gridint emits BEGIN itself (see "begin")
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Session factory (objects stay readable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def write_transaction(session: Session, feeder: str | None = None) -> Iterator[Session]:
    """One serialised write transaction: commit on success, roll back on error.

    Any transaction the session has open (e.g. the read that authenticated the caller)
    is committed first. On SQLite the transaction starts with ``BEGIN IMMEDIATE``
    (database write lock, held to the end); on PostgreSQL, when ``feeder`` is given, the
    feeder's lock row is created if missing and locked with ``SELECT ... FOR UPDATE``.
    Work done inside therefore sees every capacity change committed before it and none
    made after it.

    Parameters
    ----------
    session : Session
    feeder : str, optional
        Feeder whose capacity the transaction reads or changes.
    """
    if session.in_transaction():
        session.commit()
    bind = session.get_bind()
    local = _sqlite_writer_lock(bind) if bind.dialect.name == "sqlite" else contextlib.nullcontext()
    with local, session.begin():
        conn = session.connection(execution_options={_WRITE: True})
        if feeder is not None and conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert

            session.execute(insert(FeederLock).values(feeder=feeder)
                            .on_conflict_do_nothing(index_elements=["feeder"]))
            session.execute(select(FeederLock.feeder).where(FeederLock.feeder == feeder)
                            .with_for_update())
        yield session


_SQLITE_LOCKS: dict[str, threading.Lock] = {}
_SQLITE_LOCKS_GUARD = threading.Lock()


def _sqlite_writer_lock(engine: Engine) -> threading.Lock:
    """One in-process lock per SQLite file, taken before ``BEGIN IMMEDIATE``.

    SQLite's own lock is what makes writes exclusive (also between processes); waiting
    on it means polling with growing sleeps (sqlite3 busy handler), which leaves the lock
    idle most of the time when many threads of one server wait. Threads of one process
    queue on this lock instead and get the database the moment the previous writer commits.
    """
    key = str(engine.url.database)
    with _SQLITE_LOCKS_GUARD:
        return _SQLITE_LOCKS.setdefault(key, threading.Lock())


def alembic_config(url: str | None = None):
    """Alembic configuration of the migrations shipped in ``gridint/store/migrations``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", _normalise_url(url or get_settings().database_url)
                        .replace("%", "%%"))
    return cfg


def init_db(url: str | None = None) -> Engine:
    """Bring the database at ``url`` to the newest schema (``alembic upgrade head``).

    Parameters
    ----------
    url : str, optional
        Default ``get_settings().database_url``; an SQLite file is created if missing.

    Returns
    -------
    sqlalchemy.Engine
        Engine for the database (see :func:`make_engine`).
    """
    from alembic import command

    engine = make_engine(url)
    cfg = alembic_config(url)
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()
    logger.info("database %s at the newest schema", engine.url.render_as_string(hide_password=True))
    return engine


_SHARED: dict[str, sessionmaker[Session]] = {}
_shared_lock = threading.Lock()


def shared_sessionmaker(url: str | None = None) -> sessionmaker[Session]:
    """A process-wide session factory for ``url`` (default ``Settings.database_url``),
    the schema brought to head once per process (for jobs outside the API)."""
    url = url or get_settings().database_url
    with _shared_lock:
        if url not in _SHARED:
            _SHARED[url] = make_sessionmaker(init_db(url))
        return _SHARED[url]
