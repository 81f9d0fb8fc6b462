"""Reliability study of one feeder: analytical or Monte Carlo, with the 99.89 % target.

:func:`reliability_study` is what the CLI (``gridint reliability``) and the API call;
it returns a plain dict (JSON-ready) with the system indices, the load points, the
components ranked by their contribution to SAIDI, and every default that was used
for missing data.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from gridint.config import get_settings
from gridint.errors import ReliabilityError
from gridint.reliability.analytical import (
    HOURS_PER_YEAR,
    RestorationTable,
    evaluate_analytical,
    restoration_table,
)
from gridint.reliability.islanding import island_model
from gridint.reliability.montecarlo import simulate
from gridint.reliability.topology import ReliabilityModel, build_model

__all__ = ["METHODS", "combine_feeders", "prepare", "reliability_study", "system_indices"]

logger = logging.getLogger(__name__)

METHODS = ("analytical", "monte-carlo")


def _resolve(feeder):
    """(net, name, feeder object or None) from a Feeder, a net, a catalog name or a path."""
    if isinstance(feeder, str):
        from gridint.grid.catalog import load_feeder

        feeder = load_feeder(feeder)
    if hasattr(feeder, "net") and hasattr(feeder, "has_profiles"):
        return feeder.net, feeder.name, feeder
    if hasattr(feeder, "bus") and hasattr(feeder, "load"):
        return feeder, str(getattr(feeder, "name", "") or "net"), None
    raise ReliabilityError(f"expected a feeder name, file, Feeder or pandapower net; got {type(feeder).__name__}")


def prepare(feeder, *, check_tie_capacity: bool = False, soc_profiles=None, islanding: bool = True,
            profiles=None):
    """Model, restoration table and islands of a feeder (shared by both methods).

    ``profiles`` (an :class:`gridint.grid.profiles.ElementProfiles`) overrides the
    feeder's own profile year for islanding; it is only read when the net has
    island-capable storage.

    Returns
    -------
    model : ReliabilityModel
    table : RestorationTable
    islands : IslandModel or None
    name : str
    """
    net, name, fobj = _resolve(feeder)
    m = build_model(net, name)
    table = restoration_table(m, check_tie_capacity=check_tie_capacity, net=net)
    islands = None
    if islanding and table.islands:
        if profiles is None and fobj is not None and fobj.has_profiles:
            profiles = fobj.profiles
        islands = island_model(m, table, profiles=profiles, soc_profiles=soc_profiles)
    elif not islanding:
        table.zone_island[:] = -1
    return m, table, islands, name


def system_indices(customers: np.ndarray, lam: np.ndarray, u_h: np.ndarray, lam_mom: np.ndarray,
                   p_avg_mw: np.ndarray) -> dict:
    """System indices from load-point indices.

    Parameters
    ----------
    customers : ndarray
        Customers per load point.
    lam, u_h, lam_mom : ndarray
        Sustained interruptions [1/yr], unavailability [h/yr], momentary
        interruptions [1/yr] per load point.
    p_avg_mw : ndarray
        Average demand per load point [MW].

    Returns
    -------
    dict
        ``saifi`` [1/yr], ``saidi_h`` [h/yr], ``caidi_h`` [h], ``asai``,
        ``rs1_percent``, ``ens_mwh_per_year``, ``maifi`` [1/yr], ``meets_target``,
        ``customers``.
    """
    s = get_settings()
    n = float(customers.sum())
    if n <= 0:
        raise ReliabilityError("load.customers: the loads have no customers; system indices are undefined")
    saifi = float(customers @ lam / n)
    saidi = float(customers @ u_h / n)
    asai = 1.0 - saidi / HOURS_PER_YEAR
    rs1 = 100.0 * asai
    return dict(
        saifi=saifi,
        saidi_h=saidi,
        caidi_h=saidi / saifi if saifi > 0 else 0.0,
        asai=asai,
        rs1_percent=rs1,
        ens_mwh_per_year=float(u_h @ p_avg_mw),
        maifi=float(customers @ lam_mom / n),
        meets_target=bool(rs1 >= s.reliability_target_rs1_percent - 1e-12),
        customers=int(round(n)),
    )


def _component_ranking(m: ReliabilityModel, table: RestorationTable, ev: dict) -> list[dict]:
    n = float(m.load_customers.sum())
    saidi = ev["comp_cust_h"] / n
    total = saidi.sum()
    order = np.argsort(-saidi, kind="stable")
    out = []
    for c in order:
        if saidi[c] <= 0:
            break
        z = table.comp_zone[c]
        out.append(dict(
            name=m.comp_name[c],
            table=m.component_table(c),
            failure_rate_per_year=float(m.comp_rate_per_year[c]),
            repair_h=float(m.comp_repair_h[c]),
            saidi_h=float(saidi[c]),
            saifi=float(ev["comp_cust_int"][c] / n),
            share_percent=float(100.0 * saidi[c] / total) if total > 0 else 0.0,
            cleared_by=table.zone_device[z] if z >= 0 else "",
            restored_via=list(table.zone_tie[z]) if z >= 0 else [],
        ))
    return out


def _load_points(m: ReliabilityModel, lam, u_h, lam_mom) -> list[dict]:
    out = []
    for i in range(m.n_loads):
        out.append(dict(
            name=m.load_name[i],
            failure_rate_per_year=float(lam[i]),
            outage_h=float(u_h[i] / lam[i]) if lam[i] > 0 else 0.0,
            unavailability_h_per_year=float(u_h[i]),
            customers=int(round(m.load_customers[i])),
            ens_mwh_per_year=float(u_h[i] * m.load_p_avg_mw[i]),
            momentary_per_year=float(lam_mom[i]),
        ))
    return out


def reliability_study(feeder, method: str = "analytical", *, years: int | None = None, seed: int | None = None,
                      repair_distribution: str | None = None, check_tie_capacity: bool = False,
                      soc_profiles=None, islanding: bool = True, profiles=None, prepared=None) -> dict:
    """Supply reliability of a feeder against the RS-1 target.

    Parameters
    ----------
    feeder : str, Feeder or pandapowerNet
        Catalog name, pandapower JSON file, :class:`gridint.grid.catalog.Feeder` or net.
    method : {"analytical", "monte-carlo"}
    years : int, optional
        Monte Carlo: simulated years (default ``reliability_mc_years``).
    seed : int, optional
        Monte Carlo seed (default ``reliability_mc_seed``).
    repair_distribution : {"exponential", "lognormal", "fixed"}, optional
        Monte Carlo repair-time distribution (default from the settings).
    check_tie_capacity : bool
        AC power-flow check of every tie transfer (default off).
    soc_profiles : dict of int -> array_like, optional
        Hourly state of charge [0..1] of island-capable storage units (pandapower index).
    islanding : bool
        Let island-capable storage carry isolated loads (default True).
    profiles : ElementProfiles, optional
        Load / PV year for islanding (default the feeder's own, if it has one).
    prepared : tuple, optional
        Output of :func:`prepare` (re-use between calls).

    Returns
    -------
    dict
        ``feeder``, ``method``, ``system`` (saifi, saidi_h, caidi_h, asai, rs1_percent,
        ens_mwh_per_year, maifi, meets_target, customers; Monte Carlo adds
        saidi_h_p10 / p50 / p90, saidi_h_stderr, years, seed), ``load_points``,
        ``components`` (ranked by SAIDI contribution), ``target_rs1_percent``,
        ``sustained_threshold_min``, ``defaults_used``, ``notes``, ``runtime_s``.

    Raises
    ------
    ReliabilityError
        Bad reliability data (table and column named), unknown method, bad years.
    """
    if method not in METHODS:
        raise ReliabilityError(f"method {method!r}: allowed {', '.join(METHODS)}")
    s = get_settings()
    t0 = time.perf_counter()
    m, table, islands, name = prepared if prepared is not None else prepare(
        feeder, check_tie_capacity=check_tie_capacity, soc_profiles=soc_profiles, islanding=islanding,
        profiles=profiles)
    island_fn = islands.expectation if islands is not None else None
    ev = evaluate_analytical(m, table, island_fn)
    out = dict(feeder=name, method=method, target_rs1_percent=s.reliability_target_rs1_percent,
               sustained_threshold_min=s.reliability_sustained_threshold_min)
    if method == "analytical":
        lam, u_h, lam_m = ev["lam"], ev["u_h"], ev["lam_mom"]
        system = system_indices(m.load_customers, lam, u_h, lam_m, m.load_p_avg_mw)
    else:
        years = int(s.reliability_mc_years if years is None else years)
        seed = int(s.reliability_mc_seed if seed is None else seed)
        sim = simulate(m, table, islands, years, seed, repair_distribution)
        lam = sim["n_sust"] / years
        u_h = sim["dur_h"] / years
        lam_m = sim["n_mom"] / years
        system = system_indices(m.load_customers, lam, u_h, lam_m, m.load_p_avg_mw)
        n_cust = float(m.load_customers.sum())
        annual = sim["year_cmi"] / n_cust
        p10, p50, p90 = np.percentile(annual, [10, 50, 90])
        se = float(annual.std(ddof=1) / np.sqrt(years)) if years > 1 else float("nan")
        se_f = float((sim["year_ci"] / n_cust).std(ddof=1) / np.sqrt(years)) if years > 1 else float("nan")
        system.update(saidi_h_p10=float(p10), saidi_h_p50=float(p50), saidi_h_p90=float(p90),
                      saidi_h_stderr=se, saifi_stderr=se_f, years=years, seed=seed,
                      repair_distribution=sim["repair_distribution"], failure_events=sim["n_events"])
    out["system"] = system
    out["load_points"] = _load_points(m, lam, u_h, lam_m)
    out["components"] = _component_ranking(m, table, ev)
    out["islands"] = len(table.islands)
    out["defaults_used"] = list(m.defaults_used)
    out["notes"] = list(dict.fromkeys(m.notes))
    out["runtime_s"] = time.perf_counter() - t0
    return out


def combine_feeders(results: list[dict]) -> dict:
    """System indices of several feeders together (a city, a county): customer-weighted.

    Parameters
    ----------
    results : list of dict
        Outputs of :func:`reliability_study`.

    Returns
    -------
    dict
        ``saifi``, ``saidi_h``, ``caidi_h``, ``asai``, ``rs1_percent``,
        ``ens_mwh_per_year``, ``maifi``, ``meets_target``, ``customers``, ``feeders``.
    """
    if not results:
        raise ReliabilityError("combine_feeders: no results")
    s = get_settings()
    n = float(sum(r["system"]["customers"] for r in results))
    if n <= 0:
        raise ReliabilityError("combine_feeders: the feeders have no customers")
    out = {k: sum(r["system"][k] * r["system"]["customers"] for r in results) / n
           for k in ("saifi", "saidi_h", "maifi")}
    out["caidi_h"] = out["saidi_h"] / out["saifi"] if out["saifi"] > 0 else 0.0
    out["asai"] = 1.0 - out["saidi_h"] / HOURS_PER_YEAR
    out["rs1_percent"] = 100.0 * out["asai"]
    out["ens_mwh_per_year"] = sum(r["system"]["ens_mwh_per_year"] for r in results)
    out["meets_target"] = bool(out["rs1_percent"] >= s.reliability_target_rs1_percent - 1e-12)
    out["customers"] = int(round(n))
    out["feeders"] = [r["feeder"] for r in results]
    return out
