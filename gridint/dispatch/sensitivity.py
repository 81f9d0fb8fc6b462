"""Monitored network quantities and their sensitivities to bus injections.

The dispatch keeps a set of *monitored quantities* within limits, one column
each, all in percent so that the LP rows are well scaled:

=================== ====================================== ============================
kind                value [%]                              limits (Settings)
=================== ====================================== ============================
``voltage``         ``100 * vm_pu`` of every supplied bus   ``100 * vm_min_pu`` .. ``100 * vm_max_pu``
                    that is not a slack (ext_grid) bus      (GB/T 12325)
``thermal``         line loading [%], transformer loading   ``line_loading_max_percent``,
                    [%] (pandapower's current-based)        ``trafo_loading_max_percent``
``reverse_power``   ``100 * (-P_hv) / S_rated`` of each     ``100 * reverse_load_rate_max``
                    transformer                             (DL/T 2041)
=================== ====================================== ============================

Sensitivities are finite differences computed by the batch AC power flow: one
extra power flow per step and controllable bus (the base case plus each bus
with ``delta`` more injection, all in one :func:`gridint.powerflow.run_batch`
call), so they are exact derivatives of the same AC model up to ``O(delta)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from gridint.config import get_settings
from gridint.errors import DispatchError
from gridint.powerflow import BatchResult, CompiledNet, run_batch

__all__ = ["Monitored", "monitored", "quantities", "Sensitivities", "sensitivities", "KINDS"]

logger = logging.getLogger(__name__)

KINDS = ("voltage", "thermal", "reverse_power")
_MAX_GB = 4.0  # working memory of the finite differences (perturbed results + sensitivities)


@dataclass(frozen=True)
class Monitored:
    """Monitored quantities of a compiled net (columns of :func:`quantities`).

    Attributes
    ----------
    kind : ndarray of str
        ``voltage``, ``thermal`` or ``reverse_power``.
    table : ndarray of str
        ``bus``, ``line`` or ``trafo``.
    element : ndarray of int
        pandapower index of the bus / line / trafo.
    names : ndarray of str
    source : ndarray of int
        Column in the BatchResult array the value comes from.
    upper, lower : ndarray
        Limits in the quantity's unit [%] (``lower = -inf`` where there is none).
    scale : ndarray
        Factor from the limit unit to the user unit (0.01 for voltage -> pu, 1 for %,
        0.01 for the reverse load rate -> fraction).
    """

    kind: np.ndarray
    table: np.ndarray
    element: np.ndarray
    names: np.ndarray
    source: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    scale: np.ndarray

    def __len__(self) -> int:
        return len(self.kind)


def monitored(compiled: CompiledNet) -> Monitored:
    """The quantities the dispatch keeps within limits (see module docstring)."""
    s = get_settings()
    c = compiled
    ref = set(c.ref.tolist())
    bus_cols = np.flatnonzero((c.bus_solver >= 0) & ~np.isin(c.bus_solver, list(ref)))
    line_cols = np.flatnonzero(c.line_branch >= 0)
    trafo_cols = np.flatnonzero(c.trafo_branch >= 0)
    parts = [
        ("voltage", "bus", c.bus_index[bus_cols], c.bus_names[bus_cols], bus_cols,
         100.0 * s.vm_max_pu, 100.0 * s.vm_min_pu, 0.01),
        ("thermal", "line", c.line_index[line_cols], c.line_names[line_cols], line_cols,
         s.line_loading_max_percent, -np.inf, 1.0),
        ("thermal", "trafo", c.trafo_index[trafo_cols], c.trafo_names[trafo_cols], trafo_cols,
         s.trafo_loading_max_percent, -np.inf, 1.0),
        ("reverse_power", "trafo", c.trafo_index[trafo_cols], c.trafo_names[trafo_cols], trafo_cols,
         100.0 * s.reverse_load_rate_max, -np.inf, 0.01),
    ]
    cols = {k: [] for k in ("kind", "table", "element", "names", "source", "upper", "lower", "scale")}
    for kind, table, elem, names, src, up, lo, scale in parts:
        n = len(src)
        cols["kind"].append(np.full(n, kind, dtype=object))
        cols["table"].append(np.full(n, table, dtype=object))
        cols["element"].append(np.asarray(elem, dtype=np.int64))
        cols["names"].append(np.asarray(names, dtype=object))
        cols["source"].append(np.asarray(src, dtype=np.int64))
        cols["upper"].append(np.full(n, float(up)))
        cols["lower"].append(np.full(n, float(lo)))
        cols["scale"].append(np.full(n, float(scale)))
    return Monitored(**{k: np.concatenate(v) for k, v in cols.items()})


def quantities(res: BatchResult, mon: Monitored) -> np.ndarray:
    """Values of the monitored quantities, (steps x len(mon)) [%]; NaN where not converged."""
    c = res.compiled
    nv = int(np.sum(mon.kind == "voltage"))
    nl = int(np.sum(mon.table[nv:] == "line"))
    nt = (len(mon) - nv - nl) // 2
    src = mon.source
    out = np.empty((res.n_steps, len(mon)))
    out[:, :nv] = 100.0 * res.vm_pu[:, src[:nv]]
    out[:, nv:nv + nl] = res.line_loading_percent[:, src[nv:nv + nl]]
    t_src = src[nv + nl:nv + nl + nt]
    out[:, nv + nl:nv + nl + nt] = res.trafo_loading_percent[:, t_src]
    out[:, nv + nl + nt:] = -100.0 * res.trafo_p_hv_mw[:, t_src] / c.trafo_sn_mva[None, t_src]
    return out


@dataclass
class Sensitivities:
    """Derivatives of the monitored quantities and losses w.r.t. bus injections.

    Attributes
    ----------
    bus_pos : ndarray of int (J,)
        Controllable buses (columns of per-bus arrays, ``compiled.bus_index`` order).
    dq_per_kw : ndarray (steps, M, J)
        Change of each monitored quantity [%] per kW more injection
        (generation positive) at each controllable bus.
    dloss_per_kw : ndarray (steps, J)
        Change of the network losses [kW] per kW more injection.
    base : BatchResult
        The operating point they were taken at.
    n_power_flows : int
    """

    bus_pos: np.ndarray
    dq_per_kw: np.ndarray
    dloss_per_kw: np.ndarray
    base: BatchResult
    n_power_flows: int


def sensitivities(compiled: CompiledNet, p_inj_mw: np.ndarray, q_inj_mvar: np.ndarray,
                  bus_pos, mon: Monitored, *, delta_kw: float | None = None,
                  base: BatchResult | None = None) -> Sensitivities:
    """Finite-difference sensitivities at an operating point, by the batch engine.

    Parameters
    ----------
    compiled : CompiledNet
    p_inj_mw, q_inj_mvar : ndarray (steps, n_bus)
        Operating point: bus injections [MW], [Mvar], generation positive.
    bus_pos : array of int
        Controllable bus columns.
    mon : Monitored
    delta_kw : float, optional
        Injection step [kW]; default ``Settings.dispatch_sensitivity_kw``.
    base : BatchResult, optional
        The solved operating point (solved here when not given).

    Returns
    -------
    Sensitivities
        Non-converged perturbed steps give zero sensitivity (logged).
    """
    delta_kw = get_settings().dispatch_sensitivity_kw if delta_kw is None else float(delta_kw)
    bus_pos = np.asarray(bus_pos, dtype=np.int64)
    n_steps = p_inj_mw.shape[0]
    n_ctrl = len(bus_pos)
    if base is None:
        base = run_batch(compiled, p_inj_mw, q_inj_mvar)
    if n_ctrl == 0:
        return Sensitivities(bus_pos, np.zeros((n_steps, len(mon), 0)), np.zeros((n_steps, 0)), base, 0)
    need_gb = 3 * 8.0 * n_ctrl * n_steps * max(len(mon), compiled.n_bus) / 1e9
    if need_gb > _MAX_GB:
        raise DispatchError(
            f"{compiled.name}: sensitivities of {len(mon)} monitored quantities to {n_ctrl} controllable "
            f"buses over {n_steps} steps need about {need_gb:.1f} GB (limit {_MAX_GB:g} GB); plan fewer "
            "steps at once or a smaller part of the network")
    p = np.repeat(p_inj_mw[None], n_ctrl, axis=0)
    p[np.arange(n_ctrl), :, bus_pos] += delta_kw / 1000.0
    q = np.broadcast_to(q_inj_mvar[None], p.shape)
    res = run_batch(compiled, p.reshape(-1, p.shape[-1]), q.reshape(-1, q.shape[-1]))
    q0 = quantities(base, mon)
    q1 = quantities(res, mon).reshape(n_ctrl, n_steps, len(mon))
    dq = (q1 - q0[None]) / delta_kw                    # (J, T, M)
    dl = (res.losses_mw.reshape(n_ctrl, n_steps) - base.losses_mw[None]) * 1000.0 / delta_kw
    bad = ~np.isfinite(dq)
    if bad.any():
        logger.warning("%s: %d sensitivities undefined (non-converged steps) set to 0",
                       compiled.name, int(bad.sum()))
        dq[bad] = 0.0
    dl[~np.isfinite(dl)] = 0.0
    return Sensitivities(bus_pos, np.ascontiguousarray(dq.transpose(1, 2, 0)),
                         np.ascontiguousarray(dl.T), base, int(n_ctrl * n_steps))
