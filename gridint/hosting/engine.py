"""Many hosting capacities at once, every answer confirmed with the AC engine.

A *site* is where new PV goes: one bus (nodal hosting capacity), the LV buses
of a transformer, or a whole feeder with the PV shared out by fixed weights
(simultaneous allocation), optionally with an inverter setting (power factor),
an export limit or a battery. For every site the engine finds the largest
rating ``x`` [kW] such that, at every studied step, the feeder with
``x * u_t`` of new PV (``u_t`` the per-kW output of the site at step t) has no
*new* violation of

* bus voltage above ``vm_max_pu`` (GB/T 12325),
* line / transformer loading above 100 %,
* transformer reverse load rate ``-P_hv / S_rated`` above ``beta`` (DL/T 2041).

A value beyond its limit only counts where the new PV makes it worse than the
base case by more than ``hosting_worsening_tolerance`` (of the limit); an
overload the feeder already has at peak load does not bind PV.

How (the answer is AC throughout; sensitivities only choose where to look):

1. One base run of all steps.
2. A *screened* set of steps per site (high PV with high voltage, reverse
   flow or loading).
3. All sites are bracketed together on their screened steps: each round is
   one stacked batch power flow (sites x steps rows); the next trial per site
   comes from a per-quantity secant estimate, tried as a pair
   ``x (1 -/+ delta)`` one resolution apart, with bisection as the fallback.
4. Confirmation on every step: from the trial runs, the change of each
   quantity per kW injected bounds where a limit could break
   (:func:`gridint.hosting._kernels.candidate_mask`, with a safety margin);
   those steps are solved with the AC engine at the answer. A site whose
   answer breaks anywhere gets the breaking steps added and is re-bracketed.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from gridint.config import get_settings
from gridint.errors import GridintError
from gridint.powerflow.batch import BatchResult, run_batch
from gridint.powerflow.compile import CompiledNet

logger = logging.getLogger(__name__)

__all__ = ["Binding", "Site", "SiteResult", "Monitor", "check_sites", "solve_sites", "peak_shave_kw"]

#: rows per stacked power-flow call (memory bound: rows x buses x 8 B x ~6 arrays)
_CHUNK_ROWS = 60_000


@contextlib.contextmanager
def _quiet_batch():
    """Silence the batch engine's non-convergence warning for trial runs."""
    log = logging.getLogger("gridint.powerflow.batch")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


@dataclass(frozen=True)
class Binding:
    """The constraint that breaks first above a hosting capacity.

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

    def to_dict(self) -> dict:
        return {"constraint": self.constraint, "element": self.element, "time": self.time,
                "value": None if not np.isfinite(self.value) else round(float(self.value), 6),
                "limit": None if not np.isfinite(self.limit) else float(self.limit)}


@dataclass(frozen=True)
class Site:
    """Where new PV goes and how it behaves.

    Parameters
    ----------
    name : str
    cols : array of int
        Bus columns (positions in ``compiled.bus_index``).
    weights : array of float
        Share of the rating at each column (sums to 1).
    q_per_p : float
        Reactive power per active power of the new PV (negative = absorbing,
        e.g. ``-tan(acos 0.95)`` = -0.329 at PF 0.95).
    export_limit_fraction : float or None
        Injection capped at this fraction of the rating (export limit).
    battery_kw, battery_kwh : float
        Battery with the site [kW], [kWh] that shaves the daily PV peak
        (:func:`peak_shave_kw`); 0 = none.
    volt_var : bool
        IEEE 1547 Category B volt-var on the new inverters (single-bus sites).
    flat : bool
        Output 1.0 at every step with sun (shape > 0): a constant export ``x`` kW
        in daylight -- the rating then *is* an export limit that fits any PV size.
    """

    name: str
    cols: np.ndarray
    weights: np.ndarray
    q_per_p: float = 0.0
    export_limit_fraction: float | None = None
    battery_kw: float = 0.0
    battery_kwh: float = 0.0
    volt_var: bool = False
    flat: bool = False

    @property
    def plain(self) -> bool:
        return self.export_limit_fraction is None and self.battery_kw <= 0.0 and not self.flat

    def key(self) -> tuple:
        """Hashable identity of the site's injection behaviour."""
        return (self.name, tuple(self.cols.tolist()), tuple(np.round(self.weights, 12).tolist()),
                self.q_per_p, self.export_limit_fraction, self.battery_kw, self.battery_kwh,
                self.volt_var, self.flat)


@dataclass
class SiteResult:
    """Hosting capacity of one site [kW] and what binds just above it."""

    name: str
    hc_kw: float
    binding: Binding | None
    n_screened: int = 0
    n_confirmed: int = 0
    capped: bool = False


@dataclass
class Monitor:
    """Monitored quantities of a compiled net as value/limit ratios."""

    compiled: CompiledNet
    kinds: np.ndarray = field(init=False)
    names: np.ndarray = field(init=False)
    limits: np.ndarray = field(init=False)

    def __post_init__(self):
        s = get_settings()
        c = self.compiled
        parts = [("voltage", c.bus_names, s.vm_max_pu),
                 ("thermal", c.line_names, s.line_loading_max_percent),
                 ("thermal", c.trafo_names, s.trafo_loading_max_percent),
                 ("reverse_power", c.trafo_names, s.reverse_load_rate_max)]
        self.kinds = np.concatenate([np.full(len(n), k, dtype=object) for k, n, _ in parts])
        self.names = np.concatenate([np.asarray(n, dtype=object) for _, n, _ in parts])
        self.limits = np.concatenate([np.full(len(n), lim, dtype=float) for _, n, lim in parts])

    def ratios(self, res: BatchResult) -> np.ndarray:
        """(steps, m) value / limit; -inf where a quantity does not exist (unsupplied bus);
        +inf on every column of a step that did not converge."""
        c = self.compiled
        rev = (-res.trafo_p_hv_mw / c.trafo_sn_mva[None, :]) if len(c.trafo_sn_mva) else \
            np.zeros((res.n_steps, 0))
        r = np.concatenate([res.vm_pu, res.line_loading_percent, res.trafo_loading_percent, rev],
                           axis=1)
        r /= self.limits[None, :]
        r[np.isnan(r)] = -np.inf
        r[~res.converged] = np.inf
        return r


def peak_shave_kw(pv_kw: np.ndarray, battery_kw: float, battery_kwh: float,
                  steps_per_day: int, step_h: float) -> np.ndarray:
    """PV output after a battery that shaves each day's peak [kW].

    Dispatch rule: every day the battery charges from the PV above a level ``L``
    at up to ``battery_kw``, with ``L`` the lowest level whose charge energy fits
    ``battery_kwh``; it discharges after sunset (not into the grid export
    peak). This is the export-peak-minimising use of a given battery.

    Parameters
    ----------
    pv_kw : array (steps,)
        PV output [kW]; whole days of ``steps_per_day`` steps.
    battery_kw, battery_kwh : float
        Battery power [kW] and usable energy [kWh].
    steps_per_day : int
    step_h : float
        Step length [h].

    Returns
    -------
    array (steps,)
        Export [kW] = PV - charging.
    """
    pv = np.asarray(pv_kw, dtype=float)
    n = len(pv)
    if battery_kw <= 0 or battery_kwh <= 0 or n == 0:
        return pv.copy()
    n_days = -(-n // steps_per_day)
    pad = np.zeros(n_days * steps_per_day)
    pad[:n] = pv
    day = pad.reshape(n_days, steps_per_day)
    lo = np.zeros(n_days)
    hi = day.max(axis=1)

    def energy(level):
        return (np.minimum(battery_kw, np.maximum(day - level[:, None], 0.0)).sum(axis=1)
                * step_h)

    for _ in range(40):  # bisection on the level, every day at once
        mid = 0.5 * (lo + hi)
        fits = energy(mid) <= battery_kwh
        hi = np.where(fits, mid, hi)
        lo = np.where(fits, lo, mid)
    charge = np.minimum(battery_kw, np.maximum(day - hi[:, None], 0.0))
    return (day - charge).reshape(-1)[:n]


@dataclass
class _State:
    steps: np.ndarray
    lo: float = 0.0
    hi: float = np.inf
    hi_binding: Binding | None = None
    hi_pre: bool = False  # the binding quantity is already beyond its limit in the base
    x_prev: float = 0.0
    r_prev: np.ndarray | None = None  # ratios at x_prev on steps (None: the base)
    trials: list = field(default_factory=list)
    done: bool = False
    rounds: int = 0


class _Study:
    """Shared state of one feeder: base injections, base run, ratios, PV shape."""

    def __init__(self, compiled: CompiledNet, p_inj_mw, q_inj_mvar, shape, time_index,
                 progress: Callable[[str, int, int], None] | None = None):
        p = np.asarray(p_inj_mw, dtype=float)
        q = np.asarray(q_inj_mvar, dtype=float)
        if p.ndim == 1:
            p, q = p[None, :], q[None, :]
        if p.shape != q.shape or p.shape[1] != compiled.n_bus:
            raise GridintError(f"injections must be (steps, {compiled.n_bus}) arrays, "
                               f"got {p.shape} and {q.shape}")
        self.c = compiled
        self.p, self.q = p, q
        self.n_steps = p.shape[0]
        shape = np.ones(self.n_steps) if shape is None else np.asarray(shape, dtype=float)
        if shape.shape != (self.n_steps,) or np.any(~np.isfinite(shape)) or np.any(shape < 0):
            raise GridintError(f"shape must be {self.n_steps} finite values >= 0 (one per step)")
        self.shape = shape
        self.time_index = time_index
        self.monitor = Monitor(compiled)
        self.progress = progress
        self.n_pf = 0
        self.base = run_batch(compiled, p, q, time_index=time_index)
        self.n_pf += self.n_steps
        if not self.base.converged.all():
            k = int(np.flatnonzero(~self.base.converged)[0])
            raise GridintError(f"the feeder as it is does not converge at step {k}; "
                               "hosting capacity needs a solvable base case")
        self.r0 = self.monitor.ratios(self.base)
        self.r0_max = self.r0.max(axis=1)
        s = get_settings()
        self.tol = s.hosting_worsening_tolerance
        if time_index is not None and len(time_index) > 1:
            step_h = (time_index[1] - time_index[0]).total_seconds() / 3600.0
        else:
            step_h = s.step_minutes / 60.0
        self.step_h = step_h
        self.steps_per_day = int(round(24.0 / step_h))

    # ------------------------------------------------------------------ injections
    def unit_output(self, site: Site, x_kw: float) -> np.ndarray:
        """New-PV export per kW of rating at every step [kW/kW] for rating x."""
        if site.plain:
            return self.shape
        cache = self.__dict__.setdefault("_unit_cache", {})
        key = (site.key(), float(x_kw))
        if key in cache:
            return cache[key]
        u = (self.shape > 1e-6).astype(float) if site.flat else self.shape
        if site.export_limit_fraction is not None:
            u = np.minimum(u, site.export_limit_fraction)
        if site.battery_kw > 0 and x_kw > 0:
            u = peak_shave_kw(u * x_kw, site.battery_kw, site.battery_kwh, self.steps_per_day,
                              self.step_h) / x_kw
        if len(cache) > 256:
            cache.clear()
        cache[key] = u
        return u

    def run_trials(self, trials: Sequence[tuple[Site, float, np.ndarray]]) -> list[np.ndarray]:
        """AC ratios (steps, m) for each (site, x_kw, steps) trial; stacked batch runs."""
        out: list[np.ndarray | None] = [None] * len(trials)
        order = list(range(len(trials)))
        while order:
            rows, batch = 0, []
            while order and (not batch or rows + len(trials[order[0]][2]) <= _CHUNK_ROWS):
                i = order.pop(0)
                batch.append(i)
                rows += len(trials[i][2])
            for i, r in zip(batch, self._run_chunk([trials[i] for i in batch])):
                out[i] = r
        return out  # type: ignore[return-value]

    def _run_chunk(self, trials) -> list[np.ndarray]:
        ps, qs, vv = [], [], []
        for site, x_kw, steps in trials:
            u = self.unit_output(site, x_kw)[steps] if not site.plain else self.shape[steps]
            new_mw = x_kw / 1000.0 * u
            pt = self.p[steps].copy()
            qt = self.q[steps].copy()
            pt[:, site.cols] += new_mw[:, None] * site.weights[None, :]
            if site.q_per_p:
                qt[:, site.cols] += site.q_per_p * new_mw[:, None] * site.weights[None, :]
            ps.append(pt)
            qs.append(qt)
            vv.append(site.volt_var)
        p = np.concatenate(ps)
        q = np.concatenate(qs)
        with _quiet_batch():  # trials beyond voltage collapse are expected, not news
            res = run_batch(self.c, p, q)
            self.n_pf += len(p)
            if any(vv):
                res = self._volt_var(trials, p, q, res)
        r = self.monitor.ratios(res)
        bounds = np.cumsum([0] + [len(t[2]) for t in trials])
        return [r[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def _volt_var(self, trials, p, q, res):
        """Fixed point of IEEE 1547 Category B volt-var at the sites that have it:
        Q = curve(V) x rating, re-solved until Q settles (damped)."""
        s = get_settings()
        v_pts = np.asarray(s.volt_var_v_pu, dtype=float)
        q_pts = np.asarray(s.volt_var_q_percent, dtype=float) / 100.0
        bounds = np.cumsum([0] + [len(t[2]) for t in trials])
        q_new = np.zeros(len(p))
        for _ in range(s.volt_var_max_iterations):
            target = np.zeros(len(p))
            for (site, x_kw, steps), a, b in zip(trials, bounds[:-1], bounds[1:]):
                if not site.volt_var:
                    continue
                vm = np.nan_to_num(res.vm_pu[a:b][:, site.cols] @ site.weights, nan=1.0)
                target[a:b] = np.interp(vm, v_pts, q_pts) * x_kw / 1000.0
            step = 0.5 * (target - q_new)
            if np.max(np.abs(step), initial=0.0) < 1e-6:
                break
            q_new += step
            qq = q.copy()
            for (site, x_kw, steps), a, b in zip(trials, bounds[:-1], bounds[1:]):
                if site.volt_var:
                    qq[a:b][:, site.cols] += q_new[a:b, None] * site.weights[None, :]
            res = run_batch(self.c, p, qq)
            self.n_pf += len(p)
        return res

    # ------------------------------------------------------------------ verdicts
    def verdict(self, r: np.ndarray, steps: np.ndarray) -> tuple[bool, Binding | None, bool]:
        """(feasible, binding, pre-existing) of trial ratios on ``steps``; pre-existing:
        the binding quantity was beyond its limit before the new PV."""
        r0 = self.r0[steps]
        new = (r > 1.0) & (r > r0 + self.tol)
        if not new.any():
            return True, None, False
        score = np.where(new, r, -np.inf)
        k, j = np.unravel_index(int(np.argmax(score)), score.shape)
        step = int(steps[k])
        t = None if self.time_index is None else pd.Timestamp(self.time_index[step]).isoformat()
        if not np.isfinite(r[k, j]):
            return False, Binding("convergence", self.c.name, t, float("nan"), float("nan")), False
        m = self.monitor
        value = float(r[k, j] * m.limits[j])
        return False, Binding(str(m.kinds[j]), str(m.names[j]), t, value, float(m.limits[j])), \
            bool(r0[k, j] > 1.0)

    def estimate(self, st: _State, x: float, r: np.ndarray) -> float:
        """Secant estimate of the rating where the first quantity reaches its limit."""
        r_prev = self.r0[st.steps] if st.r_prev is None else st.r_prev
        dx = x - st.x_prev
        if dx == 0 or not np.all(np.isfinite(r[np.isfinite(r_prev)])):
            return np.nan
        fin = np.isfinite(r) & np.isfinite(r_prev)
        slope = np.where(fin, (r - r_prev) / dx, 0.0)
        up = slope > 1e-12
        if not up.any():
            return np.inf
        need = np.where(up, (1.0 - r) / np.where(up, slope, 1.0), np.inf)
        # quantities already beyond their limit in the base only bind if worsened: skip
        # them here (the AC verdict decides); the estimate serves the others
        r0 = self.r0[st.steps]
        need = np.where(r0 >= 1.0, np.inf, need)
        return float(x + need.min())


def _resolution(x: float, resolution_kw: float, rel: float) -> float:
    return max(resolution_kw, rel * x)


def _top(score: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest values (deterministic; order not meaningful)."""
    if k >= len(score):
        return np.arange(len(score))
    return np.sort(np.argpartition(-score, k - 1)[:k])


def _screen_common(study: _Study, n: int):
    """Feeder-wide screening picks and the arrays the per-site picks need (cached)."""
    cache = study.__dict__.setdefault("_screen_cache", {})
    if n not in cache:
        base, c, shape = study.base, study.c, study.shape
        vm = np.nan_to_num(base.vm_pu, nan=0.0)
        vm_max = vm.max(axis=1)
        rev = ((-base.trafo_p_hv_mw / c.trafo_sn_mva[None, :]).max(axis=1)
               if base.trafo_p_hv_mw.size else np.zeros(base.n_steps))
        load = (np.nan_to_num(base.line_loading_percent, nan=0.0).max(axis=1)
                if base.line_loading_percent.size else np.zeros(base.n_steps))
        k = max(1, n // 5)
        common = np.unique(np.concatenate([
            _top(sc, k) for sc in (shape, shape * vm_max, shape + rev,
                                   shape * (1.0 + load / 100.0))]))
        cache[n] = (common, vm, vm_max, rev, k)
    return cache[n]


def screen_steps(study: _Study, sites: Sequence[Site], n: int,
                 x_kw: Sequence[float] | None = None) -> list[np.ndarray]:
    """Steps most likely to bind each site: high PV output with high voltage at the
    site or anywhere, strong reverse flow or loading (whole set if small). ``x_kw``:
    the rating each site is tried at (a battery's effect depends on it)."""
    if study.n_steps <= 2 * n:
        return [np.arange(study.n_steps)] * len(sites)
    common, vm, vm_max, rev, k = _screen_common(study, n)
    shape = study.shape
    out = []
    for i, site in enumerate(sites):
        v_site = vm[:, site.cols[0]] if len(site.cols) == 1 else vm[:, site.cols] @ site.weights
        if site.plain:
            out.append(np.union1d(common, _top(shape * v_site, k)))
        else:  # a shaped site: its own output replaces the shape
            x = x_kw[i] if x_kw is not None else max(100.0, 3.0 * site.battery_kw)
            u = study.unit_output(site, x)
            picks = [_top(sc, k) for sc in (u, u * vm_max, u + rev, u * v_site)]
            out.append(np.unique(np.concatenate(picks)))
    return out


def solve_sites(study: _Study, sites: Sequence[Site], *, resolution_kw: float = 1.0,
                rel_resolution: float = 0.005, start_kw: float = 100.0,
                max_kw: float = 100_000.0, n_screen: int | None = 96,
                confirm: bool = True, max_rounds: int = 60) -> list[SiteResult]:
    """Hosting capacity of every site; see the module docstring.

    Parameters
    ----------
    study : _Study
    sites : sequence of Site
    resolution_kw, rel_resolution : float
        Each answer is the feasible end of a bracket narrower than
        ``max(resolution_kw, rel_resolution * hc)``.
    start_kw, max_kw : float
        First trial and the cap [kW]; a site that takes ``max_kw`` reports it,
        ``capped`` True and no binding.
    n_screen : int or None
        Screened steps per site (None: bisect on every step, no confirmation needed).
    confirm : bool
        Confirm on every step (False: the screened steps are the studied steps).
    max_rounds : int
        Safety bound on bracketing rounds.

    Returns
    -------
    list of SiteResult
    """
    if not sites:
        return []
    if n_screen:
        steps = screen_steps(study, sites, n_screen)
    else:
        steps = [np.arange(study.n_steps)] * len(sites)
    states = [_State(steps=s) for s in steps]
    results: list[SiteResult | None] = [None] * len(sites)
    full_checked = [len(s) == study.n_steps or not confirm for s in steps]
    n_conf = [0] * len(sites)
    pending = list(range(len(sites)))
    while pending:
        _bracket(study, [sites[i] for i in pending], [states[i] for i in pending],
                 resolution_kw, rel_resolution, start_kw, max_kw, max_rounds)
        to_confirm = [i for i in pending if not full_checked[i] and states[i].lo > 0]
        broken = _confirm(study, [sites[i] for i in to_confirm], [states[i] for i in to_confirm],
                          n_screen or 96) if to_confirm else {}
        for i, n in zip(to_confirm, broken.get("n_checked", [])):
            n_conf[i] += n
        again = []
        for pos, i in enumerate(to_confirm):
            bad = broken["bad"][pos]
            if len(bad):
                st = states[i]
                st.steps = np.union1d(st.steps, bad)
                st.lo, st.hi, st.hi_binding, st.hi_pre = 0.0, np.inf, None, False
                st.x_prev, st.r_prev, st.done, st.rounds = 0.0, None, False, 0
                again.append(i)
        for i in pending:
            if i in again:
                continue
            st = states[i]
            capped = not np.isfinite(st.hi)
            # a limit the feeder already breaks and that any PV here worsens: nothing fits
            hc = 0.0 if st.hi_pre else float(min(st.lo, max_kw))
            results[i] = SiteResult(sites[i].name, hc, st.hi_binding,
                                    n_screened=len(st.steps), n_confirmed=n_conf[i], capped=capped)
        if again:
            logger.debug("%d sites broke on unscreened steps; re-bracketing", len(again))
        pending = again
    return results  # type: ignore[return-value]


def _bracket(study: _Study, sites, states, resolution_kw, rel, start_kw, max_kw, max_rounds):
    active = [k for k, st in enumerate(states) if not st.done]
    first = {k: True for k in active}
    total = len(active)
    while active:
        trials, owners = [], []
        for k in active:
            st = states[k]
            if first.pop(k, False):
                xs = [start_kw]
            else:
                xs = st.trials
            for x in xs:
                trials.append((sites[k], float(x), st.steps))
                owners.append((k, float(x)))
        rs = study.run_trials(trials)
        by_site: dict[int, list] = {}
        for (k, x), r in zip(owners, rs):
            by_site.setdefault(k, []).append((x, r))
        still = []
        for k in active:
            st = states[k]
            st.rounds += 1
            est = np.nan
            for x, r in sorted(by_site[k], key=lambda t: t[0]):
                ok, binding, pre = study.verdict(r, st.steps)
                if ok:
                    if x > st.lo:
                        st.lo = x
                else:
                    if x < st.hi:
                        st.hi, st.hi_binding, st.hi_pre = x, binding, pre
            # secant from the previous point to the last (highest) trial of this round
            x_last, r_last = max(by_site[k], key=lambda t: t[0])
            est = study.estimate(st, x_last, r_last)
            st.x_prev, st.r_prev = x_last, r_last
            width = _resolution(st.lo, resolution_kw, rel)
            if st.hi - st.lo <= width:
                st.done = True
                continue
            if st.lo >= max_kw:
                st.lo, st.done = max_kw, True
                continue
            if st.rounds >= max_rounds:
                logger.warning("site %s: no bracket after %d rounds; keeping %.1f kW",
                               sites[k].name, st.rounds, st.lo)
                st.done = True
                continue
            hi = st.hi if np.isfinite(st.hi) else max(2.0 * st.lo, 2.0 * start_kw)
            ok_est = np.isfinite(est) and st.lo < est < (st.hi if np.isfinite(st.hi) else np.inf)
            if ok_est and st.rounds <= 8:
                x_c = min(est, max_kw)
            elif np.isfinite(st.hi):
                x_c = 0.5 * (st.lo + st.hi)
            else:
                x_c = min(hi, max_kw)
            half = 0.45 * _resolution(x_c, resolution_kw, rel)
            pair = [max(x_c - half, st.lo + 1e-9), x_c + half]
            if not np.isfinite(st.hi) and x_c >= max_kw:
                pair = [max_kw]
            pair = [x for x in pair if st.lo < x < st.hi]
            if not pair:
                pair = [0.5 * (st.lo + st.hi)]
            st.trials = pair
            still.append(k)
        active = still
        if study.progress:
            study.progress("bracketing", total - len(active), total)


def _confirm(study: _Study, sites, states, n_add: int) -> dict:
    """AC check of each site's answer on every step a linear bound cannot clear."""
    from gridint.hosting._kernels import candidate_mask

    s = get_settings()
    n_sites = len(sites)
    u = np.empty((n_sites, study.n_steps))
    d = np.zeros((n_sites, study.r0.shape[1]))
    x = np.array([st.lo for st in states])
    skip = np.zeros((n_sites, study.n_steps), dtype=bool)
    for i, (site, st) in enumerate(zip(sites, states)):
        u[i] = study.unit_output(site, st.lo)
        skip[i, st.steps] = True
        # change per kW over the screened steps at the last trial (secant from the base)
        if st.r_prev is not None and st.x_prev > 0:
            u_s = study.unit_output(site, st.x_prev)[st.steps]
            strong = u_s >= 0.25 * max(u_s.max(), 1e-12)
            r0 = study.r0[st.steps][strong]
            r1 = st.r_prev[strong]
            fin = np.isfinite(r0) & np.isfinite(r1)
            delta = np.where(fin, np.abs(r1 - r0), 0.0) / (st.x_prev * u_s[strong][:, None])
            d[i] = delta.max(axis=0) if len(delta) else 0.0
        else:
            d[i] = np.inf
    d = np.where(np.isfinite(d), d, 1e6)
    mask = candidate_mask(study.r0, study.r0_max, u, x, d, d.max(axis=1),
                          s.hosting_confirm_margin_rel, s.hosting_confirm_margin_abs, skip)
    trials, owners = [], []
    n_checked = []
    for i, (site, st) in enumerate(zip(sites, states)):
        cand = np.flatnonzero(mask[i])
        n_checked.append(len(st.steps) + len(cand))
        if len(cand):
            trials.append((site, st.lo, cand))
            owners.append(i)
    bad = [np.empty(0, dtype=np.int64)] * n_sites
    if trials:
        for i, r, (_, _, cand) in zip(owners, study.run_trials(trials), trials):
            r0 = study.r0[cand]
            new = (r > 1.0) & (r > r0 + study.tol)
            worst = np.where(new, r, -np.inf).max(axis=1)
            brk = np.flatnonzero(worst > -np.inf)
            brk = brk[np.argsort(-worst[brk])][:n_add]
            bad[i] = cand[brk]
    if study.progress:
        study.progress("confirming", n_sites, n_sites)
    logger.debug("confirmation: %d candidate steps over %d sites, %d sites broke",
                 int(mask.sum()), n_sites, sum(len(b) > 0 for b in bad))
    return {"bad": bad, "n_checked": n_checked}


def check_sites(study: _Study, trials: Sequence[tuple[Site, float]], *,
                n_screen: int | None = 96, confirm: bool = True
                ) -> list[tuple[bool, Binding | None]]:
    """Does each (site, rating) fit? AC on the screened steps, then confirmed on
    every step a linear bound cannot clear (as in :func:`solve_sites`).

    Returns
    -------
    list of (fits, binding)
        ``binding`` is the worst new violation where it does not fit.
    """
    if not trials:
        return []
    sites = [t[0] for t in trials]
    steps = screen_steps(study, sites, n_screen, [float(t[1]) for t in trials]) if n_screen else \
        [np.arange(study.n_steps)] * len(sites)
    rs = study.run_trials([(site, float(x), st) for (site, x), st in zip(trials, steps)])
    out: list[tuple[bool, Binding | None] | None] = [None] * len(trials)
    conf_idx, states = [], []
    for i, ((site, x), st, r) in enumerate(zip(trials, steps, rs)):
        ok, binding, _ = study.verdict(r, st)
        if not ok or not confirm or len(st) == study.n_steps or x <= 0:
            out[i] = (ok, binding)
            continue
        conf_idx.append(i)
        states.append(_State(steps=st, lo=float(x), x_prev=float(x), r_prev=r))
    if conf_idx:
        bad = _confirm(study, [sites[i] for i in conf_idx], states, 8)["bad"]
        again = [(sites[i], trials[i][1], b) for i, b in zip(conf_idx, bad) if len(b)]
        res_again = iter(study.run_trials(again))
        for i, b in zip(conf_idx, bad):
            if len(b):
                ok, binding, _ = study.verdict(next(res_again), b)
                out[i] = (ok, binding)
            else:
                out[i] = (True, None)
    return out  # type: ignore[return-value]
