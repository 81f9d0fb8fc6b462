"""Sequential Monte Carlo: kernel vs a slow obvious reference, means vs analytical, distributions."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from gridint.config import get_settings
from gridint.errors import ReliabilityError
from gridint.reliability import prepare, reliability_study
from gridint.reliability._kernels import island_expectation, mc_accumulate, mc_island_correction
from gridint.reliability.montecarlo import failure_events, simulate
from tests.reliability.data import rbts_bus2 as R


@pytest.fixture(scope="module")
def rbts_replacement():
    return prepare(R.rbts_bus2(trafo_repair_h=R.TRAFO_REPLACEMENT_H))


def _slow_reference(m, table, comp, t, ttr, years, thr_h):
    """Plain-Python accumulation of the same events (no islands)."""
    kind, sw_time = table.dense(m.n_loads)
    n_sust = np.zeros(m.n_loads)
    dur = np.zeros(m.n_loads)
    n_mom = np.zeros(m.n_loads)
    year_cmi = np.zeros(years)
    for c, ti, r in zip(comp, t, ttr):
        y = int(ti // 8760.0)
        if y >= years:
            continue
        z = table.comp_zone[c]
        for i in range(m.n_loads):
            if kind[z, i] == 0:
                continue
            d = r if kind[z, i] == 2 else min(sw_time[z, i], r)
            if d > thr_h:
                n_sust[i] += 1
                dur[i] += d
                year_cmi[y] += m.load_customers[i] * d
            elif d > 0:
                n_mom[i] += 1
    return n_sust, dur, n_mom, year_cmi


def test_kernel_matches_slow_reference(rbts_replacement):
    m, table, _, _ = rbts_replacement
    years = 300
    comp, t, ttr = failure_events(m.comp_rate_per_year, m.comp_repair_h, years, 7)
    thr = 0.05
    # switching 1 h; make some repairs shorter than the switching and the threshold
    ttr = ttr.copy()
    ttr[::7] = 0.5
    ttr[::11] = 0.01
    out = mc_accumulate(comp, t, ttr, table.comp_zone, table.zone_ptr, table.zone_load, table.zone_kind,
                        table.zone_time_h, thr, years, 8760.0, m.load_customers.astype(float), m.load_p_avg_mw)
    n_sust, dur, n_mom, year_cmi = _slow_reference(m, table, comp, t, ttr, years, thr)
    np.testing.assert_array_equal(out[0], n_sust)
    np.testing.assert_allclose(out[1], dur, rtol=1e-12)
    np.testing.assert_array_equal(out[2], n_mom)
    np.testing.assert_allclose(out[3][:, 1], year_cmi, rtol=1e-12)
    assert n_mom.sum() > 0 and n_sust.sum() > 100


def test_failure_events_statistics():
    rate = np.array([0.5, 2.0, 0.0])
    rep = np.array([100.0, 5.0, 3.0])
    years = 20_000
    comp, t, ttr = failure_events(rate, rep, years, 3)
    assert np.all(t >= 0) and np.all(t < years * 8760)
    for c in (0, 1):
        sel = comp == c
        # alternating renewal process: frequency 1 / (MTTF + MTTR)
        expect = years * 8760 / (8760 / rate[c] + rep[c])
        assert sel.sum() == pytest.approx(expect, rel=4 / np.sqrt(expect))
        assert ttr[sel].mean() == pytest.approx(rep[c], rel=0.03)
        times = np.sort(t[sel])
        assert np.all(np.diff(times) > 0)
    assert not np.any(comp == 2)
    _, _, ttr_ln = failure_events(rate, rep, 5000, 4, "lognormal", 0.8)
    assert ttr_ln.mean() > 0
    _, _, ttr_fix = failure_events(rate, rep, 100, 5, "fixed")
    assert set(np.unique(ttr_fix)) <= {100.0, 5.0}
    with pytest.raises(ReliabilityError, match="repair_distribution"):
        failure_events(rate, rep, 10, 1, "weibull")


def test_mean_agrees_with_analytical_fixed_repair(rbts_replacement):
    """Fixed repair times: the simulated means estimate the analytical ones exactly."""
    ana = reliability_study(None, prepared=rbts_replacement)["system"]
    mc = reliability_study(None, "monte-carlo", years=100_000, seed=11, repair_distribution="fixed",
                           prepared=rbts_replacement)["system"]
    for key in ("saifi", "saidi_h", "ens_mwh_per_year"):
        assert mc[key] == pytest.approx(ana[key], rel=0.02), key
    assert abs(mc["saidi_h"] - ana["saidi_h"]) < 4 * mc["saidi_h_stderr"]
    assert abs(mc["saifi"] - ana["saifi"]) < 4 * mc["saifi_stderr"]


def test_mean_agrees_with_analytical_exponential_base():
    """Default exponential repair, base case (published SAIDI 3.61 h): within 2 %."""
    prep = prepare(R.rbts_bus2())
    ana = reliability_study(None, prepared=prep)["system"]
    mc = reliability_study(None, "monte-carlo", years=400_000, seed=5, prepared=prep)["system"]
    assert mc["repair_distribution"] == "exponential"
    for key in ("saifi", "saidi_h", "ens_mwh_per_year"):
        assert mc[key] == pytest.approx(ana[key], rel=0.02), key
    # exponential repairs shorter than 3 min become momentary: a little MAIFI, SAIFI slightly low
    assert 0 < mc["maifi"] < 0.01 * mc["saifi"]
    assert mc["saidi_h_p10"] <= mc["saidi_h_p50"] <= mc["saidi_h_p90"]
    assert mc["saidi_h_p10"] == 0.0  # most years see no transformer failure on a large load point
    assert mc["saidi_h_p90"] > mc["saidi_h"]  # long tail: mean above the median


def test_seeded_and_reproducible(rbts_replacement):
    a = reliability_study(None, "monte-carlo", years=2000, seed=3, prepared=rbts_replacement)
    b = reliability_study(None, "monte-carlo", years=2000, seed=3, prepared=rbts_replacement)
    c = reliability_study(None, "monte-carlo", years=2000, seed=4, prepared=rbts_replacement)
    assert a["system"] == b["system"]
    assert a["system"]["saidi_h"] != c["system"]["saidi_h"]
    assert a["system"]["years"] == 2000 and a["system"]["seed"] == 3


def test_bad_years(rbts_replacement):
    m, table, islands, _ = rbts_replacement
    with pytest.raises(ReliabilityError, match="years"):
        simulate(m, table, islands, 0, 1)


def test_numba_disabled_gives_same_numbers(tmp_path, rbts_replacement):
    """The kernels run as plain Python with NUMBA_DISABLE_JIT=1 and give the same numbers."""
    m, table, _, _ = rbts_replacement
    comp, t, ttr = failure_events(m.comp_rate_per_year, m.comp_repair_h, 200, 9)
    rng = np.random.default_rng(0)
    arrays = dict(comp=comp, t=t, ttr=ttr, zone=table.comp_zone, ptr=table.zone_ptr, load=table.zone_load,
                  kind=table.zone_kind, time=table.zone_time_h, island=np.where(table.zone_load == 6, 0, -1),
                  cust=m.load_customers.astype(float), pavg=m.load_p_avg_mw, soc=rng.uniform(0.2, 1.0, (1, 24)),
                  net=rng.uniform(-100.0, 400.0, (1, 24)))
    np.savez(tmp_path / "a.npz", **arrays)
    code = (
        "import sys, numpy as np\n"
        "from gridint.reliability._kernels import mc_accumulate, mc_island_correction, island_expectation\n"
        "a = np.load(sys.argv[1])\n"
        "out = mc_accumulate(a['comp'], a['t'], a['ttr'], a['zone'], a['ptr'], a['load'], a['kind'], a['time'],\n"
        "                    0.05, 200, 8760.0, a['cust'], a['pavg'])\n"
        "mc_island_correction(a['comp'], a['t'], a['ttr'], a['zone'], a['ptr'], a['load'], a['kind'], a['time'],\n"
        "                     a['island'], np.array([900.0]), np.array([90.0]), np.array([500.0]), a['soc'],\n"
        "                     a['net'], 0.95, 0.003, 0.05, 200, 8760.0, a['cust'], a['pavg'], *out)\n"
        "e = island_expectation(5.0, 0.003, 0.05, 900.0, 90.0, 500.0, 0.95, a['soc'][0], a['net'][0], 1)\n"
        "np.savez(sys.argv[2], n=out[0], d=out[1], m=out[2], y=out[3], e=np.array(e))\n"
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.npz"), str(tmp_path / "b.npz")], env=env,
                         capture_output=True, text=True, cwd=root, timeout=120)
    assert res.returncode == 0, res.stderr
    nojit = np.load(tmp_path / "b.npz")
    a = arrays
    out = mc_accumulate(a["comp"], a["t"], a["ttr"], a["zone"], a["ptr"], a["load"], a["kind"], a["time"], 0.05, 200,
                        8760.0, a["cust"], a["pavg"])
    mc_island_correction(a["comp"], a["t"], a["ttr"], a["zone"], a["ptr"], a["load"], a["kind"], a["time"],
                         a["island"], np.array([900.0]), np.array([90.0]), np.array([500.0]), a["soc"], a["net"], 0.95,
                         0.003, 0.05, 200, 8760.0, a["cust"], a["pavg"], *out)
    e = island_expectation(5.0, 0.003, 0.05, 900.0, 90.0, 500.0, 0.95, a["soc"][0], a["net"][0], 1)
    np.testing.assert_array_equal(nojit["n"], out[0])
    np.testing.assert_allclose(nojit["d"], out[1], rtol=1e-12)
    np.testing.assert_array_equal(nojit["m"], out[2])
    np.testing.assert_allclose(nojit["y"], out[3], rtol=1e-12)
    np.testing.assert_allclose(nojit["e"], e, rtol=1e-12)
    assert out[0].sum() > 0


def test_settings_defaults_used():
    s = get_settings()
    assert s.reliability_sustained_threshold_min == 3.0
    assert s.reliability_target_rs1_percent == 99.89
