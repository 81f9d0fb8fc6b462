"""Analytical (RELRAD-style) failure-modes-and-effects reliability evaluation.

For every failing component (line, transformer, busbar) of a normally radial
net the effect on every load point is found from the topology
(:mod:`gridint.reliability.topology`):

1. the fault is cleared by the first protective device (switch ``type`` ``CB`` or
   ``fuse``) between it and the supply; every load downstream of that device is
   interrupted (without such a device the supply itself trips);
2. the faulted zone -- everything reachable from the component without passing a
   switch -- is isolated by opening the switches bounding it;
3. interrupted loads outside the zone that are connected to a supply again are
   restored after the switching time of the isolating device(s) bounding their part
   of the network (and of the protective device, re-closed / re-fused, when it lies
   inside that part);
4. loads that can be re-supplied through a normally-open switch (``closed`` False)
   whose other side is supplied are restored after max(isolation, tie switching);
5. loads in the faulted zone or without alternate supply wait for the repair; no
   restoration lasts longer than the repair;
6. an interruption no longer than the sustained threshold (3 min, DL/T 836) is
   momentary (MAIFI) and stays out of SAIFI / SAIDI.

Load point indices: failure rate λ [1/yr], unavailability U = Σ λ_c d_c [h/yr],
outage time r = U / λ [h], energy not supplied ENS = U · P_avg [MWh/yr]. System:
SAIFI = Σ λ_i N_i / Σ N_i, SAIDI = Σ U_i N_i / Σ N_i, CAIDI = SAIDI / SAIFI,
ASAI = 1 − SAIDI / 8760, RS-1 = 100 · ASAI, ENS = Σ ENS_i, MAIFI = Σ λm_i N_i / Σ N_i
(Billinton & Allan, Reliability Evaluation of Power Systems, 2nd ed., 1996, ch. 7;
DL/T 836.1-2016).

Optional: the transfer capacity of a tie is checked with an AC power flow of the
restored configuration at the file's load (``check_tie_capacity=True``, off by
default): a tie that would leave a bus outside the voltage band or a branch above
its rating restores nothing.

Reference: RBTS Bus 2 (Allan, Billinton, Sjarief, Goel, So, IEEE Trans. Power
Systems 6(2), 813-820, 1991) is reproduced in ``tests/reliability``.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from gridint.config import get_settings
from gridint.reliability._kernels import KIND_REPAIR, KIND_SWITCH
from gridint.reliability.topology import (
    EDGE_LINE,
    EDGE_SWITCH,
    EDGE_TRAFO,
    PROTECTIVE_TYPES,
    ReliabilityModel,
)

__all__ = ["RestorationTable", "restoration_table", "evaluate_analytical", "HOURS_PER_YEAR"]

logger = logging.getLogger(__name__)

#: Hours of a (non-leap) year used by ASAI = 1 - SAIDI / 8760 (DESIGN.md).
HOURS_PER_YEAR = 8760.0


@dataclass
class RestorationTable:
    """Effect of a fault in each zone on each load point (CSR over zones).

    Attributes
    ----------
    comp_zone : ndarray of int
        Zone of each component (-1 if the component is not energised normally).
    zone_ptr, zone_load, zone_kind, zone_time_h, zone_island : ndarray
        For zone ``z`` the entries ``zone_ptr[z]:zone_ptr[z+1]``: interrupted load
        (position in the model), kind (1 switched, 2 repair), switching time [h] and
        island index (-1 none).
    zone_device : list of str
        Protective device that clears a fault in each zone (``"supply"`` if none).
    zone_tie : list of list of str
        Ties used to restore loads after a fault in each zone.
    islands : list of dict
        One per (zone, region) that an island-capable storage can carry: ``zone``,
        ``storage`` (model positions), ``loads`` (model positions), ``sgens``.
    """

    comp_zone: np.ndarray
    zone_ptr: np.ndarray
    zone_load: np.ndarray
    zone_kind: np.ndarray
    zone_time_h: np.ndarray
    zone_island: np.ndarray
    zone_device: list
    zone_tie: list
    islands: list = field(default_factory=list)

    @property
    def n_zones(self) -> int:
        return len(self.zone_ptr) - 1

    def dense(self, n_loads: int) -> tuple[np.ndarray, np.ndarray]:
        """Kind and switching time as dense ``(n_zones, n_loads)`` arrays."""
        kind = np.zeros((self.n_zones, n_loads), dtype=np.int64)
        t = np.full((self.n_zones, n_loads), np.inf)
        for z in range(self.n_zones):
            sl = slice(self.zone_ptr[z], self.zone_ptr[z + 1])
            kind[z, self.zone_load[sl]] = self.zone_kind[sl]
            t[z, self.zone_load[sl]] = self.zone_time_h[sl]
        return kind, t


# ----------------------------------------------------------------------------------
# graph helpers
# ----------------------------------------------------------------------------------
def _components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if len(u) == 0:
        return np.arange(n)
    g = sp.coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    return connected_components(g, directed=False)[1]


def _supply_tree(m: ReliabilityModel, closed: np.ndarray):
    """BFS tree over closed edges from the supplies: depth, parent edge, source, Euler tin/tout."""
    n = m.n_nodes
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for e in np.flatnonzero(closed):
        a, b = int(m.edge_u[e]), int(m.edge_v[e])
        adj[a].append((b, int(e)))
        adj[b].append((a, int(e)))
    depth = np.full(n, -1, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    parent_edge = np.full(n, -1, dtype=np.int64)
    source = np.full(n, -1, dtype=np.int64)
    q: deque = deque()
    for s in m.supply_node:
        depth[s], source[s] = 0, s
        q.append(int(s))
    loops = 0
    children: list[list[int]] = [[] for _ in range(n)]
    while q:
        a = q.popleft()
        for b, e in adj[a]:
            if e == parent_edge[a]:
                continue
            if depth[b] < 0:
                depth[b], parent[b], parent_edge[b], source[b] = depth[a] + 1, a, e, source[a]
                children[a].append(b)
                q.append(b)
            elif parent_edge[b] != e:
                loops += 1
    tin = np.zeros(n, dtype=np.int64)
    tout = np.zeros(n, dtype=np.int64)
    clock = 0
    for s in m.supply_node:
        stack = [(int(s), 0)]
        while stack:
            node, state = stack.pop()
            if state == 0:
                tin[node] = clock
                clock += 1
                stack.append((node, 1))
                for c in reversed(children[node]):
                    stack.append((c, 0))
            else:
                tout[node] = clock
    return depth, parent, parent_edge, source, tin, tout, loops // 2


# ----------------------------------------------------------------------------------
# restoration table
# ----------------------------------------------------------------------------------
def restoration_table(m: ReliabilityModel, *, check_tie_capacity: bool = False, net=None) -> RestorationTable:
    """Effect of a fault in every zone on every load point.

    Parameters
    ----------
    m : ReliabilityModel
    check_tie_capacity : bool
        Check each tie restoration with an AC power flow of the restored
        configuration at the file's loads (needs ``net``); off by default.
    net : pandapowerNet, optional
        The net ``m`` was built from (for the tie check).

    Returns
    -------
    RestorationTable
    """
    n = m.n_nodes
    is_sw = m.edge_kind == EDGE_SWITCH
    closed = np.ones(len(m.edge_kind), dtype=bool)
    sw_of_edge = np.full(len(m.edge_kind), -1, dtype=np.int64)
    sw_of_edge[m.sw_edge] = np.arange(len(m.sw_edge))
    closed[m.sw_edge] = m.sw_closed
    protective = np.zeros(len(m.edge_kind), dtype=bool)
    protective[m.sw_edge] = np.isin(m.sw_type.astype(str), PROTECTIVE_TYPES)
    sw_time_edge = np.zeros(len(m.edge_kind))
    sw_time_edge[m.sw_edge] = m.sw_time_h

    zone = _components(n, m.edge_u[~is_sw], m.edge_v[~is_sw])
    depth, parent, parent_edge, source, tin, tout, loops = _supply_tree(m, closed)
    if loops:
        m.notes.append(f"{loops} closed loop(s): the net is not radial; the breadth-first supply tree is used")
    load_node = m.load_node
    energised_load = depth[load_node] >= 0
    if not energised_load.all():
        m.notes.append(f"{int((~energised_load).sum())} load(s) not supplied in the normal configuration")
    is_supply = np.zeros(n, dtype=bool)
    is_supply[m.supply_node] = True
    storage_at: dict[int, list[int]] = {}
    for k, node in enumerate(m.storage_node):
        storage_at.setdefault(int(node), []).append(k)
    storage_entry = {}  # top node of the storage's own zone (-1: the zone holds a supply)
    for node in storage_at:
        zn = np.flatnonzero((zone == zone[node]) & (depth >= 0))
        top = int(zn[np.argmin(depth[zn])]) if len(zn) else -1
        storage_entry[node] = -1 if top < 0 or depth[top] == 0 else top

    used_zones = np.unique(zone[m.comp_node]) if m.n_components else np.zeros(0, dtype=np.int64)
    zone_map = {int(z): k for k, z in enumerate(used_zones)}
    comp_zone = np.array([zone_map[int(zone[c])] for c in m.comp_node], dtype=np.int64)

    ptr = [0]
    baseline = None
    c_load, c_kind, c_time, c_isl = [], [], [], []
    devices, ties_used, islands = [], [], []
    e_closed_u, e_closed_v = m.edge_u[closed], m.edge_v[closed]
    closed_idx = np.flatnonzero(closed)
    open_sw_edges = m.sw_edge[~m.sw_closed]
    for zid in used_zones:
        in_z = zone == zid
        nodes_z = np.flatnonzero(in_z)
        en = nodes_z[depth[nodes_z] >= 0]
        if len(en) == 0:  # zone not energised: a fault there interrupts nobody
            ptr.append(len(c_load))
            devices.append("none (not energised)")
            ties_used.append([])
            continue
        entry = int(en[np.argmin(depth[en])])
        dev = -1
        node = entry
        while parent_edge[node] >= 0:
            e = int(parent_edge[node])
            if protective[e]:
                dev = e
                break
            node = int(parent[node])
        if dev >= 0:
            a, b = int(m.edge_u[dev]), int(m.edge_v[dev])
            child = a if depth[a] > depth[b] else b
            interrupted = (tin >= tin[child]) & (tin < tout[child]) & (depth >= 0)
            devices.append(m.sw_name[sw_of_edge[dev]])
        else:
            interrupted = source == source[entry]
            devices.append("supply")
        # regions left after removing the zone (normal closed configuration)
        keep = ~(in_z[e_closed_u] | in_z[e_closed_v])
        region = _components(n, e_closed_u[keep], e_closed_v[keep])
        n_reg = int(region.max()) + 1
        t_bound = np.zeros(n_reg)
        for e in closed_idx[~keep]:
            if not is_sw[e]:
                continue
            a, b = int(m.edge_u[e]), int(m.edge_v[e])
            if in_z[a] and in_z[b]:
                continue
            other = b if in_z[a] else a
            if e != dev:
                t_bound[region[other]] = max(t_bound[region[other]], sw_time_edge[e])
        if dev >= 0 and not (in_z[m.edge_u[dev]] or in_z[m.edge_v[dev]]):
            r = region[m.edge_u[dev]]
            t_bound[r] = max(t_bound[r], sw_time_edge[dev])
        has_sup = np.zeros(n_reg, dtype=bool)
        has_sup[region[m.supply_node[~in_z[m.supply_node]]]] = True
        t_tie = np.full(n_reg, np.inf)
        tie_name = {}
        for e in open_sw_edges:
            a, b = int(m.edge_u[e]), int(m.edge_v[e])
            if in_z[a] or in_z[b]:
                continue
            ra, rb = region[a], region[b]
            for src, dst in ((ra, rb), (rb, ra)):
                if has_sup[src] and not has_sup[dst] and sw_time_edge[e] < t_tie[dst]:
                    t_tie[dst] = sw_time_edge[e]
                    tie_name[dst] = (m.sw_name[sw_of_edge[e]], int(e))
        if check_tie_capacity and tie_name:
            if baseline is None:
                base = _solve(net) if net is not None else None
                baseline = (dict(line=base[2], trafo=base[3]) if base is not None
                            else dict(line=np.full(len(net.line), np.inf), trafo=np.full(len(net.trafo), np.inf)))
            for r in list(tie_name):
                if not _tie_feasible(net, m, in_z, region, r, tie_name[r][1], baseline):
                    t_tie[r] = np.inf
                    m.notes.append(f"tie {tie_name[r][0]} cannot take the load cut off by a fault cleared by "
                                   f"{devices[-1]} (AC power-flow check): not used for it")
                    del tie_name[r]
        # island-capable storage: it carries its own section (its switch-bounded zone) and
        # everything downstream of it that is cut off with it (same region)
        island_of_node: dict[int, int] = {}
        for node in sorted(storage_at, key=lambda k: depth[storage_entry[k]] if storage_entry[k] >= 0 else -1):
            ks = storage_at[node]
            if in_z[node] or not interrupted[node] or storage_entry[node] < 0:
                continue
            if node in island_of_node:  # inside an island formed by a storage further up
                islands[island_of_node[node]]["storage"].extend(ks)
                continue
            ent = storage_entry[node]
            members = np.flatnonzero((tin >= tin[ent]) & (tin < tout[ent]) & (depth >= 0)
                                     & (region == region[node]) & ~in_z)
            k_isl = len(islands)
            islands.append(dict(zone=len(ptr) - 1, nodes=members, storage=list(ks)))
            for x in members:
                island_of_node.setdefault(int(x), k_isl)
        used_ties = set()
        for i in np.flatnonzero(interrupted[load_node] & energised_load):
            node = int(load_node[i])
            r = int(region[node])
            if in_z[node]:
                kind, t = KIND_REPAIR, np.inf
            elif has_sup[r]:
                kind, t = KIND_SWITCH, float(t_bound[r])
            elif np.isfinite(t_tie[r]):
                kind, t = KIND_SWITCH, float(max(t_bound[r], t_tie[r]))
                used_ties.add(tie_name[r][0])
            else:
                kind, t = KIND_REPAIR, np.inf
            c_load.append(i), c_kind.append(kind), c_time.append(t)
            c_isl.append(island_of_node.get(node, -1))
        ptr.append(len(c_load))
        ties_used.append(sorted(used_ties))
    for isl in islands:
        nodes = set(isl.pop("nodes").tolist())
        isl["loads"] = [i for i in range(m.n_loads) if int(m.load_node[i]) in nodes]
        isl["sgens"] = [k for k in range(len(m.sgen_node)) if int(m.sgen_node[k]) in nodes]
    return RestorationTable(
        comp_zone=comp_zone,
        zone_ptr=np.asarray(ptr, dtype=np.int64),
        zone_load=np.asarray(c_load, dtype=np.int64),
        zone_kind=np.asarray(c_kind, dtype=np.int64),
        zone_time_h=np.asarray(c_time, dtype=float),
        zone_island=np.asarray(c_isl, dtype=np.int64),
        zone_device=devices,
        zone_tie=ties_used,
        islands=islands,
    )


def _tie_feasible(net, m: ReliabilityModel, in_z: np.ndarray, region: np.ndarray, r: int, tie_edge: int,
                  baseline: dict) -> bool:
    """AC power flow of the configuration restored through a tie: does it add a violation?

    The faulted zone is taken out of service, its bounding switches opened, the tie
    closed; loads and generation as in the file. A bus of the transferred region outside
    the voltage band, or a line / transformer above its rating that was not already
    above it in the normal configuration (``baseline``), makes the transfer infeasible.
    """
    if net is None:
        return True
    import copy

    s = get_settings()
    nn = copy.deepcopy(net)
    z_nodes = np.flatnonzero(in_z)
    z_buses = [int(m.node_bus[k]) for k in z_nodes if m.node_bus[k] >= 0]
    nn.bus.loc[z_buses, "in_service"] = False
    for e in range(len(m.edge_kind)):
        if not (in_z[m.edge_u[e]] or in_z[m.edge_v[e]]):
            continue
        if m.edge_kind[e] == EDGE_LINE:
            nn.line.at[int(m.edge_element[e]), "in_service"] = False
        elif m.edge_kind[e] == EDGE_TRAFO:
            nn.trafo.at[int(m.edge_element[e]), "in_service"] = False
        else:
            nn.switch.at[int(m.edge_element[e]), "closed"] = False
    nn.switch.at[int(m.edge_element[tie_edge]), "closed"] = True
    res = _solve(nn)
    if res is None:
        return False
    c, vm, ll, tl = res
    buses = [int(m.node_bus[k]) for k in np.flatnonzero(region == r) if m.node_bus[k] >= 0]
    pos = np.array([c.bus_position(b) for b in buses], dtype=int)
    v = vm[pos[pos >= 0]]
    if np.any(v < s.vm_min_pu - 1e-9) or np.any(v > s.vm_max_pu + 1e-9):
        return False
    for new, old, lim in ((ll, baseline["line"], s.line_loading_max_percent),
                          (tl, baseline["trafo"], s.trafo_loading_max_percent)):
        worse = np.isfinite(new) & (new > lim + 1e-9) & ~(np.nan_to_num(old, nan=0.0) >= new - 1e-6)
        if np.any(worse):
            return False
    return True


def _solve(net):
    """(compiled net, vm_pu, line loading %, trafo loading %) of one AC power flow, or None."""
    from gridint.powerflow import compile_net, net_injections, run_batch

    try:
        c = compile_net(net)
        p, q = net_injections(c)
        res = run_batch(c, p[None, :], q[None, :])
    except Exception as exc:  # noqa: BLE001 - an unsolvable configuration is an infeasible one
        logger.info("tie check: power flow failed (%s)", exc)
        return None
    if not bool(res.converged[0]):
        return None
    return c, res.vm_pu[0], res.line_loading_percent[0], res.trafo_loading_percent[0]


# ----------------------------------------------------------------------------------
# indices
# ----------------------------------------------------------------------------------
def evaluate_analytical(m: ReliabilityModel, table: RestorationTable, island_fn=None) -> dict:
    """Expected load point indices and component contributions.

    Parameters
    ----------
    m : ReliabilityModel
    table : RestorationTable
    island_fn : callable, optional
        ``island_fn(k, d_h) -> (p_sustained, e_sustained_h, p_momentary)``: expected
        effect of island ``k`` on an interruption of ``d_h`` hours
        (:func:`gridint.reliability.islanding.IslandModel.expectation`).

    Returns
    -------
    dict
        ``lam`` (sustained interruptions [1/yr]), ``u_h`` [h/yr], ``lam_mom``
        [1/yr] per load point; ``comp_cust_h`` (customer hours per year caused by
        each component) and ``comp_cust_int``.
    """
    s = get_settings()
    thr = s.reliability_sustained_threshold_min / 60.0
    nl = m.n_loads
    lam = np.zeros(nl)
    u = np.zeros(nl)
    lam_m = np.zeros(nl)
    comp_cust_h = np.zeros(m.n_components)
    comp_cust_int = np.zeros(m.n_components)
    cust = m.load_customers
    for c in range(m.n_components):
        rate = m.comp_rate_per_year[c]
        z = table.comp_zone[c]
        if rate <= 0 or z < 0:
            continue
        sl = slice(table.zone_ptr[z], table.zone_ptr[z + 1])
        loads = table.zone_load[sl]
        if not len(loads):
            continue
        rep = m.comp_repair_h[c]
        d = np.where(table.zone_kind[sl] == KIND_REPAIR, rep, np.minimum(table.zone_time_h[sl], rep))
        p_s = (d > thr).astype(float)
        e_s = np.where(d > thr, d, 0.0)
        p_m = ((d <= thr) & (d > 0)).astype(float)
        isl = table.zone_island[sl]
        if island_fn is not None and np.any(isl >= 0):
            for j in np.flatnonzero(isl >= 0):
                p_s[j], e_s[j], p_m[j] = island_fn(int(isl[j]), float(d[j]))
        lam[loads] += rate * p_s
        u[loads] += rate * e_s
        lam_m[loads] += rate * p_m
        comp_cust_h[c] = rate * float(np.sum(e_s * cust[loads]))
        comp_cust_int[c] = rate * float(np.sum(p_s * cust[loads]))
    return dict(lam=lam, u_h=u, lam_mom=lam_m, comp_cust_h=comp_cust_h, comp_cust_int=comp_cust_int)

