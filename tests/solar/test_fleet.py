"""PV fleet model: systems from nets, pvlib ModelChain agreement, yield, injections."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pvlib
import pytest
from pvlib.modelchain import ModelChain
from pvlib.pvsystem import PVSystem

from gridint.errors import FeederError, ProfileError, WeatherError
from gridint.grid import load_feeder
from gridint.grid.profiles import locate_time
from gridint.powerflow import compile_net, element_injections, run_batch
from gridint.solar import fleet
from gridint.solar.weather import default_weather, location, weather_for_period


@pytest.fixture(scope="module")
def year():
    return default_weather()


@pytest.fixture(scope="module")
def rural():
    return load_feeder("xt-county-rural")


def _days(weather, *days):
    return pd.concat([weather.loc[d] for d in days])


# ------------------------------------------------------------------ systems

def test_pv_systems_xiangtan_columns_and_defaults(rural):
    net = rural.net
    sy = fleet.pv_systems(net)
    assert list(sy.columns) == list(fleet.SYSTEM_COLUMNS)
    assert list(sy.index) == list(net.sgen.index[net.sgen.in_service])
    np.testing.assert_allclose(sy["ac_kw"], net.sgen["p_mw"] * 1000.0)
    np.testing.assert_allclose(sy["kwp"], net.sgen["kwp"])
    assert (sy["bus"].to_numpy() == net.sgen["bus"].to_numpy()).all()
    assert set(sy["category"]) == set(net.sgen["load_class"])   # residential, agricultural
    assert sy["tilt_deg"].between(20.0, 30.0).all()
    assert sy["azimuth_deg"].between(150.0, 210.0).all()
    assert sy["tilt_deg"].nunique() > 5                        # not all the same roof
    assert (sy["mounting"] == "roof").all() and (sy["losses_percent"] == 14.08).all()
    # deterministic, and a system keeps its roof whatever else is on the net
    again = fleet.pv_systems(net)
    pd.testing.assert_frame_equal(sy, again)
    sub = copy.deepcopy(net)
    sub.sgen = sub.sgen.drop(index=sub.sgen.index[:5])
    pd.testing.assert_frame_equal(fleet.pv_systems(sub), sy.iloc[5:])


def test_pv_systems_industrial_roofs_are_low_tilt():
    sy = fleet.pv_systems(load_feeder("xt-jingkai-industrial").net)
    ind = sy[sy["category"].isin(["industrial", "commercial"])]
    assert len(ind) == len(sy) > 0
    assert ind["tilt_deg"].between(6.0, 10.0).all()


def test_pv_systems_other_nets_only_pv_types():
    cigre = load_feeder("cigre-mv-der").net
    sy = fleet.pv_systems(cigre)
    assert set(cigre.sgen.loc[sy.index, "type"]) == {"PV"}
    assert len(sy) == (cigre.sgen["type"] == "PV").sum()
    np.testing.assert_allclose(sy["kwp"], 1.1 * sy["ac_kw"])
    assert (sy["category"] == "unknown").all()
    assert len(fleet.pv_systems(load_feeder("case33bw").net)) == 0


def test_pv_systems_simbench_lv_res_counts_as_pv():
    net = pd.DataFrame({"type": ["lv_RES", "PV_MV", "Wind_MV", "Biomass_MV", "Hydro_MV"],
                        "bus": [1, 2, 3, 4, 5], "p_mw": [0.16, 0.2, 2.0, 0.3, 0.4],
                        "sn_mva": [0.16, 0.2, 2.0, 0.3, 0.4], "in_service": True})

    class Net:  # just the sgen table
        sgen = net

    sy = fleet.pv_systems(Net())
    assert list(sy.index) == [0, 1]


def test_pv_systems_overrides_and_errors(rural):
    net = copy.deepcopy(rural.net)
    net.sgen["tilt_deg"] = np.nan
    net.sgen.loc[0, "tilt_deg"] = 33.0
    net.sgen["mounting"] = None
    net.sgen.loc[1, "mounting"] = "rack"
    sy = fleet.pv_systems(net)
    assert sy.loc[0, "tilt_deg"] == 33.0 and sy.loc[1, "mounting"] == "rack"
    net.sgen.loc[2, "tilt_deg"] = 95.0
    with pytest.raises(FeederError, match="tilt_deg"):
        fleet.pv_systems(net)
    net.sgen.loc[2, "tilt_deg"] = 20.0
    net.sgen.loc[3, "mounting"] = "pole"
    with pytest.raises(FeederError, match="pole"):
        fleet.pv_systems(net)


# ------------------------------------------------------------------ pvlib reference

def _modelchain_ac_kw(row, weather: pd.DataFrame, loc, gamma=-0.0037) -> pd.Series:
    """Independent reference: one pvlib ModelChain per system, PVWatts chain.

    The interval-mean weather (gridint convention, beginning labels) is given to
    ModelChain at the interval centres, where the default year's clear sky was
    evaluated.
    """
    temp = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"][fleet.MOUNTINGS[row.mounting]]
    losses = dict(soiling=row.losses_percent, shading=0, snow=0, mismatch=0, wiring=0,
                  connections=0, lid=0, nameplate_rating=0, age=0, availability=0)
    system = PVSystem(surface_tilt=row.tilt_deg, surface_azimuth=row.azimuth_deg, albedo=0.2,
                      module_parameters={"pdc0": row.kwp, "gamma_pdc": gamma},
                      inverter_parameters={"pdc0": row.ac_kw / 0.96, "eta_inv_nom": 0.96},
                      temperature_model_parameters=temp, losses_parameters=losses)
    mc = ModelChain(system, loc, dc_model="pvwatts", ac_model="pvwatts", aoi_model="physical",
                    spectral_model="no_loss", temperature_model="sapm",
                    transposition_model="perez", losses_model="pvwatts")
    centred = weather.copy()
    centred.index = weather.index + pd.Timedelta(minutes=7.5)
    mc.run_model(centred)
    ac = mc.results.ac.fillna(0.0).clip(lower=0.0)
    ac.index = weather.index
    return ac


def test_fleet_agrees_with_pvlib_modelchain(year):
    weather = _days(year, "2024-01-15", "2024-04-02", "2024-07-20", "2024-07-21", "2024-10-08")
    loc = location()
    systems = pd.DataFrame({
        "bus": [1, 2, 3], "kwp": [11.0, 1000.0, 5.5], "ac_kw": [10.0, 500.0, 5.0],
        "tilt_deg": [25.0, 8.0, 22.0], "azimuth_deg": [180.0, 203.0, 158.0],
        "mounting": ["roof", "rack", "roof"], "losses_percent": [14.08, 10.0, 14.08],
        "category": ["residential", "industrial", "residential"]}, index=[4, 9, 2])
    ac = fleet.fleet_ac_kw(systems, weather)
    assert ac.shape == (len(weather), 3) and list(ac.columns) == [4, 9, 2]
    for sid, row in systems.iterrows():
        ref = _modelchain_ac_kw(row, weather, loc)
        assert ac[sid].sum() == pytest.approx(ref.sum(), rel=0.005)
        assert (ac[sid] - ref).abs().max() <= 0.005 * row.ac_kw
    # the DC/AC 2.0 system clips at its AC rating, never above
    assert ac[9].max() == pytest.approx(500.0, rel=1e-9)


def test_orientation_rounding_error_is_small(year):
    weather = _days(year, "2024-03-05", "2024-06-21", "2024-09-30", "2024-12-21")
    systems = pd.DataFrame({
        "bus": [1, 1], "kwp": [5.0, 80.0], "ac_kw": [4.5, 70.0], "tilt_deg": [24.6, 7.4],
        "azimuth_deg": [183.4, 151.6], "mounting": ["roof", "roof"],
        "losses_percent": [14.08, 14.08], "category": ["residential", "industrial"]})
    exact = fleet.fleet_ac_kw(systems, weather, orientation_step_deg=0)
    grouped = fleet.fleet_ac_kw(systems, weather, orientation_step_deg=1.0)
    np.testing.assert_allclose(grouped.sum(), exact.sum(), rtol=0.005)


def test_fleet_weather_checks(year):
    systems = fleet.pv_systems(load_feeder("xt-yuetang-urban").net)
    w = year.loc["2024-05-01"]
    with pytest.raises(WeatherError, match="time-zone"):
        fleet.fleet_ac_kw(systems, w.tz_localize(None))
    bad = w.copy()
    bad.iloc[40, bad.columns.get_loc("ghi")] = np.nan
    with pytest.raises(WeatherError, match="ghi"):
        fleet.fleet_ac_kw(systems, bad)
    bad = w.copy()
    bad.iloc[40, bad.columns.get_loc("dhi")] = -5.0
    with pytest.raises(WeatherError, match="negative"):
        fleet.fleet_ac_kw(systems, bad)
    with pytest.raises(WeatherError, match="dni"):
        fleet.fleet_ac_kw(systems, w.drop(columns="dni"))


def test_night_zero_and_clearsky_bounds(year):
    systems = fleet.pv_systems(load_feeder("xt-jingkai-industrial").net)
    w = year.loc["2024-06-01":"2024-06-03"]
    ac = fleet.fleet_ac_kw(systems, w)
    cs = fleet.clearsky_fleet_ac_kw(systems, w.index)
    assert (ac.to_numpy() >= 0).all() and (cs.to_numpy() >= 0).all()
    assert (ac.to_numpy() <= systems["ac_kw"].to_numpy() * (1 + 1e-12)).all()
    night = (w["ghi"] == 0).to_numpy()
    assert night.sum() > 100 and (ac.to_numpy()[night] == 0).all()
    # clear sky (pvlib Ineichen, 25 degC) bounds the day's energy of every system
    assert (ac.sum() <= cs.sum()).all()


def test_specific_yield_default_year_in_published_range(year):
    """25 deg south roof, Xiangtan default year: 850-1,150 kWh/kWp/yr.

    The figure usually quoted for rooftop PV in Changsha/Hunan (resource class
    IV) is about 1,000 kWh/kWp/yr; see sims/RESULTS.md for the comparison.
    """
    y = fleet.specific_yield_kwh_per_kwp(year, tilt_deg=25.0, azimuth_deg=180.0)
    assert 850.0 <= y <= 1150.0
    # performance ratio against the plane-of-array insolation is a plausible PVWatts one
    sp = location().get_solarposition(year.index + pd.Timedelta(minutes=7.5))
    poa = pvlib.irradiance.get_total_irradiance(
        25.0, 180.0, sp["apparent_zenith"].to_numpy(), sp["azimuth"].to_numpy(),
        year["dni"].to_numpy(), year["ghi"].to_numpy(), year["dhi"].to_numpy(),
        dni_extra=pvlib.irradiance.get_extra_radiation(sp.index).to_numpy(), model="perez",
        albedo=0.2)
    h_poa = np.nansum(poa["poa_global"]) * 0.25 / 1000.0
    assert 0.70 <= y / h_poa <= 0.85


def test_bus_pv_kw_sums_per_bus(year, rural):
    systems = fleet.pv_systems(rural.net)
    ac = fleet.fleet_ac_kw(systems, year.loc["2024-08-08"])
    bus = fleet.bus_pv_kw(systems, ac)
    assert list(bus.columns) == sorted(systems["bus"].unique())
    for b in bus.columns:
        ids = systems.index[systems["bus"] == b]
        np.testing.assert_allclose(bus[b], ac[ids].sum(axis=1))


# ------------------------------------------------------------------ power flow

def test_profile_positions_map_any_date_by_month_day(rural):
    ti = rural.profiles.time_index  # 2024, Asia/Shanghai, 15 min
    when = pd.DatetimeIndex(["2031-02-28 22:07", "2031-03-01 00:00", "2024-07-15 12:00",
                             "2024-12-31 15:50"], tz="Asia/Shanghai")
    when = when.append(pd.DatetimeIndex(["2024-12-31 15:50"], tz="UTC").tz_convert("Asia/Shanghai"))
    expected = [ti.get_loc(pd.Timestamp(t, tz="Asia/Shanghai")) for t in
                ("2024-02-28 22:00", "2024-03-01 00:00", "2024-07-15 12:00",
                 "2024-12-31 15:45", "2024-12-31 23:45")]
    np.testing.assert_array_equal(fleet.profile_positions(ti, when), expected)
    assert locate_time(ti, "2031-02-28T22:07+08:00") == expected[0]
    non_leap = pd.date_range("2023-01-01", periods=365 * 96, freq="15min", tz="Asia/Shanghai")
    feb29 = pd.date_range("2028-02-29 11:00", periods=4, freq="15min", tz="Asia/Shanghai")
    start = non_leap.get_loc(pd.Timestamp("2023-02-28 11:00", tz="Asia/Shanghai"))
    np.testing.assert_array_equal(fleet.profile_positions(non_leap, feb29), start + np.arange(4))
    with pytest.raises(ProfileError):
        fleet.profile_positions(non_leap[:96], feb29)


def test_pv_injections_equal_element_injections_and_power_flow_runs(rural):
    weather = weather_for_period("2026-07-14", "2026-07-15")
    compiled = compile_net(rural.net, name=rural.name)
    p, q = fleet.pv_injections(compiled, rural, weather)
    assert p.shape == q.shape == (96, compiled.n_bus)
    # independent assembly: profile rows found one by one, fleet AC power as sgen_p_mw
    prof = rural.profiles
    pos = [locate_time(prof.time_index, t) for t in weather.index]
    systems = fleet.pv_systems(rural.net)
    sgen = fleet.fleet_ac_kw(systems, weather) / 1000.0
    loads = {k: prof.values[k].iloc[pos].set_axis(weather.index)
             for k in ("load_p_mw", "load_q_mvar")}
    p_ref, q_ref = element_injections(compiled, sgen_p_mw=sgen, **loads)
    np.testing.assert_allclose(p, p_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(q, q_ref, rtol=0, atol=1e-12)
    assert sgen.to_numpy().max() > 0.05                     # a sunny-ish July day
    res = run_batch(compiled, p, q, time_index=weather.index)
    assert res.converged.all()
    assert np.nanmax(res.vm_pu) < 1.2 and np.nanmin(res.vm_pu) > 0.8


def test_pv_injections_without_profiles_keep_snapshot_loads():
    feeder = load_feeder("cigre-mv-der")
    weather = weather_for_period("2025-05-05", "2025-05-06")
    compiled = compile_net(feeder.net)
    p, q = fleet.pv_injections(compiled, feeder, weather)
    systems = fleet.pv_systems(feeder.net)
    sgen = fleet.fleet_ac_kw(systems, weather) / 1000.0
    p_ref, q_ref = element_injections(compiled, sgen_p_mw=sgen,
                                      sgen_q_mvar=pd.DataFrame(0.0, index=weather.index,
                                                               columns=systems.index))
    np.testing.assert_allclose(p, p_ref, atol=1e-12)
    np.testing.assert_allclose(q, q_ref, atol=1e-12)
    # night: only loads and the non-PV generators of the file
    night = int(np.flatnonzero(weather["ghi"].to_numpy() == 0)[0])
    p_night, _ = element_injections(compiled, sgen_p_mw=sgen.iloc[[night]] * 0.0)
    np.testing.assert_allclose(p[night], p_night[0], atol=1e-12)
    bare = load_feeder("case33bw")
    p0, _ = fleet.pv_injections(compile_net(bare.net), bare, weather)
    assert p0.shape[0] == len(weather) and np.allclose(p0, p0[0])
