"""Hourly roll-up and retention of telemetry (gridint.telemetry.retention), SQLite and PostgreSQL,
against a slow, obvious pandas reference computed from the points the test inserted."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert, select

from gridint.store import repo, write_transaction
from gridint.store.models import DerDevice, Telemetry, TelemetryHourly
from gridint.telemetry import apply_retention, ensure_partitions, list_partitions, rollup
from gridint.telemetry import retention as rollup_mod

UTC = dt.timezone.utc
COLS = ["n_points", "p_kw_mean", "p_kw_min", "p_kw_max", "e_kwh", "soc_percent_last",
        "v_pu_min", "v_pu_max"]


def _devices(sessions, n: int) -> list[int]:
    with sessions() as s, write_transaction(s):
        user = repo.create_user(s, "owner", "installer")[0]
        devs = [DerDevice(name=f"d{i}", feeder="f", bus="b", kind="storage" if i % 2 else "pv",
                          rating_kw=10.0, energy_kwh=20.0 if i % 2 else None, owner_id=user.id)
                for i in range(n)]
        s.add_all(devs)
        s.flush()
        return [d.id for d in devs]


def _points(ids: list[int], start: str, periods: int, seed: int, keep: float = 0.7) -> pd.DataFrame:
    """Random quarter-hour points with gaps (and a few off-grid seconds), NULL SoC and v_pu."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=periods, freq="15min", tz="UTC")
    frames = []
    for k, d in enumerate(ids):
        t = times[rng.uniform(size=periods) < keep]
        # some meters stamp a few seconds late: still the same hour
        t = t + pd.to_timedelta(np.where(rng.uniform(size=len(t)) < 0.1, 7, 0), unit="s")
        n = len(t)
        storage = k % 2 == 1
        soc = np.where(rng.uniform(size=n) < 0.2, np.nan, rng.uniform(0, 100, n)) if storage \
            else np.full(n, np.nan)
        frames.append(pd.DataFrame({
            "device_id": d, "time": t,
            "p_kw": rng.uniform(-10, 10, n) if storage else rng.uniform(0, 10, n),
            "soc_percent": soc,
            "v_pu": np.where(rng.uniform(size=n) < 0.1, np.nan, rng.uniform(0.95, 1.08, n))}))
    return pd.concat(frames, ignore_index=True)


def _insert(sessions, df: pd.DataFrame) -> None:
    rows = [{"device_id": int(r.device_id), "time": r.time.to_pydatetime(), "p_kw": float(r.p_kw),
             "soc_percent": None if np.isnan(r.soc_percent) else float(r.soc_percent),
             "v_pu": None if np.isnan(r.v_pu) else float(r.v_pu)} for r in df.itertuples()]
    with sessions() as s, write_transaction(s):
        s.execute(insert(Telemetry), rows)


def reference(df: pd.DataFrame, interval_h: float = 0.25) -> pd.DataFrame:
    """Hourly roll-up the obvious way: pandas groupby by device and floored UTC hour."""
    g = (df.sort_values("time").assign(hour=df["time"].dt.floor("h"))
         .groupby(["device_id", "hour"]))
    ref = g.agg(n_points=("p_kw", "size"), p_kw_mean=("p_kw", "mean"), p_kw_min=("p_kw", "min"),
                p_kw_max=("p_kw", "max"), e_kwh=("p_kw", "sum"),
                soc_percent_last=("soc_percent", "last"),  # last non-NaN value of the hour
                v_pu_min=("v_pu", "min"), v_pu_max=("v_pu", "max"))
    ref["e_kwh"] *= interval_h  # each point stands for one measurement interval
    return ref[COLS].astype(float)


def stored(sessions) -> pd.DataFrame:
    with sessions() as s:
        rows = s.execute(select(TelemetryHourly.device_id, TelemetryHourly.hour,
                                *(getattr(TelemetryHourly, c) for c in COLS))).all()
    df = pd.DataFrame(rows, columns=["device_id", "hour", *COLS])
    df["hour"] = pd.to_datetime(df["hour"], utc=True)
    return df.set_index(["device_id", "hour"]).sort_index().astype(float)


def assert_matches(got: pd.DataFrame, ref: pd.DataFrame) -> None:
    ref = ref.sort_index()
    assert list(got.index) == list(ref.index)
    pd.testing.assert_frame_equal(got, ref, rtol=1e-9, atol=1e-9, check_names=False)


def _raw(sessions) -> pd.DataFrame:
    with sessions() as s:
        rows = s.execute(select(Telemetry.device_id, Telemetry.time)).all()
    return pd.DataFrame(rows, columns=["device_id", "time"])


def t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=UTC)


def test_rollup_matches_the_reference_is_idempotent_and_rerolls_late_points(sessions):
    ids = _devices(sessions, 5)
    with sessions() as s:  # across a month boundary: two partitions on PostgreSQL
        ensure_partitions(s, t("2025-01-15"), months_ahead=1)
    df = _points(ids, "2025-01-30 20:00", 4 * 72, seed=1)
    _insert(sessions, df)
    with sessions() as s:
        n = rollup(s, t("2025-01-30 20:00"), t("2025-02-02 20:00"))
    ref = reference(df)
    assert n == len(ref)
    first = stored(sessions)
    assert_matches(first, ref)
    # e_kwh keeps the storage sign: a storage device charging only has positive energy
    assert (first["e_kwh"] * first["p_kw_mean"] >= 0).all()

    with sessions() as s:  # twice = same
        rollup(s, t("2025-01-30 20:00"), t("2025-02-02 20:00"))
    pd.testing.assert_frame_equal(stored(sessions), first)

    # late points: into gaps of an hour already rolled up, and into an hour that had none
    have = set(zip(df["device_id"], df["time"]))
    grid = pd.date_range("2025-02-01 05:00", periods=8, freq="15min", tz="UTC")
    late = pd.DataFrame([{"device_id": ids[1], "time": x, "p_kw": -3.5, "soc_percent": 55.0,
                          "v_pu": 1.1} for x in grid if (ids[1], x) not in have])
    assert len(late)
    late_new_hour = pd.DataFrame([{"device_id": ids[0], "time": pd.Timestamp(x, tz="UTC"),
                                   "p_kw": 4.0, "soc_percent": np.nan, "v_pu": np.nan}
                                  for x in ("2025-02-03 03:15", "2025-02-03 03:45")])
    _insert(sessions, late)
    _insert(sessions, late_new_hour)
    everything = pd.concat([df, late, late_new_hour], ignore_index=True)
    with sessions() as s:
        # any window touching the hour re-rolls the whole hour
        rollup(s, t("2025-02-01 05:50"), t("2025-02-01 06:10"))
        rollup(s, t("2025-02-03 03:00"), t("2025-02-03 04:00"))
    assert_matches(stored(sessions), reference(everything))


def test_rollup_refuses_naive_times(sessions):
    from gridint.errors import StoreError

    with sessions() as s, pytest.raises(StoreError, match="start: a time-zone aware"):
        rollup(s, dt.datetime(2025, 1, 1), t("2025-01-02"))


def _partitioned(sessions, first_month: str, months: int) -> None:
    with sessions() as s:
        ensure_partitions(s, t(first_month), months_ahead=months - 1)


def test_retention_trims_only_old_rolled_up_rows_and_never_loses_an_hour(sessions):
    ids = _devices(sessions, 2)
    _partitioned(sessions, "2025-01-01", 3)
    df = _points(ids, "2025-01-10 00:00", 4 * 24 * 70, seed=2, keep=0.8)  # 10 Jan .. 21 Mar
    _insert(sessions, df)
    now = t("2025-03-20 10:40")
    with sessions() as s:
        out = apply_retention(s, now, raw_days=30)
    cut = pd.Timestamp("2025-02-18 10:00", tz="UTC")  # now - 30 d, floored to the hour
    assert out["cut"] == cut.isoformat()
    raw = _raw(sessions)
    raw["time"] = pd.to_datetime(raw["time"], utc=True)
    assert raw["time"].min() >= cut
    assert len(raw) == (df["time"] >= cut).sum()                 # newer rows untouched
    ref = reference(df)
    hourly = stored(sessions)
    old = ref[ref.index.get_level_values("hour") < cut]
    assert_matches(hourly, old)                                 # every trimmed hour rolled up
    if sessions.kw["bind"].dialect.name == "postgresql":
        assert out["partitions_dropped"] == ["telemetry_partitions.p2025_01"]
        assert out["rows_deleted"] == ((df["time"] >= t("2025-02-01")) & (df["time"] < cut)).sum()
        names = {p["name"] for p in list_partitions(sessions())}
        assert "p2025_01" not in names and {"p2025_02", "p2025_03", "p_default"} <= names
    else:
        assert out["rows_deleted"] == (df["time"] < cut).sum()

    with sessions() as s:  # the newer hours roll up too; trimmed hours keep their roll-up
        rollup(s, t("2025-01-01"), t("2025-04-01"))
        again = apply_retention(s, now, raw_days=30)
    assert again["rows_deleted"] == 0 and again["partitions_dropped"] == []
    assert_matches(stored(sessions), ref)

    # a straggler into an hour trimmed long ago does not overwrite that hour's roll-up ...
    hour = pd.Timestamp("2025-01-20 10:00", tz="UTC")
    _insert(sessions, pd.DataFrame([{"device_id": ids[0], "time": hour + pd.Timedelta(seconds=1),
                                     "p_kw": 99.0, "soc_percent": np.nan, "v_pu": np.nan}]))
    with sessions() as s:
        rollup(s, hour.to_pydatetime(), (hour + pd.Timedelta(hours=1)).to_pydatetime())
        last = apply_retention(s, now, raw_days=30)
    assert last["rows_deleted"] == 1                             # ... and is trimmed
    assert_matches(stored(sessions), ref)
    assert len(_raw(sessions)) == (df["time"] >= cut).sum()


def test_retention_deletes_nothing_that_is_not_rolled_up(sessions, monkeypatch):
    ids = _devices(sessions, 2)
    _partitioned(sessions, "2025-01-01", 2)
    df = _points(ids, "2025-01-20 00:00", 4 * 24 * 30, seed=3)   # 20 Jan .. 18 Feb
    _insert(sessions, df)
    now = t("2025-02-19 00:00")
    monkeypatch.setattr(rollup_mod, "_upsert", lambda *a, **k: 0)  # a roll-up that writes nothing
    with sessions() as s:
        out = apply_retention(s, now, raw_days=10)
    assert out["rows_deleted"] == 0 and out["partitions_dropped"] == []
    pg = sessions.kw["bind"].dialect.name == "postgresql"
    if pg:  # January was detached, found not rolled up, and kept
        assert out["partitions_skipped"] == ["telemetry_partitions.p2025_01"]
        jan = rollup_mod._table("p2025_01", "telemetry_partitions")
        with sessions() as s:
            n_jan = s.execute(select(jan.c.device_id)).all()
        assert len(_raw(sessions)) + len(n_jan) == len(df)
        # while January is detached, its points go to DEFAULT: a re-sent one (already in
        # the detached table: counted once) and a new one (counted with its hour)
        resent = df.iloc[[5]]
        new = pd.DataFrame([{"device_id": ids[1], "time": pd.Timestamp("2025-01-25 06:00:30", tz="UTC"),
                             "p_kw": 1.5, "soc_percent": 42.0, "v_pu": 1.0}])
        _insert(sessions, pd.concat([resent, new]))
        df = pd.concat([df, new], ignore_index=True)
    else:
        assert len(_raw(sessions)) == len(df)
    monkeypatch.undo()
    with sessions() as s:  # the next run finishes the job (the detached month included)
        out = apply_retention(s, now, raw_days=10)
    cut = pd.Timestamp("2025-02-09", tz="UTC")
    if pg:
        assert out["partitions_dropped"] == ["telemetry_partitions.p2025_01"]
        assert {p["name"] for p in list_partitions(sessions())} >= {"p2025_02", "p_default"}
    assert len(_raw(sessions)) == (df["time"] >= cut).sum()
    ref = reference(df)
    assert_matches(stored(sessions), ref[ref.index.get_level_values("hour") < cut])


def test_hourly_retention_is_optional(sessions):
    from gridint.config import Settings

    ids = _devices(sessions, 1)
    df = _points(ids, "2025-01-01 00:00", 4 * 24 * 4, seed=4, keep=1.0)
    _insert(sessions, df)
    with sessions() as s:
        rollup(s, t("2025-01-01"), t("2025-01-05"))
        out = apply_retention(s, t("2025-01-05"), raw_days=1,
                              settings=Settings(telemetry_hourly_days=2))
    assert out["hourly_rows_deleted"] == 24 * 2
    assert stored(sessions).index.get_level_values("hour").min() == pd.Timestamp("2025-01-03", tz="UTC")
