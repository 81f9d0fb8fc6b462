"""Private numba kernels of the reliability study.

Public wrappers (:mod:`gridint.reliability.montecarlo`,
:mod:`gridint.reliability.islanding`) validate inputs; these kernels assume
well-formed, contiguous arrays. With ``NUMBA_DISABLE_JIT=1`` they run as plain
Python (slowly) and give the same numbers.

Kind codes of a (zone, load) pair: 0 not interrupted, 1 restored by switching
after ``time_h`` (never later than the repair), 2 waits for the repair.
"""

from __future__ import annotations

import numpy as np
from numba import njit

KIND_NONE, KIND_SWITCH, KIND_REPAIR = 0, 1, 2


@njit(cache=True)
def island_cover_h(e0_kwh, e_min_kwh, e_max_kwh, p_max_kw, eff, net_kw, h0, max_h):
    """Hours an island can carry its net load, starting at hour ``h0`` of the profile.

    Parameters
    ----------
    e0_kwh, e_min_kwh, e_max_kwh : float
        Stored energy at the start, reserve kept, capacity [kWh].
    p_max_kw : float
        Inverter power [kW]; a net load above it ends the island.
    eff : float
        One-way efficiency (discharge divides, charge multiplies).
    net_kw : ndarray
        Hourly net load of the island (load minus PV) [kW], used cyclically.
    h0 : float
        Start [h from the profile start].
    max_h : float
        Longest cover needed [h].

    Returns
    -------
    float
        Covered hours, at most ``max_h``.
    """
    n = net_kw.shape[0]
    e = e0_kwh
    t = 0.0
    hi = int(np.floor(h0))
    frac = 1.0 - (h0 - hi)
    while t < max_h:
        dt = min(frac, max_h - t)
        p = net_kw[hi % n]
        if p > p_max_kw:
            return t
        if p > 0.0:
            need = p * dt / eff
            avail = e - e_min_kwh
            if need >= avail:
                if avail <= 0.0:
                    return t
                return t + avail * eff / p
            e -= need
        else:
            charge = -p
            if charge > p_max_kw:
                charge = p_max_kw
            e = min(e_max_kwh, e + charge * dt * eff)
        t += dt
        hi += 1
        frac = 1.0
    return max_h


@njit(cache=True)
def island_duration_h(d_h, t_isl_h, e0_kwh, e_min_kwh, e_max_kwh, p_max_kw, eff, net_kw, h0):
    """Interruption seen by the loads of an island when supply returns after ``d_h``.

    The island forms ``t_isl_h`` after the fault; the loads are off until then, and
    again from the moment the storage is exhausted until supply returns.
    """
    if d_h <= t_isl_h:
        return d_h
    need = d_h - t_isl_h
    cover = island_cover_h(e0_kwh, e_min_kwh, e_max_kwh, p_max_kw, eff, net_kw, h0 + t_isl_h, need)
    return t_isl_h + (need - cover)


@njit(cache=True)
def island_expectation(d_h, t_isl_h, thr_h, e_max_kwh, e_min_kwh, p_max_kw, eff, soc, net_kw, stride):
    """Average over fault start hours of an islanded interruption.

    Returns
    -------
    p_sustained, mean_sustained_h, p_momentary : float
        Probability that the interruption is sustained (longer than ``thr_h``), its
        mean length counted only when sustained [h] (so ``p * mean`` is the expected
        sustained hours), probability that it is momentary.
    """
    n = soc.shape[0]
    k = 0
    n_s = 0
    n_m = 0
    sum_s = 0.0
    h = 0
    while h < n:
        d = island_duration_h(d_h, t_isl_h, soc[h] * e_max_kwh, e_min_kwh, e_max_kwh, p_max_kw, eff, net_kw,
                              h + 0.5)
        if d > thr_h:
            n_s += 1
            sum_s += d
        elif d > 0.0:
            n_m += 1
        k += 1
        h += stride
    if k == 0:
        return 0.0, 0.0, 0.0
    return n_s / k, sum_s / k, n_m / k


@njit(cache=True)
def mc_accumulate(ev_comp, ev_time_h, ev_ttr_h, comp_zone, zone_ptr, zone_load, zone_kind, zone_time_h,
                  zone_island, isl_e_max, isl_e_min, isl_p_max, isl_soc, isl_net_kw, eff, t_isl_h, thr_h,
                  n_years, customers, p_avg_mw, year_h):
    """Accumulate interruptions over failure events: load-point totals and yearly system totals.

    Parameters
    ----------
    ev_comp, ev_time_h, ev_ttr_h : ndarray
        Failure events: component, time [h from the start], repair time [h].
    comp_zone : ndarray of int
        Zone of each component (-1: not energised).
    zone_ptr, zone_load, zone_kind, zone_time_h, zone_island : ndarray
        Restoration table in CSR form: for zone ``z`` the entries
        ``zone_ptr[z]:zone_ptr[z + 1]`` list the interrupted loads, their kind (1 switched,
        2 repair), switching time [h] and island (-1 none).
    isl_e_max, isl_e_min, isl_p_max : ndarray
        Island storage capacity, reserve [kWh], power [kW].
    isl_soc, isl_net_kw : ndarray, shape (n_islands, n_hours)
        State of charge [0..1] and net load [kW] per hour of the profile year.
    eff, t_isl_h, thr_h : float
        Storage efficiency, island forming time [h], sustained threshold [h].
    n_years : int
    customers, p_avg_mw : ndarray
        Customers and average demand [MW] of each load point.
    year_h : float
        Hours per simulated year.

    Returns
    -------
    n_sust, dur_h, n_mom : ndarray, shape (n_loads,)
        Sustained interruptions, sustained hours, momentary interruptions per load point
        over all years.
    year_ci, year_cmi, year_cmom, year_ens : ndarray, shape (n_years,)
        Per simulated year: customer interruptions, customer hours, customer momentary
        interruptions (all sustained unless named), energy not supplied [MWh].
    """
    n_loads = customers.shape[0]
    n_sust = np.zeros(n_loads, dtype=np.int64)
    dur_h = np.zeros(n_loads, dtype=np.float64)
    n_mom = np.zeros(n_loads, dtype=np.int64)
    year_ci = np.zeros(n_years, dtype=np.float64)
    year_cmi = np.zeros(n_years, dtype=np.float64)
    year_cmom = np.zeros(n_years, dtype=np.float64)
    year_ens = np.zeros(n_years, dtype=np.float64)
    n_isl = isl_e_max.shape[0]
    cache_d = np.full(max(n_isl, 1), -1.0)
    cache_v = np.zeros(max(n_isl, 1))
    n_hours = isl_soc.shape[1] if n_isl > 0 else 1
    for e in range(ev_comp.shape[0]):
        t = ev_time_h[e]
        y = int(t // year_h)
        if y >= n_years:
            continue
        ttr = ev_ttr_h[e]
        z = comp_zone[ev_comp[e]]
        if z < 0:
            continue
        h0 = t - y * year_h
        for j in range(n_isl):
            cache_d[j] = -1.0
        for p in range(zone_ptr[z], zone_ptr[z + 1]):
            i = zone_load[p]
            if zone_kind[p] == 1:
                d = zone_time_h[p]
                if ttr < d:
                    d = ttr
            else:
                d = ttr
            k = zone_island[p]
            if k >= 0:
                if cache_d[k] != d:
                    hh = h0 % n_hours
                    cache_v[k] = island_duration_h(d, t_isl_h, isl_soc[k, int(hh)] * isl_e_max[k], isl_e_min[k],
                                                   isl_e_max[k], isl_p_max[k], eff, isl_net_kw[k], hh)
                    cache_d[k] = d
                d = cache_v[k]
            if d > thr_h:
                n_sust[i] += 1
                dur_h[i] += d
                year_ci[y] += customers[i]
                year_cmi[y] += customers[i] * d
                year_ens[y] += p_avg_mw[i] * d
            elif d > 0.0:
                n_mom[i] += 1
                year_cmom[y] += customers[i]
    return n_sust, dur_h, n_mom, year_ci, year_cmi, year_cmom, year_ens
