"""Sequential (time-sequential) Monte Carlo simulation of supply interruptions.

Every failing component alternates between up and down: time to failure is
exponential with its failure rate (per calendar year of 8760 h), time to repair
is drawn from the repair-time distribution (``exponential`` by default,
``lognormal`` with the settings' sigma, or ``fixed``) with the component's mean
repair time. The failure events of all components over the simulated years are
drawn with a seeded :class:`numpy.random.Generator` (reproducible, independent of
numba); a numba kernel (:func:`gridint.reliability._kernels.mc_accumulate`) then
applies the restoration table of the analytical method to each event: a load
restored by switching is back after ``min(switching time, drawn repair time)``, a
load waiting for the repair after the drawn repair time; islands use the state of
charge and net load of the hour the failure happens. Components fail
independently; interruptions of one load point by overlapping failures are
counted separately (as in the first-order analytical method).

Outputs per simulated year and load point (interruptions, hours, momentary
interruptions) give the mean indices and their distribution, e.g. P10 / P50 / P90
of annual SAIDI, which the analytical method cannot give.
"""

from __future__ import annotations

import logging

import numpy as np

from gridint.config import get_settings
from gridint.errors import ReliabilityError
from gridint.reliability._kernels import mc_accumulate, mc_island_correction
from gridint.reliability.analytical import HOURS_PER_YEAR, RestorationTable
from gridint.reliability.islanding import IslandModel
from gridint.reliability.topology import ReliabilityModel

__all__ = ["REPAIR_DISTRIBUTIONS", "failure_events", "simulate"]

logger = logging.getLogger(__name__)

REPAIR_DISTRIBUTIONS = ("exponential", "lognormal", "fixed")


def _repair_draw(rng: np.random.Generator, mean_h: float, n: int, dist: str, sigma: float) -> np.ndarray:
    if dist == "exponential":
        return rng.exponential(mean_h, n)
    if dist == "lognormal":
        return rng.lognormal(np.log(mean_h) - 0.5 * sigma * sigma, sigma, n)
    return np.full(n, float(mean_h))


def failure_events(rate_per_year: np.ndarray, repair_h: np.ndarray, years: int, seed: int,
                   repair_distribution: str = "exponential", sigma: float = 0.8):
    """Failure events of independent two-state (up / down) components.

    Parameters
    ----------
    rate_per_year : ndarray
        Failure rate of each component [1/yr]; up times are exponential with mean
        8760 / rate [h].
    repair_h : ndarray
        Mean repair time of each component [h].
    years : int
        Simulated years (horizon ``years * 8760`` h).
    seed : int
        Seed of :func:`numpy.random.default_rng`.
    repair_distribution : {"exponential", "lognormal", "fixed"}
    sigma : float
        Shape of the lognormal (standard deviation of ln r).

    Returns
    -------
    comp : ndarray of int
    time_h : ndarray of float
        Failure times [h from the start].
    ttr_h : ndarray of float
        Repair times [h].
    """
    if repair_distribution not in REPAIR_DISTRIBUTIONS:
        raise ReliabilityError(f"repair_distribution {repair_distribution!r}: allowed {REPAIR_DISTRIBUTIONS}")
    rng = np.random.default_rng(seed)
    horizon = years * HOURS_PER_YEAR
    comps, times, ttrs = [], [], []
    for c, (lam, r) in enumerate(zip(rate_per_year, repair_h)):
        if lam <= 0:
            continue
        mttf = HOURS_PER_YEAR / lam
        t0 = 0.0
        while True:
            expect = lam * years
            n = int(expect + 6.0 * np.sqrt(expect) + 16)
            ttf = rng.exponential(mttf, n)
            ttr = _repair_draw(rng, float(r), n, repair_distribution, sigma)
            starts = t0 + np.cumsum(ttf + ttr) - ttr
            keep = starts < horizon
            k = int(keep.sum())
            comps.append(np.full(k, c, dtype=np.int64))
            times.append(starts[:k])
            ttrs.append(ttr[:k])
            if k < n:
                break
            t0 = starts[-1] + ttr[-1]
    if not comps:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    return np.concatenate(comps), np.concatenate(times), np.concatenate(ttrs)


def simulate(m: ReliabilityModel, table: RestorationTable, islands: IslandModel | None, years: int, seed: int,
             repair_distribution: str | None = None) -> dict:
    """Simulate ``years`` years; per-year, per-load-point interruption counts and hours.

    Returns
    -------
    dict
        ``n_sust``, ``dur_h``, ``n_mom`` per load point (totals over all years);
        ``year_ci``, ``year_cmi``, ``year_cmom``, ``year_ens_mwh`` per simulated year
        (customer interruptions, customer hours, customer momentary interruptions,
        energy not supplied [MWh]); ``n_events``, ``repair_distribution``.
    """
    s = get_settings()
    if not isinstance(years, (int, np.integer)) or years < 1:
        raise ReliabilityError(f"years: {years!r} must be a whole number >= 1")
    dist = repair_distribution or s.reliability_mc_repair_distribution
    comp, t, ttr = failure_events(m.comp_rate_per_year, m.comp_repair_h, int(years), int(seed), dist,
                                  s.reliability_mc_lognormal_sigma)
    thr = s.reliability_sustained_threshold_min / 60.0
    cust = np.ascontiguousarray(m.load_customers, dtype=float)
    p_avg = np.ascontiguousarray(m.load_p_avg_mw, dtype=float)
    out = mc_accumulate(comp, t, ttr, table.comp_zone, table.zone_ptr, table.zone_load, table.zone_kind,
                        table.zone_time_h, thr, int(years), HOURS_PER_YEAR, cust, p_avg)
    if islands is not None and islands.n_islands:
        mc_island_correction(comp, t, ttr, table.comp_zone, table.zone_ptr, table.zone_load, table.zone_kind,
                             table.zone_time_h, table.zone_island, islands.e_max_kwh, islands.e_min_kwh,
                             islands.p_max_kw, islands.soc, islands.net_kw, islands.eff, islands.t_isl_h, thr,
                             int(years), HOURS_PER_YEAR, cust, p_avg, *out)
    res = dict(n_sust=out[0], dur_h=out[1], n_mom=out[2])
    for k, key in enumerate(("year_ci", "year_cmi", "year_cmom", "year_ens_mwh")):
        res[key] = out[3][:, k]
    res.update(n_events=int(len(comp)), repair_distribution=dist)
    return res
