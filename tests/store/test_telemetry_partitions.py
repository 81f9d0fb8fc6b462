"""Monthly partitions of telemetry on PostgreSQL (migration 0003, ensure_partitions), and the
upgrade from 0002 keeping the rows (both databases)."""
from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import select, text

from gridint.store import make_engine, make_sessionmaker, write_transaction
from gridint.store.db import alembic_config
from gridint.store.models import Telemetry
from gridint.telemetry import ensure_partitions, list_partitions
from tests.store.postgres import database_url

UTC = dt.timezone.utc


def t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=UTC)


def _month(d: dt.date, k: int) -> str:
    n = d.year * 12 + d.month - 1 + k
    return f"p{n // 12:04d}_{n % 12 + 1:02d}"


@pytest.fixture
def pg(tmp_path):
    from gridint.store import init_db

    engine = init_db(database_url("postgresql", tmp_path))
    yield make_sessionmaker(engine)
    engine.dispose()


def _device(s) -> None:
    with write_transaction(s):
        s.execute(text("INSERT INTO users (name, role, token_sha256, active, created_at) "
                       "VALUES ('o', 'installer', 'x', true, CURRENT_TIMESTAMP)"))
        s.execute(text("INSERT INTO der_devices (name, feeder, bus, kind, rating_kw, owner_id, "
                       "created_at) SELECT 'd', 'f', 'b', 'pv', 5.0, id, CURRENT_TIMESTAMP "
                       "FROM users"))


def _add(s, *times: str) -> None:
    with write_transaction(s):
        for x in times:
            s.execute(text("INSERT INTO telemetry (device_id, time, p_kw) "
                           "SELECT id, :t, 1.0 FROM der_devices"), {"t": t(x)})


def _where(s) -> dict[str, str]:
    """time (ISO, UTC) -> partition holding the row, from tableoid."""
    rows = s.execute(text("SELECT time, tableoid::regclass::text FROM telemetry")).all()
    return {r[0].astimezone(UTC).strftime("%Y-%m-%d %H:%M"): r[1] for r in rows}


def _partitions_sql(s) -> set[str]:
    return set(s.execute(text(
        "SELECT i.inhrelid::regclass::text FROM pg_inherits i "
        "WHERE i.inhparent = 'telemetry'::regclass")).scalars())


def test_migration_partitions_and_rows_landing_in_their_month(pg):
    this = dt.datetime.now(UTC).date()
    with pg() as s:
        # after the migration: DEFAULT, the current and the next month, as pg_inherits says
        expected = {f"telemetry_partitions.{n}" for n in (_month(this, 0), _month(this, 1), "p_default")}
        assert _partitions_sql(s) == expected
        assert s.execute(text("SELECT relkind FROM pg_class WHERE oid = 'telemetry'::regclass")
                         ).scalar() == "p"
        _device(s)
        created = ensure_partitions(s, t("2025-01-15"), months_ahead=2)
        assert created == [f"telemetry_partitions.p2025_{m:02d}" for m in (1, 2, 3)]
        assert ensure_partitions(s, t("2025-01-15"), months_ahead=2) == []  # idempotent
        _add(s, "2025-01-01 00:00", "2025-01-31 23:45", "2025-02-01 00:00", "2025-03-31 23:59",
             "2025-06-10 12:00", "2025-06-30 23:45", "2024-12-31 23:45")
        where = _where(s)
        assert where["2025-01-01 00:00"] == where["2025-01-31 23:45"] == "telemetry_partitions.p2025_01"
        assert where["2025-02-01 00:00"] == "telemetry_partitions.p2025_02"
        assert where["2025-03-31 23:59"] == "telemetry_partitions.p2025_03"
        assert where["2025-06-10 12:00"] == where["2024-12-31 23:45"] == "telemetry_partitions.p_default"

        # June's rows sit in DEFAULT: creating June moves them (else CREATE would fail); the
        # back-filled December row gets its month's partition as well
        created = ensure_partitions(s, t("2025-05-20"), months_ahead=1)
        assert created == ["telemetry_partitions.p2025_05", "telemetry_partitions.p2025_06",
                           "telemetry_partitions.p2024_12"]
        where = _where(s)
        assert len(where) == 7
        assert where["2025-06-10 12:00"] == where["2025-06-30 23:45"] == "telemetry_partitions.p2025_06"
        assert where["2024-12-31 23:45"] == "telemetry_partitions.p2024_12"
        assert s.execute(text("SELECT count(*) FROM telemetry_partitions.p_default")).scalar() == 0
        assert {p["name"] for p in list_partitions(s) if p["attached"]} == \
            {n.split(".")[1] for n in _partitions_sql(s)}
        # the migration's and ensure_partitions' partitions look alike: a BRIN index on time
        brin = set(s.execute(text(
            "SELECT tablename FROM pg_indexes WHERE schemaname = 'telemetry_partitions' "
            "AND indexdef LIKE '%USING brin (\"time\")%'")).scalars())
        assert brin == {n.split(".")[1] for n in _partitions_sql(s)}
        # ingestion's INSERT ... ON CONFLICT works across partitions
        s.execute(text("INSERT INTO telemetry (device_id, time, p_kw) SELECT id, :t, 2.0 "
                       "FROM der_devices ON CONFLICT (device_id, time) DO NOTHING"),
                  {"t": t("2025-06-10 12:00")})
        assert s.execute(text("SELECT p_kw FROM telemetry WHERE time = :t"),
                         {"t": t("2025-06-10 12:00")}).scalar() == 1.0
        s.rollback()


def test_ensure_partitions_is_a_noop_on_sqlite(tmp_path):
    from gridint.store import init_db

    engine = init_db(f"sqlite:///{tmp_path / 'x.db'}")
    with make_sessionmaker(engine)() as s:
        assert ensure_partitions(s, t("2025-01-15")) == [] and list_partitions(s) == []
    engine.dispose()


def test_upgrade_from_0002_keeps_the_rows(db_url):
    cfg = alembic_config(db_url)
    command.upgrade(cfg, "0002")
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    times = ["2024-11-03 04:15", "2024-11-30 23:45", "2025-02-01 00:00", "2025-02-14 08:00"]
    with sessions() as s:
        _device(s)
        _add(s, *times)
        before = sorted(_rows(s))
    command.upgrade(cfg, "head")
    with sessions() as s:
        assert sorted(_rows(s)) == before
        if engine.dialect.name == "postgresql":
            where = _where(s)
            assert where["2024-11-03 04:15"] == where["2024-11-30 23:45"] == "telemetry_partitions.p2024_11"
            assert where["2025-02-14 08:00"] == "telemetry_partitions.p2025_02"
    command.downgrade(cfg, "0002")  # and back, rows kept
    with sessions() as s:
        assert sorted(_rows(s)) == before
        if engine.dialect.name == "postgresql":
            assert s.execute(text("SELECT relkind FROM pg_class WHERE oid = 'telemetry'::regclass")
                             ).scalar() == "r"
            assert s.execute(text("SELECT count(*) FROM pg_namespace "
                                  "WHERE nspname = 'telemetry_partitions'")).scalar() == 0
    engine.dispose()


def _rows(s):
    return s.execute(select(Telemetry.device_id, Telemetry.time, Telemetry.p_kw)).all()
