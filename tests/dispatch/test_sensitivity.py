"""Sensitivities of the batch engine against pandapower runpp perturbations."""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pytest

from gridint.config import get_settings
from gridint.dispatch.sensitivity import monitored, quantities, sensitivities
from gridint.powerflow import compile_net, element_injections, run_batch


def test_voltage_loading_and_loss_sensitivities_match_runpp(catalog_feeder):
    net = catalog_feeder("xt-county-rural").net
    c = compile_net(net)
    mon = monitored(c)
    p, q = element_injections(c)
    buses = [int(net.storage.bus.iloc[0]), int(net.storage.bus.iloc[1])]
    pos = [c.bus_position(b) for b in buses]
    delta_kw = 10.0
    sens = sensitivities(c, p, q, pos, mon, delta_kw=delta_kw)
    base = copy.deepcopy(net)
    pp.runpp(base, tolerance_mva=1e-9, numba=False)
    for j, b in enumerate(buses):
        work = copy.deepcopy(net)
        pp.create_sgen(work, b, p_mw=delta_kw / 1000.0)
        pp.runpp(work, tolerance_mva=1e-9, numba=False)
        dv = (work.res_bus.vm_pu - base.res_bus.vm_pu).reindex(c.bus_index).to_numpy() * 100 / delta_kw
        nv = int((mon.kind == "voltage").sum())
        expect = dv[mon.source[:nv]]
        # both are finite differences of converged (1e-9 MVA) power flows: 1e-4 relative
        np.testing.assert_allclose(sens.dq_per_kw[0, :nv, j], expect, rtol=1e-4, atol=1e-9)
        # more injection at an LV busbar raises its own voltage most
        assert sens.dq_per_kw[0, :nv, j].argmax() == list(mon.element[:nv]).index(b) or j == 0
        dl = ((work.res_line.pl_mw.sum() + work.res_trafo.pl_mw.sum())
              - (base.res_line.pl_mw.sum() + base.res_trafo.pl_mw.sum())) * 1000 / delta_kw
        assert sens.dloss_per_kw[0, j] == pytest.approx(dl, abs=1e-7)
        dl_line = (work.res_line.loading_percent - base.res_line.loading_percent).to_numpy() / delta_kw
        is_line = mon.table == "line"
        np.testing.assert_allclose(sens.dq_per_kw[0, is_line, j], dl_line[mon.source[is_line]],
                                   rtol=1e-4, atol=1e-7)


def test_quantities_columns_and_limits(catalog_feeder):
    s = get_settings()
    c = compile_net(catalog_feeder("xt-jingkai-industrial").net)
    mon = monitored(c)
    res = run_batch(c, *element_injections(c))
    qv = quantities(res, mon)
    nv = int((mon.kind == "voltage").sum())
    np.testing.assert_allclose(qv[0, :nv], 100 * res.vm_pu[0, mon.source[:nv]])
    rev = mon.kind == "reverse_power"
    np.testing.assert_allclose(qv[0, rev] / 100, -res.trafo_p_hv_mw[0] / c.trafo_sn_mva)
    assert set(mon.upper[rev]) == {100 * s.reverse_load_rate_max}
    assert set(mon.lower[:nv]) == {100 * s.vm_min_pu}
    assert not np.isin(mon.element[:nv], c.bus_index[np.isin(c.bus_solver, c.ref)]).any()
