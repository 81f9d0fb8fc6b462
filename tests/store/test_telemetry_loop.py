"""Telemetry closes the loop (issue 10): measured PV feeds the intraday forecast,
measured SoC the intraday re-dispatch, on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from gridint.errors import StoreError
from gridint.store import repo
from gridint.store.db import write_transaction
from gridint.telemetry import ingest, register_device
from gridint.telemetry.loop import (feeder_measurements, measured_pv_pu, measured_soc, storage_device_map,
                                    upscale_pv)

FEEDER = "xt-jingkai-industrial"
TZ = "Asia/Shanghai"


def _slow_upscale(points, rating, index, min_share):
    """Obvious reference: loop over quarter-hours and devices."""
    out = []
    total = sum(rating.values())
    for t in index:
        p = r = 0.0
        for dev, kw in rating.items():
            vals = [row.p_kw for row in points.itertuples()
                    if row.device == dev and t <= row.time < t + pd.Timedelta(minutes=15)]
            if vals:
                p += sum(vals) / len(vals)
                r += kw
        out.append(p / r if r > 0 and r >= min_share * total else np.nan)
    return np.array(out)


def test_upscale_pv_matches_a_slow_reference():
    rng = np.random.default_rng(7)
    index = pd.date_range("2025-06-01 06:00", periods=24, freq="15min", tz=TZ)
    rating = {f"pv{k}": float(rng.uniform(3, 60)) for k in range(9)}
    rows = []
    for dev, kw in rating.items():
        one_min = dev in ("pv1", "pv2")            # 1-minute devices: 15 points per step
        for t in index:
            if rng.random() < 0.25:                 # gaps
                continue
            for m in range(15 if one_min else 1):
                rows.append({"device": dev, "time": (t + pd.Timedelta(minutes=m)).tz_convert("UTC"),
                             "p_kw": float(rng.uniform(0, kw))})
    rows.append({"device": "stranger", "time": index[3], "p_kw": 999.0})   # not registered: ignored
    points = pd.DataFrame(rows).sample(frac=1.0, random_state=1)           # out of order
    for share in (0.3, 0.8):
        got = upscale_pv(points, pd.Series(rating), index, share)
        ref = _slow_upscale(points, rating, index, share)
        assert got.index.equals(index)
        np.testing.assert_allclose(got.to_numpy(), ref, rtol=1e-12, equal_nan=True)
    assert np.isnan(upscale_pv(points, pd.Series(rating), index, 0.8)).sum() > 0   # thin steps dropped
    with pytest.raises(StoreError, match="index"):
        upscale_pv(points, pd.Series(rating), index.tz_localize(None), 0.3)


def test_storage_device_map_by_name_then_single_unit_at_the_bus():
    got = storage_device_map([("U1", "b9"), ("meter-7", "b2"), ("meter-8", "b3"), ("x", "b4")],
                             ["U1", "C2", "C3a", "C3b"], ["b1", "b2", "b3", "b3"])
    assert got == {"U1": "U1", "meter-7": "C2"}     # b3 has two units, b4 none


def _users(sessions):
    with sessions() as s, write_transaction(s):
        op, _ = repo.create_user(s, "oscar", "operator")
        owner, _ = repo.create_user(s, "ivy", "installer")
    return op.id, owner.id


def _pv_devices(s, owner, net, n=4):
    systems = net.sgen.head(n)
    out = {}
    for k, (idx, row) in enumerate(systems.iterrows()):
        name = f"pv-{k}"
        kw = float(row["p_mw"] * 1000 or 50.0)
        register_device(s, owner, name=name, feeder=FEEDER, bus=str(net.bus.at[row["bus"], "name"]),
                        kind="pv", rating_kw=kw)
        out[name] = kw
    return out


def test_measured_soc_and_pv_from_the_store(sessions, catalog_feeder):
    net = catalog_feeder(FEEDER).net
    op_id, owner_id = _users(sessions)
    now = pd.Timestamp("2025-06-02 11:00", tz=TZ)
    st = net.storage
    bus = net.bus["name"]
    with sessions() as s:
        owner = s.get(type(repo.user_by_name(s, "ivy")), owner_id)
        rating = _pv_devices(s, owner, net)
        # a device named like the utility battery, one metering a customer battery at its
        # bus, and a stale one at another customer battery
        register_device(s, owner, name=str(st.at[0, "name"]), feeder=FEEDER, bus=str(bus.at[st.at[0, "bus"]]),
                        kind="storage", rating_kw=500, energy_kwh=1900)
        register_device(s, owner, name="meter-c1", feeder=FEEDER, bus=str(bus.at[st.at[1, "bus"]]),
                        kind="storage", rating_kw=250, energy_kwh=500)
        register_device(s, owner, name="meter-c2", feeder=FEEDER, bus=str(bus.at[st.at[2, "bus"]]),
                        kind="storage", rating_kw=400, energy_kwh=890)
        user = repo.user_by_name(s, "ivy")
        pts = [{"device": str(st.at[0, "name"]), "time": (now - pd.Timedelta(minutes=30)).isoformat(),
                "p_kw": 100.0, "soc_percent": 40.0},
               {"device": str(st.at[0, "name"]), "time": (now - pd.Timedelta(minutes=15)).isoformat(),
                "p_kw": 100.0, "soc_percent": 42.5},
               {"device": str(st.at[0, "name"]), "time": (now + pd.Timedelta(minutes=15)).isoformat(),
                "p_kw": 100.0, "soc_percent": 99.0},                        # the future: ignored
               {"device": "meter-c1", "time": (now - pd.Timedelta(minutes=15)).isoformat(),
                "p_kw": -50.0, "soc_percent": 71.0},
               {"device": "meter-c2", "time": (now - pd.Timedelta(hours=3)).isoformat(),
                "p_kw": 0.0, "soc_percent": 12.0}]                          # stale
        steps = pd.date_range(now - pd.Timedelta(hours=4), now, freq="15min", inclusive="left")
        for k, t in enumerate(steps):
            for j, (dev, kw) in enumerate(rating.items()):
                if j == 0 and k % 2:          # one device with gaps
                    continue
                pts.append({"device": dev, "time": t.isoformat(), "p_kw": round(0.5 * kw, 3)})
        res = ingest(s, user, pts)
        assert res.rejected == [] and res.accepted == len(pts)

        soc, info = measured_soc(s, FEEDER, net, now)
        assert soc == {str(st.at[0, "name"]): 42.5, str(st.at[1, "name"]): 71.0}
        assert info["stale"] == ["meter-c2"] and info["mapped"] == 3
        pv, pinfo = measured_pv_pu(s, FEEDER, now - pd.Timedelta(hours=6), now)
        assert pinfo["devices"] == 4 and pinfo["points"] == len(pts) - 5
        assert str(pv.index.tz) == TZ and len(pv) == 24
        assert pv.iloc[:8].isna().all()                       # before any data
        np.testing.assert_allclose(pv.iloc[8:].to_numpy(), 0.5, rtol=1e-5)  # p_kw sent to 1 W
        both = feeder_measurements(s, FEEDER, net, now)
        assert both["measured_soc"] == soc and both["measured_pv_pu"].notna().sum() == 16
        with pytest.raises(StoreError, match="now: a time zone"):
            measured_soc(s, FEEDER, net, dt.datetime(2025, 6, 2, 11))


def test_intraday_forecast_starts_from_measured_pv(catalog_feeder):
    """Under a persistent overcast (fleet at 0.25 of clear sky all day, an independent
    'truth'), the next-quarter forecast from measured PV is near the truth; from the
    modelled weather history it is not."""
    from gridint.solar.fleet import clearsky_fleet_ac_kw, pv_systems
    from gridint.solar.forecast import forecast_feeder

    feeder = catalog_feeder(FEEDER)
    systems = pv_systems(feeder.net)
    issue = pd.Timestamp("2024-07-15 11:00", tz=TZ)
    hist = pd.date_range(issue - pd.Timedelta(hours=48), issue + pd.Timedelta(hours=4), freq="15min",
                         inclusive="left")
    cs = clearsky_fleet_ac_kw(systems, hist).sum(axis=1)
    ac = float(systems["ac_kw"].sum())
    truth = 0.25 * cs
    measured_pu = (truth / ac)[hist < issue]
    got = forecast_feeder(feeder, issue.date(), horizon="intraday", issue_time=issue, measured_pu=measured_pu)
    base = forecast_feeder(feeder, issue.date(), horizon="intraday", issue_time=issue)
    assert got["history"] == "measured" and got["measured_steps"] == 192 and base["history"] == "weather model"
    target = pd.DatetimeIndex(pd.to_datetime(got["timestamps"]))
    want = truth.reindex(target).to_numpy()
    err_measured = abs(got["pv_kw_p50"][0] - want[0]) / want[0]
    err_model = abs(base["pv_kw_p50"][0] - want[0]) / want[0]
    assert err_measured < 0.25 and err_model > 2 * err_measured
    # the truth sits inside the P10..P90 band for the first hour
    assert all(lo <= w <= hi for lo, w, hi in zip(got["pv_kw_p10"][:4], want[:4], got["pv_kw_p90"][:4]))
    with pytest.raises(Exception, match="measured_pu"):
        forecast_feeder(feeder, issue.date(), horizon="intraday", issue_time=issue,
                        measured_pu=measured_pu.tz_localize(None))


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"])
def test_intraday_job_redispatches_from_measured_soc_and_pv(db_kind, tmp_path, catalog_feeder, monkeypatch):
    """The scheduler's intraday run reads the store: its plan starts from the measured SoC
    (energy balance of the first step checked by hand) and the measured PV history."""
    from gridint import scheduler as gs
    from gridint.config import get_settings
    from gridint.store import init_db, latest_dispatch_plan, make_sessionmaker

    from tests.store.postgres import database_url

    db_url = database_url(db_kind, tmp_path)
    monkeypatch.setenv("GRIDINT_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        sessions = make_sessionmaker(init_db(db_url))
        feeder = catalog_feeder(FEEDER)
        monkeypatch.setitem(gs._FEEDERS, FEEDER, feeder)
        net = feeder.net
        now = pd.Timestamp("2024-07-15 10:00", tz=TZ)
        unit = str(net.storage.at[0, "name"])
        _users(sessions)
        with sessions() as s:
            owner = repo.user_by_name(s, "ivy")
            rating = _pv_devices(s, owner, net)
            register_device(s, owner, name=unit, feeder=FEEDER,
                            bus=str(net.bus.at[net.storage.at[0, "bus"], "name"]),
                            kind="storage", rating_kw=500, energy_kwh=1900)
            steps = pd.date_range(now - pd.Timedelta(hours=3), now, freq="15min", inclusive="left")
            pts = [{"device": d, "time": t.isoformat(), "p_kw": round(0.2 * kw, 3)}
                   for t in steps for d, kw in rating.items()]
            pts.append({"device": unit, "time": (now - pd.Timedelta(minutes=15)).isoformat(),
                        "p_kw": 0.0, "soc_percent": 83.0})
            assert not ingest(s, owner, pts).rejected
        out = gs.run_intraday(now.isoformat(), feeders=[FEEDER])
        tele = out["planned"][FEEDER]["telemetry"]
        assert tele["soc"]["fresh"] == 1 and tele["pv"]["steps"] == 12 and tele["pv"]["devices"] == 4
        rec = latest_dispatch_plan(FEEDER, now.date().isoformat(), "intraday", database_url=db_url)
        assert "from measured PV" in rec["source"] and "SoC measured for 1 of 3 units" in rec["source"]
        info = {u["name"]: u for u in rec["unit_info"]}
        assert info[unit]["soc_init_percent"] == 83.0
        assert rec["timestamps"][0].startswith("2024-07-15T10:00")
        # first step by hand: SoC_1 = SoC_0 + (eta_c p+ - p- / eta_d) dt / E
        p = next(u for u in rec["units"] if u["name"] == unit)["p_kw"][0]
        soc1 = next(u for u in rec["units"] if u["name"] == unit)["soc_percent"][0]
        e_kwh = float(net.storage.at[0, "max_e_mwh"]) * 1000
        eta_c, eta_d = info[unit]["eff_charge"], info[unit]["eff_discharge"]
        de = (eta_c * max(p, 0.0) - max(-p, 0.0) / eta_d) * 0.25
        assert soc1 == pytest.approx(83.0 + 100 * de / e_kwh, abs=2e-3)
    finally:
        get_settings.cache_clear()
