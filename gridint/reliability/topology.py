"""Reliability model of a pandapower net: graph, failing components, switches, load points.

The net is read through the reliability columns of DESIGN.md ("Reliability input
schema"). Every switch becomes an edge of the graph, so that a line switch sits
between its bus and an auxiliary node standing for the line's terminal (what
pandapower does internally for open line switches). Lines and transformers are
the other edges. From this graph:

* a **zone** is a set of nodes connected without passing any switch: a fault
  anywhere in a zone is isolated by opening the switches that bound it;
* the **normal supply tree** is a breadth-first tree over in-service lines,
  transformers and closed switches, grown from every ``ext_grid`` bus.

Missing values fall back to the defaults of :func:`gridint.config.get_settings`
(each fallback is listed in :attr:`ReliabilityModel.defaults_used`); impossible
values raise :class:`gridint.errors.ReliabilityError` naming table and column.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridint.config import get_settings
from gridint.errors import ReliabilityError

__all__ = [
    "PROTECTIVE_TYPES",
    "bool_column",
    "ReliabilityModel",
    "build_model",
]

logger = logging.getLogger(__name__)

#: Switch types that clear a fault by themselves: ``CB`` (breaker, trips on any fault
#: downstream) and ``fuse``. Every other type (``DS``, ``LBS``, ``LS``, none) only isolates
#: and restores, operated after the fault.
PROTECTIVE_TYPES = ("CB", "fuse")

# edge kinds
EDGE_LINE, EDGE_TRAFO, EDGE_SWITCH = 0, 1, 2
# component kinds
COMP_LINE, COMP_TRAFO, COMP_BUS = 0, 1, 2
_COMP_TABLE = {COMP_LINE: "line", COMP_TRAFO: "trafo", COMP_BUS: "bus"}


@dataclass
class ReliabilityModel:
    """Arrays describing a net for reliability studies (built by :func:`build_model`).

    Attributes
    ----------
    name : str
        Net name.
    n_nodes : int
        Graph nodes: one per in-service bus, one per switched line/trafo terminal.
    node_bus : numpy.ndarray of int
        pandapower bus index of each node (-1 for auxiliary terminal nodes).
    edge_u, edge_v, edge_kind, edge_element : numpy.ndarray of int
        Graph edges: end nodes, kind (0 line, 1 trafo, 2 switch), pandapower index.
    sw_index, sw_edge : numpy.ndarray of int
        pandapower switch index and graph edge of every switch.
    sw_type : numpy.ndarray of str
    sw_closed : numpy.ndarray of bool
    sw_time_h : numpy.ndarray of float
        Isolation / restoration time of each switch [h].
    sw_name : list of str
    comp_kind, comp_element, comp_node : numpy.ndarray of int
        Failing components (0 line, 1 trafo, 2 bus), pandapower index and one node of it.
    comp_name : list of str
    comp_rate_per_year : numpy.ndarray of float
        Permanent failures per year (line: rate per km x length) [1/yr].
    comp_repair_h : numpy.ndarray of float
        Mean repair (or replacement) time [h].
    load_index, load_node : numpy.ndarray of int
    load_name : list of str
    load_customers : numpy.ndarray of float
    load_p_avg_mw, load_p_mw : numpy.ndarray of float
        Average demand (energy not supplied) and the file's demand [MW].
    supply_node : numpy.ndarray of int
        Nodes with an in-service ``ext_grid``.
    storage_index, storage_node : numpy.ndarray of int
        Island-capable storage units (``storage.island_capable`` True) and their nodes.
    storage_e_max_kwh, storage_e_min_kwh, storage_p_max_kw, storage_soc0 : numpy.ndarray
        Energy [kWh], reserve [kWh], power [kW], state of charge [0..1] of each.
    sgen_node : numpy.ndarray of int
    sgen_p_kw : numpy.ndarray of float
        PV and other generation (used inside islands only) [kW].
    defaults_used : list of str
        One line per column that fell back to a documented default.
    notes : list of str
        Other remarks (meshed topology, de-energised loads, ...).
    """

    name: str
    n_nodes: int
    node_bus: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_kind: np.ndarray
    edge_element: np.ndarray
    sw_index: np.ndarray
    sw_edge: np.ndarray
    sw_type: np.ndarray
    sw_closed: np.ndarray
    sw_time_h: np.ndarray
    sw_name: list
    comp_kind: np.ndarray
    comp_element: np.ndarray
    comp_node: np.ndarray
    comp_name: list
    comp_rate_per_year: np.ndarray
    comp_repair_h: np.ndarray
    load_index: np.ndarray
    load_node: np.ndarray
    load_name: list
    load_customers: np.ndarray
    load_p_avg_mw: np.ndarray
    load_p_mw: np.ndarray
    supply_node: np.ndarray
    storage_index: np.ndarray
    storage_node: np.ndarray
    storage_e_max_kwh: np.ndarray
    storage_e_min_kwh: np.ndarray
    storage_p_max_kw: np.ndarray
    storage_soc0: np.ndarray
    sgen_index: np.ndarray
    sgen_node: np.ndarray
    sgen_p_kw: np.ndarray
    bus_node: dict = field(default_factory=dict)
    defaults_used: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def n_loads(self) -> int:
        return len(self.load_index)

    @property
    def n_components(self) -> int:
        return len(self.comp_kind)

    def component_table(self, k: int) -> str:
        """pandapower table name of component ``k`` (``line``, ``trafo`` or ``bus``)."""
        return _COMP_TABLE[int(self.comp_kind[k])]


# ----------------------------------------------------------------------------------
# column reading with defaults and range checks
# ----------------------------------------------------------------------------------
def _column(df: pd.DataFrame, table: str, col: str, default, lo: float, hi: float, used: list,
            *, lo_open: bool = False, what: str = "") -> np.ndarray:
    """Float column with NaN -> default (recorded) and a range check naming table.column."""
    n = len(df)
    if col in df.columns:
        raw = pd.to_numeric(df[col], errors="coerce")
        bad_type = raw.isna() & df[col].notna()
        if bad_type.any():
            names = ", ".join(str(i) for i in df.index[bad_type][:5])
            raise ReliabilityError(f"{table}.{col}: non-numeric values at index {names}")
        vals = raw.to_numpy(dtype=float)
    else:
        vals = np.full(n, np.nan)
    dflt = np.broadcast_to(np.asarray(default, dtype=float), (n,))
    missing = np.isnan(vals)
    if missing.any():
        vals = np.where(missing, dflt, vals)
        uniq = sorted(set(np.round(dflt[missing], 6).tolist()))
        shown = ", ".join(f"{v:g}" for v in uniq) if len(uniq) <= 3 else ""
        where = "column missing" if col not in df.columns else f"{int(missing.sum())} of {n} rows empty"
        used.append(f"{table}.{col}: {where}; default {shown}{' ' if shown and what else ''}{what}")
    bad = ~np.isfinite(vals) | (vals < lo) | (vals > hi) | ((vals <= lo) if lo_open else False)
    if np.any(bad):
        idx = df.index[bad][:5].tolist()
        rng = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]"
        raise ReliabilityError(
            f"{table}.{col}: value {float(vals[bad][0]):g} at index {idx[0]} outside the allowed range {rng}"
            + (f" ({int(bad.sum())} rows: {idx})" if bad.sum() > 1 else ""))
    return vals


def bool_column(df: pd.DataFrame, col: str, default: bool) -> np.ndarray:
    """Boolean column; missing column or empty cells -> ``default``."""
    if col not in df.columns or not len(df):
        return np.full(len(df), default, dtype=bool)
    v = df[col]
    return np.where(v.isna().to_numpy(), default, v.eq(True).to_numpy()).astype(bool)


def _in_service(df: pd.DataFrame) -> np.ndarray:
    return bool_column(df, "in_service", True)


def _names(df: pd.DataFrame, prefix: str) -> list[str]:
    if "name" not in df.columns:
        return [f"{prefix} {i}" for i in df.index]
    return [str(n) if isinstance(n, str) and n else f"{prefix} {i}" for i, n in zip(df.index, df["name"])]


def _is_cable(net) -> np.ndarray:
    """True for cable lines: pandapower ``type`` ``cs`` or a ``YJV``/``cable`` std type."""
    line = net.line
    out = np.zeros(len(line), dtype=bool)
    if "type" in line.columns:
        out |= line["type"].astype(str).str.lower().isin(["cs", "cable"]).to_numpy()
    if "std_type" in line.columns:
        st = line["std_type"].astype(str).str.upper()
        out |= st.str.contains("YJV|CABLE|NA2XS|NAYY|XLPE", regex=True).to_numpy()
    return out


# ----------------------------------------------------------------------------------
# model
# ----------------------------------------------------------------------------------
def build_model(net, name: str | None = None) -> ReliabilityModel:
    """Read a pandapower net into a :class:`ReliabilityModel`.

    Parameters
    ----------
    net : pandapowerNet
        Normally radial net; reliability columns of DESIGN.md where available.
    name : str, optional
        Name used in messages (default ``net.name``).

    Returns
    -------
    ReliabilityModel

    Raises
    ------
    ReliabilityError
        A reliability column holds an impossible value (negative rate, zero repair
        time, unknown switch element type, ...); the message names table and column.
    """
    s = get_settings()
    used: list[str] = []
    notes: list[str] = []
    name = str(name or getattr(net, "name", "") or "net")

    # ---- nodes: in-service buses ---------------------------------------------------
    bus_ok = _in_service(net.bus)
    buses = net.bus.index.to_numpy()[bus_ok]
    bus_node = {int(b): k for k, b in enumerate(buses)}
    node_bus: list[int] = [int(b) for b in buses]

    def node_of(b) -> int:
        return bus_node.get(int(b), -1)

    eu: list[int] = []
    ev: list[int] = []
    ekind: list[int] = []
    eel: list[int] = []

    # ---- switches: classify, make terminal nodes for line / trafo switches ----------
    sw = net.switch
    sw_ok = _in_service(sw) if len(sw) else np.zeros(0, dtype=bool)
    term_node: dict[tuple[str, int, int], int] = {}  # (et, element, bus) -> aux node
    sw_rows = []
    line_ok = _in_service(net.line)
    line_ok_set = set(net.line.index[line_ok].tolist())
    trafo_ok = _in_service(net.trafo)
    trafo_ok_set = set(net.trafo.index[trafo_ok].tolist())
    if len(sw):
        et = sw["et"].astype(str).to_numpy()
        for k, (idx, row) in enumerate(sw.iterrows()):
            if not sw_ok[k]:
                continue
            b = node_of(row["bus"])
            if b < 0:
                continue
            e = et[k]
            if e == "b":
                v = node_of(row["element"])
                if v < 0:
                    continue
            elif e in ("l", "t"):
                el = int(row["element"])
                if (e == "l" and el not in line_ok_set) or (e == "t" and el not in trafo_ok_set):
                    continue
                ends = ((net.line.at[el, "from_bus"], net.line.at[el, "to_bus"]) if e == "l"
                        else (net.trafo.at[el, "hv_bus"], net.trafo.at[el, "lv_bus"]))
                if int(row["bus"]) not in (int(ends[0]), int(ends[1])):
                    table = "line" if e == "l" else "trafo"
                    raise ReliabilityError(f"switch.bus: switch {idx} sits at bus {int(row['bus'])}, which is not an "
                                           f"end of {table} {el} (buses {int(ends[0])}, {int(ends[1])})")
                key = (e, el, int(row["bus"]))
                if key not in term_node:
                    term_node[key] = len(node_bus)
                    node_bus.append(-1)
                v = term_node[key]
            else:
                raise ReliabilityError(f"switch.et: {e!r} at index {idx} is not one of 'b', 'l', 't'")
            sw_rows.append((int(idx), b, v))

    # ---- lines ------------------------------------------------------------------------
    line = net.line
    lidx = line.index.to_numpy()[line_ok]
    for li, fb, tb in zip(lidx, line["from_bus"].to_numpy()[line_ok], line["to_bus"].to_numpy()[line_ok]):
        u = term_node.get(("l", int(li), int(fb)), node_of(fb))
        v = term_node.get(("l", int(li), int(tb)), node_of(tb))
        if u < 0 or v < 0:
            continue
        eu.append(u), ev.append(v), ekind.append(EDGE_LINE), eel.append(int(li))
    # ---- trafos -------------------------------------------------------------------------
    tr = net.trafo
    tidx = tr.index.to_numpy()[trafo_ok]
    for ti, hb, lb in zip(tidx, tr["hv_bus"].to_numpy()[trafo_ok], tr["lv_bus"].to_numpy()[trafo_ok]):
        u = term_node.get(("t", int(ti), int(hb)), node_of(hb))
        v = term_node.get(("t", int(ti), int(lb)), node_of(lb))
        if u < 0 or v < 0:
            continue
        eu.append(u), ev.append(v), ekind.append(EDGE_TRAFO), eel.append(int(ti))
    if "trafo3w" in net and len(net.trafo3w):
        notes.append(f"{len(net.trafo3w)} three-winding transformer(s) ignored by the reliability study")
    if "impedance" in net and len(net.impedance):
        notes.append(f"{len(net.impedance)} impedance element(s) ignored by the reliability study")

    # ---- switch attributes -----------------------------------------------------------------
    n_sw = len(sw_rows)
    sw_index = np.array([r[0] for r in sw_rows], dtype=np.int64)
    sw_edge = np.empty(n_sw, dtype=np.int64)
    for k, (_, u, v) in enumerate(sw_rows):
        sw_edge[k] = len(eu)
        eu.append(u), ev.append(v), ekind.append(EDGE_SWITCH), eel.append(sw_rows[k][0])
    if n_sw:
        swd = sw.loc[sw_index]
        types = swd["type"] if "type" in swd.columns else pd.Series([None] * n_sw, index=swd.index)
        sw_type = np.array([t if isinstance(t, str) else "" for t in types], dtype=object)
        sw_closed = bool_column(swd, "closed", True)
        auto = bool_column(swd, "automated", False)
        dflt = np.where(auto, s.reliability_switch_time_automated_h, s.reliability_switch_time_manual_h)
        sw_time = _column(swd, "switch", "switch_time_h", dflt, 0.0, 8760.0, used,
                          what="h (manual / automated)")
        sw_name = _names(swd, "switch")
        if (sw_type == "").any():
            notes.append(f"{int((sw_type == '').sum())} switch(es) without type: treated as disconnectors "
                         "(isolate and restore, do not clear faults)")
    else:
        sw_type = np.zeros(0, dtype=object)
        sw_closed = np.zeros(0, dtype=bool)
        sw_time = np.zeros(0)
        sw_name = []

    # ---- failing components ---------------------------------------------------------------------
    comp_kind, comp_el, comp_node, comp_name, comp_rate, comp_rep = [], [], [], [], [], []
    if len(line):
        cable = _is_cable(net)
        rate_km = _column(line, "line", "fault_rate_per_km_year",
                          np.where(cable, s.reliability_line_fault_rate_cable_per_km_year,
                                   s.reliability_line_fault_rate_overhead_per_km_year),
                          0.0, 10.0, used, what="1/(km yr) (overhead / cable)")
        rep = _column(line, "line", "repair_h",
                      np.where(cable, s.reliability_line_repair_cable_h, s.reliability_line_repair_overhead_h),
                      0.0, 8760.0, used, lo_open=True, what="h (overhead / cable)")
        length = _column(line, "line", "length_km", 0.0, 0.0, 1e4, [])
        names = _names(line, "line")
        pos = {int(i): k for k, i in enumerate(line.index)}
        for e in range(len(eu)):
            if ekind[e] != EDGE_LINE:
                continue
            k = pos[eel[e]]
            lam = rate_km[k] * length[k]
            comp_kind.append(COMP_LINE), comp_el.append(eel[e]), comp_node.append(eu[e])
            comp_name.append(names[k]), comp_rate.append(lam), comp_rep.append(rep[k])
    if len(tr):
        rate = _column(tr, "trafo", "fault_rate_per_year", s.reliability_trafo_fault_rate_per_year, 0.0, 10.0,
                       used, what="1/yr")
        rep = _column(tr, "trafo", "repair_h", s.reliability_trafo_repair_h, 0.0, 8760.0, used, lo_open=True,
                      what="h")
        names = _names(tr, "trafo")
        pos = {int(i): k for k, i in enumerate(tr.index)}
        for e in range(len(eu)):
            if ekind[e] != EDGE_TRAFO:
                continue
            k = pos[eel[e]]
            comp_kind.append(COMP_TRAFO), comp_el.append(eel[e]), comp_node.append(eu[e])
            comp_name.append(names[k]), comp_rate.append(rate[k]), comp_rep.append(rep[k])
    bus_in = net.bus.loc[buses]
    has_bus_rates = "fault_rate_per_year" in bus_in.columns
    if has_bus_rates or s.reliability_bus_fault_rate_per_year > 0:
        rate = _column(bus_in, "bus", "fault_rate_per_year", s.reliability_bus_fault_rate_per_year, 0.0, 10.0,
                       used, what="1/yr")
        rep = _column(bus_in, "bus", "repair_h", s.reliability_bus_repair_h, 0.0, 8760.0,
                      used if np.any(rate > 0) else [], lo_open=True, what="h")
        names = _names(bus_in, "bus")
        for k, b in enumerate(buses):
            if rate[k] > 0:
                comp_kind.append(COMP_BUS), comp_el.append(int(b)), comp_node.append(bus_node[int(b)])
                comp_name.append(names[k]), comp_rate.append(rate[k]), comp_rep.append(rep[k])

    # ---- loads -----------------------------------------------------------------------------------
    ld = net.load
    ld_ok = _in_service(ld) & np.array([node_of(b) >= 0 for b in ld["bus"]], dtype=bool) if len(ld) else \
        np.zeros(0, dtype=bool)
    ldd = ld[ld_ok] if len(ld) else ld
    customers = _column(ldd, "load", "customers", 1.0, 0.0, 1e8, used, what="customer per load")
    if np.any(np.abs(customers - np.round(customers)) > 1e-9):
        i = int(np.flatnonzero(np.abs(customers - np.round(customers)) > 1e-9)[0])
        raise ReliabilityError(f"load.customers: value {float(customers[i]):g} at index {ldd.index[i]} is not a whole "
                               "number")
    p_mw = _column(ldd, "load", "p_mw", 0.0, -1e4, 1e4, [])
    scaling = _column(ldd, "load", "scaling", 1.0, 0.0, 1e3, [])
    p_avg = _column(ldd, "load", "p_avg_mw", np.maximum(p_mw * scaling, 0.0), 0.0, 1e4, used,
                    what="(the load's p_mw)")
    if not len(ldd):
        raise ReliabilityError(f"{name}: no in-service load (load table) - nothing to evaluate")

    # ---- supplies ----------------------------------------------------------------------------------
    eg = net.ext_grid
    eg_ok = _in_service(eg)
    supply = sorted({node_of(b) for b in eg["bus"].to_numpy()[eg_ok] if node_of(b) >= 0})
    if not supply:
        raise ReliabilityError(f"{name}: no in-service ext_grid - no supply to evaluate reliability against")

    # ---- storage able to island, generation ---------------------------------------------------------
    st = net.storage if "storage" in net else pd.DataFrame()
    st_rows = np.zeros(0, dtype=np.int64)
    e_max = e_min = p_max = soc0 = np.zeros(0)
    if len(st) and "island_capable" in st.columns:
        cap = bool_column(st, "island_capable", False) & _in_service(st)
        cap &= np.array([node_of(b) >= 0 for b in st["bus"]], dtype=bool)
        std = st[cap]
        if len(std):
            st_rows = std.index.to_numpy()
            e_max = _column(std, "storage", "max_e_mwh", np.nan, 0.0, 1e5, [], lo_open=True) * 1000.0
            e_min_d = e_max * s.reliability_storage_min_soc_percent / 100.0 / 1000.0
            e_min = _column(std, "storage", "min_e_mwh", e_min_d, 0.0, 1e5, []) * 1000.0
            e_min = np.maximum(e_min, e_max * s.reliability_storage_min_soc_percent / 100.0)
            p_dflt = np.abs(_column(std, "storage", "p_mw", 0.0, -1e5, 1e5, []))
            p_max = _column(std, "storage", "sn_mva", p_dflt, 0.0, 1e5, [], lo_open=True) * 1000.0
            soc0 = _column(std, "storage", "soc_percent", s.reliability_storage_soc_default_percent, 0.0,
                           100.0, used, what="%") / 100.0
    sg = net.sgen
    sg_ok = _in_service(sg) & np.array([node_of(b) >= 0 for b in sg["bus"]], dtype=bool) if len(sg) else \
        np.zeros(0, dtype=bool)
    sgd = sg[sg_ok] if len(sg) else sg

    model = ReliabilityModel(
        name=name,
        n_nodes=len(node_bus),
        node_bus=np.asarray(node_bus, dtype=np.int64),
        edge_u=np.asarray(eu, dtype=np.int64),
        edge_v=np.asarray(ev, dtype=np.int64),
        edge_kind=np.asarray(ekind, dtype=np.int64),
        edge_element=np.asarray(eel, dtype=np.int64),
        sw_index=sw_index,
        sw_edge=sw_edge,
        sw_type=sw_type,
        sw_closed=sw_closed,
        sw_time_h=np.asarray(sw_time, dtype=float),
        sw_name=list(sw_name),
        comp_kind=np.asarray(comp_kind, dtype=np.int64),
        comp_element=np.asarray(comp_el, dtype=np.int64),
        comp_node=np.asarray(comp_node, dtype=np.int64),
        comp_name=comp_name,
        comp_rate_per_year=np.asarray(comp_rate, dtype=float),
        comp_repair_h=np.asarray(comp_rep, dtype=float),
        load_index=ldd.index.to_numpy(dtype=np.int64),
        load_node=np.array([node_of(b) for b in ldd["bus"]], dtype=np.int64),
        load_name=_names(ldd, "load"),
        load_customers=customers,
        load_p_avg_mw=p_avg,
        load_p_mw=p_mw * scaling,
        supply_node=np.asarray(supply, dtype=np.int64),
        storage_index=np.asarray(st_rows, dtype=np.int64),
        storage_node=np.array([node_of(b) for b in (st.loc[st_rows, "bus"] if len(st_rows) else [])],
                              dtype=np.int64),
        storage_e_max_kwh=np.asarray(e_max, dtype=float),
        storage_e_min_kwh=np.asarray(e_min, dtype=float),
        storage_p_max_kw=np.asarray(p_max, dtype=float),
        storage_soc0=np.asarray(soc0, dtype=float),
        sgen_index=sgd.index.to_numpy(dtype=np.int64) if len(sgd) else np.zeros(0, dtype=np.int64),
        sgen_node=np.array([node_of(b) for b in sgd["bus"]], dtype=np.int64) if len(sgd) else
        np.zeros(0, dtype=np.int64),
        sgen_p_kw=(_column(sgd, "sgen", "p_mw", 0.0, -1e5, 1e5, []) * 1000.0 if len(sgd) else np.zeros(0)),
        bus_node=bus_node,
        defaults_used=used,
        notes=notes,
    )
    n_off = int((~ld_ok).sum()) if len(ld) else 0
    if n_off:
        model.notes.append(f"{n_off} load(s) out of service or on an out-of-service bus: not evaluated")
    return model
