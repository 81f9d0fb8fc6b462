"""Independent reference: pandapower.runpp on the same net and injections."""

from __future__ import annotations

import numpy as np
import pandapower as pp

TOL_VM_PU = 1e-6
TOL_VA_DEG = 1e-4
TOL_LOADING_PP = 1e-4


def runpp_reference(net):
    """runpp with the tolerance the issue prescribes; returns (vm, va, line, trafo, losses)."""
    pp.runpp(net, tolerance_mva=1e-9, calculate_voltage_angles=True, init="auto")
    losses = net.res_line.pl_mw.sum() + net.res_trafo.pl_mw.sum()
    if len(net.impedance):
        losses += net.res_impedance.pl_mw.sum()
    return (net.res_bus.vm_pu.to_numpy(), net.res_bus.va_degree.to_numpy(),
            net.res_line.loading_percent.to_numpy(), net.res_trafo.loading_percent.to_numpy(),
            net.res_trafo.p_hv_mw.to_numpy(), float(losses))


def assert_matches(res, k, ref, label=""):
    """Step k of a BatchResult equals the pandapower reference within tolerances."""
    vm, va, line, trafo, trafo_p, losses = ref
    assert res.converged[k], f"{label}: step {k} did not converge"
    live = ~np.isnan(vm)
    np.testing.assert_array_equal(np.isnan(res.vm_pu[k]), ~live, err_msg=f"{label}: NaN pattern")
    dvm = np.max(np.abs(res.vm_pu[k][live] - vm[live]))
    dva = np.max(np.abs(res.va_degree[k][live] - va[live]))
    assert dvm <= TOL_VM_PU, f"{label}: max |dvm| {dvm:.3e} pu"
    assert dva <= TOL_VA_DEG, f"{label}: max |dva| {dva:.3e} deg"
    if len(line):
        dl = np.max(np.abs(res.line_loading_percent[k] - np.nan_to_num(line)))
        assert dl <= TOL_LOADING_PP, f"{label}: max |d line loading| {dl:.3e} pp"
    if len(trafo):
        dt = np.max(np.abs(res.trafo_loading_percent[k] - np.nan_to_num(trafo)))
        assert dt <= TOL_LOADING_PP, f"{label}: max |d trafo loading| {dt:.3e} pp"
        dp = np.max(np.abs(res.trafo_p_hv_mw[k] - np.nan_to_num(trafo_p)))
        assert dp <= 1e-6, f"{label}: max |d trafo p_hv| {dp:.3e} MW"
    assert abs(res.losses_mw[k] - losses) <= 1e-6, f"{label}: losses {res.losses_mw[k]} vs {losses}"
    return dvm, dva
