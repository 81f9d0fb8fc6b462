"""Kernels against slow, obvious references; batch behaviour; input validation."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest
import scipy.sparse as sp

from gridint.errors import FeederError, PowerFlowError
from gridint.powerflow import compile_net, element_injections, net_injections, run_batch
from gridint.powerflow import _kernels


@pytest.fixture(scope="module")
def case33():
    net = pn.case33bw()
    return net, compile_net(net)


def _scaled_batch(net, c, scales):
    p = np.vstack([net.load.p_mw.to_numpy() * s for s in scales])
    q = np.vstack([net.load.q_mvar.to_numpy() * s for s in scales])
    return element_injections(c, load_p_mw=p, load_q_mvar=q)


def test_lu_solve_equals_dense_solve(case33):
    """The sparse triangular-solve kernel against numpy's dense solver on Y_LL."""
    net, c = case33
    from pandapower.pypower.makeYbus import makeYbus

    from gridint.powerflow.compile import _to_ppc

    _, _, ppci = _to_ppc(net)
    ybus, _, _ = makeYbus(ppci["baseMVA"], ppci["bus"], ppci["branch"])
    y_ll = sp.csr_matrix(ybus)[c.pq][:, c.pq].toarray()
    rng = np.random.default_rng(1)
    b = rng.normal(size=len(c.pq)) + 1j * rng.normal(size=len(c.pq))
    x = np.empty_like(b)
    _kernels._lu_solve(b, c.lu_l_indptr, c.lu_l_indices, c.lu_l_data, c.lu_u_indptr,
                       c.lu_u_indices, c.lu_u_data, c.lu_u_diag_inv, c.lu_perm_r,
                       c.lu_perm_c, np.empty_like(b), x)
    np.testing.assert_allclose(x, np.linalg.solve(y_ll, b), rtol=1e-10, atol=1e-12)


def test_radial_feeder_has_no_fill_in(case33):
    assert case33[1].fill_in == 0


def test_numba_and_numpy_backends_agree(case33):
    net, c = case33
    p, q = _scaled_batch(net, c, np.linspace(0.1, 1.5, 40))
    a = run_batch(c, p, q, backend="numba")
    b = run_batch(c, p, q, backend="numpy")
    assert a.converged.all() and b.converged.all()
    np.testing.assert_allclose(a.vm_pu, b.vm_pu, atol=1e-9)
    np.testing.assert_allclose(a.va_degree, b.va_degree, atol=1e-7)
    np.testing.assert_allclose(a.line_loading_percent, b.line_loading_percent, atol=1e-7)
    np.testing.assert_allclose(a.losses_mw, b.losses_mw, atol=1e-9)


def test_result_does_not_depend_on_batching(case33):
    """Warm starts inside chunks do not change answers beyond the tolerance."""
    net, c = case33
    p, q = _scaled_batch(net, c, np.linspace(0.2, 1.2, 200))
    whole = run_batch(c, p, q)
    for k in (0, 57, 96, 97, 199):
        single = run_batch(c, p[k], q[k])
        np.testing.assert_allclose(single.vm_pu[0], whole.vm_pu[k], atol=1e-8)


def test_non_convergence_is_flagged_not_raised(case33):
    net, c = case33
    scales = np.array([1.0, 40.0, 1.0, 0.5, 60.0, 1.0])
    p, q = _scaled_batch(net, c, scales)
    res = run_batch(c, p, q)
    np.testing.assert_array_equal(res.converged, [True, False, True, True, False, True])
    for k in (1, 4):
        assert np.all(np.isnan(res.vm_pu[k]))
        assert np.all(np.isnan(res.line_loading_percent[k]))
        assert np.isnan(res.losses_mw[k])
    # the converged steps around a failure are still exact
    ref = run_batch(c, p[[0, 2, 3, 5]], q[[0, 2, 3, 5]])
    np.testing.assert_allclose(res.vm_pu[[0, 2, 3, 5]], ref.vm_pu, atol=1e-9)
    # and the numpy path flags the same steps
    np.testing.assert_array_equal(run_batch(c, p, q, backend="numpy").converged, res.converged)


def test_max_iteration_limit_flags_steps(case33):
    net, c = case33
    p, q = net_injections(c)
    res = run_batch(c, p, q, max_iteration=2)
    assert not res.converged[0] and res.iterations[0] == 2


@pytest.mark.parametrize("kwargs, match", [
    ({"p_inj_mw": np.zeros((3, 5)), "q_inj_mvar": np.zeros((3, 5))}, r"shape \(steps, 33\)"),
    ({"p_inj_mw": np.zeros((3, 33)), "q_inj_mvar": np.zeros((2, 33))}, "differ in shape"),
    ({"p_inj_mw": np.full((1, 33), np.nan), "q_inj_mvar": np.zeros((1, 33))}, "non-finite value at step 0"),
    ({"p_inj_mw": np.zeros(33), "q_inj_mvar": np.zeros(33), "backend": "cuda"}, "backend must be"),
    ({"p_inj_mw": np.zeros(33), "q_inj_mvar": np.zeros(33), "tolerance_mva": -1}, "tolerance_mva must be > 0"),
])
def test_bad_inputs_raise_clear_errors(case33, kwargs, match):
    with pytest.raises(PowerFlowError, match=match):
        run_batch(case33[1], **kwargs)


def test_element_injection_errors(case33):
    c = case33[1]
    with pytest.raises(PowerFlowError, match="unknown element values"):
        element_injections(c, line_p_mw=np.zeros((1, 3)))
    with pytest.raises(PowerFlowError, match="must have 32 columns"):
        element_injections(c, load_p_mw=np.zeros((2, 3)))


def test_element_injections_follow_pandapower_signs_and_scaling():
    net = pp.create_empty_network()
    b0, b1 = pp.create_bus(net, 10.0), pp.create_bus(net, 10.0)
    pp.create_ext_grid(net, b0)
    pp.create_line(net, b0, b1, 1.0, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_load(net, b1, p_mw=1.0, q_mvar=0.2, scaling=0.5)
    pp.create_sgen(net, b1, p_mw=0.4, q_mvar=0.1)
    pp.create_storage(net, b1, p_mw=0.3, max_e_mwh=1.0)  # charging = consumption
    pp.create_load(net, b1, p_mw=9.0, in_service=False)
    c = compile_net(net)
    p, q = net_injections(c)
    assert p[1] == pytest.approx(-0.5 + 0.4 - 0.3)
    assert q[1] == pytest.approx(-0.1 + 0.1)


def test_unsupported_elements_are_refused():
    net = pn.example_simple()  # has a voltage-controlled gen
    with pytest.raises(FeederError, match="in-service gen"):
        compile_net(net)
    net = pn.case33bw()
    net.load.loc[3, "const_z_p_percent"] = 50.0
    with pytest.raises(FeederError, match="voltage-dependent loads"):
        compile_net(net)
    net = pn.case33bw()
    net.ext_grid["in_service"] = False
    with pytest.raises(FeederError, match="ext_grid"):
        compile_net(net)


def test_compile_does_not_touch_the_net(case33):
    net = pn.case33bw()
    before = set(net.keys())
    compile_net(net)
    assert set(net.keys()) == before
    assert "_ppc" not in net or net["_ppc"] is None


_DISABLED_JIT_SCRIPT = """
import json, numpy as np, pandapower.networks as pn
from gridint.powerflow import compile_net, element_injections, run_batch
net = pn.case33bw(); c = compile_net(net)
s = np.array([0.5, 1.0, 50.0, 1.3])
p = np.vstack([net.load.p_mw.to_numpy() * k for k in s])
q = np.vstack([net.load.q_mvar.to_numpy() * k for k in s])
r = run_batch(c, *element_injections(c, load_p_mw=p, load_q_mvar=q))
print(json.dumps({"vm": np.nan_to_num(r.vm_pu, nan=-1).tolist(), "conv": r.converged.tolist()}))
"""


def test_same_results_with_numba_jit_disabled(case33):
    """stumpy rule: the kernels run as plain Python with NUMBA_DISABLE_JIT=1."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, "-c", _DISABLED_JIT_SCRIPT], env=env,
                         capture_output=True, text=True, timeout=300, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    net, c = case33
    s = np.array([0.5, 1.0, 50.0, 1.3])
    p, q = _scaled_batch(net, c, s)
    ref = run_batch(c, p, q)
    assert got["conv"] == ref.converged.tolist()
    np.testing.assert_allclose(np.array(got["vm"]), np.nan_to_num(ref.vm_pu, nan=-1), atol=1e-12)


def test_element_injections_accept_partial_frames(case33):
    """A DataFrame with some elements: the rest keep the net's own values; NaN refused."""
    import pandas as pd

    net, c = case33
    full_p, full_q = net_injections(c)
    frame = pd.DataFrame({5: [0.0, 1.0]})  # load 5 off, then 1 MW
    p, q = element_injections(c, load_p_mw=frame)
    bus = net.load.bus.at[5]
    assert p[0, bus] == pytest.approx(full_p[bus] + net.load.p_mw.at[5])
    assert p[1, bus] == pytest.approx(full_p[bus] + net.load.p_mw.at[5] - 1.0)
    np.testing.assert_allclose(np.delete(p[0], bus), np.delete(full_p, bus))
    with pytest.raises(PowerFlowError, match="non-finite value at step 1, element 5"):
        element_injections(c, load_p_mw=pd.DataFrame({5: [0.0, np.nan]}))
    with pytest.raises(PowerFlowError, match="not elements of the table"):
        element_injections(c, load_p_mw=pd.DataFrame({999: [0.0]}))
