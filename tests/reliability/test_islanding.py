"""Storage / PV islanding: cover-time kernel vs a slow integration, hand-derived RBTS cases, MC vs analytical."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridint.config import get_settings
from gridint.errors import ReliabilityError
from gridint.grid.profiles import ElementProfiles
from gridint.reliability import prepare, reliability_study
from gridint.reliability._kernels import island_cover_h, island_duration_h
from gridint.reliability.whatif import add_storage
from tests.reliability.data import rbts_bus2 as R

LP7_KW = R.LOAD_POINTS[7][1] * 1000.0  # average load of LP7 [kW]


def _slow_cover(e0, e_min, e_max, p_max, eff, net_kw, h0, max_h, dt=5e-4):
    """Integrate the battery energy in small steps (obvious reference)."""
    e, t = e0, 0.0
    n = len(net_kw)
    while t < max_h - 1e-12:
        p = net_kw[int(np.floor(h0 + t + 1e-12)) % n]
        if p > p_max:
            return t
        step = min(dt, max_h - t)
        if p > 0:
            need = p * step / eff
            if e - need < e_min:
                return t + max(e - e_min, 0.0) * eff / p
            e -= need
        else:
            e = min(e_max, e + min(-p, p_max) * step * eff)
        t += step
    return max_h


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cover_kernel_matches_slow_integration(seed):
    rng = np.random.default_rng(seed)
    net_kw = rng.uniform(-80, 120, 48)  # PV surplus some hours
    for h0 in (0.0, 5.3, 17.75):
        for max_h in (0.5, 3.0, 30.0):
            args = (150.0, 20.0, 300.0, 100.0, 0.93, net_kw, h0, max_h)
            assert island_cover_h(*args) == pytest.approx(_slow_cover(*args), abs=5e-3)


def test_cover_simple_cases():
    flat = np.full(24, 50.0)
    assert island_cover_h(100.0, 0.0, 200.0, 60.0, 1.0, flat, 0.0, 10.0) == pytest.approx(2.0)
    assert island_cover_h(100.0, 0.0, 200.0, 40.0, 1.0, flat, 0.0, 10.0) == 0.0  # inverter too small
    assert island_cover_h(100.0, 0.0, 200.0, 60.0, 1.0, np.full(24, -10.0), 0.0, 10.0) == 10.0  # PV surplus
    # interruption seen: 10 s to form the island, then 2 h covered out of 5 h
    t_isl = 10 / 3600
    assert island_duration_h(5.0, t_isl, 100.0, 0.0, 200.0, 60.0, 1.0, flat, 0.0) == pytest.approx(3.0)
    assert island_duration_h(1.0, t_isl, 100.0, 0.0, 200.0, 60.0, 1.0, flat, 0.0) == pytest.approx(t_isl)


def _with_battery(e_kwh, p_kw=2000.0, soc=100.0, **kw):
    net = R.rbts_bus2(**kw)
    lp7 = int(net.bus.index[net.bus["name"] == "LP7"][0])
    return add_storage(net, lp7, p_kw, e_kwh, soc_percent=soc)


def _lp(res, n):
    return next(d for d in res["load_points"] if d["name"] == f"LP{n}")


def test_large_battery_turns_lp7_interruptions_momentary():
    """LP7 (end of F1): every fault outside its own lateral is bridged by the island."""
    res = reliability_study(_with_battery(1e6, alternate_supply=False))
    d = _lp(res, 7)
    lam_own = R.LINE_FAULT_RATE_PER_KM_YEAR * R.LENGTH_KM[11] + R.TRAFO_FAULT_RATE_PER_YEAR
    u_own = R.LINE_FAULT_RATE_PER_KM_YEAR * R.LENGTH_KM[11] * 5 + R.TRAFO_FAULT_RATE_PER_YEAR * R.TRAFO_REPAIR_H
    mains = R.LINE_FAULT_RATE_PER_KM_YEAR * sum(R.LENGTH_KM[m] for m in R.MAINS["F1"])
    assert d["failure_rate_per_year"] == pytest.approx(lam_own)
    assert d["unavailability_h_per_year"] == pytest.approx(u_own)
    assert d["momentary_per_year"] == pytest.approx(mains)
    # the other load points do not change
    base = reliability_study(R.rbts_bus2(alternate_supply=False))
    for n in (1, 2, 6, 10, 22):
        assert _lp(res, n)["unavailability_h_per_year"] == pytest.approx(_lp(base, n)["unavailability_h_per_year"])
    assert res["islands"] == 4  # a fault in each F1 main zone cuts LP7 off


def test_small_battery_covers_two_hours():
    """Usable energy for 2 h of LP7's average load: 5 h repairs leave 3 h, 1 h switching is bridged."""
    s = get_settings()
    usable = 1.0 - s.reliability_storage_min_soc_percent / 100.0
    e_kwh = 2.0 * LP7_KW / (usable * s.reliability_storage_efficiency)
    res = reliability_study(_with_battery(e_kwh))
    d = _lp(res, 7)
    lam_line = R.LINE_FAULT_RATE_PER_KM_YEAR
    t_isl = s.reliability_island_transfer_s / 3600
    # own lateral / transformer: 5 h, 200 h; own main zone (L10, LP7 behind its fuse): islanded, 3 h left;
    # upstream mains: restored through the tie after 1 h, bridged (momentary)
    lam_own = lam_line * R.LENGTH_KM[11] + R.TRAFO_FAULT_RATE_PER_YEAR
    u = lam_line * R.LENGTH_KM[11] * 5 + R.TRAFO_FAULT_RATE_PER_YEAR * 200 + lam_line * R.LENGTH_KM[10] * 3.0
    assert d["unavailability_h_per_year"] == pytest.approx(u, rel=1e-9)
    assert d["failure_rate_per_year"] == pytest.approx(lam_own + lam_line * R.LENGTH_KM[10])
    up = lam_line * sum(R.LENGTH_KM[m] for m in (1, 4, 7))
    assert d["momentary_per_year"] == pytest.approx(up)
    assert t_isl < s.reliability_sustained_threshold_min / 60


def test_empty_battery_changes_nothing():
    base = reliability_study(R.rbts_bus2())
    net = _with_battery(5000.0)
    st = int(net.storage.index[0])
    res = reliability_study(net, soc_profiles={st: np.zeros(24)})
    assert res["system"]["saidi_h"] == pytest.approx(base["system"]["saidi_h"])
    off = reliability_study(net, islanding=False)
    assert off["system"]["saidi_h"] == pytest.approx(base["system"]["saidi_h"])
    with pytest.raises(ReliabilityError, match="soc_profiles"):
        reliability_study(net, soc_profiles={st: np.array([1.5])})


def test_monte_carlo_with_island_matches_analytical():
    s = get_settings()
    e_kwh = 2.0 * LP7_KW / ((1 - s.reliability_storage_min_soc_percent / 100) * s.reliability_storage_efficiency)
    prep = prepare(_with_battery(e_kwh))
    ana = reliability_study(None, prepared=prep)
    mc = reliability_study(None, "monte-carlo", years=60_000, seed=2, repair_distribution="fixed", prepared=prep)
    a7, m7 = _lp(ana, 7), _lp(mc, 7)
    assert m7["unavailability_h_per_year"] == pytest.approx(a7["unavailability_h_per_year"], rel=0.05)
    assert m7["momentary_per_year"] == pytest.approx(a7["momentary_per_year"], rel=0.05)
    assert mc["system"]["saidi_h"] == pytest.approx(ana["system"]["saidi_h"], rel=0.03)


def test_pv_and_profiles_help_by_day():
    """With a profile year, PV in the island extends the cover by day (SAIDI falls)."""
    s = get_settings()
    e_kwh = 1.0 * LP7_KW / ((1 - s.reliability_storage_min_soc_percent / 100) * s.reliability_storage_efficiency)
    net = _with_battery(e_kwh, alternate_supply=False)
    lp7_bus = int(net.bus.index[net.bus["name"] == "LP7"][0])
    import pandapower as pp

    pp.create_sgen(net, lp7_bus, p_mw=0.6, name="PV-LP7", type="PV")
    idx = pd.date_range("2024-01-01", periods=24 * 4 * 7, freq="15min", tz="Asia/Shanghai")
    hour = idx.hour + idx.minute / 60
    pv_shape = np.clip(np.sin((hour - 6) / 12 * np.pi), 0, None)
    load = pd.DataFrame({i: np.full(len(idx), net.load.at[i, "p_avg_mw"]) for i in net.load.index})
    zero_pv = pd.DataFrame({net.sgen.index[0]: np.zeros(len(idx))})
    with_pv = pd.DataFrame({net.sgen.index[0]: 0.6 * pv_shape})
    r0 = reliability_study(net, profiles=ElementProfiles(idx, {"load_p_mw": load, "sgen_p_mw": zero_pv}))
    r1 = reliability_study(net, profiles=ElementProfiles(idx, {"load_p_mw": load, "sgen_p_mw": with_pv}))
    assert _lp(r1, 7)["unavailability_h_per_year"] < _lp(r0, 7)["unavailability_h_per_year"]
    # without PV and a flat load the profile year gives the constant-load answer
    r_const = reliability_study(net)
    assert _lp(r0, 7)["unavailability_h_per_year"] == pytest.approx(_lp(r_const, 7)["unavailability_h_per_year"],
                                                                     rel=1e-9)
