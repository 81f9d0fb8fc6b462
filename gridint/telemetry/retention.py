"""Telemetry at city scale: hourly roll-up, monthly partitions (PostgreSQL) and retention.

Raw measurements (table ``telemetry``, one row per device and quarter-hour) are kept
``Settings.telemetry_raw_days`` days (90); every hour of them is rolled up into
``telemetry_hourly`` (count, mean / min / max power, energy, last SoC, voltage extremes)
which is kept as long as ``Settings.telemetry_hourly_days`` (default: forever).

Roll-up
    :func:`rollup` recomputes, from the raw rows, every hour that overlaps ``[start, end)``
    in one set-based statement per chunk (``INSERT INTO telemetry_hourly SELECT ... GROUP BY
    device_id, hour ... ON CONFLICT (device_id, hour) DO UPDATE``, SQLite and PostgreSQL
    alike). Running it twice gives the same table; a late point re-rolls its hour the next
    time the hour is in a window. Ingestion only ever adds rows (``ON CONFLICT DO NOTHING``),
    so an hour's raw count never shrinks while its rows are kept: an update is refused when
    it would *lower* ``n_points``. That guard keeps a complete hour whose raw rows were
    already trimmed from being overwritten by a straggler that arrived after the trim
    (such a point is then trimmed by the next retention without entering the roll-up).
    ``force=True`` lifts the guard (after raw rows were deleted on purpose, e.g. a faulty
    meter's data).

Partitions (PostgreSQL only; no-ops on SQLite)
    ``telemetry`` is ``PARTITION BY RANGE (time)`` (migration 0003), one partition per UTC
    month in the schema ``telemetry_partitions`` (``pYYYY_MM``, BRIN index on ``time``)
    and a DEFAULT partition ``p_default``. :func:`ensure_partitions` creates the coming
    months: the new table is filled with the rows of its month that sat in DEFAULT (a
    partition cannot be created over rows of DEFAULT), then attached (``ATTACH PARTITION``
    takes only SHARE UPDATE EXCLUSIVE on the parent: ingestion goes on).

Retention
    :func:`apply_retention` trims raw rows older than the cut = ``now - raw_days``, floored
    to the UTC hour (so an hour is kept or trimmed whole). On PostgreSQL every monthly
    partition wholly before the cut is detached (one short transaction), rolled up from
    the detached table plus any DEFAULT rows of its month, and dropped (no DELETE, no
    VACUUM churn); a detached table left by an interrupted run is finished the next time.
    The rest (the partial month, and DEFAULT rows) and everything on SQLite: per chunk, in
    one transaction (PostgreSQL: REPEATABLE READ, so the DELETE sees exactly the rows the
    roll-up counted), roll up, then ``DELETE`` the raw rows whose hour has a roll-up row.

Sign convention: ``p_kw`` is PV AC power (generation positive) or storage power
(positive = charging); ``e_kwh`` keeps it (storage: positive = energy charged).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
from typing import Any, Iterator

from sqlalchemy import (FromClause, and_, case, column, delete, func, literal, literal_column,
                        select, table, text, union_all)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gridint.config import Settings, get_settings
from gridint.errors import StoreError
from gridint.store.db import write_transaction
from gridint.store.models import Telemetry, TelemetryHourly, UTCDateTime

__all__ = ["PARTITION_SCHEMA", "DEFAULT_PARTITION", "partition_name", "rollup",
           "ensure_partitions", "list_partitions", "apply_retention", "query_hourly"]

logger = logging.getLogger(__name__)

#: PostgreSQL schema holding the partitions of ``telemetry`` (kept out of the app schema)
PARTITION_SCHEMA = "telemetry_partitions"
#: the DEFAULT partition (rows of months without a partition)
DEFAULT_PARTITION = "p_default"
_NAME = re.compile(r"^p(\d{4})_(\d{2})$")
_UTC = dt.timezone.utc
_RAW = Telemetry.__table__
_HOURLY = TelemetryHourly.__table__
_COLS = ("device_id", "time", "p_kw", "soc_percent", "v_pu")


# --------------------------------------------------------------------------- time helpers

def _aware(t: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(t, dt.datetime) or t.tzinfo is None or t.utcoffset() is None:
        raise StoreError(f"{name}: a time-zone aware datetime is required, got {t!r}")
    return t.astimezone(_UTC)


def _floor_hour(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(t: dt.datetime) -> dt.datetime:
    f = _floor_hour(t)
    return f if f == t else f + dt.timedelta(hours=1)


def _month_start(t: dt.datetime | dt.date, k: int = 0) -> dt.datetime:
    n = t.year * 12 + t.month - 1 + k
    return dt.datetime(n // 12, n % 12 + 1, 1, tzinfo=_UTC)


def partition_name(month: dt.date | dt.datetime) -> str:
    """Name of the partition of ``telemetry`` holding the UTC month of ``month``: ``pYYYY_MM``."""
    return f"p{month.year:04d}_{month.month:02d}"


def _month_of(name: str) -> dt.datetime | None:
    m = _NAME.match(name)
    return dt.datetime(int(m.group(1)), int(m.group(2)), 1, tzinfo=_UTC) if m else None


def _chunks(lo: dt.datetime, hi: dt.datetime, hours: int) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    step = dt.timedelta(hours=hours)
    a = lo
    while a < hi:
        b = min(a + step, hi)
        yield a, b
        a = b


# --------------------------------------------------------------------------- SQL pieces

def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _hour_of(col, dialect: str):
    """UTC hour of a time column, in the column's stored form (literals only: GROUP BY-safe)."""
    if dialect == "postgresql":
        utc = literal_column("'UTC'")
        return func.timezone(utc, func.date_trunc(literal_column("'hour'"), func.timezone(utc, col)),
                             type_=UTCDateTime())
    # SQLite: SQLAlchemy stores naive UTC as 'YYYY-MM-DD HH:MM:SS.ffffff'
    return func.strftime(literal_column("'%Y-%m-%d %H:00:00.000000'"), col)


def _table(name: str, schema: str | None = None) -> FromClause:
    """A lightweight table with the raw telemetry columns (a partition, a detached month)."""
    return table(name, column("device_id"), column("time", UTCDateTime()), column("p_kw"),
                 column("soc_percent"), column("v_pu"), schema=schema)


def _source(tables: list[FromClause], lo: dt.datetime | None, hi: dt.datetime | None) -> FromClause:
    def one(t):
        cond = [c for c in ((t.c.time >= lo) if lo is not None else None,
                            (t.c.time < hi) if hi is not None else None) if c is not None]
        return select(*(t.c[c] for c in _COLS)).where(*cond)

    if len(tables) == 1:
        return one(tables[0]).subquery()
    return union_all(*(one(t) for t in tables)).subquery()


def _upsert(session: Session, tables: list[FromClause], lo: dt.datetime | None,
            hi: dt.datetime | None, *, force: bool, interval_h: float) -> int:
    """One INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE over ``lo <= time < hi``."""
    d = _dialect(session)
    src = _source(tables, lo, hi)
    hour = _hour_of(src.c.time, d)
    g = (select(src.c.device_id.label("device_id"), hour.label("hour"),
                func.count().label("n_points"),
                func.avg(src.c.p_kw).label("p_kw_mean"),
                func.min(src.c.p_kw).label("p_kw_min"),
                func.max(src.c.p_kw).label("p_kw_max"),
                (func.sum(src.c.p_kw) * literal_column(repr(float(interval_h)))).label("e_kwh"),
                func.max(case((src.c.soc_percent.is_not(None), src.c.time))).label("soc_time"),
                func.min(src.c.v_pu).label("v_pu_min"),
                func.max(src.c.v_pu).label("v_pu_max"))
         .group_by(src.c.device_id, hour)).subquery("g")
    back = _source(tables, lo, hi).alias("s")  # the row holding the hour's last SoC
    sel = (select(g.c.device_id, g.c.hour, g.c.n_points, g.c.p_kw_mean, g.c.p_kw_min, g.c.p_kw_max,
                  g.c.e_kwh, back.c.soc_percent, g.c.v_pu_min, g.c.v_pu_max)
           .select_from(g.outerjoin(back, and_(back.c.device_id == g.c.device_id,
                                               back.c.time == g.c.soc_time)))
           # a WHERE keeps SQLite from reading ON CONFLICT as the join's ON
           .where(g.c.n_points > 0))
    if d == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    cols = ["device_id", "hour", "n_points", "p_kw_mean", "p_kw_min", "p_kw_max", "e_kwh",
            "soc_percent_last", "v_pu_min", "v_pu_max"]
    ins = insert(_HOURLY).from_select(cols, sel)
    ins = ins.on_conflict_do_update(
        index_elements=["device_id", "hour"],
        set_={c: ins.excluded[c] for c in cols[2:]},
        where=None if force else _HOURLY.c.n_points <= ins.excluded.n_points)
    # rowcount of an INSERT is kept only on request (SQLAlchemy 2)
    return max(session.execute(ins.execution_options(preserve_rowcount=True)).rowcount or 0, 0)


def _delete_rolled(session: Session, target: FromClause, lo: dt.datetime | None,
                   hi: dt.datetime) -> int:
    """DELETE raw rows ``lo <= time < hi`` of ``target`` whose hour has a roll-up row."""
    h = _HOURLY
    rolled = (select(literal(1)).where(h.c.device_id == target.c.device_id,
                                       h.c.hour == _hour_of(target.c.time, _dialect(session)))
              .exists())
    cond = [target.c.time < hi, rolled] + ([target.c.time >= lo] if lo is not None else [])
    return max(session.execute(delete(target).where(*cond)).rowcount or 0, 0)


@contextlib.contextmanager
def _tx(session: Session, *, snapshot: bool = False, lock_timeout_s: float | None = None):
    """A write transaction: SQLite ``BEGIN IMMEDIATE`` (:func:`write_transaction`);
    PostgreSQL READ COMMITTED, or REPEATABLE READ with ``snapshot`` (every statement of
    the transaction sees the same rows), with an optional ``lock_timeout``."""
    if _dialect(session) != "postgresql":
        with write_transaction(session):
            yield session
        return
    if session.in_transaction():
        session.commit()
    with session.begin():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"}
                           if snapshot else {})
        if lock_timeout_s is not None:
            session.execute(text(f"SET LOCAL lock_timeout = '{int(lock_timeout_s * 1000)}ms'"))
        yield session


def _settings(settings: Settings | None) -> Settings:
    return settings or get_settings()


# --------------------------------------------------------------------------- roll-up

def rollup(session: Session, start: dt.datetime, end: dt.datetime, *, force: bool = False,
           settings: Settings | None = None) -> int:
    """Recompute the hourly roll-up of every hour overlapping ``[start, end)``.

    Idempotent (an upsert from the raw rows); an hour already rolled up is recomputed, so
    a late point is taken in when its hour is rolled up again. Hours without raw rows are
    left as they are (e.g. hours whose raw rows were trimmed).

    Parameters
    ----------
    session : Session
    start, end : datetime
        Time-zone aware; widened to whole UTC hours.
    force : bool
        Also overwrite hours whose stored ``n_points`` is larger than the raw count now
        (normally refused: see the module docstring).
    settings : Settings, optional
        ``telemetry_interval_min`` [min] (energy of one point = p_kw x interval) and
        ``telemetry_rollup_chunk_h`` (PostgreSQL: hours per statement and transaction).

    Returns
    -------
    int
        Hourly rows written (inserted or updated).
    """
    s = _settings(settings)
    lo, hi = _floor_hour(_aware(start, "start")), _ceil_hour(_aware(end, "end"))
    if lo >= hi:
        return 0
    step = s.telemetry_rollup_chunk_h if _dialect(session) == "postgresql" else None
    n = 0
    # SQLite: one statement (no time index there: every chunk would scan the table)
    for a, b in (_chunks(lo, hi, step) if step else [(lo, hi)]):
        with _tx(session):
            n += _upsert(session, [_RAW], a, b, force=force,
                         interval_h=s.telemetry_interval_min / 60.0)
    logger.info("telemetry roll-up %s .. %s: %d hourly rows written", lo, hi, n)
    return n


# --------------------------------------------------------------------------- partitions

def list_partitions(session: Session) -> list[dict[str, Any]]:
    """Partitions of ``telemetry`` (PostgreSQL; ``[]`` on SQLite).

    Returns
    -------
    list of dict
        ``{name, lower, upper, attached}`` by month (``lower``/``upper`` UTC month bounds,
        None for DEFAULT), DEFAULT last; ``attached`` False for a monthly table of the
        partition schema that is not attached (left by an interrupted retention).
    """
    if _dialect(session) != "postgresql":
        return []
    rows = session.execute(text(
        "SELECT c.relname, c.relispartition FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = :schema AND c.relkind = 'r'"),
        {"schema": PARTITION_SCHEMA}).all()
    out = []
    for name, attached in rows:
        month = _month_of(name)
        if month is None and name != DEFAULT_PARTITION:
            continue
        out.append({"name": name, "lower": month,
                    "upper": _month_start(month, 1) if month else None, "attached": bool(attached)})
    out.sort(key=lambda p: (p["lower"] is None, p["lower"] or dt.datetime.min.replace(tzinfo=_UTC)))
    return out


def _create_partition(session: Session, month: dt.datetime, lock_timeout_s: float) -> int:
    """Create and attach the partition of ``month``, moving its rows out of DEFAULT."""
    name, lo, hi = partition_name(month), month, _month_start(month, 1)
    q = f"{PARTITION_SCHEMA}.{name}"
    bounds = f"FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
    with _tx(session, lock_timeout_s=lock_timeout_s):
        session.execute(text(f"CREATE TABLE {q} (LIKE telemetry INCLUDING DEFAULTS)"))
        # the partition constraint, proven up front: ATTACH then skips its validation scan
        session.execute(text(f"ALTER TABLE {q} ADD CONSTRAINT {name}_range CHECK "
                             f"(time >= '{lo.isoformat()}' AND time < '{hi.isoformat()}')"))
        # DEFAULT may hold rows of this month (sent before the partition existed): move them;
        # the lock keeps new ones from arriving before ATTACH (which needs it anyway)
        session.execute(text(f"LOCK TABLE {PARTITION_SCHEMA}.{DEFAULT_PARTITION} "
                             "IN ACCESS EXCLUSIVE MODE"))
        moved = session.execute(text(
            f"WITH moved AS (DELETE FROM {PARTITION_SCHEMA}.{DEFAULT_PARTITION} "
            f"WHERE time >= :lo AND time < :hi RETURNING {', '.join(_COLS)}) "
            f"INSERT INTO {q} ({', '.join(_COLS)}) SELECT {', '.join(_COLS)} FROM moved")
            .execution_options(preserve_rowcount=True), {"lo": lo, "hi": hi}).rowcount
        session.execute(text(f"ALTER TABLE telemetry ATTACH PARTITION {q} FOR VALUES {bounds}"))
        session.execute(text(f"ALTER TABLE {q} DROP CONSTRAINT {name}_range"))
        session.execute(text(f"CREATE INDEX {name}_time_brin ON {q} USING brin (time) "
                             "WITH (autosummarize = on)"))
    logger.info("telemetry partition %s created (%d rows moved from DEFAULT)", q, moved)
    return moved


def ensure_partitions(session: Session, now: dt.datetime | None = None, months_ahead: int = 2,
                      settings: Settings | None = None) -> list[str]:
    """Create the monthly partitions of ``telemetry`` from ``now``'s month to ``months_ahead`` on,
    and for every month that has rows in the DEFAULT partition (back-filled history).

    PostgreSQL only (SQLite: no-op). Rows of those months already in the DEFAULT partition
    are moved into the new partition.

    Parameters
    ----------
    session : Session
    now : datetime, optional
        Time-zone aware (default: now).
    months_ahead : int
        Months after the current one.
    settings : Settings, optional
        ``telemetry_partition_lock_timeout_s``.

    Returns
    -------
    list of str
        Partitions created (``telemetry_partitions.pYYYY_MM``).

    Raises
    ------
    StoreError
        A table of that name exists in the partition schema but is not attached.
    """
    if _dialect(session) != "postgresql":
        return []
    if months_ahead < 0:
        raise StoreError(f"months_ahead must be >= 0, got {months_ahead}")
    s = _settings(settings)
    now = _aware(now, "now") if now is not None else dt.datetime.now(_UTC)
    have = {p["name"]: p["attached"] for p in list_partitions(session)}
    if session.in_transaction():
        session.commit()
    created = []
    months = [_month_start(now, k) for k in range(months_ahead + 1)]
    if DEFAULT_PARTITION in have:
        # months back-filled into DEFAULT (late data, imports of history) get their own
        # partition too, so DEFAULT stays small and retention can drop them by month
        rows = session.execute(text(
            f"SELECT DISTINCT date_trunc('month', time AT TIME ZONE 'UTC') "
            f"FROM {PARTITION_SCHEMA}.{DEFAULT_PARTITION}")).scalars().all()
        session.commit()
        months += sorted(m.replace(tzinfo=_UTC) for m in rows if m.replace(tzinfo=_UTC) not in months)
    for month in months:
        name = partition_name(month)
        if have.get(name) is True:
            continue
        if name in have:
            raise StoreError(f"{PARTITION_SCHEMA}.{name} exists but is not a partition of "
                             "telemetry (a detached month: run apply_retention or attach it)")
        _create_partition(session, month, s.telemetry_partition_lock_timeout_s)
        created.append(f"{PARTITION_SCHEMA}.{name}")
    return created


# --------------------------------------------------------------------------- retention

def _lock_timeout(exc: OperationalError) -> bool:
    return getattr(getattr(exc, "orig", None), "sqlstate", None) == "55P03"


def _unrolled(session: Session, target: FromClause) -> bool:
    """True when some raw row of ``target`` has no roll-up row for its hour."""
    h = _HOURLY
    rolled = (select(literal(1)).where(h.c.device_id == target.c.device_id,
                                       h.c.hour == _hour_of(target.c.time, _dialect(session)))
              .exists())
    return session.execute(select(literal(1)).select_from(target).where(~rolled).limit(1)).first() \
        is not None


def _absorb_and_drop(session: Session, name: str, s: Settings) -> tuple[int, bool]:
    """Roll up a detached month table (plus DEFAULT rows of its month), check, drop it.

    Returns (hourly rows written, dropped); not dropped when a row of it has no roll-up row
    (logged; the next run retries).
    """
    month = _month_of(name)
    lo, hi = month, _month_start(month, 1)
    detached = _table(name, PARTITION_SCHEMA)
    # rows that reached DEFAULT after the detach; a re-sent point already in the detached
    # table is counted once (the DEFAULT copy is trimmed later with the rest)
    late = (select(*(_RAW.c[c] for c in _COLS))
            .where(~select(literal(1)).where(detached.c.device_id == _RAW.c.device_id,
                                             detached.c.time == _RAW.c.time).exists())
            .subquery("late"))
    n = 0
    for a, b in _chunks(lo, hi, s.telemetry_rollup_chunk_h):
        with _tx(session):
            n += _upsert(session, [detached, late], a, b, force=False,
                         interval_h=s.telemetry_interval_min / 60.0)
    with _tx(session):
        # nothing writes to a detached table: what is checked here is what is dropped
        if _unrolled(session, detached):
            logger.error("telemetry: %s.%s has rows without a roll-up: not dropped",
                         PARTITION_SCHEMA, name)
            return n, False
        session.execute(text(f"DROP TABLE {PARTITION_SCHEMA}.{name}"))
    logger.info("telemetry partition %s.%s rolled up (%d hours) and dropped", PARTITION_SCHEMA,
                name, n)
    return n, True


def apply_retention(session: Session, now: dt.datetime | None = None, raw_days: int | None = None,
                    *, settings: Settings | None = None) -> dict[str, Any]:
    """Trim raw telemetry older than ``raw_days`` once it is rolled up (see module docstring).

    Parameters
    ----------
    session : Session
    now : datetime, optional
        Time-zone aware (default: now).
    raw_days : int, optional
        Days of raw rows kept (default ``Settings.telemetry_raw_days``, 90). The cut is
        ``now - raw_days`` floored to the UTC hour.
    settings : Settings, optional
        Also ``telemetry_hourly_days`` (hourly rows older are deleted; None keeps them),
        ``telemetry_rollup_chunk_h``, ``telemetry_partition_lock_timeout_s``.

    Returns
    -------
    dict
        ``cut`` (ISO 8601 UTC), ``raw_days``, ``hours_rolled``, ``rows_deleted`` (raw rows
        deleted by DELETE), ``partitions_dropped`` (names), ``partitions_skipped`` (not
        detached within the lock timeout, or detached but found not fully rolled up: the
        next run retries), ``hourly_rows_deleted``.
    """
    s = _settings(settings)
    raw_days = s.telemetry_raw_days if raw_days is None else int(raw_days)
    if raw_days < 1:
        raise StoreError(f"raw_days must be >= 1, got {raw_days}")
    now = _aware(now, "now") if now is not None else dt.datetime.now(_UTC)
    cut = _floor_hour(now - dt.timedelta(days=raw_days))
    interval_h = s.telemetry_interval_min / 60.0
    out: dict[str, Any] = {"cut": cut.isoformat(), "raw_days": raw_days, "hours_rolled": 0,
                           "rows_deleted": 0, "partitions_dropped": [], "partitions_skipped": [],
                           "hourly_rows_deleted": 0}
    if session.in_transaction():
        session.commit()
    pieces: list[tuple[FromClause, dt.datetime | None, dt.datetime]]
    if _dialect(session) == "postgresql":
        parts = list_partitions(session)
        session.commit()
        for p in parts:
            if p["lower"] is None or p["upper"] > cut:
                if not p["attached"]:
                    logger.warning("telemetry: %s.%s is detached but not older than the cut %s: "
                                   "left alone", PARTITION_SCHEMA, p["name"], cut)
                continue
            if p["attached"]:
                try:
                    with _tx(session, lock_timeout_s=s.telemetry_partition_lock_timeout_s):
                        session.execute(text(f"ALTER TABLE telemetry DETACH PARTITION "
                                             f"{PARTITION_SCHEMA}.{p['name']}"))
                except OperationalError as exc:
                    if not _lock_timeout(exc):
                        raise
                    logger.warning("telemetry: %s not detached (lock timeout), next run retries",
                                   p["name"])
                    out["partitions_skipped"].append(f"{PARTITION_SCHEMA}.{p['name']}")
                    continue
            n, dropped = _absorb_and_drop(session, p["name"], s)
            out["hours_rolled"] += n
            out["partitions_dropped" if dropped else "partitions_skipped"].append(
                f"{PARTITION_SCHEMA}.{p['name']}")
        # the month holding the cut (through the parent: pruned to its partition), then
        # whatever older rows sit in DEFAULT
        month = _month_start(cut)
        default = _table(DEFAULT_PARTITION, PARTITION_SCHEMA)
        pieces = [(_RAW, a, b) for a, b in _chunks(month, cut, s.telemetry_rollup_chunk_h)]
        pieces.append((default, None, month))
    else:
        pieces = [(_RAW, None, cut)]
    for target, a, b in pieces:
        with _tx(session, snapshot=True):
            out["hours_rolled"] += _upsert(session, [target], a, b, force=False,
                                           interval_h=interval_h)
            out["rows_deleted"] += _delete_rolled(session, target, a, b)
    if s.telemetry_hourly_days is not None:
        old = _floor_hour(now - dt.timedelta(days=s.telemetry_hourly_days))
        with _tx(session):
            out["hourly_rows_deleted"] = max(session.execute(
                delete(_HOURLY).where(_HOURLY.c.hour < old)).rowcount or 0, 0)
    logger.info("telemetry retention: %s", out)
    return out


HOURLY_FIELDS = ("n_points", "p_kw_mean", "p_kw_min", "p_kw_max", "e_kwh", "soc_percent_last",
                 "v_pu_min", "v_pu_max")


def query_hourly(session: Session, *, device: str | None = None, feeder: str | None = None,
                 start: dt.datetime | None = None, end: dt.datetime | None = None,
                 owner_id: int | None = None, limit: int | None = None,
                 tz: str | None = None) -> list[dict[str, Any]]:
    """Hourly roll-up rows ``start <= hour < end`` of a device or a feeder, by device then hour.

    The store of record for periods older than ``telemetry_raw_days`` (raw quarter-hours
    are gone there). Uses the (device_id, hour) primary key.

    Returns
    -------
    list of dict
        ``{device, hour (aware, in tz, default Settings.timezone), n_points, p_kw_mean,
        p_kw_min, p_kw_max [kW], e_kwh [kWh], soc_percent_last [%], v_pu_min, v_pu_max}``.
    """
    from zoneinfo import ZoneInfo

    from gridint.store.models import DerDevice
    from gridint.telemetry.ingestion import device_period_filter

    h = TelemetryHourly
    q = (select(DerDevice.name, h.hour, *(getattr(h, f) for f in HOURLY_FIELDS))
         .join(DerDevice, DerDevice.id == h.device_id).order_by(h.device_id, h.hour))
    q = device_period_filter(q, h.hour, device=device, feeder=feeder, owner_id=owner_id,
                             start=None if start is None else _aware(start, "start"),
                             end=None if end is None else _aware(end, "end"), limit=limit)
    zone = ZoneInfo(tz or get_settings().timezone)
    return [{"device": r[0], "hour": _aware(r[1], "hour").astimezone(zone),
             **dict(zip(HOURLY_FIELDS, r[2:]))} for r in session.execute(q)]
