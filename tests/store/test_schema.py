"""Migrations against the models, SQLite pragmas, append-only audit log, UTC times."""
from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from gridint.errors import StoreError
from gridint.store import make_engine, repo, write_transaction
from gridint.store.db import alembic_config
from gridint.store.models import AuditLog, Base, ConnectionRequest


def test_alembic_upgrade_head_gives_the_models_schema(db_url):
    command.upgrade(alembic_config(db_url), "head")  # what `alembic upgrade head` runs
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
        tables = set(inspect(conn).get_table_names()) - {"alembic_version"}
    engine.dispose()
    assert diff == []
    assert tables == set(Base.metadata.tables)


def test_downgrade_to_base_leaves_no_table(db_url):
    cfg = alembic_config(db_url)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_sqlite_wal_and_foreign_keys(tmp_path):
    from gridint.store import init_db

    engine = init_db(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_foreign_keys_enforced(sessions):
    with sessions() as s, pytest.raises(IntegrityError):
        with write_transaction(s):
            s.add(ConnectionRequest(owner_id=999, feeder="f", bus="b", category="general_ci",
                                    mode="surplus_export", ac_kw=1.0, dc_kwp=1.0))


def test_audit_log_is_append_only_in_the_database(sessions):
    with sessions() as s:
        with write_transaction(s):
            repo.audit(s, None, "test", "none", None, {"a": 1})
        # the ORM refuses ...
        entry = s.scalars(select(AuditLog)).one()
        entry.action = "changed"
        with pytest.raises(StoreError):
            s.commit()
        s.rollback()
        # ... and so does the database, for plain SQL
        for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"):
                with write_transaction(s):
                    s.execute(text(sql))
        assert s.scalars(select(AuditLog.action)).all() == ["test"]


def test_times_come_back_aware_utc(sessions):
    t = dt.datetime(2025, 6, 1, 12, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with sessions() as s:
        with write_transaction(s):
            repo.audit(s, None, "t", "none", None).at = t
        got = s.scalars(select(AuditLog.at)).one()
    assert got.tzinfo is not None and got.utcoffset() == dt.timedelta(0)
    assert got == t


def test_naive_datetime_refused(sessions):
    with sessions() as s, pytest.raises(StatementError, match="time zone"):
        with write_transaction(s):
            repo.audit(s, None, "t", "none", None).at = dt.datetime(2025, 1, 1)
