"""The day-ahead / intraday storage dispatch linear programme (HiGHS).

Decision variables per step ``t`` (length ``dt_h``) [kW, kWh]:

* ``c[t,u]``, ``d[t,u]`` >= 0: charging and discharging power of unit ``u``
  (AC side); the plan's ``p_kw = c - d`` (positive = charging);
* ``e[t,u]``: stored energy at the end of step ``t``,
  ``e[t] = e[t-1] + eta_c dt c[t] - dt d[t] / eta_d``, within the SoC window,
  ``e[T-1]`` fixed to the terminal target when one is given;
* ``x[s,t,g]`` in ``[0, pv[s,t,g]]``: curtailment of PV system ``g`` in PV
  scenario ``s`` (scenario 0 is the plan's P50; further scenarios, e.g. P10 and
  P90, share the battery powers and have their own curtailment as recourse: a
  two-stage scenario LP);
* ``r[t,u]`` >= 0: shortfall below the critical-load reserve (soft floor);
* ``s[k]`` >= 0: violation of network row ``k`` (soft limit); every row
  belongs to one scenario.

Power limits ``c <= P_c``, ``d <= P_d`` and ``c / P_c + d / P_d <= 1`` (the
inverter cannot charge and discharge at full power at once).

Network rows, linearised at the current AC operating point ``k``
(quantities in %, see :mod:`gridint.dispatch.sensitivity`)::

    sign * S[t] . dP[t] - s <= sign * (limit - Q_k[t]) + sign * S[t] . dP_k[t]

with ``dP[t,j] = sum_{u at j} (d - c) - sum_{g at j} x[s]`` the controllable
injection change per bus (generation positive), ``sign = +1`` for an upper
limit and ``-1`` for a lower one.

Objective (weights in Settings, ``dispatch_weight_*``)::

    sum_t dt * ( sum_s q_s (w_viol * sum s + w_curt * sum x[s]) + w_res * sum r
                 + w_loss * network loss change + w_curt * battery conversion losses
                 + w_cyc * sum (c + d) )

with scenario weights ``q_s`` (1 for the P50).

Network loss change = ``dL/dP . dP`` (loss sensitivities of the batch engine),
weighted ``w_loss``. Battery conversion losses ``(1 - eta_c) c + (1 / eta_d - 1) d``
are weighted like curtailed PV (``w_curt``): energy a battery dissipates is PV
energy lost just as curtailed energy is, and with a lower weight the LP would
rather dissipate PV by charging and discharging a unit at once (which the
real inverter cannot do) than curtail it. Shifting a kWh through a battery then
costs about ``w_curt (1 - eta_c eta_d) + 2 w_cyc`` (about a tenth of curtailing
it), so storage still comes first and curtailment is the last resort.

A plan in which a unit still charges and discharges in the same step is
repaired by forbidding the smaller of the two in that step and solving again
(:func:`solve`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from gridint.config import get_settings
from gridint.errors import GridintError

__all__ = ["LpProblem", "LpSolution", "solve", "build"]

logger = logging.getLogger(__name__)

_SIMULTANEOUS_KW = 1e-3  # charge and discharge both above this in one step: repaired
_MAX_REPAIRS = 10


@dataclass
class LpProblem:
    """Data of one dispatch LP (see the module docstring for the model).

    Attributes
    ----------
    dt_h : float
        Step length [h].
    unit_j : ndarray of int (U,)
        Controllable-bus column of each unit.
    p_charge_kw, p_discharge_kw, eff_charge, eff_discharge : ndarray (U,)
    e_lb_kwh, e_ub_kwh : ndarray (U,)
        Energy window [kWh].
    e_init_kwh : ndarray (U,)
        Energy before the first step [kWh].
    e_term_kwh : ndarray (U,)
        Energy at the end of the last step [kWh]; NaN = free.
    floor_kwh : ndarray (U,)
        Reserve floor [kWh] (soft).
    pv_j : ndarray of int (G,)
        Controllable-bus column of each PV system.
    pv_kw : ndarray (S, T, G)
        Available PV power per scenario [kW] (the curtailment bound).
    scenario_weight : ndarray (S,)
        Objective weight of each scenario's curtailment and violations.
    row_s, row_t : ndarray of int (R,)
        Scenario and step of each network row.
    row_sign : ndarray (R,)
        +1 upper limit, -1 lower limit.
    row_coef : ndarray (R, J)
        Sensitivity of the row's quantity [% per kW injection].
    row_rhs : ndarray (R,)
        Right-hand side (see module docstring).
    dloss_per_kw : ndarray (T, J)
        Network-loss sensitivity [kW / kW injection].
    no_charge, no_discharge : ndarray of bool (T, U), optional
        Steps in which a unit may not charge / discharge.
    """

    dt_h: float
    unit_j: np.ndarray
    p_charge_kw: np.ndarray
    p_discharge_kw: np.ndarray
    eff_charge: np.ndarray
    eff_discharge: np.ndarray
    e_lb_kwh: np.ndarray
    e_ub_kwh: np.ndarray
    e_init_kwh: np.ndarray
    e_term_kwh: np.ndarray
    floor_kwh: np.ndarray
    pv_j: np.ndarray
    pv_kw: np.ndarray
    scenario_weight: np.ndarray
    row_s: np.ndarray
    row_t: np.ndarray
    row_sign: np.ndarray
    row_coef: np.ndarray
    row_rhs: np.ndarray
    dloss_per_kw: np.ndarray
    no_charge: np.ndarray | None = None
    no_discharge: np.ndarray | None = None

    @property
    def n_steps(self) -> int:
        return self.pv_kw.shape[1]


@dataclass
class LpSolution:
    """Solution of :func:`solve` ([kW], [kWh]).

    ``charge_kw``, ``discharge_kw``, ``energy_kwh``, ``reserve_short_kwh`` (T, U);
    ``curtail_kw`` (S, T, G); ``slack`` (R,) [%]; ``objective``; ``status`` (HiGHS
    message); ``solve_s`` (LP time, all repairs); ``n_vars``, ``n_rows``, ``nnz``.
    """

    charge_kw: np.ndarray
    discharge_kw: np.ndarray
    energy_kwh: np.ndarray
    reserve_short_kwh: np.ndarray
    curtail_kw: np.ndarray
    slack: np.ndarray
    objective: float
    status: str
    solve_s: float
    n_vars: int = 0
    n_rows: int = 0
    nnz: int = 0
    repairs: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def p_kw(self) -> np.ndarray:
        """Unit power, positive = charging [kW] (T, U)."""
        return self.charge_kw - self.discharge_kw


def build(pb: LpProblem, *, dense: bool = False):
    """Assemble the LP in :func:`scipy.optimize.linprog` form.

    Parameters
    ----------
    pb : LpProblem
    dense : bool
        Return dense constraint matrices (the naive formulation, for comparison).

    Returns
    -------
    dict
        ``c, A_ub, b_ub, A_eq, b_eq, bounds`` and the variable layout ``layout``.
    """
    s = get_settings()
    S, T, G = pb.pv_kw.shape
    U = len(pb.unit_j)
    R = len(pb.row_t)
    dt = float(pb.dt_h)
    TU = T * U
    # curtailment variables only where PV is available
    has_x = pb.pv_kw > 1e-9
    x_of = np.full((S, T, G), -1, dtype=np.int64)
    nx = int(has_x.sum())
    off_c, off_d, off_e, off_r, off_x = 0, TU, 2 * TU, 3 * TU, 4 * TU
    off_s = off_x + nx
    x_of[has_x] = off_x + np.arange(nx)
    n = off_s + R
    tt, uu = np.divmod(np.arange(TU), U) if U else (np.empty(0, int), np.empty(0, int))
    q_s = np.asarray(pb.scenario_weight, dtype=float)

    # ---- objective
    cost = np.zeros(n)
    dl = pb.dloss_per_kw
    w_loss, w_cyc = s.dispatch_weight_losses_per_kwh, s.dispatch_weight_cycling_per_kwh
    w_bat = s.dispatch_weight_curtailment_per_kwh   # battery losses: like curtailed PV
    if U:
        dl_u = dl[:, pb.unit_j].reshape(-1)               # (T*U,) in t-major order
        eta_c = np.tile(pb.eff_charge, T)
        eta_d = np.tile(pb.eff_discharge, T)
        cost[off_c:off_d] = dt * (w_cyc + w_bat * (1.0 - eta_c) - w_loss * dl_u)
        cost[off_d:off_e] = dt * (w_cyc + w_bat * (1.0 / eta_d - 1.0) + w_loss * dl_u)
        cost[off_r:off_x] = dt * s.dispatch_weight_reserve_per_kwh_h
    if nx:
        sx, tx, gx = np.nonzero(has_x)
        cost[off_x:off_s] = dt * q_s[sx] * (s.dispatch_weight_curtailment_per_kwh
                                            - w_loss * dl[tx, pb.pv_j[gx]])
    cost[off_s:] = dt * s.dispatch_weight_violation_per_percent_h * q_s[pb.row_s]

    # ---- bounds
    lb = np.zeros(n)
    ub = np.full(n, np.inf)
    if U:
        ub[off_c:off_d] = np.tile(pb.p_charge_kw, T)
        ub[off_d:off_e] = np.tile(pb.p_discharge_kw, T)
        if pb.no_charge is not None:
            ub[off_c:off_d][pb.no_charge.reshape(-1)] = 0.0
        if pb.no_discharge is not None:
            ub[off_d:off_e][pb.no_discharge.reshape(-1)] = 0.0
        lb[off_e:off_r] = np.tile(pb.e_lb_kwh, T)
        ub[off_e:off_r] = np.tile(pb.e_ub_kwh, T)
        term = np.isfinite(pb.e_term_kwh)
        last = off_e + (T - 1) * U + np.flatnonzero(term)
        lb[last] = ub[last] = np.clip(pb.e_term_kwh[term], pb.e_lb_kwh[term], pb.e_ub_kwh[term])
        need_r = pb.floor_kwh > pb.e_lb_kwh + 1e-9
        ub[off_r:off_x] = np.where(np.tile(need_r, T), np.inf, 0.0)
    if nx:
        ub[off_x:off_s] = pb.pv_kw[has_x]

    # ---- equality: energy balance (T*U rows)
    if U:
        r_eq = np.arange(TU)
        rows = [r_eq, r_eq, r_eq]
        cols = [off_e + r_eq, off_c + r_eq, off_d + r_eq]
        vals = [np.ones(TU), -dt * np.tile(pb.eff_charge, T), dt / np.tile(pb.eff_discharge, T)]
        prev = r_eq[tt > 0]
        rows.append(prev)
        cols.append(off_e + prev - U)
        vals.append(-np.ones(len(prev)))
        a_eq = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(TU, n))
        b_eq = np.zeros(TU)
        b_eq[:U] = pb.e_init_kwh
    else:
        a_eq, b_eq = None, None

    # ---- inequalities
    rows, cols, vals, rhs = [], [], [], []
    r0 = 0
    if U:
        # c / Pc + d / Pd <= 1
        k = np.arange(TU)
        rows += [k, k]
        cols += [off_c + k, off_d + k]
        vals += [1.0 / np.tile(pb.p_charge_kw, T), 1.0 / np.tile(pb.p_discharge_kw, T)]
        rhs.append(np.ones(TU))
        r0 = TU
        # reserve: -e - r <= -floor, units with a floor above the window
        sel = np.flatnonzero(np.tile(need_r, T))
        if len(sel):
            k = r0 + np.arange(len(sel))
            rows += [k, k]
            cols += [off_e + sel, off_r + sel]
            vals += [-np.ones(len(sel)), -np.ones(len(sel))]
            rhs.append(-np.tile(pb.floor_kwh, T)[sel])
            r0 += len(sel)
    if R:
        k = r0 + np.arange(R)
        sign = pb.row_sign.astype(float)
        if U:
            coef_u = sign[:, None] * pb.row_coef[:, pb.unit_j]          # (R, U)
            idx_u = pb.row_t[:, None] * U + np.arange(U)[None, :]
            rk = np.repeat(k, U)
            rows += [rk, rk]
            cols += [off_d + idx_u.reshape(-1), off_c + idx_u.reshape(-1)]
            vals += [coef_u.reshape(-1), -coef_u.reshape(-1)]
        if nx:
            xcols = x_of[pb.row_s, pb.row_t]                              # (R, G)
            m = xcols >= 0
            coef_x = -sign[:, None] * pb.row_coef[:, pb.pv_j]
            rows.append(np.broadcast_to(k[:, None], m.shape)[m])
            cols.append(xcols[m])
            vals.append(coef_x[m])
        rows.append(k)
        cols.append(off_s + np.arange(R))
        vals.append(-np.ones(R))
        rhs.append(pb.row_rhs)
        r0 += R
    if r0:
        a_ub = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(r0, n))
        b_ub = np.concatenate(rhs)
    else:
        a_ub, b_ub = None, None
    if dense:
        a_ub = None if a_ub is None else a_ub.toarray()
        a_eq = None if a_eq is None else a_eq.toarray()
    layout = dict(S=S, T=T, U=U, G=G, R=R, off_c=off_c, off_d=off_d, off_e=off_e, off_r=off_r,
                  off_x=off_x, off_s=off_s, x_of=x_of, has_x=has_x, n=n)
    return dict(c=cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq,
                bounds=np.column_stack([lb, ub]), layout=layout)


def _solve_once(pb: LpProblem, dense: bool) -> tuple[LpSolution, float]:
    t0 = time.perf_counter()
    m = build(pb, dense=dense)
    lay = m["layout"]
    res = linprog(m["c"], A_ub=m["A_ub"], b_ub=m["b_ub"], A_eq=m["A_eq"], b_eq=m["b_eq"],
                  bounds=m["bounds"], method="highs")
    dt = time.perf_counter() - t0
    if res.status != 0 or res.x is None:
        raise GridintError(f"dispatch LP not solved by HiGHS: {res.message}")
    x = res.x
    S, T, U, G = lay["S"], lay["T"], lay["U"], lay["G"]
    curt = np.zeros((S, T, G))
    curt[lay["has_x"]] = x[lay["off_x"]:lay["off_s"]]
    nnz = sum(int(a.nnz) if sp.issparse(a) else int(np.count_nonzero(a))
              for a in (m["A_ub"], m["A_eq"]) if a is not None)
    n_rows = sum(a.shape[0] for a in (m["A_ub"], m["A_eq"]) if a is not None)
    sol = LpSolution(
        charge_kw=x[lay["off_c"]:lay["off_d"]].reshape(T, U),
        discharge_kw=x[lay["off_d"]:lay["off_e"]].reshape(T, U),
        energy_kwh=x[lay["off_e"]:lay["off_r"]].reshape(T, U),
        reserve_short_kwh=x[lay["off_r"]:lay["off_x"]].reshape(T, U),
        curtail_kw=curt, slack=x[lay["off_s"]:], objective=float(res.fun),
        status=str(res.message), solve_s=dt, n_vars=lay["n"], n_rows=n_rows, nnz=nnz)
    return sol, dt


def solve(pb: LpProblem, *, dense: bool = False) -> LpSolution:
    """Solve the dispatch LP with HiGHS (:func:`scipy.optimize.linprog`, ``method="highs"``).

    A step in which a unit both charges and discharges (more than 1 W each) is
    repaired: the smaller direction is forbidden in that step and the LP solved
    again (at most 10 times).

    Parameters
    ----------
    pb : LpProblem
    dense : bool
        Dense constraint matrices (naive formulation, for benchmarks).

    Returns
    -------
    LpSolution

    Raises
    ------
    GridintError
        HiGHS reports the LP infeasible or fails (cannot happen with the soft
        rows unless the data are inconsistent).
    """
    total = 0.0
    sol = None
    repairs = 0
    for repair in range(_MAX_REPAIRS + 1):
        sol, dt = _solve_once(pb, dense)
        total += dt
        both = (sol.charge_kw > _SIMULTANEOUS_KW) & (sol.discharge_kw > _SIMULTANEOUS_KW)
        if not both.any() or repair == _MAX_REPAIRS:
            if both.any():
                logger.warning("dispatch LP: %d unit-steps still charge and discharge at once",
                               int(both.sum()))
            break
        T, U = both.shape
        no_c = np.zeros((T, U), bool) if pb.no_charge is None else pb.no_charge.copy()
        no_d = np.zeros((T, U), bool) if pb.no_discharge is None else pb.no_discharge.copy()
        no_c |= both & (sol.charge_kw <= sol.discharge_kw)
        no_d |= both & (sol.charge_kw > sol.discharge_kw)
        pb = LpProblem(**{**pb.__dict__, "no_charge": no_c, "no_discharge": no_d})
        repairs = repair + 1
    sol.solve_s = total
    sol.repairs = repairs
    return sol
