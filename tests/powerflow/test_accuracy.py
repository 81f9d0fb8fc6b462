"""The batch engine against pandapower.runpp (tolerance_mva=1e-9), the reference."""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from gridint.grid.catalog import read_catalog
from gridint.powerflow import compile_net, element_injections, net_injections, run_batch

from .reference import assert_matches, runpp_reference

CATALOG = list(read_catalog())
SIMBENCH = [n for n, e in read_catalog().items() if e.loader == "simbench"]
PROFILED = [n for n, e in read_catalog().items() if e.profiles != "none"]
N_RANDOM_STEPS = 100


def _snapshot(net):
    c = compile_net(net)
    p, q = net_injections(c)
    return run_batch(c, p, q)


@pytest.mark.parametrize("name", CATALOG)
def test_catalog_snapshot_matches_pandapower(name, catalog_feeder):
    feeder = catalog_feeder(name)
    res = _snapshot(feeder.net)
    ref = runpp_reference(copy.deepcopy(feeder.net))
    assert_matches(res, 0, ref, name)


def test_published_case33bw_values():
    """Baran & Wu: losses 202.677 kW, minimum voltage 0.91309 pu at bus 17."""
    res = _snapshot(pn.case33bw())
    assert res.losses_mw[0] * 1e3 == pytest.approx(202.677, abs=1e-3)
    assert np.nanmin(res.vm_pu[0]) == pytest.approx(0.91309, abs=1e-5)
    assert int(np.nanargmin(res.vm_pu[0])) == 17


def test_published_cigre_mv_values():
    """CIGRE MV with all DER: minimum voltage 0.94380 pu, losses 0.1815 MW."""
    res = _snapshot(pn.create_cigre_network_mv(with_der="all"))
    assert np.nanmin(res.vm_pu[0]) == pytest.approx(0.94380, abs=1e-5)
    assert res.losses_mw[0] == pytest.approx(0.1815, abs=1e-4)


def _apply_step(net, prof, k):
    """Write profile step k into the net's element tables (what run_timeseries does)."""
    for key, df in prof.values.items():
        table, col = key.split("_", 1)
        net[table].loc[df.columns, col] = df.iloc[k].to_numpy()


@pytest.mark.parametrize("name", PROFILED)
def test_random_profile_steps_match_pandapower(name, catalog_feeder):
    feeder = catalog_feeder(name)
    prof = feeder.profiles
    rng = np.random.default_rng(20261127)
    steps = np.sort(rng.choice(len(prof), size=N_RANDOM_STEPS, replace=False))
    c = compile_net(feeder.net)
    sub = prof.take(steps)
    p, q = element_injections(c, **sub.as_kwargs())
    res = run_batch(c, p, q, time_index=sub.time_index)
    assert res.converged.all()
    worst = 0.0
    net = copy.deepcopy(feeder.net)
    for j, k in enumerate(steps):
        _apply_step(net, prof, k)
        dvm, _ = assert_matches(res, j, runpp_reference(net), f"{name} step {k}")
        worst = max(worst, dvm)
    assert worst <= 1e-6


def _meshed_case33():
    net = pn.case33bw()
    net.line["in_service"] = True  # close the five tie lines: five loops
    return net


def _feature_net():
    """Small net exercising every modelling feature the compiler must respect."""
    net = pp.create_empty_network(sn_mva=1.0)
    hv = pp.create_bus(net, 20.0, name="HV")
    mv = [pp.create_bus(net, 20.0, name=f"MV{i}") for i in range(6)]
    lv = [pp.create_bus(net, 0.4, name=f"LV{i}") for i in range(4)]
    fused = pp.create_bus(net, 20.0, name="MV-fused")
    dead = pp.create_bus(net, 20.0, name="MV-dead")
    pp.create_ext_grid(net, hv, vm_pu=1.03, va_degree=5.0)
    pp.create_line(net, hv, mv[0], 2.0, "NA2XS2Y 1x185 RM/25 12/20 kV", parallel=2)
    pp.create_line(net, mv[0], mv[1], 1.5, "NA2XS2Y 1x185 RM/25 12/20 kV")
    pp.create_line(net, mv[1], mv[2], 1.0, "NA2XS2Y 1x95 RM/25 12/20 kV")
    l_open = pp.create_line(net, mv[2], mv[3], 0.8, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_line(net, mv[1], mv[3], 1.2, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_line(net, mv[3], mv[4], 1.2, "48-AL1/8-ST1A 20.0")
    pp.create_line(net, mv[4], mv[0], 3.0, "48-AL1/8-ST1A 20.0")  # closed loop
    l_oos = pp.create_line(net, mv[4], mv[5], 1.0, "48-AL1/8-ST1A 20.0")
    pp.create_line(net, mv[2], dead, 1.0, "48-AL1/8-ST1A 20.0", in_service=False)
    net.line.loc[l_oos, "in_service"] = False
    pp.create_switch(net, mv[3], l_open, et="l", closed=False)  # open line switch
    pp.create_switch(net, mv[2], fused, et="b", closed=True)  # bus-bus switch: fused buses
    t0 = pp.create_transformer(net, mv[2], lv[0], "0.63 MVA 20/0.4 kV", tap_pos=-2)
    pp.create_transformer(net, mv[3], lv[1], "0.4 MVA 20/0.4 kV", parallel=2, tap_pos=1)
    pp.create_transformer(net, fused, lv[2], "0.25 MVA 20/0.4 kV")
    t_oos = pp.create_transformer(net, mv[4], lv[3], "0.25 MVA 20/0.4 kV", in_service=False)
    pp.create_switch(net, lv[0], t0, et="t", closed=True)
    for i, b in enumerate(lv[:3]):
        pp.create_load(net, b, p_mw=0.15 + 0.05 * i, q_mvar=0.05, scaling=0.9)
        pp.create_sgen(net, b, p_mw=0.1, q_mvar=-0.01, scaling=1.1, type="PV")
    pp.create_load(net, lv[3], p_mw=0.1, q_mvar=0.02)  # behind an out-of-service trafo
    pp.create_load(net, mv[5], p_mw=0.5, q_mvar=0.1, in_service=False)
    pp.create_load(net, fused, p_mw=0.8, q_mvar=0.2)
    pp.create_storage(net, mv[1], p_mw=0.3, max_e_mwh=1.0, q_mvar=0.02)  # charging
    pp.create_storage(net, lv[1], p_mw=-0.05, max_e_mwh=0.2, scaling=0.5)  # discharging
    pp.create_shunt(net, mv[4], q_mvar=-0.4, p_mw=0.001)  # capacitor
    pp.create_ward(net, mv[0], ps_mw=0.2, qs_mvar=0.05, pz_mw=0.01, qz_mvar=-0.02)
    pp.create_impedance(net, mv[4], mv[5], rft_pu=0.01, xft_pu=0.03, sn_mva=1.0)
    net.trafo.loc[t_oos, "in_service"] = False
    return net


@pytest.mark.parametrize("make", [_meshed_case33, _feature_net,
                                  lambda: pn.create_cigre_network_mv(with_der="all"),
                                  pn.mv_oberrhein, pn.example_simple])
def test_topologies_and_features_match_pandapower(make):
    net = make()
    if len(net.gen):  # example_simple has a PV-bus gen: model it as an sgen at its P
        for i, g in net.gen.iterrows():
            pp.create_sgen(net, g.bus, p_mw=g.p_mw, q_mvar=0.0)
        net.gen["in_service"] = False
    res = _snapshot(net)
    assert_matches(res, 0, runpp_reference(copy.deepcopy(net)), getattr(net, "name", ""))


def test_closed_rings_solve_exactly_under_load_profiles():
    """A meshed net over varied load levels: every step equals runpp."""
    net = _meshed_case33()
    c = compile_net(net)
    assert c.fill_in > 0  # loops do cause fill-in: the mesh is really in the solve
    scales = np.linspace(0.2, 1.6, 15)
    p = np.vstack([-net.load.p_mw.to_numpy() * s for s in scales])
    q = np.vstack([-net.load.q_mvar.to_numpy() * s for s in scales])
    pi, qi = element_injections(c, load_p_mw=-p, load_q_mvar=-q)
    res = run_batch(c, pi, qi)
    for k, s in enumerate(scales):
        ref_net = copy.deepcopy(net)
        ref_net.load["p_mw"] *= s
        ref_net.load["q_mvar"] *= s
        assert_matches(res, k, runpp_reference(ref_net), f"scale {s:.2f}")
