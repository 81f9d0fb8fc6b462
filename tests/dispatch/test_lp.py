"""The dispatch LP against closed-form optima and its dense formulation."""

from __future__ import annotations

import numpy as np
import pytest

from gridint.config import get_settings
from gridint.dispatch.lp import LpProblem, solve


def _problem(row_rhs, *, p_kw=100.0, pv=None, e_init=200.0, e_term=200.0, floor=40.0):
    """One unit (100 kW, 400 kWh, 0.95/0.95), 4 quarter-hours, one upper row at step 1.

    The row: 0.01 % per kW injection at the unit's bus (the only controllable bus);
    rhs -0.5 % asks for 50 kW less injection.
    """
    T = 4
    pv = np.zeros((1, T, 0)) if pv is None else pv
    return LpProblem(
        dt_h=0.25, unit_j=np.array([0]), p_charge_kw=np.array([p_kw]), p_discharge_kw=np.array([p_kw]),
        eff_charge=np.array([0.95]), eff_discharge=np.array([0.95]),
        e_lb_kwh=np.array([40.0]), e_ub_kwh=np.array([360.0]), e_init_kwh=np.array([e_init]),
        e_term_kwh=np.array([e_term]), floor_kwh=np.array([floor]), pv_j=np.zeros(pv.shape[2], int),
        pv_kw=pv, scenario_weight=np.array([1.0]), row_s=np.array([0]), row_t=np.array([1]),
        row_sign=np.array([1.0]), row_coef=np.array([[0.01]]), row_rhs=np.array([row_rhs]),
        dloss_per_kw=np.zeros((T, 1)))


def test_absorption_then_return_to_the_terminal_soc():
    s = get_settings()
    sol = solve(_problem(-0.5))
    assert sol.charge_kw[1, 0] == pytest.approx(50.0, abs=1e-6)
    assert sol.slack[0] == pytest.approx(0.0, abs=1e-9)
    # the stored energy comes back out: sum d * dt / eta_d = 50 * 0.25 * 0.95
    assert sol.discharge_kw[:, 0].sum() * 0.25 / 0.95 == pytest.approx(50 * 0.25 * 0.95, rel=1e-7)
    assert not ((sol.charge_kw > 1e-6) & (sol.discharge_kw > 1e-6)).any()
    assert sol.energy_kwh[-1, 0] == pytest.approx(200.0, abs=1e-6)
    # objective in closed form: cycling on both directions + battery losses weighted like curtailment
    w_c, w_b = s.dispatch_weight_cycling_per_kwh, s.dispatch_weight_curtailment_per_kwh
    d_sum = 50 * 0.95 * 0.95
    expect = 0.25 * (50 * (w_c + w_b * 0.05) + d_sum * (w_c + w_b * (1 / 0.95 - 1)))
    assert sol.objective == pytest.approx(expect, rel=1e-7)


def test_curtailment_only_for_what_storage_cannot_do():
    pv = np.zeros((1, 4, 1))
    pv[0, :, 0] = 80.0
    sol = solve(_problem(-0.5, p_kw=30.0, pv=pv))
    assert sol.charge_kw[1, 0] == pytest.approx(30.0, abs=1e-6)
    assert sol.curtail_kw[0, 1, 0] == pytest.approx(20.0, abs=1e-6)
    assert sol.curtail_kw[0, [0, 2, 3], 0] == pytest.approx(0.0, abs=1e-9)


def test_infeasible_limit_is_a_positive_slack():
    sol = solve(_problem(-2.0, p_kw=30.0))          # needs 200 kW, the unit has 30
    assert sol.charge_kw[1, 0] == pytest.approx(30.0, abs=1e-6)
    assert sol.slack[0] == pytest.approx(2.0 - 0.3, abs=1e-6)


def test_reserve_floor_is_recharged_first():
    sol = solve(_problem(10.0, e_init=20.0, e_term=np.nan, floor=60.0))  # row inactive
    # 40 kWh short: charge at full power from the first step
    assert sol.charge_kw[0, 0] == pytest.approx(100.0, abs=1e-6)
    assert sol.energy_kwh[0, 0] == pytest.approx(20.0 + 0.25 * 100 * 0.95, abs=1e-6)
    assert sol.energy_kwh[1, 0] == pytest.approx(60.0, abs=1e-6)      # at the floor, no more
    assert sol.reserve_short_kwh[0, 0] == pytest.approx(60.0 - 43.75, abs=1e-6)
    assert sol.reserve_short_kwh[1:, 0] == pytest.approx(0.0, abs=1e-6)


def test_dense_formulation_gives_the_same_optimum():
    pv = np.zeros((1, 4, 1))
    pv[0, :, 0] = 80.0
    pb = _problem(-0.5, p_kw=30.0, pv=pv)
    a, b = solve(pb), solve(pb, dense=True)
    assert a.objective == pytest.approx(b.objective, rel=1e-9)
    np.testing.assert_allclose(a.p_kw, b.p_kw, atol=1e-6)
