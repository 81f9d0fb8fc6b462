"""Hosting capacity: how much more PV a bus takes before a limit breaks.

Nodal hosting capacity of a bus (DESIGN.md, "Hosting capacity: what one number
means"): the largest additional PV AC power [kW] at that bus, injected at unity
power factor, with everything else on the feeder as it is, such that at every
studied step

* no bus voltage exceeds ``vm_max_pu`` (GB/T 12325),
* no line or transformer exceeds its loading limit (100 % of rating),
* no transformer's reverse load rate ``-P_hv / S_rated`` exceeds ``beta``
  (DL/T 2041-2019).

Pre-existing under-voltage limits nothing (it is reported, not binding).
Every answer is confirmed with the AC batch engine: the capacity is bracketed
and bisected on the full set of studied steps, so the result is the AC answer
to within the requested resolution, and the binding constraint (type, element,
time) is the one that breaks just above it.

This module holds the exact core (one bus, any set of steps); screening for
speed, aggregation, zones and publication build on it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridint.config import get_settings
from gridint.errors import GridintError
from gridint.powerflow.batch import BatchResult, run_batch
from gridint.powerflow.compile import CompiledNet

__all__ = ["Binding", "NodalHostingCapacity", "first_violation", "nodal_hosting_capacity",
           "violating_steps"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Binding:
    """The constraint that breaks first above the hosting capacity.

    Attributes
    ----------
    constraint : str
        ``voltage``, ``thermal`` or ``reverse_power`` (``convergence`` when the
        power flow has no solution any more).
    element : str
        Name of the bus, line or transformer.
    time : str or None
        ISO 8601 time of the step (None for a snapshot without time index).
    value : float
        Value found [pu, %, or reverse load rate as a fraction].
    limit : float
        The limit it breaks (same unit).
    """

    constraint: str
    element: str
    time: str | None
    value: float
    limit: float


@dataclass(frozen=True)
class NodalHostingCapacity:
    """Hosting capacity of one bus [kW] and what binds just above it."""

    bus: str
    hc_kw: float
    binding: Binding | None
    n_steps: int
    n_power_flows: int


def _ratios(res: BatchResult, base: BatchResult | None):
    """Per check: (kind, names, limit, values, ratio) with ratio > 1 where a new violation is."""
    s = get_settings()
    c = res.compiled

    def reverse(r: BatchResult) -> np.ndarray:
        return -r.trafo_p_hv_mw / c.trafo_sn_mva[None, :]

    checks = (
        ("voltage", lambda r: r.vm_pu, c.bus_names, s.vm_max_pu),
        ("thermal", lambda r: r.line_loading_percent, c.line_names, s.line_loading_max_percent),
        ("thermal", lambda r: r.trafo_loading_percent, c.trafo_names, s.trafo_loading_max_percent),
        ("reverse_power", reverse, c.trafo_names, s.reverse_load_rate_max),
    )
    out = []
    for kind, get, names, limit in checks:
        arr = np.nan_to_num(get(res), nan=-np.inf)
        if not arr.size:
            continue
        ratio = np.where(arr > limit, arr / limit, -np.inf)
        if base is not None:
            ref = np.nan_to_num(get(base), nan=-np.inf)
            ratio = np.where(arr > ref + 1e-9, ratio, -np.inf)
        out.append((kind, names, float(limit), arr, ratio))
    return out


def violating_steps(res: BatchResult, base: BatchResult | None = None) -> np.ndarray:
    """Worst limit ratio per step (> 1 where a new violation is; inf if not converged).

    Parameters
    ----------
    res, base : BatchResult
        As in :func:`first_violation`.

    Returns
    -------
    ndarray (steps,)
    """
    worst = np.full(res.n_steps, -np.inf)
    for *_, ratio in _ratios(res, base):
        worst = np.maximum(worst, ratio.max(axis=1))
    worst[~res.converged] = np.inf
    return worst


def first_violation(res: BatchResult, base: BatchResult | None = None) -> Binding | None:
    """The largest relative limit exceedance in a batch result, or None if none.

    Parameters
    ----------
    res : BatchResult
    base : BatchResult, optional
        The same steps without the new PV. A value that breaks its limit only
        counts where it is worse than in ``base`` (an overload the feeder already
        has at peak load is not caused by PV and does not bind it).

    Returns
    -------
    Binding or None
        Over-voltage, line/transformer overload or reverse power beyond beta;
        a non-converged step counts as ``convergence``.
    """
    c = res.compiled
    t = res.time_index

    def when(k: int) -> str | None:
        return None if t is None else pd.Timestamp(t[k]).isoformat()

    if not res.converged.all():
        k = int(np.flatnonzero(~res.converged)[0])
        return Binding("convergence", c.name, when(k), float("nan"), float("nan"))
    worst = None
    for kind, names, limit, arr, ratio in _ratios(res, base):
        k, j = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        if np.isfinite(ratio[k, j]) and (worst is None or ratio[k, j] > worst[0]):
            worst = (ratio[k, j], kind, str(names[j]), int(k), float(arr[k, j]), limit)
    if worst is None:
        return None
    _, kind, name, k, value, limit = worst
    return Binding(kind, name, when(k), value, limit)


def nodal_hosting_capacity(compiled: CompiledNet, p_inj_mw: np.ndarray, q_inj_mvar: np.ndarray,
                           bus: int, *, shape: np.ndarray | None = None,
                           time_index: pd.DatetimeIndex | None = None,
                           resolution_kw: float = 1.0, rel_resolution: float = 0.005,
                           start_kw: float = 100.0, max_kw: float = 100_000.0,
                           screen_steps: int | None = 96) -> NodalHostingCapacity:
    """Exact nodal hosting capacity of one bus over the given steps.

    Parameters
    ----------
    compiled : CompiledNet
    p_inj_mw, q_inj_mvar : array (steps, n_bus) [MW], [Mvar]
        The feeder as it is (generation-positive bus injections per step).
    bus : int
        pandapower bus index where the new PV connects.
    shape : array (steps,), optional
        New PV output per kW of AC rating at each step (1.0 = rated); default
        1.0 at every step (snapshot).
    time_index : DatetimeIndex, optional
        Step labels for the binding time.
    resolution_kw, rel_resolution : float
        Bisection stops when the bracket is below ``max(resolution_kw,
        rel_resolution * hc)``; the result is the feasible end.
    start_kw, max_kw : float
        First trial and the cap [kW]; a bus that takes ``max_kw`` reports it
        with ``binding`` None.
    screen_steps : int or None
        With more than twice this many steps, bisect on a screened set of steps
        (high PV with high voltage or reverse flow) and confirm the answer on
        every step, adding any step that breaks it, until all steps confirm.
        The result is the same as bisecting on every step. None: no screening.

    Returns
    -------
    NodalHostingCapacity

    Raises
    ------
    GridintError
        Wrong shapes or an unknown bus.
    """
    p = np.asarray(p_inj_mw, dtype=float)
    q = np.asarray(q_inj_mvar, dtype=float)
    if p.ndim == 1:
        p, q = p[None, :], q[None, :]
    n_steps = p.shape[0]
    shape = np.ones(n_steps) if shape is None else np.asarray(shape, dtype=float)
    if shape.shape != (n_steps,) or np.any(~np.isfinite(shape)) or np.any(shape < 0):
        raise GridintError(f"shape must be {n_steps} finite values >= 0 (one per step)")
    col = compiled.bus_position(bus)
    if compiled.bus_solver[col] < 0:
        raise GridintError(f"bus {bus} is out of service or unsupplied")
    n_pf = 0
    base = run_batch(compiled, p, q, time_index=time_index)
    n_pf += n_steps
    if not base.converged.all():
        k = int(np.flatnonzero(~base.converged)[0])
        raise GridintError(f"the feeder as it is does not converge at step {k}; "
                           "hosting capacity needs a solvable base case")

    def run(steps: np.ndarray, x_kw: float) -> BatchResult:
        nonlocal n_pf
        trial = p[steps]  # fancy indexing: a copy
        trial[:, col] += x_kw / 1000.0 * shape[steps]
        n_pf += len(steps)
        return run_batch(compiled, trial, q[steps],
                         time_index=None if time_index is None else time_index[steps])

    all_steps = np.arange(n_steps)
    name = str(compiled.bus_names[col])
    existing = first_violation(base)
    if existing is not None and existing.constraint in ("voltage", "reverse_power"):
        # PV can only raise voltage and reverse flow further: nothing fits
        if first_violation(run(all_steps, resolution_kw), base) is not None:
            return NodalHostingCapacity(name, 0.0, existing, n_steps, n_pf)

    def bisect(steps: np.ndarray) -> tuple[float, Binding | None]:
        sub = base.take(steps)
        lo, hi, hi_binding = 0.0, start_kw, None
        while hi <= max_kw:
            hi_binding = first_violation(run(steps, hi), sub)
            if hi_binding is not None:
                break
            lo, hi = hi, hi * 2.0
        else:
            return float(max_kw), None
        while hi - lo > max(resolution_kw, rel_resolution * lo):
            mid = 0.5 * (lo + hi)
            b = first_violation(run(steps, mid), sub)
            if b is None:
                lo = mid
            else:
                hi, hi_binding = mid, b
        return lo, hi_binding

    if not screen_steps or n_steps <= 2 * screen_steps:
        hc, binding = bisect(all_steps)
        return NodalHostingCapacity(name, float(hc), binding, n_steps, n_pf)
    # screening: bisect on the steps most likely to bind, then confirm the answer on
    # every step; steps that break it join the set until the whole period confirms.
    steps = _screen(base, shape, col, screen_steps)
    while True:
        hc, binding = bisect(steps)
        ratio = violating_steps(run(all_steps, hc), base)
        bad = np.flatnonzero(ratio > 1.0)
        if not len(bad):
            return NodalHostingCapacity(name, float(hc), binding, n_steps, n_pf)
        worst = bad[np.argsort(-ratio[bad])][:screen_steps]
        steps = np.union1d(steps, worst)
        logger.debug("%s: %d steps break %.1f kW; screening set now %d", name, len(bad), hc,
                     len(steps))


def _screen(base: BatchResult, shape: np.ndarray, col: int, n: int) -> np.ndarray:
    """Steps most likely to bind new PV at bus column ``col``: high PV output with
    high voltage at the bus, high feeder voltage, or strong reverse flow."""
    c = base.compiled
    vm_bus = np.nan_to_num(base.vm_pu[:, col], nan=0.0)
    vm_max = np.nan_to_num(base.vm_pu, nan=0.0).max(axis=1)
    rev = ((-base.trafo_p_hv_mw / c.trafo_sn_mva[None, :]).max(axis=1)
           if base.trafo_p_hv_mw.size else np.zeros(base.n_steps))
    load = ((np.nan_to_num(base.line_loading_percent, nan=0.0).max(axis=1)
             if base.line_loading_percent.size else np.zeros(base.n_steps)))
    scores = (shape, shape * vm_bus, shape * vm_max, shape + rev, shape * (1.0 + load / 100.0))
    k = max(1, n // len(scores))
    picked = [np.argsort(-sc, kind="stable")[:k] for sc in scores]
    return np.unique(np.concatenate(picked))
