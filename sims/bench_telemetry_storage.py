"""Telemetry storage at city scale: hourly roll-up speed, bytes per row, retention.

What it does, in one run on this machine
----------------------------------------
1. A store with ``--devices`` systems (every 10th a battery: SoC) and ``--days`` days of
   quarter-hour points (3 % gaps), bulk-loaded inside the database (PostgreSQL:
   ``generate_series``; SQLite: a recursive CTE) into ``telemetry`` - on PostgreSQL the
   monthly-partitioned table of migration 0003 (partitions made by ``ensure_partitions``).
2. Roll-up (:func:`gridint.telemetry.retention.rollup`) of the whole period [raw rows/s], once more
   (every hour already there: the idempotent re-roll), and of the last 3 days (what the
   daily job does). Peer in the same run: pandas - read the same raw rows
   (``pandas.read_sql``) and group them by device and hour (no write back).
3. Disk: bytes per raw row and per hourly row (PostgreSQL: ``pg_total_relation_size`` of
   every partition resp. of ``telemetry_hourly``, after VACUUM; SQLite: file growth).
4. Retention (:func:`gridint.telemetry.apply_retention`) keeping 14 days at the end of the
   period: on PostgreSQL the first month's partition is detached, rolled up and dropped,
   the partial month deleted; on SQLite one DELETE.
5. The city: 100,000 systems, raw quarter-hours for 90 days + hourly rows for a year.

Run ``python -m sims.bench_telemetry_storage`` (a few minutes) or ``--quick``; ``--out``
writes the section of ``sims/RESULTS.md``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## Telemetry storage: partitions, hourly roll-up, retention (sims/bench_telemetry_storage.py)"
logger = logging.getLogger(__name__)
UTC = dt.timezone.utc
START = dt.datetime(2025, 5, 17, tzinfo=UTC)  # the period spans May and June: two partitions
CITY_SYSTEMS = 100_000


def _checkpoint(engine) -> None:
    with engine.connect() as c:
        c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def load(url: str, n_dev: int, days: int) -> tuple[object, float, int]:
    """Migrated store with devices and raw points; returns (engine, load seconds, rows)."""
    from sqlalchemy import insert, text

    from gridint.store import init_db, make_sessionmaker, write_transaction
    from gridint.store.models import DerDevice
    from gridint.telemetry import ensure_partitions

    engine = init_db(url)
    sessions = make_sessionmaker(engine)
    pg = engine.dialect.name == "postgresql"
    end = START + dt.timedelta(days=days)
    with sessions() as s:
        with write_transaction(s):
            s.execute(text("INSERT INTO users (name, role, token_sha256, active, created_at) "
                           "VALUES ('x', 'admin', 'x', true, CURRENT_TIMESTAMP)"))
            uid = s.execute(text("SELECT id FROM users")).scalar()
            s.execute(insert(DerDevice), [
                {"name": f"d{i}", "feeder": f"f{i // 100}", "bus": "b",
                 "kind": "storage" if i % 10 == 0 else "pv", "rating_kw": 10.0,
                 "energy_kwh": 20.0 if i % 10 == 0 else None, "owner_id": uid}
                for i in range(n_dev)])
        ensure_partitions(s, START, months_ahead=(end.year - START.year) * 12 + end.month - START.month)
    n_steps = days * 96
    t0 = time.perf_counter()
    with sessions() as s, write_transaction(s):
        if pg:
            s.execute(text(
                "INSERT INTO telemetry (device_id, time, p_kw, soc_percent, v_pu) "
                "SELECT d.id, ts, CASE WHEN d.kind = 'pv' THEN 10 * random() ELSE 20 * random() - 10 END, "
                "CASE WHEN d.kind = 'storage' THEN 100 * random() END, 0.97 + 0.1 * random() "
                "FROM der_devices d, generate_series(CAST(:t0 AS timestamptz), "
                "CAST(:t1 AS timestamptz), interval '15 minutes') ts WHERE random() > 0.03"),
                {"t0": START, "t1": end - dt.timedelta(minutes=15)})
        else:
            s.execute(text(
                "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < :n - 1) "
                "INSERT INTO telemetry (device_id, time, p_kw, soc_percent, v_pu) "
                "SELECT d.id, strftime('%Y-%m-%d %H:%M:%S.000000', :t0, '+' || (15 * k.i) || ' minutes'), "
                "CASE WHEN d.kind = 'pv' THEN 10.0 * abs(random() % 1000) / 1000 "
                "ELSE 20.0 * abs(random() % 1000) / 1000 - 10 END, "
                "CASE WHEN d.kind = 'storage' THEN 100.0 * abs(random() % 1000) / 1000 END, "
                "0.97 + 0.1 * abs(random() % 1000) / 1000 "
                "FROM der_devices d, k WHERE abs(random() % 100) >= 3"),
                {"n": n_steps, "t0": START.strftime("%Y-%m-%d %H:%M:%S")})
    wall = time.perf_counter() - t0
    with sessions() as s:
        rows = s.execute(text("SELECT count(*) FROM telemetry")).scalar()
    return engine, wall, rows


def disk(engine, what: str) -> int:
    """Bytes on disk of the raw telemetry (all partitions) or of telemetry_hourly (PostgreSQL)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("VACUUM ANALYZE")
        if what == "raw":
            return int(c.exec_driver_sql(
                "SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('telemetry')").scalar())
        return int(c.exec_driver_sql("SELECT pg_total_relation_size('telemetry_hourly')").scalar())


def pandas_peer(engine, days: int) -> float:
    """Seconds to read the raw rows into pandas and group them by device and hour."""
    t0 = time.perf_counter()
    df = pd.read_sql("SELECT device_id, time, p_kw, soc_percent, v_pu FROM telemetry", engine)
    df["hour"] = pd.to_datetime(df["time"], utc=True).dt.floor("h")
    g = df.sort_values("time").groupby(["device_id", "hour"])
    out = g.agg(n_points=("p_kw", "size"), p_kw_mean=("p_kw", "mean"), p_kw_min=("p_kw", "min"),
                p_kw_max=("p_kw", "max"), e_kwh=("p_kw", "sum"), soc_percent_last=("soc_percent", "last"),
                v_pu_min=("v_pu", "min"), v_pu_max=("v_pu", "max"))
    assert len(out)
    return time.perf_counter() - t0


def queries(sessions, pg: bool, n_dev: int, days: int) -> dict:
    """Median times [ms] of the store's read paths (gridint.telemetry.query / query_hourly),
    and on PostgreSQL the plan of the device query (index on the primary key, partitions
    pruned to the period)."""
    from sqlalchemy import text

    from gridint.telemetry import query

    rng = np.random.default_rng(5)
    week = (START + dt.timedelta(days=days - 8), START + dt.timedelta(days=days - 1))
    day = (START + dt.timedelta(days=days - 2), START + dt.timedelta(days=days - 1))
    out: dict = {}

    def timed(fn, n=15):
        ts, rows = [], 0
        for _ in range(n):
            t0 = time.perf_counter()
            rows = len(fn())
            ts.append(1e3 * (time.perf_counter() - t0))
        return float(np.median(ts)), rows

    with sessions() as s:
        out["device_week_ms"], out["device_week_rows"] = timed(
            lambda: query(s, device=f"d{rng.integers(n_dev)}", start=week[0], end=week[1]))
        out["feeder_day_ms"], out["feeder_day_rows"] = timed(
            lambda: query(s, feeder=f"f{rng.integers(max(1, n_dev // 100))}", start=day[0], end=day[1]), n=7)
        if pg:
            plan = s.execute(text(
                "EXPLAIN SELECT * FROM telemetry t JOIN der_devices d ON d.id = t.device_id "
                "WHERE d.name = 'd7' AND t.time >= :a AND t.time < :b"), {"a": week[0], "b": week[1]}).scalars()
            out["plan"] = sorted({m.group(0) for line in plan
                                  for m in [re.search(r"(Bitmap Index Scan|Index Only Scan|Index Scan|Seq Scan|Bitmap Heap Scan)"
                                                      r"( using \S+)? on \S+", line)] if m})
    return out


def run(kind: str, url: str, n_dev: int, days: int) -> dict:
    from sqlalchemy import func, select

    from gridint.store import make_sessionmaker
    from gridint.store.models import TelemetryHourly
    from gridint.telemetry import apply_retention, list_partitions, query_hourly, rollup

    file = Path(url.split("///", 1)[1]) if kind == "sqlite" else None
    engine, load_s, rows = load(url, n_dev, days)
    r: dict = {"kind": kind, "rows": rows, "load_s": load_s}
    if file:
        _checkpoint(engine)
        r["raw_bytes"] = file.stat().st_size
    else:
        r["raw_bytes"] = disk(engine, "raw")
    sessions = make_sessionmaker(engine)
    end = START + dt.timedelta(days=days)
    r["queries"] = queries(sessions, kind == "postgresql", n_dev, days)
    with sessions() as s:
        t0 = time.perf_counter()
        r["hours"] = rollup(s, START, end)
        r["rollup_s"] = time.perf_counter() - t0
    # size as written once (the re-rolls below leave dead row versions that VACUUM makes
    # reusable for the next re-roll, but does not give back)
    if file:
        _checkpoint(engine)
        r["hourly_bytes"] = file.stat().st_size - r["raw_bytes"]
    else:
        r["hourly_bytes"] = disk(engine, "hourly")
    with sessions() as s:
        t0 = time.perf_counter()
        rollup(s, START, end)
        r["reroll_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        rollup(s, end - dt.timedelta(days=3), end)
        r["daily_s"] = time.perf_counter() - t0
        r["daily_rows"] = rows * 3 / days
    r["peer_s"] = pandas_peer(engine, days)
    with sessions() as s:
        t0 = time.perf_counter()
        r["retention"] = apply_retention(s, end, raw_days=14)
        r["retention_s"] = time.perf_counter() - t0
        r["partitions_after"] = [p["name"] for p in list_partitions(s)]
        r["hourly_rows"] = s.execute(select(func.count()).select_from(TelemetryHourly)).scalar()
        t0 = time.perf_counter()
        n = len(query_hourly(s, feeder="f0", start=START, end=end))
        r["queries"].update(feeder_month_hourly_ms=1e3 * (time.perf_counter() - t0), feeder_month_hourly_rows=n)
    assert r["hourly_rows"] == r["hours"], "retention lost hours"
    engine.dispose()
    return r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--quick", action="store_true", help="smoke run (100 devices, 20 days)")
    ap.add_argument("--out", nargs="?", const=str(RESULTS_MD), default=None,
                    help="write the section of sims/RESULTS.md (default path)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.quick:
        args.devices, args.days = 100, 20
    from sims._results import machine_and_commit, others_share, write_section

    cpu, ram_gb, commit = machine_and_commit("gridint/telemetry")
    busy_before = others_share(3.0)
    runs = []
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        runs.append(run("sqlite", f"sqlite:///{tmp}/store.db", args.devices, args.days))
        if not args.no_postgres:
            from tests.store.postgres import PostgresServer

            server = PostgresServer().start()
            try:
                runs.append(run("postgresql", server.create_database(), args.devices, args.days))
            finally:
                server.stop()
    busy_after = others_share(3.0)
    for r in runs:
        r["raw_b"] = r["raw_bytes"] / r["rows"]
        r["hourly_b"] = r["hourly_bytes"] / r["hours"]
        print(f"{r['kind']:10s} {r['rows']:,} raw rows, load {r['load_s']:.1f} s; roll-up "
              f"{r['rollup_s']:.2f} s = {r['rows'] / r['rollup_s']:,.0f} rows/s ({r['hours']:,} hours), "
              f"re-roll {r['reroll_s']:.2f} s, last 3 days {r['daily_s']:.2f} s; pandas peer "
              f"{r['peer_s']:.2f} s = {r['rows'] / r['peer_s']:,.0f} rows/s; {r['raw_b']:.0f} B/raw row, "
              f"{r['hourly_b']:.0f} B/hourly row; retention {r['retention_s']:.2f} s "
              f"{r['retention']['partitions_dropped']} deleted {r['retention']['rows_deleted']:,}")
        print(f"{'':10s} reads: {r['queries']}")
    print(f"others' load: {busy_before:.0%} before, {busy_after:.0%} after")
    if args.out:
        write_section(SECTION, _section(runs, args, cpu, ram_gb, commit, busy_before, busy_after),
                      Path(args.out))
    return 0


def _section(runs, args, cpu, ram_gb, commit, busy_before, busy_after) -> str:
    by = {r["kind"]: r for r in runs}
    rows = "\n".join(
        f"| {r['kind']} | {r['rows']:,} | **{r['rows'] / r['rollup_s']:,.0f}** ({r['rollup_s']:.1f} s) | "
        f"{r['rows'] / r['reroll_s']:,.0f} | {r['daily_s']:.2f} s | {r['rows'] / r['peer_s']:,.0f} "
        f"({r['peer_s']:.1f} s) | {r['retention_s']:.1f} s |" for r in runs)
    sizes = "\n".join(f"| {r['kind']} | {r['raw_b']:.0f} | {r['hourly_b']:.0f} |" for r in runs)
    reads = "\n".join(
        f"| {r['kind']} | {r['queries']['device_week_ms']:.1f} ms ({r['queries']['device_week_rows']:,} rows) | "
        f"{r['queries']['feeder_day_ms']:.0f} ms ({r['queries']['feeder_day_rows']:,} rows) | "
        f"{r['queries']['feeder_month_hourly_ms']:.0f} ms ({r['queries']['feeder_month_hourly_rows']:,} rows) |"
        for r in runs)
    pq = by.get("postgresql", {}).get("queries", {}).get("plan")
    plan = (f"\nPostgreSQL plan of the device-week query: {'; '.join(pq)} (primary-key index, only "
            f"the period's partition scanned).\n" if pq else "")
    ref = by.get("postgresql", runs[0])
    raw_rows, hourly_rows = CITY_SYSTEMS * 96 * 90, CITY_SYSTEMS * 8760
    raw_gb, hourly_gb = raw_rows * ref["raw_b"] / 1e9, hourly_rows * ref["hourly_b"] / 1e9
    year_gb = CITY_SYSTEMS * 96 * 365 * ref["raw_b"] / 1e9
    month_gb = CITY_SYSTEMS * 96 * 30.4 * ref["raw_b"] / 1e9
    pg = by.get("postgresql")
    ret = (f"PostgreSQL: {', '.join(pg['retention']['partitions_dropped']) or 'no partition'} "
           f"detached, rolled up from the detached table and dropped, "
           f"{pg['retention']['rows_deleted']:,} rows of the partial month deleted; partitions "
           f"left: {', '.join(pg['partitions_after'])}" if pg else "")
    return f"""{SECTION}

Machine: {cpu}, {ram_gb:.0f} GB RAM, 2 cores shared with other agents (others used
{busy_before:.0%} of the machine just before the run and {busy_after:.0%} just after);
PostgreSQL is the tests' throw-away cluster (fsync off); commit {commit}.
Run: `python -m sims.bench_telemetry_storage{' --quick' if args.quick else ''} --out`.

**Scheme (implemented: migration 0003, `gridint/telemetry/retention.py`, job `telemetry-maintenance`).**
Raw quarter-hours live in `telemetry` (PK device_id, time). On PostgreSQL it is
`PARTITION BY RANGE (time)`: one partition per UTC month in the schema
`telemetry_partitions` (`pYYYY_MM`, each with a BRIN index on `time`, a few kB) and a
DEFAULT partition; SQLite keeps one table. Every hour is rolled up into `telemetry_hourly`
(PK device_id, hour: n_points, p_kw mean/min/max, e_kwh = sum p_kw x 0.25 h with the storage
sign kept, last SoC, v_pu min/max) by one set-based `INSERT ... SELECT ... GROUP BY ... ON
CONFLICT DO UPDATE` per day (both databases). The daily job (01:30 Asia/Shanghai) creates the
next 2 months' partitions and one for every back-filled month found in DEFAULT (its rows are moved first), re-rolls
the last 3 days (late data re-rolls its hour), and keeps raw rows 90 days
(`GRIDINT_TELEMETRY_RAW_DAYS`: a quarter, the open-capacity publication cycle): months wholly
older than the cut are detached, rolled up once more from the detached table and dropped
(no DELETE, no VACUUM); the partial month is rolled up and deleted in one REPEATABLE READ
transaction, so only rows counted in a roll-up are deleted. Hourly rows are kept (optional
`GRIDINT_TELEMETRY_HOURLY_DAYS`).

Measured: {args.devices:,} systems x {args.days} days of quarter-hours (3 % gaps, every 10th
a battery with SoC), bulk-loaded in the database; raw rows/s of the roll-up of the whole
period (first time, then again with every hour present: the idempotent re-roll), the
daily job's 3-day re-roll, and the peer in the same run - pandas reading the same rows
(`read_sql`) and grouping them (no write back); retention keeping 14 of the {args.days} days.

| database | raw rows | roll-up rows/s (time) | re-roll rows/s | last 3 days | pandas peer rows/s (time) | retention |
|---|---:|---:|---:|---:|---:|---:|
{rows}

{ret}.

Disk per row (PostgreSQL: `pg_total_relation_size` of every partition resp. of
`telemetry_hourly` after the first roll-up, after VACUUM; SQLite: file growth; the table
and its primary-key index):

| database | bytes / raw row | bytes / hourly row |
|---|---:|---:|
{sizes}

Reads (`gridint.telemetry.query` / `query_hourly`, what the API endpoints call; median of
repeated calls before the retention run, the hourly read once after it; {args.devices // 100 if args.devices >= 100 else 1} feeders of 100 devices):

| database | one device, a week | one feeder, a day | one feeder, the whole period hourly |
|---|---:|---:|---:|
{reads}
{plan}

**The city** (100,000 systems, PostgreSQL figures): raw quarter-hours for 90 days =
{raw_rows / 1e9:.2f}e9 rows x {ref['raw_b']:.0f} B = **{raw_gb:,.0f} GB** (about {month_gb:,.0f} GB a
month, one partition each); hourly rows for a year = {hourly_rows / 1e9:.2f}e9 rows x
{ref['hourly_b']:.0f} B = **{hourly_gb:,.0f} GB**; together ~{raw_gb + hourly_gb:,.0f} GB on disk,
against {year_gb:,.0f} GB for a year of raw quarter-hours. An hourly row (10 columns) is
{ref['hourly_b'] / ref['raw_b']:.1f}x a raw row but stands for 4 of them; each further year of hourly rows
adds {hourly_gb:,.0f} GB (`GRIDINT_TELEMETRY_HOURLY_DAYS` bounds it). The daily job at city scale re-rolls 3 days = {CITY_SYSTEMS * 96 * 3 / 1e6:.0f}e6 rows: at the
measured PostgreSQL rate about {CITY_SYSTEMS * 96 * 3 / (ref['rows'] / ref['rollup_s']) / 60:.0f} min on these 2 shared cores; the
monthly partition drop re-rolls a month once more (~{CITY_SYSTEMS * 96 * 30.4 / (ref['rows'] / ref['rollup_s']) / 60:.0f} min at that rate,
while ingestion goes on: the detach holds the parent's lock only for the DDL itself).
"""


if __name__ == "__main__":
    sys.exit(main())
