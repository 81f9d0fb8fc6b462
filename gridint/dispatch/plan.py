"""Network-aware storage dispatch: inputs of a day, linearise -> solve -> AC check, plans.

:func:`plan_day` is the day-ahead plan of every battery on a feeder for the 96
quarter-hours of a date; :func:`redispatch` is the intraday re-plan from the
current quarter-hour to the end of the day from measured SoC and the latest
intraday PV forecast. Both return a :class:`DispatchPlan` whose
:meth:`DispatchPlan.to_dict` is the record the API stores and serves.

Method
------
1. Inputs (:func:`day_inputs`): loads from the feeder's profile year at the
   date (month-day mapped; the file's own values for a feeder without
   profiles), PV per system for the P10 / P50 / P90 scenarios from
   :func:`gridint.solar.forecast.forecast_feeder` (fleet totals split over the
   systems by their clear-sky output, as the forecast itself does).
2. AC power flow of the P50 day without storage action or curtailment (the
   *before* case) and sensitivities of every monitored quantity (bus voltages,
   line / transformer loading, transformer reverse load rate) and of the
   losses to the injection at every bus with a battery or curtailable PV
   (:mod:`gridint.dispatch.sensitivity`, finite differences by the batch engine).
3. LP (:mod:`gridint.dispatch.lp`, HiGHS) with the network rows of the
   (step, quantity) pairs within ``dispatch_active_band_*`` of a limit,
   linearised at the current operating point with
   ``dispatch_vm_margin_pu`` / ``dispatch_loading_margin_percent`` inside the limit.
4. AC power flow of the plan (the *after* case, same engine, pandapower
   element semantics). Violations, or values within the margin, that were not
   rows of the LP become rows; the LP is solved again, linearised at the new
   AC point, until the AC check shows no violation, the LP itself cannot
   remove the remaining ones (its slack is positive: not enough storage power /
   energy or curtailable PV where needed), or ``dispatch_max_iterations``.
5. Robustness: the plan (battery powers fixed, curtailment as a PV power cap)
   is checked by AC power flow against the P10 and P90 PV scenarios.

Limits (Settings): voltage ``vm_min_pu`` .. ``vm_max_pu`` (GB/T 12325) at every
supplied non-slack bus, ``line_loading_max_percent`` /
``trafo_loading_max_percent``, reverse load rate ``reverse_load_rate_max``
(DL/T 2041). A violation is a (step, quantity) beyond its limit by more than
1e-6 pu (voltage) or 1e-4 % (loading).

Sign: storage ``p_kw`` positive = charging (consumption); SoC values are at
the end of each step. Loads are taken as known (the profile of the date): there
is no load forecast yet. Batteries run at unity power factor.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridint.config import get_settings
from gridint.dispatch.lp import DispatchLp, LpProblem, LpSolution
from gridint.dispatch.sensitivity import Monitored, monitored, quantities, sensitivities
from gridint.dispatch.units import StorageUnits, storage_units
from gridint.errors import DispatchError, GridintError, ProfileError
from gridint.powerflow import BatchResult, CompiledNet, compile_net, element_injections, run_batch

__all__ = ["DayInputs", "DispatchPlan", "day_inputs", "dispatch", "plan_day", "redispatch",
           "SCENARIOS", "CLI_FIELDS"]

logger = logging.getLogger(__name__)

SCENARIOS = ("p10", "p50", "p90")
#: Fields of ``gridint dispatch --json`` (issue 7), in this order.
CLI_FIELDS = ("feeder", "date", "n_steps", "units", "vmax_pu_before", "vmax_pu_after",
              "vmin_pu_before", "vmin_pu_after", "violations_before", "violations_after",
              "curtailment_kwh", "reserve_ok", "solve_s")
_STEP = pd.Timedelta(minutes=15)
_TOL = {"voltage": 1e-4, "thermal": 1e-4, "reverse_power": 1e-4}  # [%]: 1e-6 pu, 1e-4 %


# --------------------------------------------------------------------------- inputs

@dataclass
class DayInputs:
    """Element values of the steps to plan and the PV scenarios.

    Attributes
    ----------
    time_index : DatetimeIndex
        Start of each step, time-zone aware.
    values : dict of str -> DataFrame
        ``load_p_mw``, ``load_q_mvar``, ``sgen_p_mw``, ``sgen_q_mvar`` (steps x
        element index) for :func:`gridint.powerflow.element_injections`; the
        PV sgens hold the P50 scenario.
    pv_kw : dict of str -> DataFrame
        ``p50`` (required), ``p10``, ``p90``: AC power of each PV sgen [kW]
        (steps x sgen index). Curtailment is planned on these systems.
    source : str
        Where loads and PV came from.
    issue_time : Timestamp, optional
        Issue time of the PV forecast.
    """

    time_index: pd.DatetimeIndex
    values: dict
    pv_kw: dict
    source: str = ""
    issue_time: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        if "p50" not in self.pv_kw:
            raise DispatchError("PV scenarios need a 'p50' frame (steps x PV sgen index) [kW]")
        n = len(self.time_index)
        for key, df in list(self.values.items()) + [(f"pv_kw[{k}]", v) for k, v in self.pv_kw.items()]:
            if len(df) != n:
                raise DispatchError(f"{key} has {len(df)} rows for {n} steps")
        cols = self.pv_kw["p50"].columns
        for k, df in self.pv_kw.items():
            if k not in SCENARIOS:
                raise DispatchError(f"unknown PV scenario {k!r}; allowed: {', '.join(SCENARIOS)}")
            if not df.columns.equals(cols):
                raise DispatchError(f"PV scenario {k} has other systems than p50")
            arr = df.to_numpy(dtype=float)
            if not np.all(np.isfinite(arr)) or (arr < 0).any():
                raise DispatchError(f"PV scenario {k} must be finite and >= 0 kW")

    def take(self, steps) -> "DayInputs":
        """The inputs of some step positions only."""
        idx = np.arange(len(self.time_index))[steps]
        return DayInputs(self.time_index[idx], {k: v.iloc[idx] for k, v in self.values.items()},
                         {k: v.iloc[idx] for k, v in self.pv_kw.items()}, self.source, self.issue_time)


def _day(date) -> pd.Timestamp:
    """Midnight (Settings.timezone) of a date given as YYYY-MM-DD, date or Timestamp; default tomorrow."""
    from gridint.solar.forecast import parse_day

    try:
        return parse_day(date, get_settings().timezone)
    except GridintError as exc:
        raise DispatchError(str(exc)) from None


def _profile_values(feeder, index: pd.DatetimeIndex) -> tuple[dict, str]:
    """Element values at ``index`` from the feeder's profile year, else the file's own."""
    net = feeder.net
    if getattr(feeder, "has_profiles", False):
        from gridint.grid.profiles import profile_positions

        prof = feeder.profiles
        pos = profile_positions(prof.time_index, index)
        values = {}
        for key, df in prof.values.items():
            if key.startswith("storage"):
                continue
            frame = df.iloc[pos].copy()
            frame.index = index
            values[key] = frame
        return values, prof.source
    values = {}
    for table in ("load", "sgen"):
        df = net[table]
        if len(df):
            for col in ("p_mw", "q_mvar"):
                values[f"{table}_{col}"] = pd.DataFrame(
                    np.repeat(df[col].to_numpy(dtype=float)[None], len(index), axis=0),
                    index=index, columns=df.index)
    return values, "snapshot of the file's loads and sgens"


def _split_fleet(systems: pd.DataFrame, index: pd.DatetimeIndex, totals: dict) -> dict:
    """Fleet totals [kW] per scenario -> per system, in proportion to clear-sky output."""
    from gridint.solar.fleet import clearsky_fleet_ac_kw

    cs = clearsky_fleet_ac_kw(systems, index)
    cs = cs.reindex(columns=systems.index).fillna(0.0)
    cs_tot = cs.to_numpy(float).sum(axis=1)
    ac = systems["ac_kw"].to_numpy(float)
    out = {}
    for key, tot in totals.items():
        tot = np.asarray(tot, dtype=float)
        ratio = np.divide(tot, cs_tot, out=np.zeros_like(tot), where=cs_tot > 1e-9)
        vals = np.clip(cs.to_numpy(float) * ratio[:, None], 0.0, ac[None, :])
        out[key] = pd.DataFrame(vals, index=index, columns=systems.index)
    return out


def day_inputs(feeder, date=None, *, pv="forecast", issue_time=None, forecast_weather=None) -> DayInputs:
    """Loads and PV scenarios of the 96 quarter-hours of a date.

    Parameters
    ----------
    feeder : gridint.grid.Feeder
    date : str (YYYY-MM-DD), date or Timestamp, optional
        Default tomorrow in ``Settings.timezone``.
    pv : {"forecast", "profile"} or dict
        ``forecast``: day-ahead P10/P50/P90 of
        :func:`gridint.solar.forecast.forecast_feeder` split per system;
        ``profile``: the profile year's PV of the date as P50 only (no P10/P90);
        a dict ``{"p50": DataFrame, "p10": ..., "p90": ...}`` of PV sgen power
        [kW] (steps x sgen index) given by the caller.
    issue_time, forecast_weather : optional
        Passed to :func:`~gridint.solar.forecast.forecast_feeder`.

    Returns
    -------
    DayInputs
    """
    from gridint.solar.fleet import pv_systems

    day = _day(date)
    index = pd.date_range(day, day + pd.Timedelta(days=1), freq=_STEP, inclusive="left")
    values, source = _profile_values(feeder, index)
    systems = pv_systems(feeder.net)
    issue = None
    if isinstance(pv, dict):
        pv_kw = {k: pd.DataFrame(v).set_axis(index, axis=0) for k, v in pv.items()}
        source += " + PV scenarios given by the caller"
    elif not len(systems):
        pv_kw = {"p50": pd.DataFrame(index=index, columns=pd.Index([], dtype=np.int64), dtype=float)}
    elif pv == "profile":
        sg = values.get("sgen_p_mw")
        if sg is None:
            raise ProfileError(f"feeder {feeder.name!r} has no sgen profile for pv='profile'")
        pv_kw = {"p50": sg[systems.index] * 1000.0}
        source += " + PV of the profile year (P50 only)"
    elif pv == "forecast":
        from gridint.solar.forecast import forecast_feeder

        fc = forecast_feeder(feeder, day, horizon="day-ahead", issue_time=issue_time,
                             forecast_weather=forecast_weather)
        issue = pd.Timestamp(fc["issue_time"])
        pv_kw = _split_fleet(systems, index, {k: fc[f"pv_kw_{k}"] for k in SCENARIOS})
        source += f" + day-ahead PV forecast issued {fc['issue_time']}"
    else:
        raise DispatchError(f"pv must be 'forecast', 'profile' or a dict of scenarios; got {pv!r}")
    _set_pv(values, pv_kw["p50"], index, feeder.net)
    return DayInputs(index, values, pv_kw, source, issue)


def _set_pv(values: dict, p50_kw: pd.DataFrame, index, net) -> None:
    """Put the P50 PV [kW] into the sgen element values (PV at unity power factor)."""
    if not len(p50_kw.columns):
        return
    for col, fill in (("p_mw", p50_kw.to_numpy(float) / 1000.0), ("q_mvar", 0.0)):
        key = f"sgen_{col}"
        frame = values[key].copy() if key in values else pd.DataFrame(
            np.repeat(net.sgen[col].to_numpy(dtype=float)[None], len(index), axis=0),
            index=index, columns=net.sgen.index)
        frame[p50_kw.columns] = fill
        values[key] = frame


# --------------------------------------------------------------------------- plan

@dataclass
class DispatchPlan:
    """A storage dispatch plan with its AC verification.

    Attributes
    ----------
    feeder : str
    kind : str
        ``day-ahead`` or ``intraday``.
    time_index : DatetimeIndex
        Start of each planned step.
    units : StorageUnits
        With the initial SoC the plan started from.
    p_kw : ndarray (steps, units)
        Planned power, positive = charging [kW].
    soc_percent : ndarray (steps, units)
        SoC at the end of each step [%].
    curtail_kw : DataFrame (steps x PV sgen index)
        Planned curtailment [kW] (an active-power cap ``pv_kw_p50 - curtail``).
    pv_names : dict
        sgen index -> name.
    before, after : dict
        AC summary of the P50 day without / with the plan (see :func:`_summary`).
    scenarios : dict
        Per PV scenario (``p10``, ``p90``): AC summary with and without the plan.
    residual : list of dict
        Violations left after the plan, with the reason.
    reserve_ok : bool
    iterations : int
    solve_s : float
        Wall time of the plan and its verification: sensitivities, LP iterations,
        AC checks, scenario checks [s] (loading the inputs and ``compile_net``
        are in ``timings``).
    timings : dict
        ``compile_s, sensitivity_s, lp_s, ac_check_s, scenarios_s, core_s`` (=
        ``solve_s``), ``total_s`` and, from :func:`plan_day`, ``inputs_s`` [s].
    """

    feeder: str
    kind: str
    time_index: pd.DatetimeIndex
    units: StorageUnits
    p_kw: np.ndarray
    soc_percent: np.ndarray
    curtail_kw: pd.DataFrame
    pv_names: dict
    before: dict
    after: dict
    scenarios: dict
    residual: list
    reserve_ok: bool
    reserve_short: list
    iterations: int
    converged: bool
    solve_s: float
    timings: dict = field(default_factory=dict)
    source: str = ""
    issue_time: pd.Timestamp | None = None
    lp: dict = field(default_factory=dict)

    @property
    def date(self) -> str:
        return self.time_index[0].date().isoformat()

    @property
    def dt_h(self) -> float:
        return _STEP / pd.Timedelta(hours=1)

    @property
    def curtailment_kwh(self) -> float:
        return float(self.curtail_kw.to_numpy().sum() * self.dt_h)

    def summary(self) -> dict:
        """The fields of ``gridint dispatch --json`` (issue 7), exactly."""
        r = lambda v, n=6: None if v is None else round(float(v), n)  # noqa: E731
        return {
            "feeder": self.feeder,
            "date": self.date,
            "n_steps": int(len(self.time_index)),
            "units": [{"name": str(n), "p_kw": [round(float(v), 3) for v in self.p_kw[:, k]],
                       "soc_percent": [round(float(v), 3) for v in self.soc_percent[:, k]]}
                      for k, n in enumerate(self.units.names)],
            "vmax_pu_before": r(self.before["vmax_pu"]),
            "vmax_pu_after": r(self.after["vmax_pu"]),
            "vmin_pu_before": r(self.before["vmin_pu"]),
            "vmin_pu_after": r(self.after["vmin_pu"]),
            "violations_before": int(self.before["violations"]),
            "violations_after": int(self.after["violations"]),
            "curtailment_kwh": round(self.curtailment_kwh, 3),
            "reserve_ok": bool(self.reserve_ok),
            "solve_s": round(float(self.solve_s), 4),
        }

    def to_dict(self) -> dict:
        """The full plan record (JSON-ready): :meth:`summary` plus details.

        Extra keys: ``kind``, ``issue_time``, ``timestamps`` (ISO 8601 with
        offset), ``interval_min``, ``unit_info`` (ratings, owner, reserve,
        energy charged / discharged), ``curtailment`` per PV system
        (``name, sgen, bus, kwh, max_kw, cap_kw`` list), ``before`` / ``after``
        (AC summaries), ``scenarios``, ``residual_violations``,
        ``reserve_shortfalls``, ``iterations``, ``converged``, ``lp``, ``timings``,
        ``source``, ``envelope`` (per-step highest / lowest bus voltage before and
        after the plan, P50).
        """
        out = self.summary()
        dt_h = self.dt_h
        soc0 = self.units.soc_init_percent
        info = []
        for k, rec in enumerate(self.units.records()):
            p = self.p_kw[:, k]
            rec.update(soc_end_percent=round(float(self.soc_percent[-1, k]), 3),
                       charged_kwh=round(float(np.clip(p, 0, None).sum() * dt_h), 3),
                       discharged_kwh=round(float(np.clip(-p, 0, None).sum() * dt_h), 3),
                       soc_init_percent=round(float(soc0[k]), 3))
            info.append(rec)
        p50 = self._pv_p50
        curt = []
        for g in self.curtail_kw.columns:
            x = self.curtail_kw[g].to_numpy(float)
            if x.max() <= 1e-6:
                continue
            cap = np.where(x > 1e-6, p50[g].to_numpy(float) - x, np.nan)
            curt.append({"name": self.pv_names.get(g, str(g)), "sgen": int(g),
                         "kwh": round(float(x.sum() * dt_h), 3), "max_kw": round(float(x.max()), 3),
                         "cap_kw": [None if np.isnan(v) else round(float(v), 3) for v in cap]})
        out.update({
            "kind": self.kind,
            "issue_time": None if self.issue_time is None else self.issue_time.isoformat(),
            "timestamps": [t.isoformat() for t in self.time_index],
            "interval_min": 15,
            "unit_info": info,
            "curtailment": curt,
            "before": self.before,
            "after": self.after,
            "scenarios": self.scenarios,
            "residual_violations": self.residual,
            "reserve_shortfalls": self.reserve_short,
            "iterations": self.iterations,
            "converged": self.converged,
            "lp": self.lp,
            "timings": {k: round(float(v), 4) for k, v in self.timings.items()},
            "source": self.source,
        })
        if self._res_before is not None:
            env = self.envelope()
            out["envelope"] = {k: [round(float(v), 6) for v in env[k]] for k in env.columns}
        return out

    _pv_p50: pd.DataFrame = field(default=None, repr=False)
    _inputs: DayInputs = field(default=None, repr=False)
    _res_before: BatchResult = field(default=None, repr=False)
    _res_after: BatchResult = field(default=None, repr=False)

    def envelope(self) -> pd.DataFrame:
        """Highest and lowest bus voltage per step before / after the plan (P50) [pu]."""
        out = {}
        for key, res in (("before", self._res_before), ("after", self._res_after)):
            out[f"vmax_pu_{key}"] = np.nanmax(res.vm_pu, axis=1)
            out[f"vmin_pu_{key}"] = np.nanmin(res.vm_pu, axis=1)
        return pd.DataFrame(out, index=self.time_index)

    def element_values(self) -> dict:
        """Element values of the planned P50 day (pandapower units and signs).

        ``load_p_mw``, ``load_q_mvar``, ``sgen_p_mw`` (PV after curtailment),
        ``sgen_q_mvar`` and ``storage_p_mw`` (positive = charging; storage index
        columns of the planned units) as DataFrames (steps x element index):
        what the AC check solved, for an independent power flow.
        """
        vals = {k: v.copy() for k, v in self._inputs.values.items()}
        if len(self.curtail_kw.columns):
            vals["sgen_p_mw"][self.curtail_kw.columns] = (
                self._pv_p50.to_numpy(float) - self.curtail_kw.to_numpy(float)) / 1000.0
        vals["storage_p_mw"] = pd.DataFrame(self.p_kw / 1000.0 / self.units.scaling[None, :],
                                            index=self.time_index, columns=self.units.index)
        return vals


def _violation_mask(q: np.ndarray, mon: Monitored) -> tuple[np.ndarray, np.ndarray]:
    """Upper / lower violations (steps x quantities), beyond the tolerance."""
    tol = np.array([_TOL[k] for k in mon.kind])
    with np.errstate(invalid="ignore"):
        up = q > mon.upper[None] + tol[None]
        lo = q < mon.lower[None] - tol[None]
    return up, lo


def _summary(res: BatchResult, q: np.ndarray, mon: Monitored) -> dict:
    """AC summary: voltage extremes, worst loadings, violation counts by kind."""
    conv = res.converged
    vm = res.vm_pu[conv]
    up, lo = _violation_mask(q, mon)
    by_kind = {k: int((up | lo)[:, mon.kind == k].sum()) for k in ("voltage", "thermal", "reverse_power")}
    is_line = mon.table == "line"
    is_tl = (mon.table == "trafo") & (mon.kind == "thermal")
    is_rev = mon.kind == "reverse_power"

    def mx(mask):
        sub = q[:, mask]
        return None if not sub.size or np.all(np.isnan(sub)) else round(float(np.nanmax(sub)), 4)

    rev = mx(is_rev)
    return {
        "vmax_pu": None if not vm.size else float(np.nanmax(vm)),
        "vmin_pu": None if not vm.size else float(np.nanmin(vm)),
        "violations": int(sum(by_kind.values())),
        "violations_by_kind": by_kind,
        "max_line_loading_percent": mx(is_line),
        "max_trafo_loading_percent": mx(is_tl),
        "max_reverse_load_rate": None if rev is None else round(rev / 100.0, 6),
        "energy_losses_kwh": round(float(np.nansum(res.losses_mw[conv]) * 250.0), 3),
        "converged_steps": int(conv.sum()),
    }


def _excess(q: np.ndarray, mon: Monitored) -> float:
    """Sum of all limit exceedances [% x steps] (0 when nothing is violated)."""
    with np.errstate(invalid="ignore"):
        up = np.nan_to_num(q - mon.upper, nan=0.0)
        lo = np.nan_to_num(mon.lower - q, nan=0.0)
    return float(np.clip(up, 0, None).sum() + np.clip(lo, 0, None).sum())


def _active_rows(q: np.ndarray, mon: Monitored, band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(steps x quantities) masks of upper / lower limits within ``band`` [%] (or beyond)."""
    with np.errstate(invalid="ignore"):
        up = q > mon.upper[None] - band[None]
        lo = q < mon.lower[None] + band[None]
    return up & np.isfinite(q), lo & np.isfinite(q)


class _Injector:
    """Bus injections of the inputs with the PV systems' and the units' power replaced.

    The fixed part (loads, other sgens, PV and storage at zero) comes from
    :func:`gridint.powerflow.element_injections` once; PV [kW] and storage power
    [kW, + = charging] are added with pandapower's element rules (PV: ``p_mw`` x
    ``scaling``; storage: the plan's power is the real power, ``p_mw = p / scaling``).
    """

    def __init__(self, inputs: DayInputs, net, units: StorageUnits, pv_cols: pd.Index,
                 compiled: CompiledNet):
        values = dict(inputs.values)
        if len(pv_cols):
            frame = values["sgen_p_mw"].copy()
            frame[pv_cols] = 0.0
            values["sgen_p_mw"] = frame
        if "storage" in compiled.elements:
            zeros = np.zeros((len(inputs.time_index), len(net.storage)))
            values["storage_p_mw"] = zeros
            values["storage_q_mvar"] = zeros
        self.p0, self.q0 = element_injections(compiled, **values)
        n_bus = compiled.n_bus
        self.a_pv = np.zeros((len(pv_cols), n_bus))
        if len(pv_cols):
            sg = compiled.elements["sgen"]
            k = pd.Index(sg["index"]).get_indexer(pv_cols)
            fac = sg["sign"] * sg["scaling"][k] * sg["in_service"][k]
            live = sg["bus_pos"][k] >= 0
            self.a_pv[np.flatnonzero(live), sg["bus_pos"][k][live]] = fac[live] / 1000.0
        self.a_st = np.zeros((len(units), n_bus))
        if len(units):
            st = compiled.elements["storage"]
            k = pd.Index(st["index"]).get_indexer(units.index)
            self.a_st[np.arange(len(units)), st["bus_pos"][k]] = -st["in_service"][k].astype(float) / 1000.0

    def __call__(self, pv_kw: np.ndarray | None = None, p_kw: np.ndarray | None = None):
        p = self.p0.copy()
        if pv_kw is not None and self.a_pv.size:
            p += np.asarray(pv_kw, dtype=float) @ self.a_pv
        if p_kw is not None and self.a_st.size:
            p += np.asarray(p_kw, dtype=float) @ self.a_st
        return p, self.q0


def _terminal(units: StorageUnits, terminal_soc) -> np.ndarray:
    """Terminal energy [kWh]: given, else the initial SoC raised to the reserve floor."""
    if terminal_soc is None:
        e = units.soc_init_percent / 100.0 * units.e_kwh
        return np.maximum(e, np.minimum(units.floor_kwh, units.soc_max_percent / 100.0 * units.e_kwh))
    t = units.with_soc(terminal_soc).soc_init_percent
    return t / 100.0 * units.e_kwh


def dispatch(feeder, inputs: DayInputs, *, initial_soc=None, terminal_soc=None, kind: str = "day-ahead",
             compiled: CompiledNet | None = None, max_iterations: int | None = None,
             scenarios: bool = True, robust: bool | None = None, dense: bool = False) -> DispatchPlan:
    """Plan every battery of a feeder over the steps of ``inputs`` (the core of :func:`plan_day`).

    Parameters
    ----------
    feeder : gridint.grid.Feeder
        Its net's ``storage`` rows are the units (:func:`gridint.dispatch.units.storage_units`).
    inputs : DayInputs
    initial_soc : array or dict name -> percent, optional
        SoC before the first step [%] (default the units' ``soc_percent``).
    terminal_soc : array or dict, optional
        SoC required at the end of the last step [%]; default the initial SoC
        (raised to the reserve floor when below it): a daily cycle.
    kind : str
        Label of the plan (``day-ahead`` / ``intraday``).
    compiled : CompiledNet, optional
        ``compile_net(feeder.net)`` when already at hand.
    max_iterations : int, optional
        Default ``Settings.dispatch_max_iterations``.
    scenarios : bool
        Check the plan against the P10 / P90 scenarios of ``inputs``.
    robust : bool, optional
        Also plan for P10 / P90 (default ``Settings.dispatch_robust``): one
        battery schedule for all scenarios, curtailment per scenario as
        recourse (the P10 / P90 curtailment is *contingent*: needed only if PV
        comes at that level), objective weights ``dispatch_scenario_weight``.
        Without it the plan is made for the P50 and only checked against
        P10 / P90 (its curtailment then acts as a PV power cap).
    dense : bool
        Solve with dense constraint matrices (benchmark peer).

    Returns
    -------
    DispatchPlan

    Raises
    ------
    DispatchError
        No storage unit, or inputs that do not fit the net.
    FeederError
        Invalid storage data (names the unit and column).
    """
    t_start = time.perf_counter()
    s = get_settings()
    net = feeder.net
    units = storage_units(net)
    if not len(units):
        raise DispatchError(f"feeder {feeder.name!r} has no in-service storage unit to dispatch")
    if initial_soc is not None:
        units = units.with_soc(initial_soc)
    max_it = s.dispatch_max_iterations if max_iterations is None else int(max_iterations)
    robust = s.dispatch_robust if robust is None else bool(robust)
    timings = {"compile_s": 0.0}
    if compiled is None:
        t0 = time.perf_counter()
        compiled = compile_net(net, name=feeder.name)
        timings["compile_s"] = time.perf_counter() - t0
    t_core = time.perf_counter()
    index = inputs.time_index
    T, U = len(index), len(units)
    dt_h = _STEP / pd.Timedelta(hours=1)
    p50 = inputs.pv_kw["p50"]
    G = len(p50.columns)
    missing = p50.columns.difference(net.sgen.index)
    if len(missing):
        raise DispatchError(f"PV scenarios name sgens that are not in the net: {list(missing[:5])}")
    keys = ["p50"]
    if scenarios and robust:
        keys += [k for k in ("p10", "p90") if k in inputs.pv_kw]
    S = len(keys)
    q_s = np.array([1.0 if k == "p50" else s.dispatch_scenario_weight for k in keys])
    pv = np.stack([inputs.pv_kw[k].to_numpy(float) for k in keys])          # (S, T, G)

    # controllable buses
    pos_of = pd.Series(np.arange(compiled.n_bus), index=compiled.bus_index)
    unit_pos = pos_of.reindex(units.bus).to_numpy()
    pv_bus = net.sgen.loc[p50.columns, "bus"].to_numpy(dtype=np.int64) if G else np.empty(0, np.int64)
    pv_pos = pos_of.reindex(pv_bus).to_numpy()
    if np.isnan(unit_pos).any() or np.isnan(pv_pos).any():
        raise DispatchError("a storage unit or PV system sits on a bus the power flow does not know")
    dead = compiled.bus_solver[unit_pos.astype(int)] < 0
    if dead.any():
        raise DispatchError(f"storage {units.names[np.argmax(dead)]!r} is on an unsupplied bus")
    ctrl, inv = np.unique(np.concatenate([unit_pos, pv_pos]).astype(np.int64), return_inverse=True)
    unit_j, pv_j = inv[:U], inv[U:]
    J = len(ctrl)

    inject = _Injector(inputs, net, units, p50.columns, compiled)

    def ac(p_kw, curt):
        """AC power flow of all scenarios: storage p_kw (T, U) or None, curtailment (S, T, G)."""
        ps, qs = [], []
        for k in range(S):
            p_, q_ = inject(pv[k] if curt is None else pv[k] - curt[k], p_kw)
            ps.append(p_)
            qs.append(q_)
        return run_batch(compiled, np.vstack(ps), np.vstack(qs)), np.vstack(ps), np.vstack(qs)

    def split(res_all):
        return [res_all.take(slice(k * T, (k + 1) * T)) for k in range(S)]

    # before: no storage action, no curtailment (all scenarios in one batch)
    mon = monitored(compiled)
    t0 = time.perf_counter()
    res_all, p_all, q_all = ac(None, None)
    ac_before = res_all
    res_s = split(res_all)
    sens = sensitivities(compiled, p_all[:T], q_all[:T], ctrl, mon, base=res_s[0])
    timings["sensitivity_s"] = time.perf_counter() - t0
    n_pf = S * T + sens.n_power_flows
    Q = np.stack([quantities(r, mon) for r in res_s])                       # (S, T, M)
    before = _summary(res_s[0], Q[0], mon)
    before_s = {k: _summary(res_s[i], Q[i], mon) for i, k in enumerate(keys) if k != "p50"}

    band = np.where(mon.kind == "voltage", 100.0 * s.dispatch_active_band_pu, s.dispatch_active_band_percent)
    margin = np.where(mon.kind == "voltage", 100.0 * s.dispatch_vm_margin_pu, s.dispatch_loading_margin_percent)
    act_up, act_lo = _active_rows(Q, mon, band)
    in_up, in_lo = np.zeros_like(act_up), np.zeros_like(act_lo)      # rows already in the LP
    seen_up, seen_lo = _violation_mask(Q, mon)       # rows violated at some AC point: keep the margin

    e_cap = units.e_kwh
    e_init = units.soc_init_percent / 100.0 * e_cap
    e_lb = np.minimum(units.soc_min_percent / 100.0 * e_cap, e_init)
    e_ub = np.maximum(units.soc_max_percent / 100.0 * e_cap, e_init)
    e_term = _terminal(units, terminal_soc)
    # a terminal SoC the units cannot reach in the steps left (e.g. late intraday) becomes the nearest one
    span = T * dt_h
    e_term = np.clip(e_term, e_init - span * units.p_discharge_kw / units.eff_discharge,
                     e_init + span * units.p_charge_kw * units.eff_charge)

    dP = np.zeros((S, T, J))                 # controllable injection change of the plan [kW]
    sol: LpSolution | None = None
    lp_s = ac_s = 0.0
    converged = False
    it = 0
    slack_map: dict = {}
    lp_info: dict = {}
    last_excess = np.inf
    rows_s = rows_t = rows_m = np.empty(0, np.int64)
    rows_sign = np.empty(0)
    lp = None
    for it in range(1, max_it + 1):
        # network rows: the current ones in their order, then the new ones (warm LP re-solves)
        su, tu, mu = np.nonzero(act_up & ~in_up)
        sl, tl, ml = np.nonzero(act_lo & ~in_lo)
        rows_s = np.concatenate([rows_s, su, sl])
        rows_t = np.concatenate([rows_t, tu, tl])
        rows_m = np.concatenate([rows_m, mu, ml])
        rows_sign = np.concatenate([rows_sign, np.ones(len(su)), -np.ones(len(sl))])
        in_up |= act_up
        in_lo |= act_lo
        q_now = Q[rows_s, rows_t, rows_m]
        seen = np.where(rows_sign > 0, seen_up[rows_s, rows_t, rows_m], seen_lo[rows_s, rows_t, rows_m])
        mg = np.where(seen, margin[rows_m], 0.0)
        limit = np.where(rows_sign > 0, mon.upper[rows_m] - mg, mon.lower[rows_m] + mg)
        coef = sens.dq_per_kw[rows_t, rows_m, :]
        rhs = rows_sign * (limit - q_now) + rows_sign * np.einsum("rj,rj->r", coef, dP[rows_s, rows_t])
        rhs = np.where(np.isfinite(q_now), rhs, 1e9)          # no AC value (not converged): row idle
        if lp is None:
            pb = LpProblem(
                dt_h=dt_h, unit_j=unit_j, p_charge_kw=units.p_charge_kw, p_discharge_kw=units.p_discharge_kw,
                eff_charge=units.eff_charge, eff_discharge=units.eff_discharge, e_lb_kwh=e_lb, e_ub_kwh=e_ub,
                e_init_kwh=e_init, e_term_kwh=e_term, floor_kwh=units.floor_kwh, pv_j=pv_j, pv_kw=pv,
                scenario_weight=q_s, row_s=rows_s, row_t=rows_t, row_sign=rows_sign, row_coef=coef,
                row_rhs=rhs, dloss_per_kw=sens.dloss_per_kw)
            lp = DispatchLp(pb, dense=dense)
        else:
            lp.update_rows(rows_s, rows_t, rows_sign, coef, rhs)
        sol = lp.solve()
        lp_s += sol.solve_s
        lp_info = {"n_vars": sol.n_vars, "n_rows": sol.n_rows, "nnz": sol.nnz,
                   "network_rows": int(len(rows_t)), "scenarios": list(keys), "repairs": sol.repairs,
                   "status": sol.status, "objective": sol.objective}
        # AC check of the plan, every scenario
        dP = np.zeros((S, T, J))
        for k in range(S):
            np.add.at(dP[k].T, unit_j, (sol.discharge_kw - sol.charge_kw).T)
            if G:
                np.add.at(dP[k].T, pv_j, -sol.curtail_kw[k].T)
        t0 = time.perf_counter()
        res_all, _, _ = ac(sol.p_kw, sol.curtail_kw)
        ac_s += time.perf_counter() - t0
        n_pf += S * T
        res_s = split(res_all)
        Q = np.stack([quantities(r, mon) for r in res_s])
        v_up, v_lo = _violation_mask(Q, mon)
        near_up, near_lo = _active_rows(Q, mon, margin * 0.5)
        slack_map = {(int(a), int(b), int(c), int(d)): float(v)
                     for a, b, c, d, v in zip(rows_s, rows_t, rows_m, rows_sign, sol.slack)}
        if not (v_up.any() or v_lo.any()):
            converged = True
            break
        new_up = (v_up | near_up) & ~act_up
        new_lo = (v_lo | near_lo) & ~act_lo
        # stop when no row is new and either the only violations left are rows the LP
        # could not satisfy (positive slack) or the AC violations stopped shrinking
        viol = [(int(a), int(b), int(c), 1) for a, b, c in zip(*np.nonzero(v_up))] + \
               [(int(a), int(b), int(c), -1) for a, b, c in zip(*np.nonzero(v_lo))]
        excess = _excess(Q, mon)
        if not (new_up.any() or new_lo.any()) and (
                all(slack_map.get(v, 0.0) > 1e-6 for v in viol) or excess > 0.99 * last_excess):
            break
        last_excess = excess
        act_up |= new_up | v_up
        act_lo |= new_lo | v_lo
        seen_up |= v_up
        seen_lo |= v_lo
    timings["lp_s"] = lp_s
    timings["ac_check_s"] = ac_s
    after = _summary(res_s[0], Q[0], mon)
    residual = _residual(res_s[0], Q[0], mon, index, {k[1:]: v for k, v in slack_map.items() if k[0] == 0},
                         it, max_it, converged)

    # SoC, reserve
    energy = sol.energy_kwh
    soc = 100.0 * energy / e_cap[None, :]
    short = np.maximum(units.floor_kwh[None, :] - energy, 0.0)
    reserve_short = []
    for k in range(U):
        bad = short[:, k] > 1e-3
        holdable = units.floor_kwh[k] <= units.soc_max_percent[k] / 100.0 * e_cap[k] + 1e-9
        if bad.any() or not holdable:
            reserve_short.append({
                "name": str(units.names[k]), "reserve_kwh": round(float(units.reserve_kwh[k]), 3),
                "steps_below": int(bad.sum()), "max_short_kwh": round(float(short[:, k].max()), 3),
                "reason": ("the reserve exceeds the usable energy of the unit" if not holdable else
                           "the initial SoC is below the reserve and the unit cannot recharge sooner")})
    reserve_ok = not reserve_short

    # robustness: P10 / P90 with and without the plan
    scen = {}
    if scenarios:
        t0 = time.perf_counter()
        for i, key in enumerate(keys):
            if key == "p50":
                continue
            scen[key] = {"pv_kwh": round(float(pv[i].sum() * dt_h), 3), "planned": True,
                         "contingent_curtailment_kwh": round(float(sol.curtail_kw[i].sum() * dt_h), 3),
                         "with_plan": _summary(res_s[i], Q[i], mon), "without_plan": before_s[key]}
        cap = np.where(sol.curtail_kw[0] > 1e-6, pv[0] - sol.curtail_kw[0], np.inf)
        for key in ("p10", "p90"):
            if key in scen or key not in inputs.pv_kw:
                continue
            pv_q = inputs.pv_kw[key].to_numpy(float)
            with_plan = np.minimum(pv_q, cap)
            pa, qa = inject(with_plan, sol.p_kw)
            pb_, qb = inject(pv_q, None)
            both = run_batch(compiled, np.vstack([pa, pb_]), np.vstack([qa, qb]))
            n_pf += 2 * T
            r_a, r_b = both.take(slice(0, T)), both.take(slice(T, 2 * T))
            scen[key] = {"pv_kwh": round(float(pv_q.sum() * dt_h), 3), "planned": False,
                         "contingent_curtailment_kwh": round(float(np.clip(pv_q - with_plan, 0, None)
                                                                   .sum() * dt_h), 3),
                         "with_plan": _summary(r_a, quantities(r_a, mon), mon),
                         "without_plan": _summary(r_b, quantities(r_b, mon), mon)}
        timings["scenarios_s"] = time.perf_counter() - t0
    timings["core_s"] = solve_s = time.perf_counter() - t_core
    timings["total_s"] = time.perf_counter() - t_start
    lp_info["power_flows"] = int(n_pf)
    curt = pd.DataFrame(sol.curtail_kw[0], index=index, columns=p50.columns)
    names = net.sgen["name"] if "name" in net.sgen else pd.Series(index=net.sgen.index, dtype=object)
    pv_names = {int(g): (str(names.at[g]) if isinstance(names.at[g], str) and names.at[g] else f"sgen {g}")
                for g in p50.columns}
    plan = DispatchPlan(
        feeder=feeder.name, kind=kind, time_index=index, units=units, p_kw=sol.p_kw,
        soc_percent=soc, curtail_kw=curt, pv_names=pv_names, before=before, after=after,
        scenarios=scen, residual=residual, reserve_ok=reserve_ok, reserve_short=reserve_short,
        iterations=it, converged=converged, solve_s=solve_s, timings=timings, source=inputs.source,
        issue_time=inputs.issue_time, lp=lp_info)
    plan._pv_p50 = p50
    plan._inputs = inputs
    plan._res_before = split(ac_before)[0]
    plan._res_after = res_s[0]
    logger.info("%s %s %s: %d -> %d violations, %.1f kWh curtailed, %d iteration(s), %.3f s",
                feeder.name, kind, plan.date, before["violations"], after["violations"],
                plan.curtailment_kwh, it, solve_s)
    return plan


def _residual(res: BatchResult, q: np.ndarray, mon: Monitored, index, slack_map: dict, it: int,
              max_it: int, converged: bool) -> list[dict]:
    """Violations left after the plan, each with the reason it could not be removed."""
    out = []
    for t in np.flatnonzero(~res.converged):
        out.append({"time": index[t].isoformat(), "kind": "convergence", "element": None,
                    "value": None, "limit": None, "reason": "the AC power flow of this step did not converge"})
    up, lo = _violation_mask(q, mon)
    for side, mask in ((1, up), (-1, lo)):
        for t, m in zip(*np.nonzero(mask)):
            kind = str(mon.kind[m])
            slack = slack_map.get((int(t), int(m), side), 0.0)
            if slack > 1e-6:
                if kind == "voltage" and side < 0:
                    reason = "not enough storage power or energy near the bus to raise the voltage"
                elif kind == "voltage":
                    reason = "not enough storage power/energy or curtailable PV near the bus"
                else:
                    reason = "not enough storage power/energy or curtailable PV to relieve the element"
            elif it >= max_it:
                reason = f"linearisation error not resolved within {max_it} AC iterations"
            else:
                reason = (f"linearisation error: the LP expected this within the limit; the AC "
                          f"iterations stopped making progress after {it}")
            out.append({"time": index[t].isoformat(), "kind": kind,
                        "element": f"{mon.table[m]} {mon.names[m]}",
                        "value": round(float(q[t, m] * mon.scale[m]), 6),
                        "limit": round(float((mon.upper[m] if side > 0 else mon.lower[m]) * mon.scale[m]), 6),
                        "reason": reason})
    return out


def plan_day(feeder, date=None, *, pv="forecast", initial_soc=None, terminal_soc=None, issue_time=None,
             forecast_weather=None, scenarios: bool = True) -> DispatchPlan:
    """Day-ahead dispatch plan of every battery on a feeder for the 96 quarter-hours of a date.

    Parameters
    ----------
    feeder : gridint.grid.Feeder or str
        Feeder, or a catalog name / pandapower JSON file.
    date : str (YYYY-MM-DD), date or Timestamp, optional
        Default tomorrow in ``Settings.timezone`` (Asia/Shanghai).
    pv : {"forecast", "profile"} or dict
        PV scenarios, see :func:`day_inputs`.
    initial_soc, terminal_soc : array or dict name -> percent, optional
        See :func:`dispatch`.
    issue_time, forecast_weather : optional
        Of the PV forecast (:func:`gridint.solar.forecast.forecast_feeder`).
    scenarios : bool
        Check the plan against P10 / P90.

    Returns
    -------
    DispatchPlan
        ``.to_dict()`` is the stored record; ``.summary()`` the CLI fields.

    Raises
    ------
    DispatchError, FeederError, ProfileError, WeatherError
    """
    t0 = time.perf_counter()
    feeder = _as_feeder(feeder)
    inputs = day_inputs(feeder, date, pv=pv, issue_time=issue_time, forecast_weather=forecast_weather)
    t_in = time.perf_counter() - t0
    plan = dispatch(feeder, inputs, initial_soc=initial_soc, terminal_soc=terminal_soc, kind="day-ahead",
                    scenarios=scenarios)
    plan.timings["inputs_s"] = t_in
    return plan


def redispatch(feeder, now=None, *, measured_soc=None, day_plan: DispatchPlan | dict | None = None,
               pv="forecast", forecast_weather=None, scenarios: bool = True,
               measured_pv_pu: pd.Series | None = None) -> DispatchPlan:
    """Intraday re-dispatch from the current quarter-hour to the end of the day.

    PV: the intraday forecast (P10/P50/P90, next 4 h) of
    :func:`gridint.solar.forecast.forecast_feeder`, then the day-ahead forecast
    for the rest of the day. Initial SoC: the measured one; the terminal SoC
    is the day-ahead plan's (or, without a plan, the initial-SoC rule of
    :func:`dispatch` on the units' file values).

    Parameters
    ----------
    feeder : gridint.grid.Feeder or str
    now : str or Timestamp, optional
        Issue time (floored to the quarter-hour); default now in Settings.timezone.
    measured_soc : array or dict name -> percent, optional
        Latest measured SoC (:func:`gridint.telemetry.loop.measured_soc`); a dict may
        name only some units. Units without a measurement: the day-ahead plan's SoC
        at the end of the previous step, else the units' ``soc_percent``.
    day_plan : DispatchPlan or its ``to_dict()``, optional
    pv : {"forecast", "profile"}
        ``profile`` uses the profile year's PV for every step (tests).
    forecast_weather : optional
    measured_pv_pu : pandas.Series, optional
        Measured fleet PV output per kW before ``now`` (telemetry,
        :func:`gridint.telemetry.loop.measured_pv_pu`): the intraday forecast starts
        from its latest clear-sky index instead of the weather model's.

    Returns
    -------
    DispatchPlan
        ``kind = "intraday"``, steps from ``now`` to midnight; ``source`` says
        which PV history and SoC were used.
    """
    tz = get_settings().timezone
    feeder = _as_feeder(feeder)
    now = pd.Timestamp.now(tz=tz) if now is None else pd.Timestamp(now)
    now = (now.tz_localize(tz) if now.tzinfo is None else now.tz_convert(tz)).floor("15min")
    day = now.normalize()
    k0 = int((now - day) / _STEP)
    t0 = time.perf_counter()
    if pv == "forecast":
        inputs = day_inputs(feeder, day, pv="forecast", issue_time=day - pd.Timedelta(hours=12),
                            forecast_weather=forecast_weather)
        from gridint.solar.fleet import pv_systems
        from gridint.solar.forecast import forecast_feeder

        systems = pv_systems(feeder.net)
        if len(systems):
            fc = forecast_feeder(feeder, day, horizon="intraday", issue_time=now,
                                 forecast_weather=forecast_weather, measured_pu=measured_pv_pu)
            idx = pd.DatetimeIndex([pd.Timestamp(t) for t in fc["timestamps"]]).tz_convert(tz)
            keep = idx.normalize() == day
            part = _split_fleet(systems, idx[keep], {k: np.asarray(fc[f"pv_kw_{k}"])[keep] for k in SCENARIOS})
            for k in SCENARIOS:
                inputs.pv_kw[k].loc[part[k].index, :] = part[k].to_numpy()
            _set_pv(inputs.values, inputs.pv_kw["p50"], inputs.time_index, feeder.net)
            inputs.issue_time = now
            inputs.source += (f" + intraday PV forecast issued {now.isoformat()} from "
                              + ("measured PV" if measured_pv_pu is not None else "modelled PV history"))
    else:
        inputs = day_inputs(feeder, day, pv=pv)
    inputs = inputs.take(slice(k0, None))
    t_in = time.perf_counter() - t0
    units = storage_units(feeder.net)
    terminal = None
    start_soc = units
    if day_plan is not None:
        d = day_plan.to_dict() if isinstance(day_plan, DispatchPlan) else day_plan
        soc = {u["name"]: u["soc_percent"] for u in d["units"]}
        terminal = {n: v[-1] for n, v in soc.items()}
        stamps = pd.DatetimeIndex([pd.Timestamp(t) for t in d["timestamps"]]).tz_convert(tz)
        prev = int(np.searchsorted(stamps, now)) - 1
        start_soc = units.with_soc({n: v[prev] for n, v in soc.items()} if prev >= 0 else
                                   {n: u["soc_init_percent"] for n, u in zip(soc, d["unit_info"])})
    if measured_soc is not None:  # measured values over the plan's (all units or some)
        start_soc = start_soc.with_soc(measured_soc)
        n = len(measured_soc) if isinstance(measured_soc, dict) else len(units)
        inputs.source += f"; SoC measured for {n} of {len(units)} units"
    plan = dispatch(feeder, inputs, initial_soc=start_soc.soc_init_percent, terminal_soc=terminal,
                    kind="intraday", scenarios=scenarios)
    plan.timings["inputs_s"] = t_in
    return plan


def _as_feeder(feeder):
    if isinstance(feeder, str) or hasattr(feeder, "__fspath__"):
        from gridint.grid.catalog import load_feeder

        return load_feeder(feeder)
    if not hasattr(feeder, "net"):
        raise GridintError("feeder must be a gridint Feeder, a catalog name or a pandapower JSON file")
    return feeder

