"""What-if studies: automation, ties, fuses, storage; greedy ranking of upgrades.

Each upgrade is a pure function ``net -> new net`` (the input is never modified):

* :func:`automate_switches` -- the chosen (default: every manual isolating)
  switches get feeder automation: ``switch_time_h`` of seconds
  (``reliability_whatif_automated_switch_time_s``), ``automated`` True;
* :func:`add_tie` -- a normally-open switch from a bus to a new alternate supply
  (a neighbouring feeder's bus with its own ``ext_grid``, role ``neighbour``);
* :func:`add_fuses` -- fuses at the upstream end of lines (default: every branch
  head without a protective device);
* :func:`add_storage` -- an island-capable battery at a bus.

:func:`rank_upgrades` evaluates candidate upgrades with the analytical method and
applies, one at a time, the one that lowers SAIDI most, until the RS-1 target is
met, no candidate helps, or ``max_steps`` is reached.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from gridint.config import get_settings
from gridint.errors import ReliabilityError
from gridint.reliability.analytical import HOURS_PER_YEAR, _components, _supply_tree
from gridint.reliability.study import reliability_study
from gridint.reliability.topology import EDGE_LINE, EDGE_SWITCH, bool_column, build_model

__all__ = [
    "Upgrade",
    "add_fuses",
    "add_storage",
    "add_tie",
    "automate_switches",
    "candidate_upgrades",
    "fuse_candidates",
    "rank_upgrades",
]

logger = logging.getLogger(__name__)


def _net_and_feeder(feeder):
    if isinstance(feeder, str):
        from gridint.grid.catalog import load_feeder

        feeder = load_feeder(feeder)
    if hasattr(feeder, "has_profiles"):
        return feeder.net, feeder
    return feeder, None


def automate_switches(net, switches=None, time_s: float | None = None):
    """Copy of ``net`` whose isolating switches are automated.

    Parameters
    ----------
    net : pandapowerNet
    switches : iterable of int, optional
        pandapower switch indices; default every switch that is not a fuse and not
        yet automated (sectionalisers, disconnectors, ties, breakers).
    time_s : float, optional
        Switching time [s]; default ``reliability_whatif_automated_switch_time_s``.

    Returns
    -------
    pandapowerNet
    """
    s = get_settings()
    t_h = (s.reliability_whatif_automated_switch_time_s if time_s is None else float(time_s)) / 3600.0
    if t_h < 0:
        raise ReliabilityError(f"time_s: {time_s!r} must be >= 0")
    out = copy.deepcopy(net)
    sw = out.switch
    if switches is None:
        typ = sw["type"].astype(str) if "type" in sw.columns else None
        auto = bool_column(sw, "automated", False)
        mask = ~(typ == "fuse").to_numpy() if typ is not None else np.ones(len(sw), dtype=bool)
        mask &= ~auto
        switches = sw.index[mask]
    switches = list(switches)
    missing = [i for i in switches if i not in sw.index]
    if missing:
        raise ReliabilityError(f"switch: no switch with index {missing[0]}")
    if "switch_time_h" not in sw.columns:
        sw["switch_time_h"] = np.nan
    if "automated" not in sw.columns:
        sw["automated"] = False
    sw.loc[switches, "switch_time_h"] = t_h
    sw.loc[switches, "automated"] = True
    return out


def add_tie(net, bus: int, *, switch_time_h: float | None = None, name: str | None = None):
    """Copy of ``net`` with a normally-open tie from ``bus`` to a new alternate supply.

    Parameters
    ----------
    net : pandapowerNet
    bus : int
        pandapower index of the bus the tie closes onto.
    switch_time_h : float, optional
        Tie switching time [h]; default the manual default of the settings.
    name : str, optional

    Returns
    -------
    pandapowerNet
    """
    import pandapower as pp

    s = get_settings()
    if bus not in net.bus.index:
        raise ReliabilityError(f"bus: no bus with index {bus}")
    out = copy.deepcopy(net)
    vn = float(out.bus.at[bus, "vn_kv"])
    base = name or f"NEWTIE-{out.bus.at[bus, 'name'] if 'name' in out.bus.columns else bus}"
    nbr = pp.create_bus(out, vn, name=f"{base}-NBR", type="b",
                        **({"zone": "neighbour"} if "zone" in out.bus.columns else {}))
    kw = {"role": "neighbour"} if "role" in out.ext_grid.columns else {}
    pp.create_ext_grid(out, nbr, vm_pu=float(out.ext_grid["vm_pu"].iloc[0]) if len(out.ext_grid) else 1.0,
                       name=f"{base} alternate supply", **kw)
    t = s.reliability_switch_time_manual_h if switch_time_h is None else float(switch_time_h)
    extra = {"automated": False} if "automated" in out.switch.columns else {}
    pp.create_switch(out, bus, nbr, "b", closed=False, type="LBS", name=base, switch_time_h=t, **extra)
    return out


def fuse_candidates(net) -> list[int]:
    """Lines that could get a fuse at their upstream end.

    A candidate has no switch at its upstream end, does not leave the supply bus, has
    load downstream, and its downstream part holds no normally-open tie (it is never
    back-fed, so a fuse there cannot block a restoration).

    Returns
    -------
    list of int
        pandapower line indices.
    """
    m = build_model(net)
    closed = np.ones(len(m.edge_kind), dtype=bool)
    closed[m.sw_edge] = m.sw_closed
    depth, parent, parent_edge, *_ = _supply_tree(m, closed)
    has_tie = np.zeros(m.n_nodes, dtype=bool)
    for k, e in enumerate(m.sw_edge):
        if not m.sw_closed[k]:
            has_tie[m.edge_u[e]] = has_tie[m.edge_v[e]] = True
    has_load = np.zeros(m.n_nodes, dtype=bool)
    has_load[m.load_node] = True
    for v in np.argsort(-depth):  # deepest first: propagate upwards
        if depth[v] > 0:
            has_tie[parent[v]] |= has_tie[v]
            has_load[parent[v]] |= has_load[v]
    supply = set(m.supply_node.tolist())
    out = []
    for v in range(m.n_nodes):
        e = parent_edge[v]
        if e < 0 or m.edge_kind[e] != EDGE_LINE:
            continue
        u = int(parent[v])
        if m.node_bus[u] < 0 or u in supply or has_tie[v] or not has_load[v]:
            continue  # a switch at the upstream end, the substation, back-fed, or no load behind it
        out.append(int(m.edge_element[e]))
    return sorted(out)


def add_fuses(net, lines=None, *, switch_time_h: float | None = None):
    """Copy of ``net`` with a fuse at the upstream end of each line.

    Parameters
    ----------
    net : pandapowerNet
    lines : iterable of int, optional
        pandapower line indices (default :func:`fuse_candidates`).
    switch_time_h : float, optional
        Fuse replacement time [h] (default the manual switching default).

    Returns
    -------
    pandapowerNet
    """
    import pandapower as pp

    s = get_settings()
    lines = fuse_candidates(net) if lines is None else list(lines)
    m = build_model(net)
    closed = np.ones(len(m.edge_kind), dtype=bool)
    closed[m.sw_edge] = m.sw_closed
    depth = _supply_tree(m, closed)[0]
    out = copy.deepcopy(net)
    t = s.reliability_switch_time_manual_h if switch_time_h is None else float(switch_time_h)
    extra = {"automated": False} if "automated" in out.switch.columns else {}
    for li in lines:
        if li not in out.line.index:
            raise ReliabilityError(f"line: no line with index {li}")
        fb, tb = int(out.line.at[li, "from_bus"]), int(out.line.at[li, "to_bus"])
        df, dt = depth[m.bus_node.get(fb, 0)], depth[m.bus_node.get(tb, 0)]
        up = fb if (dt < 0 or (0 <= df <= dt)) else tb
        lname = out.line.at[li, "name"] if "name" in out.line.columns else li
        pp.create_switch(out, up, li, "l", closed=True, type="fuse", name=f"FU-{lname}", switch_time_h=t, **extra)
    return out


def add_storage(net, bus: int, p_kw: float, e_kwh: float, *, soc_percent: float | None = None,
                name: str | None = None):
    """Copy of ``net`` with an island-capable battery at ``bus``.

    Parameters
    ----------
    net : pandapowerNet
    bus : int
    p_kw, e_kwh : float
        Inverter power [kW] and energy [kWh] (> 0).
    soc_percent : float, optional
        Usual state of charge [%] (default the settings' default).
    name : str, optional

    Returns
    -------
    pandapowerNet
        New ``storage`` row: ``p_mw`` 0 (idle; positive = charging), ``sn_mva``,
        ``max_e_mwh``, ``soc_percent``, ``island_capable`` True.
    """
    import pandapower as pp

    s = get_settings()
    if bus not in net.bus.index:
        raise ReliabilityError(f"bus: no bus with index {bus}")
    if not (p_kw > 0 and e_kwh > 0):
        raise ReliabilityError(f"storage: p_kw {p_kw!r} and e_kwh {e_kwh!r} must be > 0")
    soc = s.reliability_storage_soc_default_percent if soc_percent is None else float(soc_percent)
    if not 0 <= soc <= 100:
        raise ReliabilityError(f"storage.soc_percent: {soc!r} outside [0, 100]")
    out = copy.deepcopy(net)
    bname = out.bus.at[bus, "name"] if "name" in out.bus.columns else bus
    pp.create_storage(out, bus, p_mw=0.0, max_e_mwh=e_kwh / 1000.0, sn_mva=p_kw / 1000.0, soc_percent=soc,
                      min_e_mwh=e_kwh / 1000.0 * s.reliability_storage_min_soc_percent / 100.0,
                      name=name or f"BESS-{bname}", island_capable=True)
    out.storage["island_capable"] = bool_column(out.storage, "island_capable", False)
    return out


@dataclass
class Upgrade:
    """One candidate upgrade: a label, a kind and the function applying it."""

    label: str
    kind: str
    apply: Callable = field(repr=False)


def candidate_upgrades(net, *, storage: tuple[float, float] | None = None, max_ties: int = 3,
                       max_storage: int = 3, max_fuses: int = 10) -> list[Upgrade]:
    """Default candidates: automate each manual switch; a fuse on the (at most ``max_fuses``)
    unprotected lines with the highest failure rate (:func:`fuse_candidates`); a tie at the
    farthest buses of different sections; and, if ``storage = (p_kw, e_kwh)``, a battery at
    the load buses with the most customer interruption hours.
    """
    cands: list[Upgrade] = []
    sw = net.switch
    if len(sw):
        typ = sw["type"].astype(str) if "type" in sw.columns else None
        auto = bool_column(sw, "automated", False)
        for i in sw.index:
            if (typ is not None and typ[i] == "fuse") or bool(auto[sw.index.get_loc(i)]):
                continue
            label = f"automate switch {sw.at[i, 'name'] if 'name' in sw.columns else i}"
            cands.append(Upgrade(label, "automate", lambda n, i=i: automate_switches(n, [i])))
    fuses = fuse_candidates(net)
    if len(fuses) > max_fuses:  # keep the lines with the most failures behind them
        m0 = build_model(net)
        lam = dict(zip(m0.comp_element[m0.comp_kind == 0].tolist(), m0.comp_rate_per_year[m0.comp_kind == 0]))
        fuses = sorted(fuses, key=lambda li: (-lam.get(li, 0.0), li))[:max_fuses]
    for li in fuses:
        lname = net.line.at[li, "name"] if "name" in net.line.columns else li
        cands.append(Upgrade(f"fuse on line {lname}", "fuse", lambda n, li=li: add_fuses(n, [li])))
    m = build_model(net)
    closed = np.ones(len(m.edge_kind), dtype=bool)
    closed[m.sw_edge] = m.sw_closed
    depth = _supply_tree(m, closed)[0]
    has_tie = set()
    for k, e in enumerate(m.sw_edge):
        if not m.sw_closed[k]:
            has_tie.update((int(m.node_bus[m.edge_u[e]]), int(m.node_bus[m.edge_v[e]])))
    vmax = net.bus["vn_kv"].max()
    mv = [b for b in net.bus.index if net.bus.at[b, "vn_kv"] >= 0.5 * vmax and b in m.bus_node
          and depth[m.bus_node[b]] > 0 and b not in has_tie]
    is_sw = m.edge_kind == EDGE_SWITCH
    zone = _components(m.n_nodes, m.edge_u[~is_sw], m.edge_v[~is_sw])
    seen: set = set()
    for b in sorted(mv, key=lambda b: (-depth[m.bus_node[b]], b)):
        z = int(zone[m.bus_node[b]])
        if z in seen:
            continue
        seen.add(z)
        bname = net.bus.at[b, "name"] if "name" in net.bus.columns else b
        cands.append(Upgrade(f"tie at bus {bname}", "tie", lambda n, b=b: add_tie(n, b)))
        if len(seen) >= max_ties:
            break
    if storage is not None:
        res = reliability_study(net)
        cust_h = {}
        for lp, bus in zip(res["load_points"], net.load.loc[m.load_index, "bus"]):
            cust_h[int(bus)] = cust_h.get(int(bus), 0.0) + lp["unavailability_h_per_year"] * lp["customers"]
        for b in sorted(cust_h, key=lambda b: -cust_h[b])[:max_storage]:
            bname = net.bus.at[b, "name"] if "name" in net.bus.columns else b
            cands.append(Upgrade(f"storage {storage[0]:g} kW / {storage[1]:g} kWh at bus {bname}", "storage",
                                 lambda n, b=b: add_storage(n, b, storage[0], storage[1])))
    return cands


def rank_upgrades(feeder, candidates: list[Upgrade] | None = None, *, target_rs1_percent: float | None = None,
                  max_steps: int = 10, storage: tuple[float, float] | None = None) -> dict:
    """Greedy ranking of upgrades by SAIDI gained, until the RS-1 target is met.

    Parameters
    ----------
    feeder : str, Feeder or pandapowerNet
    candidates : list of Upgrade, optional
        Default :func:`candidate_upgrades`.
    target_rs1_percent : float, optional
        Default ``reliability_target_rs1_percent`` (99.89 %).
    max_steps : int
        Upgrades applied at most.
    storage : (p_kw, e_kwh), optional
        Battery size for the default storage candidates.

    Returns
    -------
    dict
        ``base`` (system indices before), ``ranking`` (every candidate alone on the
        base net, by SAIDI gained), ``steps`` (the greedy sequence: upgrade, kind,
        saidi_h, saidi_gain_h, rs1_percent, meets_target; it stops once the target is
        met, at least one step is always tried), ``target_rs1_percent``,
        ``meets_target``, ``evaluations``, and ``net`` (the upgraded net).
    """
    s = get_settings()
    target = s.reliability_target_rs1_percent if target_rs1_percent is None else float(target_rs1_percent)
    net, fobj = _net_and_feeder(feeder)
    cands = list(candidate_upgrades(net, storage=storage) if candidates is None else candidates)
    profiles = None
    if fobj is not None and fobj.has_profiles and (any(c.kind == "storage" for c in cands)
                                                   or ("storage" in net and len(net.storage))):
        profiles = fobj.profiles

    def study(n):
        return reliability_study(n, profiles=profiles)

    base = study(net)["system"]
    saidi = base["saidi_h"]
    steps: list[dict] = []
    ranking: list[dict] = []
    n_eval = 0
    current = net
    for step in range(max_steps):
        best = None
        for k, c in enumerate(cands):
            trial = c.apply(current)
            r = study(trial)["system"]
            n_eval += 1
            gain = saidi - r["saidi_h"]
            if step == 0:
                ranking.append(dict(upgrade=c.label, kind=c.kind, saidi_gain_h=gain, saidi_h=r["saidi_h"],
                                    rs1_percent=r["rs1_percent"]))
            if gain > 1e-9 and (best is None or gain > best[1]):
                best = (k, gain, r, trial)
        if best is None:
            break
        k, gain, r, trial = best
        c = cands.pop(k)
        current = trial
        saidi = r["saidi_h"]
        steps.append(dict(upgrade=c.label, kind=c.kind, saidi_h=saidi, saidi_gain_h=gain, saifi=r["saifi"],
                          rs1_percent=r["rs1_percent"], meets_target=bool(r["rs1_percent"] >= target)))
        if r["rs1_percent"] >= target:
            break
    ranking.sort(key=lambda d: -d["saidi_gain_h"])
    rs1 = 100.0 * (1.0 - saidi / HOURS_PER_YEAR)
    return dict(base=base, ranking=ranking, steps=steps, target_rs1_percent=target,
                meets_target=bool(rs1 >= target), evaluations=n_eval, net=current)
