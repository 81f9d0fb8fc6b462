"""Sequential Monte Carlo: kernel vs a slow obvious reference, means vs analytical, distributions."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gridint.config import get_settings
from gridint.errors import ReliabilityError
from gridint.reliability import prepare, reliability_study
from gridint.reliability._kernels import mc_accumulate
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


def test_numba_disabled_gives_same_numbers(tmp_path):
    """The kernels run as plain Python with NUMBA_DISABLE_JIT=1 and give the same results."""
    code = (
        "import json\n"
        "from tests.reliability.data import rbts_bus2 as R\n"
        "from gridint.reliability import reliability_study\n"
        "net = R.rbts_bus2(trafo_repair_h=10.0)\n"
        "a = reliability_study(net)['system']\n"
        "b = reliability_study(net, 'monte-carlo', years=300, seed=9)['system']\n"
        "print(json.dumps([a['saidi_h'], b['saidi_h'], b['saifi'], b['saidi_h_p90']]))\n"
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=root,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    nojit = json.loads(out.stdout.strip().splitlines()[-1])
    net = R.rbts_bus2(trafo_repair_h=10.0)
    a = reliability_study(net)["system"]
    b = reliability_study(net, "monte-carlo", years=300, seed=9)["system"]
    np.testing.assert_allclose(nojit, [a["saidi_h"], b["saidi_h"], b["saifi"], b["saidi_h_p90"]], rtol=1e-12)


def test_settings_defaults_used():
    s = get_settings()
    assert s.reliability_sustained_threshold_min == 3.0
    assert s.reliability_target_rs1_percent == 99.89
