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
def restore_h(kind, t_switch_h, ttr_h):
    """Interruption of a load [h]: switched back after ``t_switch_h`` but never later than the repair."""
    if kind == KIND_SWITCH and t_switch_h < ttr_h:
        return t_switch_h
    return ttr_h


@njit(cache=True)
def mc_accumulate(ev_comp, ev_time_h, ev_ttr_h, comp_zone, zone_ptr, zone_load, zone_kind, zone_time_h, thr_h,
                  n_years, year_h, customers, p_avg_mw):
    """Accumulate interruptions over failure events: load-point totals and per-event system totals.

    Parameters
    ----------
    ev_comp, ev_time_h, ev_ttr_h : ndarray
        Failure events: component, time [h from the start], repair time [h].
    comp_zone : ndarray of int
        Zone of each component (-1: not energised).
    zone_ptr, zone_load, zone_kind, zone_time_h : ndarray
        Restoration table in CSR form: for zone ``z`` the entries
        ``zone_ptr[z]:zone_ptr[z + 1]`` list the interrupted loads, their kind (1 switched,
        2 repair) and switching time [h].
    thr_h : float
        Sustained threshold [h]: longer interruptions are sustained, shorter momentary.
    n_years : int
        Simulated years; later events are ignored.
    year_h : float
        Hours per simulated year.
    customers, p_avg_mw : ndarray
        Customers and average demand [MW] of each load point.

    Returns
    -------
    n_sust, dur_h, n_mom : ndarray, shape (n_loads,)
        Sustained interruptions, sustained hours, momentary interruptions per load point.
    year : ndarray, shape (n_years, 4)
        Per simulated year: customer interruptions, customer hours, customer momentary
        interruptions (all sustained unless named), energy not supplied [MWh] (one row
        per year: one cache line per event).
    """
    n_loads = customers.shape[0]
    n_ev = ev_comp.shape[0]
    n_sust = np.zeros(n_loads, dtype=np.int64)
    dur_h = np.zeros(n_loads, dtype=np.float64)
    n_mom = np.zeros(n_loads, dtype=np.int64)
    year = np.zeros((n_years, 4), dtype=np.float64)
    for e in range(n_ev):
        z = comp_zone[ev_comp[e]]
        y = int(ev_time_h[e] / year_h)  # t >= 0: truncation = floor
        if z < 0 or y >= n_years:
            continue
        ttr = ev_ttr_h[e]
        ci = 0.0
        cmi = 0.0
        cmom = 0.0
        ens = 0.0
        for p in range(zone_ptr[z], zone_ptr[z + 1]):
            i = zone_load[p]
            d = restore_h(zone_kind[p], zone_time_h[p], ttr)
            if d > thr_h:
                n_sust[i] += 1
                dur_h[i] += d
                ci += customers[i]
                cmi += customers[i] * d
                ens += p_avg_mw[i] * d
            elif d > 0.0:
                n_mom[i] += 1
                cmom += customers[i]
        year[y, 0] += ci
        year[y, 1] += cmi
        year[y, 2] += cmom
        year[y, 3] += ens
    return n_sust, dur_h, n_mom, year


@njit(cache=True)
def mc_island_correction(ev_comp, ev_time_h, ev_ttr_h, comp_zone, zone_ptr, zone_load, zone_kind, zone_time_h,
                         zone_island, isl_e_max, isl_e_min, isl_p_max, isl_soc, isl_net_kw, eff, t_isl_h, thr_h,
                         n_years, year_h, customers, p_avg_mw, n_sust, dur_h, n_mom, year):
    """Replace, in place, the effect of events on islanded loads by the islanded interruption.

    Runs after :func:`mc_accumulate` (same events and table) over the events whose zone
    has islands only; the island of a load uses the state of charge and net load of the
    hour of the year the failure happens (``isl_soc``, ``isl_net_kw``: n_islands x hours,
    used cyclically) and :func:`island_duration_h`.
    """
    n_isl = isl_e_max.shape[0]
    n_hours = isl_soc.shape[1]
    n_zones = zone_ptr.shape[0] - 1
    has_isl = np.zeros(n_zones, dtype=np.bool_)
    for z in range(n_zones):
        for p in range(zone_ptr[z], zone_ptr[z + 1]):
            if zone_island[p] >= 0:
                has_isl[z] = True
    cache_d = np.full(n_isl, -1.0)
    cache_v = np.zeros(n_isl)
    for e in range(ev_comp.shape[0]):
        z = comp_zone[ev_comp[e]]
        if z < 0 or not has_isl[z]:
            continue
        t = ev_time_h[e]
        y = int(t / year_h)
        if y >= n_years:
            continue
        hh = t - y * year_h  # hour of the year
        hh = hh - int(hh / n_hours) * n_hours
        ttr = ev_ttr_h[e]
        for j in range(n_isl):
            cache_d[j] = -1.0
        for p in range(zone_ptr[z], zone_ptr[z + 1]):
            k = zone_island[p]
            if k < 0:
                continue
            i = zone_load[p]
            d0 = restore_h(zone_kind[p], zone_time_h[p], ttr)
            if cache_d[k] != d0:
                cache_v[k] = island_duration_h(d0, t_isl_h, isl_soc[k, int(hh)] * isl_e_max[k], isl_e_min[k],
                                               isl_e_max[k], isl_p_max[k], eff, isl_net_kw[k], hh)
                cache_d[k] = d0
            d = cache_v[k]
            if d0 > thr_h:  # undo the plain interruption
                n_sust[i] -= 1
                dur_h[i] -= d0
                year[y, 0] -= customers[i]
                year[y, 1] -= customers[i] * d0
                year[y, 3] -= p_avg_mw[i] * d0
            elif d0 > 0.0:
                n_mom[i] -= 1
                year[y, 2] -= customers[i]
            if d > thr_h:
                n_sust[i] += 1
                dur_h[i] += d
                year[y, 0] += customers[i]
                year[y, 1] += customers[i] * d
                year[y, 3] += p_avg_mw[i] * d
            elif d > 0.0:
                n_mom[i] += 1
                year[y, 2] += customers[i]
