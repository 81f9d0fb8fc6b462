"""Feeder hosting-capacity studies: every bus, every transformer, the feeder.

:func:`feeder_hosting_capacity` answers the grid engineer's question for one
feeder: the nodal hosting capacity of every bus, the capacity of every
distribution transformer (台区: PV on its LV side), the feeder's simultaneous
capacity, DL/T 2041 zones, open capacity with the queue (C1 / C2), and, on
request, stochastic placement and mitigation what-ifs.

Studied steps (DESIGN.md):

* ``year`` -- the feeder's profile year; the new PV has the output per kW AC
  of the default rooftop system (:func:`default_pv_shape`),
* ``screening`` -- only the screened steps of each site (peak PV with high
  voltage, reverse flow or loading), no confirmation on the rest of the year,
* ``snapshot`` -- the file's own loads and sgens, new PV at its full rating.

Simultaneous (feeder) allocation rule: the new PV is shared among the buses
with load in proportion to the load's rating ``p_mw`` (``allocation="load"``,
default), to the installed PV (``"pv"``; load where a feeder has none) or
equally (``"equal"``); the feeder capacity is the largest total for which that
allocation breaks nothing at any step, found and confirmed with the AC engine
like any nodal value.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from gridint.config import get_settings
from gridint.errors import GridintError
from gridint.hosting.engine import Binding, Site, _Study, solve_sites
from gridint.powerflow.batch import element_injections, net_injections
from gridint.powerflow.compile import CompiledNet, compile_net

logger = logging.getLogger(__name__)

__all__ = ["STEP_MODES", "FeederHostingCapacity", "default_pv_shape", "feeder_hosting_capacity",
           "zone_of", "worst_zone"]

STEP_MODES = ("year", "screening", "snapshot")
ZONES = ("green", "yellow", "red")
ALLOCATIONS = ("load", "pv", "equal")


def zone_of(reverse_load_rate: float, limits_broken: bool = False) -> str:
    """DL/T 2041-2019 zone of an element from its largest reverse load rate.

    Parameters
    ----------
    reverse_load_rate : float
        ``max(-P / S_rated)`` over the studied steps [-] (P positive toward the load).
    limits_broken : bool
        Any voltage or thermal limit already broken in the element's area.

    Returns
    -------
    str
        ``green`` (rate <= ``zone_green_max``), ``yellow`` (<= ``zone_yellow_max``)
        or ``red``.
    """
    s = get_settings()
    if limits_broken or not math.isfinite(reverse_load_rate) or \
            reverse_load_rate > s.zone_yellow_max:
        return "red"
    return "green" if reverse_load_rate <= s.zone_green_max else "yellow"


def worst_zone(*zones: str) -> str:
    """The least green of some zones (a child is never greener than its parent)."""
    return ZONES[max(ZONES.index(z) for z in zones)]


def default_pv_shape(time_index: pd.DatetimeIndex, weather: pd.DataFrame | None = None
                     ) -> np.ndarray:
    """Output per kW AC of the default rooftop PV system at each step [kW/kW].

    The default system is the fleet model's residential roof (tilt
    ``pv_tilt_residential_deg``, azimuth ``pv_azimuth_deg``, DC/AC 1.1, PVWatts
    losses) on the default weather year, matched by local wall-clock time and
    month-day (a feeder profile year in another time zone, e.g. SimBench's,
    sees the Xiangtan sun at its own clock times).

    Parameters
    ----------
    time_index : DatetimeIndex
        Steps (time-zone aware or naive local time).
    weather : DataFrame, optional
        Weather on the same wall-clock steps; default the default year.

    Returns
    -------
    ndarray (steps,)
        In [0, 1].
    """
    from gridint.solar.fleet import DEFAULT_DC_AC_RATIO, fleet_ac_kw
    from gridint.solar.weather import weather_for_period

    s = get_settings()
    local = pd.DatetimeIndex(time_index)
    if local.tz is not None:
        local = local.tz_localize(None)
    local = local.tz_localize(s.timezone, ambiguous="NaT", nonexistent="shift_forward")
    if weather is None:
        step = pd.Timedelta(minutes=s.step_minutes) if len(local) < 2 else local[1] - local[0]
        weather = weather_for_period(local[0], local[-1] + step)
        weather = weather.reindex(local, method="nearest")
    systems = pd.DataFrame({
        "bus": [0], "kwp": [DEFAULT_DC_AC_RATIO], "ac_kw": [1.0],
        "tilt_deg": [s.pv_tilt_residential_deg], "azimuth_deg": [s.pv_azimuth_deg],
        "mounting": ["roof"], "losses_percent": [s.pv_losses_percent],
        "category": ["residential"]})
    ac = fleet_ac_kw(systems, weather, orientation_step_deg=0)
    return np.clip(np.nan_to_num(ac.iloc[:, 0].to_numpy(dtype=float)), 0.0, 1.0)


# --------------------------------------------------------------------------- results

@dataclass
class FeederHostingCapacity:
    """Result of :func:`feeder_hosting_capacity` (kW, kVA; see ``to_dict``)."""

    feeder: str
    steps: str
    n_steps: int
    runtime_s: float
    feeder_hc_kw: float
    feeder_binding: Binding | None
    allocation: str
    zone: str
    reverse_load_rate: float
    substation: str
    buses: list[dict]
    transformers: list[dict]
    n_power_flows: int
    limits: dict
    stochastic: dict | None = None
    period: dict = field(default_factory=dict)
    feeder_c1_kw: float = float("nan")
    feeder_c2_kw: float = float("nan")
    head_p_mw: np.ndarray | None = field(default=None, repr=False)
    head_rating_mva: float = float("nan")

    def to_dict(self) -> dict:
        """JSON-ready dict with the stable field names of ``gridint hosting-capacity``."""
        return {
            "feeder": self.feeder, "substation": self.substation, "steps": self.steps,
            "n_steps": self.n_steps, "period": self.period,
            "runtime_s": round(self.runtime_s, 3), "n_power_flows": self.n_power_flows,
            "feeder_hc_kw": round(self.feeder_hc_kw, 1),
            "feeder_binding": None if self.feeder_binding is None else self.feeder_binding.to_dict(),
            "feeder_c1_kw": _round(self.feeder_c1_kw, 1),
            "feeder_c2_kw": _round(self.feeder_c2_kw, 1),
            "allocation": self.allocation, "zone": self.zone,
            "reverse_load_rate": _round(self.reverse_load_rate, 4),
            "limits": self.limits, "buses": self.buses, "transformers": self.transformers,
            "stochastic": self.stochastic,
        }


def _round(x: float, n: int):
    return None if x is None or not math.isfinite(x) else round(float(x), n)


# --------------------------------------------------------------------------- study

def _prepare(feeder, steps: str, weather=None):
    """(compiled, p, q, shape, time_index) of a feeder for a step mode."""
    c = compile_net(feeder.net, name=feeder.name)
    if steps == "snapshot" or not feeder.has_profiles:
        if steps != "snapshot":
            logger.info("%s has no profile year: snapshot", feeder.name)
        p, q = net_injections(c)
        return c, p, q, np.ones(1), None, "snapshot"
    prof = feeder.profiles
    p, q = element_injections(c, **prof.as_kwargs())
    shape = default_pv_shape(prof.time_index, weather)
    return c, p, q, shape, prof.time_index, steps


def _feeder_buses(net, compiled: CompiledNet) -> np.ndarray:
    """Columns of the buses that belong to the studied feeder: supplied, not an
    ext_grid bus, not in a neighbour zone (behind a normally-open tie)."""
    bus = net.bus.loc[compiled.bus_index]
    zone = bus["zone"].astype(str).to_numpy() if "zone" in bus else np.full(len(bus), "")
    ext = set(net.ext_grid.loc[net.ext_grid.in_service.astype(bool), "bus"].astype(int))
    keep = (compiled.bus_solver >= 0) & ~np.char.endswith(zone.astype(str), "-neighbour") \
        & ~np.isin(compiled.bus_index, list(ext))
    return np.flatnonzero(keep)


def _lv_groups(net, compiled: CompiledNet) -> dict[int, np.ndarray]:
    """Trafo index -> bus columns of its LV side (reached from the LV bus without
    crossing another transformer, through closed switches)."""
    import pandapower.topology as top

    g = top.create_nxgraph(net, respect_switches=True, include_trafos=False,
                           include_trafo3ws=False)
    pos = {b: i for i, b in enumerate(compiled.bus_index)}
    out = {}
    import networkx as nx

    for t, row in net.trafo.iterrows():
        if not bool(row.in_service):
            continue
        comp = nx.node_connected_component(g, int(row.lv_bus)) if int(row.lv_bus) in g \
            else {int(row.lv_bus)}
        out[int(t)] = np.array(sorted(pos[b] for b in comp if b in pos))
    return out


def _weights(net, compiled: CompiledNet, cols: np.ndarray, allocation: str) -> np.ndarray:
    """Share of new PV per bus column for the allocation rule (sums to 1)."""
    pos = {b: i for i, b in enumerate(compiled.bus_index)}
    w = np.zeros(compiled.n_bus)
    if allocation in ("load", "pv"):
        load = net.load[net.load.in_service.astype(bool)]
        for b, pmw in zip(load.bus.astype(int), load.p_mw.astype(float) * load.scaling.astype(float)):
            w[pos[b]] += max(pmw, 0.0)
    if allocation == "pv" and len(net.sgen):
        pv = np.zeros(compiled.n_bus)
        sg = net.sgen[net.sgen.in_service.astype(bool)]
        for b, pmw in zip(sg.bus.astype(int), sg.p_mw.astype(float)):
            pv[pos[b]] += max(pmw, 0.0)
        if pv[cols].sum() > 0:
            w = pv
    sub = w[cols]
    if allocation == "equal" or sub.sum() <= 0:
        sub = np.ones(len(cols))
    return sub / sub.sum()


def _head(net, compiled: CompiledNet, feeder_cols: np.ndarray, study: _Study):
    """Feeder head: reverse load rate series' maximum and the head rating [MVA]."""
    ext = net.ext_grid[net.ext_grid.in_service.astype(bool)]
    src = [int(b) for b in ext.bus if str(net.bus.zone.get(b, "")).endswith("-neighbour") is False]
    src_bus = src[0] if src else int(ext.bus.iloc[0])
    lines = net.line[(net.line.in_service.astype(bool))
                     & ((net.line.from_bus == src_bus) | (net.line.to_bus == src_bus))]
    vn = float(net.bus.vn_kv.at[src_bus])
    rating = float((math.sqrt(3) * vn * lines.max_i_ka * lines.df * lines.parallel).sum()) \
        if len(lines) else float("nan")
    tr = net.trafo[net.trafo.in_service.astype(bool) & (net.trafo.hv_bus == src_bus)]
    if not len(lines) and len(tr):
        rating = float(tr.sn_mva.sum())
    # power drawn from the source = consumption - generation + losses (feeder buses)
    p_head = -study.p[:, feeder_cols].sum(axis=1) + study.base.losses_mw
    return p_head, rating


def feeder_hosting_capacity(feeder, *, steps: str | None = None, queue: Iterable = (),
                            allocation: str = "load", buses: Sequence[str] | None = None,
                            stochastic: int = 0, whatif: bool = False,
                            progress: Callable[[str, int, int], None] | None = None,
                            weather: pd.DataFrame | None = None) -> FeederHostingCapacity:
    """Hosting capacity of every bus, transformer and the feeder, with zones.

    Parameters
    ----------
    feeder : gridint.grid.Feeder or str
        A loaded feeder, a catalog name or a pandapower JSON path.
    steps : {'year', 'screening', 'snapshot'}, optional
        Default ``year`` for a feeder with profiles, else ``snapshot``.
    queue : iterable of gridint.interconnection.QueuedPV
        PV connected since the feeder file (``status="connected"``) and approved
        but not yet connected (``"approved"``); gives C1 and C2 per transformer
        and for the feeder: C1 = HC - newly connected, C2 = C1 - approved.
    allocation : {'load', 'pv', 'equal'}
        Rule of the feeder's simultaneous allocation (module docstring).
    buses : sequence of str, optional
        Only these buses (names) for the nodal values; default every feeder bus.
    stochastic : int
        Number of Monte Carlo PV deployments (0 = none); see :func:`stochastic_summary`.
    whatif : bool
        Also each bus's capacity with PF 0.95 absorbing, volt-var, an export limit
        and a battery (Settings ``whatif_*``).
    progress : callable(stage, done, total), optional
    weather : DataFrame, optional
        Weather for the PV shape (default year).

    Returns
    -------
    FeederHostingCapacity
    """
    from gridint.grid.catalog import Feeder, load_feeder

    s = get_settings()
    t0 = time.perf_counter()
    if not isinstance(feeder, Feeder):
        feeder = load_feeder(feeder)
    if steps is None:
        steps = "year" if feeder.has_profiles else "snapshot"
    if steps not in STEP_MODES:
        raise GridintError(f"steps must be one of {', '.join(STEP_MODES)}, got {steps!r}")
    if allocation not in ALLOCATIONS:
        raise GridintError(f"allocation must be one of {', '.join(ALLOCATIONS)}, got {allocation!r}")
    net = feeder.net
    c, p, q, shape, tindex, mode = _prepare(feeder, steps, weather)
    study = _Study(c, p, q, shape, tindex, progress=progress)
    cols = _feeder_buses(net, c)
    if buses is not None:
        wanted = {str(b) for b in buses}
        unknown = wanted - set(c.bus_names[cols])
        if unknown:
            raise GridintError(f"unknown bus(es) on {feeder.name}: {', '.join(sorted(unknown))}")
        cols_nodal = np.array([i for i in cols if c.bus_names[i] in wanted])
    else:
        cols_nodal = cols
    kw = dict(n_screen=s.hosting_screen_steps, confirm=(mode == "year"), max_kw=s.hosting_max_kw)

    bus_sites = [Site(str(c.bus_names[i]), np.array([i]), np.array([1.0])) for i in cols_nodal]
    lv = _lv_groups(net, c)
    trafo_sites = []
    for t, grp in lv.items():
        grp = np.intersect1d(grp, cols)
        if len(grp):
            trafo_sites.append((t, Site(f"trafo:{net.trafo.at[t, 'name']}", grp,
                                        _weights(net, c, grp, "load"))))
    load_cols = np.array(sorted(set(net.load[net.load.in_service.astype(bool)].bus.astype(int))
                                & set(c.bus_index[cols])))
    load_cols = np.array([c.bus_position(b) for b in load_cols]) if len(load_cols) else cols
    feeder_site = Site(f"feeder:{feeder.name}", load_cols, _weights(net, c, load_cols, allocation))
    # one solve for buses, multi-bus transformer sites and the feeder
    multi = [ts for ts in trafo_sites if len(ts[1].cols) > 1]
    sites = bus_sites + [ts[1] for ts in multi] + [feeder_site]
    results = solve_sites(study, sites, **kw)
    by_name = {r.name: r for r in results}
    feeder_res = results[-1]

    # --- zones and transformer table
    r0 = study.r0
    m = study.monitor
    broken = (r0 > 1.0) & (np.asarray(m.kinds) != "reverse_power")[None, :]
    broken_any = broken.any(axis=0)
    broken_names = {(k, n) for k, n, b in zip(m.kinds, m.names, broken_any) if b}
    base = study.base
    rev_rate = (-base.trafo_p_hv_mw / c.trafo_sn_mva[None, :]).max(axis=0) \
        if len(c.trafo_index) else np.zeros(0)
    p_head, head_mva = _head(net, c, cols, study)
    feeder_rate = float((-p_head).max() / head_mva) if head_mva > 0 else float("nan")
    feeder_limits_broken = bool(any(b for b in broken_any))
    feeder_zone = zone_of(feeder_rate, feeder_limits_broken)
    # C1 / C2 from the queue
    conn_kw, appr_kw = _queue_by_column(queue, net, c)
    trafos = []
    bus_zone = {}
    for t, site in trafo_sites:
        j = int(np.flatnonzero(c.trafo_index == t)[0])
        tname = str(c.trafo_names[j])
        res = by_name.get(site.name) if len(site.cols) > 1 else \
            by_name.get(str(c.bus_names[site.cols[0]]))
        if res is None:  # single-bus LV side outside the nodal subset
            (res,) = solve_sites(study, [site], **kw)
        names_here = {str(c.bus_names[i]) for i in site.cols}
        own_broken = any((k == "voltage" and n in names_here) for k, n in broken_names) or \
            ("thermal", tname) in broken_names
        zone = worst_zone(zone_of(float(rev_rate[j]), own_broken), feeder_zone)
        for i in site.cols:
            bus_zone[int(i)] = zone
        pv_kw = _pv_kw(net, c.bus_index[site.cols])
        c1 = float(res.hc_kw - conn_kw[site.cols].sum())
        c2 = float(c1 - appr_kw[site.cols].sum())
        trafos.append({
            "name": tname, "rated_kva": round(float(c.trafo_sn_mva[j]) * 1000.0, 1),
            "lv_bus": str(c.bus_names[site.cols[0]]) if len(site.cols) == 1 else None,
            "pv_kw": round(pv_kw, 1), "reverse_load_rate": _round(float(rev_rate[j]), 4),
            "zone": zone, "hc_kw": round(res.hc_kw, 1),
            "c1_kw": round(max(c1, 0.0), 1), "c2_kw": round(max(c2, 0.0), 1),
            "binding": None if res.binding is None else res.binding.to_dict(),
        })
    bus_rows = []
    geo = _bus_geo(net)
    for site, i in zip(bus_sites, cols_nodal):
        res = by_name[site.name]
        bus_rows.append({
            "name": site.name, "vn_kv": float(c.bus_vn_kv[i]),
            "hc_kw": round(res.hc_kw, 1),
            "binding": None if res.binding is None else res.binding.to_dict(),
            "zone": bus_zone.get(int(i), feeder_zone),
            "lon": geo.get(int(c.bus_index[i]), (None, None))[0],
            "lat": geo.get(int(c.bus_index[i]), (None, None))[1],
        })
    if whatif:
        _add_whatifs(study, bus_sites, bus_rows, kw)
    stoch = None
    if stochastic:
        stoch = stochastic_summary(study, net, c, load_cols, stochastic, kw)
    c1_feeder = float(feeder_res.hc_kw - conn_kw[cols].sum())
    period = {}
    if tindex is not None:
        period = {"start": pd.Timestamp(tindex[0]).isoformat(),
                  "end": pd.Timestamp(tindex[-1]).isoformat()}
    out = FeederHostingCapacity(
        feeder=feeder.name, steps=mode,
        n_steps=study.n_steps if mode != "screening" else max(r.n_screened for r in results),
        runtime_s=time.perf_counter() - t0, feeder_hc_kw=feeder_res.hc_kw,
        feeder_binding=feeder_res.binding, allocation=allocation, zone=feeder_zone,
        reverse_load_rate=feeder_rate, substation=feeder.substation or "",
        buses=bus_rows, transformers=trafos, n_power_flows=study.n_pf,
        limits=_limits(), stochastic=stoch, period=period,
        feeder_c1_kw=max(c1_feeder, 0.0), feeder_c2_kw=max(c1_feeder - float(appr_kw[cols].sum()), 0.0),
        head_p_mw=p_head, head_rating_mva=head_mva)
    logger.info("%s: %d buses, %d transformers, feeder %.0f kW in %.2f s (%d power flows)",
                feeder.name, len(bus_rows), len(trafos), feeder_res.hc_kw, out.runtime_s,
                study.n_pf)
    return out


def _limits() -> dict:
    s = get_settings()
    return {"vm_max_pu": s.vm_max_pu, "vm_min_pu": s.vm_min_pu,
            "line_loading_max_percent": s.line_loading_max_percent,
            "trafo_loading_max_percent": s.trafo_loading_max_percent,
            "reverse_load_rate_max": s.reverse_load_rate_max,
            "zone_green_max": s.zone_green_max, "zone_yellow_max": s.zone_yellow_max,
            "standards": "GB/T 12325 (voltage), DL/T 2041-2019 (reverse load rate, zones), "
                         "thermal 100 % of rating"}


def _pv_kw(net, bus_ids) -> float:
    sg = net.sgen[net.sgen.in_service.astype(bool) & net.sgen.bus.isin(list(bus_ids))]
    return float((sg.p_mw.astype(float)).sum() * 1000.0)


def _bus_geo(net) -> dict[int, tuple[float, float]]:
    import json

    out = {}
    if "geo" in net.bus:
        for b, g in net.bus.geo.items():
            if isinstance(g, str) and g:
                try:
                    lon, lat = json.loads(g)["coordinates"][:2]
                    out[int(b)] = (float(lon), float(lat))
                except (ValueError, KeyError, TypeError):
                    continue
    return out


def _queue_by_column(queue, net, c: CompiledNet) -> tuple[np.ndarray, np.ndarray]:
    """kW of newly connected and of approved-not-connected PV per bus column."""
    conn = np.zeros(c.n_bus)
    appr = np.zeros(c.n_bus)
    names = {str(n): i for i, n in enumerate(c.bus_names)}
    lv_of_trafo = {str(n): int(b) for n, b in zip(net.trafo.name, net.trafo.lv_bus)}
    for item in queue:
        bus = str(item.bus)
        if bus in names:
            col = names[bus]
        elif bus in lv_of_trafo:
            col = c.bus_position(lv_of_trafo[bus])
        else:
            raise GridintError(f"queue entry at unknown bus or transformer {bus!r}")
        if item.status == "connected":
            conn[col] += float(item.ac_kw)
        elif item.status == "approved":
            appr[col] += float(item.ac_kw)
        else:
            raise GridintError(f"queue entry status must be 'connected' or 'approved', "
                               f"got {item.status!r}")
    return conn, appr


def _add_whatifs(study: _Study, bus_sites: list[Site], bus_rows: list[dict], kw: dict) -> None:
    """Each bus's capacity with mitigation: PF 0.95 absorbing, volt-var, export limit,
    battery (sized per kW of its unity-PF capacity, Settings ``whatif_*``)."""
    s = get_settings()
    tan = math.tan(math.acos(s.inverter_pf_min))
    variants = {
        "pf_absorbing": lambda st, hc: Site(st.name, st.cols, st.weights, q_per_p=-tan),
        "volt_var": lambda st, hc: Site(st.name, st.cols, st.weights, volt_var=True),
        "export_limit": lambda st, hc: Site(st.name, st.cols, st.weights,
                                            export_limit_fraction=s.whatif_export_limit_fraction),
        "battery": lambda st, hc: Site(st.name, st.cols, st.weights,
                                       battery_kw=max(hc, 1.0) * s.whatif_battery_kw_per_kw,
                                       battery_kwh=max(hc, 1.0) * s.whatif_battery_kw_per_kw
                                       * s.whatif_battery_hours),
    }
    for key, make in variants.items():
        sites = [make(st, row["hc_kw"]) for st, row in zip(bus_sites, bus_rows)]
        for row, res in zip(bus_rows, solve_sites(study, sites, **kw)):
            row.setdefault("whatif", {})[key] = {
                "hc_kw": round(res.hc_kw, 1),
                "binding": None if res.binding is None else res.binding.constraint}
    for row in bus_rows:
        row["whatif"]["settings"] = {
            "power_factor": s.inverter_pf_min,
            "volt_var": "IEEE 1547 Cat B",
            "export_limit_fraction": s.whatif_export_limit_fraction,
            "battery_kw_per_kw": s.whatif_battery_kw_per_kw,
            "battery_hours": s.whatif_battery_hours}


def stochastic_summary(study: _Study, net, c: CompiledNet, load_cols: np.ndarray, n: int,
                       kw: dict, seed: int | None = None) -> dict:
    """Monte Carlo PV deployments (EPRI DRIVE style): the feeder HC distribution.

    Each deployment picks, at random (seeded), a share (10-100 %) of the buses with
    load as PV sites and gives each a random size weight (lognormal, sigma 0.5,
    times the local load); the deployment grows proportionally until the first
    violation (AC-confirmed like every hosting capacity). Over all deployments:
    the minimum (first violation of the worst placement), median, maximum
    (beyond it every deployment breaks a limit), and the curve of the share of
    deployments with a violation against total PV.

    Returns
    -------
    dict
        ``n_deployments, seed, min_kw, p10_kw, median_kw, p90_kw, max_kw,
        curve: [{pv_kw, share_violating}]``, ``binding_counts`` per constraint.
    """
    s = get_settings()
    seed = s.stochastic_seed if seed is None else seed
    rng = np.random.default_rng(seed)
    base_w = _weights(net, c, load_cols, "load")
    sites = []
    for k in range(n):
        share = rng.uniform(0.1, 1.0)
        pick = rng.random(len(load_cols)) < share
        if not pick.any():
            pick[rng.integers(len(load_cols))] = True
        w = base_w[pick] * rng.lognormal(0.0, 0.5, pick.sum())
        if w.sum() <= 0:
            w = np.ones(pick.sum())
        sites.append(Site(f"deployment:{k}", load_cols[pick], w / w.sum()))
    res = solve_sites(study, sites, **kw)
    hc = np.sort(np.array([r.hc_kw for r in res]))
    counts: dict[str, int] = {}
    for r in res:
        key = r.binding.constraint if r.binding else "none"
        counts[key] = counts.get(key, 0) + 1
    curve = [{"pv_kw": round(float(x), 1), "share_violating": round((i + 1) / len(hc), 4)}
             for i, x in enumerate(hc)]
    return {"n_deployments": n, "seed": seed, "min_kw": round(float(hc[0]), 1),
            "p10_kw": round(float(np.quantile(hc, 0.1)), 1),
            "median_kw": round(float(np.median(hc)), 1),
            "p90_kw": round(float(np.quantile(hc, 0.9)), 1),
            "max_kw": round(float(hc[-1]), 1), "binding_counts": counts, "curve": curve}
