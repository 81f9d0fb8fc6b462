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

__all__ = ["LpProblem", "LpSolution", "DispatchLp", "solve", "build"]

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


def _network_entries(row_s, row_t, row_sign, row_coef, unit_j, pv_j, U, x_of, off_c, off_d, slack_cols):
    """COO entries of network rows (row numbers 0..R-1), their slack columns included."""
    R = len(row_t)
    k = np.arange(R)
    sign = np.asarray(row_sign, dtype=float)
    rows, cols, vals = [], [], []
    if U:
        coef_u = sign[:, None] * row_coef[:, unit_j]                      # (R, U)
        idx_u = row_t[:, None] * U + np.arange(U)[None, :]
        rk = np.repeat(k, U)
        rows += [rk, rk]
        cols += [off_d + idx_u.reshape(-1), off_c + idx_u.reshape(-1)]
        vals += [coef_u.reshape(-1), -coef_u.reshape(-1)]
    if x_of.size:
        xcols = x_of[row_s, row_t]                                         # (R, G)
        m = xcols >= 0
        coef_x = -sign[:, None] * row_coef[:, pv_j]
        rows.append(np.broadcast_to(k[:, None], m.shape)[m])
        cols.append(xcols[m])
        vals.append(coef_x[m])
    rows.append(k)
    cols.append(np.asarray(slack_cols, dtype=np.int64))
    vals.append(-np.ones(R))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


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
        nr, nc, nv = _network_entries(pb.row_s, pb.row_t, pb.row_sign, pb.row_coef, pb.unit_j, pb.pv_j,
                                      U, x_of, off_c, off_d, off_s + np.arange(R))
        rows.append(r0 + nr)
        cols.append(nc)
        vals.append(nv)
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


def _highspy():
    try:
        import highspy
    except ImportError:  # pragma: no cover - highspy is a dependency; scipy's HiGHS then
        return None
    return highspy


def _new_highs(hs):
    """A silent HiGHS instance.

    ``highspy.Highs()`` prints HiGHS's banner on stdout from its Python callback
    layer (which would corrupt ``gridint dispatch --json``); the C++ object
    underneath is used when present, else the banner goes to /dev/null.
    """
    core = getattr(getattr(hs, "_core", None), "_Highs", None)
    if core is not None:
        h = core()
    else:  # pragma: no cover - other highspy layouts
        import os
        import sys

        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = hs.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


class DispatchLp:
    """The dispatch LP kept in HiGHS across the AC iterations.

    Network rows are only ever appended (with their slack columns) and their
    right-hand sides changed, so every solve after the first starts from the
    previous optimal basis (``highspy``, dual simplex, presolve off: on these
    LPs a warm re-solve takes a small fraction of a cold one). Without
    ``highspy``, or with ``dense=True`` (the naive formulation used as a
    benchmark peer), every solve is a cold :func:`scipy.optimize.linprog`
    (``method="highs"``).

    Parameters
    ----------
    pb : LpProblem
    dense : bool
    """

    def __init__(self, pb: LpProblem, *, dense: bool = False):
        self.pb = pb
        self.dense = dense
        self.hs = None if dense else _highspy()
        self.m = build(pb)
        self.lay = self.m["layout"]
        self.h = None
        if self.hs is not None:
            self._pass_model()

    # -- highspy model
    def _pass_model(self) -> None:
        hs, m = self.hs, self.m
        a_ub, a_eq = m["A_ub"], m["A_eq"]
        blocks = [a for a in (a_ub, a_eq) if a is not None]
        n = self.lay["n"]
        a = (sp.vstack(blocks).tocsc() if blocks else sp.csc_matrix((0, n)))
        n_ub = 0 if a_ub is None else a_ub.shape[0]
        lo = np.concatenate([np.full(n_ub, -np.inf), [] if a_eq is None else m["b_eq"]])
        up = np.concatenate([[] if a_ub is None else m["b_ub"], [] if a_eq is None else m["b_eq"]])
        lp = hs.HighsLp()
        lp.num_col_, lp.num_row_ = n, a.shape[0]
        lp.col_cost_ = m["c"]
        lp.col_lower_ = m["bounds"][:, 0]
        lp.col_upper_ = m["bounds"][:, 1]
        lp.row_lower_ = lo
        lp.row_upper_ = up
        lp.a_matrix_.format_ = hs.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data
        h = _new_highs(hs)
        h.setOptionValue("presolve", "off")
        h.passModel(lp)
        self.h = h
        R = self.lay["R"]
        self.net_rows = (n_ub - R) + np.arange(R, dtype=np.int32)      # network rows: end of A_ub
        self.slack_cols = self.lay["off_s"] + np.arange(R, dtype=np.int32)
        self.n_cols = n
        self.n_rows = a.shape[0]
        self.nnz = int(a.nnz)

    def update_rows(self, row_s, row_t, row_sign, row_coef, row_rhs) -> None:
        """Set the network rows: the current ones first (same order, new rhs), then new ones.

        Raises
        ------
        GridintError
            Fewer rows than before (rows are never removed).
        """
        pb = self.pb
        R0, R1 = len(pb.row_t), len(row_t)
        if R1 < R0:
            raise GridintError("dispatch LP rows can only be appended")
        new_pb = LpProblem(**{**pb.__dict__, "row_s": np.asarray(row_s), "row_t": np.asarray(row_t),
                              "row_sign": np.asarray(row_sign, float), "row_coef": np.asarray(row_coef),
                              "row_rhs": np.asarray(row_rhs, float)})
        self.pb = new_pb
        if self.h is None:
            return
        h = self.h
        if R0:
            h.changeRowsBounds(R0, self.net_rows[:R0], np.full(R0, -np.inf), new_pb.row_rhs[:R0])
        if R1 > R0:
            s = get_settings()
            k = slice(R0, R1)
            n_new = R1 - R0
            cost = float(pb.dt_h) * s.dispatch_weight_violation_per_percent_h * \
                np.asarray(pb.scenario_weight, float)[new_pb.row_s[k]]
            h.addCols(n_new, cost, np.zeros(n_new), np.full(n_new, np.inf), 0,
                      np.zeros(n_new, np.int32), np.zeros(0, np.int32), np.zeros(0))
            slack = self.n_cols + np.arange(n_new, dtype=np.int32)
            self.n_cols += n_new
            lay = self.lay
            rr, cc, vv = _network_entries(new_pb.row_s[k], new_pb.row_t[k], new_pb.row_sign[k],
                                          new_pb.row_coef[k], pb.unit_j, pb.pv_j, lay["U"], lay["x_of"],
                                          lay["off_c"], lay["off_d"], slack)
            a = sp.csr_matrix((vv, (rr, cc)), shape=(n_new, self.n_cols))
            a.sort_indices()
            h.addRows(n_new, np.full(n_new, -np.inf), new_pb.row_rhs[k], int(a.nnz),
                      a.indptr[:-1].astype(np.int32), a.indices.astype(np.int32), a.data)
            self.net_rows = np.concatenate([self.net_rows, self.n_rows + np.arange(n_new, dtype=np.int32)])
            self.slack_cols = np.concatenate([self.slack_cols, slack])
            self.n_rows += n_new
            self.nnz += int(a.nnz)

    def _run_highspy(self, no_c, no_d) -> tuple[np.ndarray, float, str]:
        lay, h = self.lay, self.h
        T, U = lay["T"], lay["U"]
        ub_c = np.tile(self.pb.p_charge_kw, T)
        ub_d = np.tile(self.pb.p_discharge_kw, T)
        if U:
            ub_c = np.where(no_c.reshape(-1), 0.0, ub_c)
            ub_d = np.where(no_d.reshape(-1), 0.0, ub_d)
            idx = np.arange(2 * T * U, dtype=np.int32)                 # c then d columns
            h.changeColsBounds(len(idx), idx, np.zeros(len(idx)), np.concatenate([ub_c, ub_d]))
        h.run()
        status = h.getModelStatus()
        if status != self.hs.HighsModelStatus.kOptimal:
            raise GridintError(f"dispatch LP not solved by HiGHS: {h.modelStatusToString(status)}")
        x = np.asarray(h.getSolution().col_value, dtype=float)
        return x, float(h.getInfo().objective_function_value), h.modelStatusToString(status)

    def _run_scipy(self, no_c, no_d) -> tuple[np.ndarray, float, str]:
        pb = LpProblem(**{**self.pb.__dict__, "no_charge": no_c, "no_discharge": no_d})
        m = build(pb, dense=self.dense)
        res = linprog(m["c"], A_ub=m["A_ub"], b_ub=m["b_ub"], A_eq=m["A_eq"], b_eq=m["b_eq"],
                      bounds=m["bounds"], method="highs")
        if res.status != 0 or res.x is None:
            raise GridintError(f"dispatch LP not solved by HiGHS: {res.message}")
        self.n_rows = sum(a.shape[0] for a in (m["A_ub"], m["A_eq"]) if a is not None)
        self.nnz = sum(int(a.nnz) if sp.issparse(a) else int(np.count_nonzero(a))
                       for a in (m["A_ub"], m["A_eq"]) if a is not None)
        self.n_cols = m["layout"]["n"]
        self.slack_cols = m["layout"]["off_s"] + np.arange(len(self.pb.row_t))
        return res.x, float(res.fun), str(res.message)

    def solve(self) -> LpSolution:
        """Solve; a unit charging and discharging in one step is repaired (module docstring).

        Raises
        ------
        GridintError
            HiGHS reports the LP infeasible or fails (cannot happen with the soft
            rows unless the data are inconsistent).
        """
        lay = self.lay
        T, U = lay["T"], lay["U"]
        no_c = np.zeros((T, U), bool) if self.pb.no_charge is None else self.pb.no_charge.copy()
        no_d = np.zeros((T, U), bool) if self.pb.no_discharge is None else self.pb.no_discharge.copy()
        t0 = time.perf_counter()
        repairs = 0
        while True:
            x, obj, status = (self._run_highspy(no_c, no_d) if self.h is not None
                              else self._run_scipy(no_c, no_d))
            c = x[lay["off_c"]:lay["off_d"]].reshape(T, U)
            d = x[lay["off_d"]:lay["off_e"]].reshape(T, U)
            both = (c > _SIMULTANEOUS_KW) & (d > _SIMULTANEOUS_KW)
            if not both.any() or repairs == _MAX_REPAIRS:
                if both.any():
                    logger.warning("dispatch LP: %d unit-steps still charge and discharge at once",
                                   int(both.sum()))
                break
            no_c |= both & (c <= d)
            no_d |= both & (c > d)
            repairs += 1
        S, G = lay["S"], lay["G"]
        curt = np.zeros((S, T, G))
        curt[lay["has_x"]] = x[lay["off_x"]:lay["off_s"]]
        return LpSolution(
            charge_kw=c, discharge_kw=d,
            energy_kwh=x[lay["off_e"]:lay["off_r"]].reshape(T, U),
            reserve_short_kwh=x[lay["off_r"]:lay["off_x"]].reshape(T, U),
            curtail_kw=curt, slack=x[self.slack_cols], objective=obj, status=status,
            solve_s=time.perf_counter() - t0, n_vars=int(self.n_cols), n_rows=int(self.n_rows),
            nnz=int(self.nnz), repairs=repairs)


def solve(pb: LpProblem, *, dense: bool = False) -> LpSolution:
    """Solve one dispatch LP with HiGHS (see :class:`DispatchLp`).

    Parameters
    ----------
    pb : LpProblem
    dense : bool
        Dense constraint matrices and :func:`scipy.optimize.linprog` (naive
        formulation, for benchmarks).

    Returns
    -------
    LpSolution
    """
    return DispatchLp(pb, dense=dense).solve()
