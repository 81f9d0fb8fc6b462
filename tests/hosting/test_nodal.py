"""Nodal hosting capacity against a brute-force bisection with pandapower runpp."""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from gridint.config import get_settings
from gridint.errors import GridintError
from gridint.hosting import nodal_hosting_capacity
from gridint.powerflow import compile_net, element_injections, net_injections


def _pp_violates(net, steps, bus, x_kw, shape, base_vals):
    """Brute force: runpp on every step with x_kw of new PV at bus; any new violation?"""
    s = get_settings()
    for j, k in enumerate(steps):
        n = copy.deepcopy(net)
        for (table, col), df in base_vals.items():
            n[table].loc[df.columns, col] = df.iloc[k].to_numpy()
        pp.create_sgen(n, bus, p_mw=x_kw / 1000.0 * shape[j])
        try:
            pp.runpp(n, tolerance_mva=1e-9)
        except pp.LoadflowNotConverged:
            return True
        if n.res_bus.vm_pu.max() > s.vm_max_pu:
            return True
        if len(n.line) and n.res_line.loading_percent.max() > s.line_loading_max_percent:
            return True
        if len(n.trafo):
            if n.res_trafo.loading_percent.max() > s.trafo_loading_max_percent:
                return True
            if (-n.res_trafo.p_hv_mw / n.trafo.sn_mva).max() > s.reverse_load_rate_max:
                return True
    return False


def _pp_bisection(net, steps, bus, shape, base_vals, hi=20_000.0, tol_kw=0.5):
    lo = 0.0
    while not _pp_violates(net, steps, bus, hi, shape, base_vals):
        lo, hi = hi, hi * 2
    while hi - lo > tol_kw:
        mid = 0.5 * (lo + hi)
        if _pp_violates(net, steps, bus, mid, shape, base_vals):
            hi = mid
        else:
            lo = mid
    return lo


@pytest.mark.parametrize("bus", [5, 17, 32])
def test_snapshot_matches_pandapower_brute_force(bus):
    net = pn.case33bw()
    c = compile_net(net)
    p, q = net_injections(c)
    res = nodal_hosting_capacity(c, p, q, bus)
    ref = _pp_bisection(net, [0], bus, np.ones(1), {})
    assert abs(res.hc_kw - ref) <= max(1.0, 0.01 * ref), (res.hc_kw, ref)
    assert res.binding.constraint == "voltage"


def test_profile_steps_match_pandapower_brute_force(catalog_feeder):
    """SimBench LV grid, 6 quarter-hours with PV and light load; reverse power and
    transformer loading can bind as well as voltage."""
    feeder = catalog_feeder("1-LV-rural1--0-sw")
    prof = feeder.profiles
    load = prof.values["load_p_mw"].sum(axis=1).to_numpy()
    pv = prof.values["sgen_p_mw"].sum(axis=1).to_numpy()
    steps = np.argsort(load - pv)[:6]
    shape = pv[steps] / pv.max()
    c = compile_net(feeder.net)
    sub = prof.take(steps)
    p, q = element_injections(c, **sub.as_kwargs())
    base_vals = {tuple(k.split("_", 1)): v for k, v in prof.values.items()}
    for bus in (int(feeder.net.load.bus.iloc[0]), int(feeder.net.load.bus.iloc[-1])):
        res = nodal_hosting_capacity(c, p, q, bus, shape=shape, time_index=sub.time_index)
        ref = _pp_bisection(feeder.net, steps, bus, shape, base_vals, hi=50.0)
        assert abs(res.hc_kw - ref) <= max(1.0, 0.01 * ref), (bus, res.hc_kw, ref)
        assert res.binding is not None and res.binding.time is not None


def test_existing_overvoltage_gives_zero():
    net = pn.case33bw()
    net.ext_grid["vm_pu"] = 1.08
    c = compile_net(net)
    res = nodal_hosting_capacity(c, *net_injections(c), 17)
    assert res.hc_kw == 0.0 and res.binding.constraint == "voltage"


def test_bad_inputs():
    net = pn.case33bw()
    c = compile_net(net)
    p, q = net_injections(c)
    with pytest.raises(GridintError, match="shape must be 1 finite values"):
        nodal_hosting_capacity(c, p, q, 5, shape=np.array([1.0, 2.0]))
    with pytest.raises(GridintError, match="bus 999"):
        nodal_hosting_capacity(c, p, q, 999)


def test_screened_year_equals_full_bisection(catalog_feeder):
    """Screening + confirmation on every step gives the full-bisection answer."""
    feeder = catalog_feeder("xt-county-rural")
    prof = feeder.profiles
    c = compile_net(feeder.net)
    p, q = element_injections(c, **prof.as_kwargs())
    pv = prof.values["sgen_p_mw"].sum(axis=1).to_numpy()
    shape = pv / pv.max()
    bus = int(feeder.net.trafo.lv_bus.iloc[5])
    full = nodal_hosting_capacity(c, p, q, bus, shape=shape, time_index=prof.time_index,
                                  screen_steps=None)
    fast = nodal_hosting_capacity(c, p, q, bus, shape=shape, time_index=prof.time_index)
    assert abs(fast.hc_kw - full.hc_kw) <= max(1.0, 0.005 * full.hc_kw)
    assert fast.binding.constraint == full.binding.constraint
    assert fast.n_power_flows < full.n_power_flows / 3
