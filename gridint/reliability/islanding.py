"""Storage and PV islanding during supply interruptions.

A storage unit with ``storage.island_capable`` True (column documented in
DESIGN.md's reliability schema extension, default False) forms an island of the
part of the network it sits in once that part is cut off from the faulted zone:
its grid-forming inverter and point-of-common-coupling breaker separate it
``reliability_island_transfer_s`` after the fault (settings). It then carries the
loads of that part for as long as its state of charge allows; rooftop PV in the
island helps by day (net load = load − PV; surplus PV recharges the battery up to
the inverter power). When the storage is exhausted, or the net load exceeds its
power, the loads are off until supply returns. One interruption of the summed
off-time is counted (an approximation: a short island-forming break followed by
a later loss of the island would be two events).

The state of charge at the fault comes from a profile (e.g. a dispatch plan:
``soc_profiles``) or the storage table (``soc_percent``, else the settings
default); load and PV come hour by hour from the feeder's profile year when it
has one, else constant average load and no PV (stated in the notes). The
analytical method averages over every start hour of that year; the Monte Carlo
method uses the hour each failure happens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from gridint.config import get_settings
from gridint.errors import ReliabilityError
from gridint.reliability._kernels import island_expectation
from gridint.reliability.analytical import RestorationTable
from gridint.reliability.topology import ReliabilityModel

__all__ = ["IslandModel", "island_model"]

logger = logging.getLogger(__name__)


@dataclass
class IslandModel:
    """Hourly data of every island of a restoration table.

    Attributes
    ----------
    e_max_kwh, e_min_kwh, p_max_kw : ndarray, shape (n_islands,)
    soc : ndarray, shape (n_islands, n_hours)
        State of charge at the start of each hour [0..1].
    net_kw : ndarray, shape (n_islands, n_hours)
        Load minus PV inside the island [kW].
    eff, t_isl_h, thr_h : float
    """

    e_max_kwh: np.ndarray
    e_min_kwh: np.ndarray
    p_max_kw: np.ndarray
    soc: np.ndarray
    net_kw: np.ndarray
    eff: float
    t_isl_h: float
    thr_h: float

    def __post_init__(self) -> None:
        self._cache: dict = {}

    @property
    def n_islands(self) -> int:
        return len(self.e_max_kwh)

    def expectation(self, k: int, d_h: float) -> tuple[float, float, float]:
        """Average effect of island ``k`` on an interruption of ``d_h`` hours.

        Returns
        -------
        p_sustained, e_sustained_h, p_momentary : float
            See :func:`gridint.reliability._kernels.island_expectation`.
        """
        key = (k, round(float(d_h), 9))
        if key not in self._cache:
            self._cache[key] = island_expectation(
                float(d_h), self.t_isl_h, self.thr_h, float(self.e_max_kwh[k]), float(self.e_min_kwh[k]),
                float(self.p_max_kw[k]), self.eff, self.soc[k], self.net_kw[k], 1)
        return self._cache[key]


def _hourly(a: np.ndarray, steps_per_hour: int) -> np.ndarray:
    n = (a.shape[0] // steps_per_hour) * steps_per_hour
    return a[:n].reshape(n // steps_per_hour, steps_per_hour, *a.shape[1:]).mean(axis=1)


def island_model(m: ReliabilityModel, table: RestorationTable, *, profiles=None, soc_profiles=None) -> IslandModel:
    """Island storage, SoC and net-load profiles for a restoration table.

    Parameters
    ----------
    m : ReliabilityModel
    table : RestorationTable
    profiles : ElementProfiles, optional
        The feeder's profile year (``load_p_mw``, ``sgen_p_mw`` [MW] per step).
    soc_profiles : dict of int -> array_like, optional
        State of charge [0..1] per hour for storage units (pandapower index), e.g.
        from a dispatch plan; used cyclically.

    Returns
    -------
    IslandModel
    """
    s = get_settings()
    n_isl = len(table.islands)
    load_kw = None
    pv_kw = None
    n_hours = 1
    if n_isl and profiles is not None:
        ti = profiles.time_index
        step_h = (ti[1] - ti[0]).total_seconds() / 3600.0 if len(ti) > 1 else 1.0
        sph = max(1, int(round(1.0 / step_h)))
        if "load_p_mw" in profiles.values:
            load_kw = _hourly(profiles.values["load_p_mw"][list(m.load_index)].to_numpy(dtype=float), sph) * 1000
        if "sgen_p_mw" in profiles.values and len(m.sgen_index):
            pv_kw = _hourly(profiles.values["sgen_p_mw"][list(m.sgen_index)].to_numpy(dtype=float), sph) * 1000
        n_hours = load_kw.shape[0] if load_kw is not None else n_hours
    elif n_isl:
        m.notes.append("islanding without a profile year: constant average load, no PV in islands")
    soc_profiles = {int(k): np.asarray(v, dtype=float) for k, v in (soc_profiles or {}).items()}
    for k, v in soc_profiles.items():
        if v.ndim != 1 or not len(v) or np.any(~np.isfinite(v)) or np.any((v < 0) | (v > 1)):
            raise ReliabilityError(f"soc_profiles[{k}]: state of charge must be a 1-D array of values in [0, 1]")
        n_hours = max(n_hours, len(v))
    e_max = np.zeros(n_isl)
    e_min = np.zeros(n_isl)
    p_max = np.zeros(n_isl)
    soc = np.zeros((n_isl, n_hours))
    net = np.zeros((n_isl, n_hours))
    for k, isl in enumerate(table.islands):
        st = isl["storage"]
        e_max[k] = m.storage_e_max_kwh[st].sum()
        e_min[k] = m.storage_e_min_kwh[st].sum()
        p_max[k] = m.storage_p_max_kw[st].sum()
        e_now = np.zeros(n_hours)
        for j in st:
            pp_idx = int(m.storage_index[j])
            prof = soc_profiles.get(pp_idx)
            frac = (np.resize(prof, n_hours) if prof is not None else np.full(n_hours, m.storage_soc0[j]))
            e_now += frac * m.storage_e_max_kwh[j]
        soc[k] = e_now / e_max[k] if e_max[k] > 0 else 0.0
        loads = isl["loads"]
        if load_kw is not None:
            net[k] = np.resize(load_kw[:, loads].sum(axis=1), n_hours)
        else:
            net[k] = m.load_p_avg_mw[loads].sum() * 1000.0
        if pv_kw is not None and isl["sgens"]:
            net[k] -= np.resize(pv_kw[:, isl["sgens"]].sum(axis=1), n_hours)
    return IslandModel(e_max, e_min, p_max, np.ascontiguousarray(soc), np.ascontiguousarray(net),
                       float(s.reliability_storage_efficiency), s.reliability_island_transfer_s / 3600.0,
                       s.reliability_sustained_threshold_min / 60.0)
