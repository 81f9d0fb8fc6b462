"""Seeded generator of synthetic Xiangtan 10 kV feeders (pandapower nets).

A :class:`FeederTemplate` describes a *kind* of feeder (urban cable, rural overhead,
industrial park) by ranges: lengths, number and size of distribution transformers
(台区), conductor families, load-class mix, rooftop-PV penetration, reliability data
and switchgear. :func:`generate_feeder` turns a template and a seed into a radial
pandapower net; the same template and seed always give the same net (one
``numpy.random.default_rng(seed)``, no global state), so thousands of feeders can be
drawn from the three templates in :data:`TEMPLATES`.

What a generated feeder contains
--------------------------------
* ``<feeder>-SUB``: substation 10 kV busbar with the ``ext_grid`` (``role =
  "substation"``, 10 kV bus regulated up to 1.03 pu; the 110 / 35 kV transformer
  is not modelled). Short-circuit power for later SC studies.
* Trunk and laterals (``line.section``: ``trunk`` / ``lateral`` / ``tie``), 10 kV
  nodes ``<feeder>-Nxx`` numbered in breadth-first order from the substation.
* One pandapower trafo per 10/0.4 kV distribution transformer (``T01``...), from a
  10 kV node to its own LV busbar ``<feeder>-Txx-LV`` (``vn_kv = 0.38``, see
  :data:`LV_NOMINAL_KV`).
* Loads on LV busbars (``customers``, ``category``, ``profile`` = class name, ``p_mw``
  = annual peak, ``q_mvar`` from :data:`CLASS_POWER_FACTOR`; ``p_avg_mw`` when class
  profiles are given) and existing rooftop PV as ``sgen`` (``p_mw`` = AC rating,
  ``kwp`` = DC rating at DC/AC 1.1, ``systems`` = installations aggregated,
  ``profile = "pv"``, ``type = "PV"``,
  ``category`` and ``mode`` from the NEA 2025 categories of DESIGN.md).
* Switches: head circuit breaker (``CB``) on the first trunk section at the
  substation, sectionalising load-break switches / disconnectors (``LBS`` / ``DS``)
  along the trunk, ``fuse`` on laterals and transformer HV sides, and normally-open
  ties (``closed = False``) from the feeder end to ``<feeder>-TIE``, which a short
  line connects to ``<feeder>-NBR``, the neighbouring feeder's substation bus with
  its own ``ext_grid`` (``role = "neighbour"``): with the tie open nothing is
  islanded. ``switch_time_h`` (automated 0.05-0.1 h, manual 0.5-1.5 h) and
  ``automated``.
* Reliability columns of DESIGN.md: ``line.fault_rate_per_km_year``,
  ``line.repair_h``, ``trafo.fault_rate_per_year``, ``trafo.repair_h``.
* Bus ``geo`` (GeoJSON points, lon/lat) and line ``geo`` (2-point LineStrings);
  straight distance = length / route factor (lines do not run straight).

Sizing and operating point
--------------------------
Conductors are the smallest of the template's allowed types whose rating covers the
downstream peak (load or PV) at the template's design loading; the trunk never gets
thinner than the template's first trunk type. The generator then sets each
transformer's off-circuit tap and, where needed, reinforces conductors, trims the
load or trims existing PV, by solving two pandapower power flows, until

* at peak (every load at ``p_mw``, PV out of service) all 10 kV and 380 V buses are
  at or above ``vm_min_pu + margin`` and nothing is loaded above 95 %, and
* at light load (loads at :data:`gridint.grid.loadshapes.MIN_LOAD_FRACTION` of
  their peak, every PV at its AC rating) all buses are at or below
  ``vm_max_pu - margin`` and nothing is loaded above 95 %.

Voltage limits come from :func:`gridint.config.get_settings` (GB/T 12325). Because
every class profile lies between its minimum fraction and 1 and PV between 0 and
1, these two cases bound the year in the (nearly linear) feeder: the committed
feeders are grids a company actually operates, some of them close to the limits.

References
----------
Q/GDW 10738-2020 / DL/T 5729-2016  Distribution network planning guidelines
    (trunk/branch conductor sizes, sectionalising, ties, cable single-ring loading).
GB/T 12325-2008  Voltage deviation limits.
DL/T 2041-2019   Distributed PV access: reverse load rate of transformers.
Billinton R., Allan R.N., Reliability Evaluation of Power Systems (1996), ch. 7
    (fault rates / repair times of overhead lines, cables and transformers).
CEC (China Electricity Council), annual distribution reliability reports: 10 kV
    overhead line ~0.1-0.2 /km/yr, cable ~0.03-0.05 /km/yr, transformer ~0.01-0.02 /yr.
"""

from __future__ import annotations

import argparse
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import pandas as pd

from gridint.config import get_settings
from gridint.errors import FeederError
from gridint.grid import equipment as eq
from gridint.grid.loadshapes import (
    DEFAULT_SEED as PROFILE_SEED,
    LOAD_CLASSES,
    MIN_LOAD_FRACTION,
    generate_class_profiles,
    write_class_profiles,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pandapower.auxiliary import pandapowerNet

__all__ = [
    "FeederTemplate",
    "TEMPLATES",
    "CLASS_POWER_FACTOR",
    "PV_DC_AC_RATIO",
    "PROFILE_FILE",
    "generate_feeder",
    "write_feeder_files",
    "main",
]

logger = logging.getLogger(__name__)

#: Nominal voltage of the 0.4 kV side [kV]: the Chinese LV system is 220/380 V
#: (GB/T 156-2017) and GB/T 12325 limits (+/-7 %) refer to 380 V, so LV busbars
#: are 0.38 kV buses. Transformers keep their rated no-load secondary voltage of
#: 0.4 kV (GB/T 6451-2015, 10(10.5)/0.4 kV), i.e. the usual ~5 % boost.
LV_NOMINAL_KV = 0.38

#: Power factor of each load class at peak (lagging). Residential and commercial:
#: measured 台区 values; industrial: the 0.90 target of the Chinese power-factor
#: tariff adjustment for industrial customers >= 100 kVA; agricultural: pumps
#: (tariff target 0.80-0.85).
CLASS_POWER_FACTOR: Mapping[str, float] = {
    "residential": 0.95,
    "commercial": 0.92,
    "industrial": 0.90,
    "agricultural": 0.85,
}
#: DC/AC ratio of rooftop PV (kWp per kW of inverter AC rating).
PV_DC_AC_RATIO = 1.1
#: Profile file written next to the feeders (relative to the feeders directory).
PROFILE_FILE = Path("profiles") / "xiangtan_2024.csv.gz"

_KM_PER_DEG_LAT = 110.574
_KM_PER_DEG_LON_EQ = 111.320
_VM_MARGIN_PU = 0.005
_LOADING_MAX_PERCENT = 95.0
_MAX_TUNING_ROUNDS = 80

# PV categories (DESIGN.md / NEA 2025) by load class: (category, mode)
_PV_CATEGORY = {
    "residential": ("residential_natural_person", "full_export"),
    "commercial": ("general_ci", "surplus_export"),
    "industrial": ("general_ci", "surplus_export"),
    "agricultural": ("residential_non_natural_person", "surplus_export"),
}

Range = tuple[float, float]


@dataclass(frozen=True)
class FeederTemplate:
    """Ranges and choices that define one kind of 10 kV feeder.

    Every range is ``(low, high)`` and drawn uniformly unless stated. Lengths in
    [km], powers in [kW] / [kVA] as the field names say.

    Attributes
    ----------
    name, description : str
        Catalog name (also the default net name) and one-line description.
    kind : str
        ``"urban"``, ``"rural"`` or ``"industrial"``.
    substation : str
        Name of the supplying substation (its 10 kV bus is the feeder head).
    lat, lon : float
        Substation position [deg N, deg E].
    heading_deg : float
        Main direction of the trunk from the substation [deg, 0 = north, 90 = east].
    seed : int
        Default seed of this template (the committed file).
    ext_grid_vm_pu : float
        Substation 10 kV bus voltage setpoint [pu].
    s_sc_max_mva, s_sc_min_mva, ext_grid_rx : float
        Short-circuit power at the 10 kV bus [MVA] and R/X (for SC studies).
    trunk_types, lateral_types : tuple of str
        Allowed conductor std types, smallest first; the first trunk type is the
        minimum trunk size.
    design_loading : float
        Highest planned peak loading of a section when sizing conductors [p.u.].
    total_length_km, trunk_share : Range
        Total circuit length incl. laterals [km]; share of it in the trunk.
    n_trafos : tuple of int
        Number of distribution transformers (inclusive range).
    trafo_family : str
        ``"S13-M"`` or ``"SCB13"`` (see :mod:`gridint.grid.equipment`).
    trafo_kva, trafo_kva_weights : tuple
        Rated powers [kVA] to draw from and their probabilities.
    trafos_per_node : tuple of int
        Transformers sharing one 10 kV node (ring-main unit / pole).
    trunk_node_share : Range
        Share of 10 kV nodes on the trunk.
    nodes_per_lateral : tuple of int
        Nodes per lateral (inclusive range).
    sublateral_probability : float
        Probability that a lateral branches off another lateral.
    load_rate : Range
        Peak apparent load of a 台区 / transformer rating [p.u.].
    feeder_peak_mva_max : float
        Cap on the sum of load peaks [MVA]; loads are scaled down to it.
    class_mix : tuple of (str, float)
        Main load class of a transformer and its probability.
    mixed_probability : float
        Probability that a transformer also serves a second class (20-40 % share).
    kw_per_customer : tuple of (str, Range)
        Diversified peak per customer [kW] per class, to count customers.
    pv_probability : tuple of (str, float)
        Probability that a load of a class has rooftop PV behind it.
    pv_residential_adoption : Range
        Share of residential customers with PV where a 台区 has PV.
    pv_kwp : tuple of (str, Range)
        PV size [kWp]: per residential system, per site for the other classes.
    pv_max_trafo_ratio : float
        Cap of PV AC rating per transformer [p.u. of rating].
    line_fault_rate_per_km_year, line_repair_h : Range
        Permanent faults [1/(km yr)] and mean repair time [h] of lines.
    trafo_fault_rate_per_year, trafo_repair_h : Range
        Same for distribution transformers [1/yr], [h].
    n_sectionalisers : tuple of int
        Sectionalising switches on the trunk (besides the head CB); ``-1`` = one on
        every trunk section (cable ring-main units).
    automated_share : float
        Share of sectionalising / tie switches that are automated (FTU / DTU).
    switch_time_auto_h, switch_time_manual_h : Range
        Isolation / restoration time of automated and manual switches [h].
    lateral_fuses, trafo_fuses : bool
        Fuse at the start of each lateral / on each transformer HV side.
    n_ties : tuple of int
        Normally-open ties to neighbouring feeders.
    tie_length_km : Range
        Length of the line from ``-TIE`` to the neighbour's substation bus [km].
    route_factor : Range
        Route length / straight distance of a section.
    """

    name: str
    description: str
    kind: str
    substation: str
    lat: float
    lon: float
    heading_deg: float
    seed: int
    ext_grid_vm_pu: float
    s_sc_max_mva: float
    s_sc_min_mva: float
    ext_grid_rx: float
    trunk_types: tuple[str, ...]
    lateral_types: tuple[str, ...]
    design_loading: float
    total_length_km: Range
    trunk_share: Range
    n_trafos: tuple[int, int]
    trafo_family: str
    trafo_kva: tuple[int, ...]
    trafo_kva_weights: tuple[float, ...]
    trafos_per_node: tuple[int, int]
    trunk_node_share: Range
    nodes_per_lateral: tuple[int, int]
    sublateral_probability: float
    load_rate: Range
    feeder_peak_mva_max: float
    class_mix: tuple[tuple[str, float], ...]
    mixed_probability: float
    kw_per_customer: tuple[tuple[str, Range], ...]
    pv_probability: tuple[tuple[str, float], ...]
    pv_residential_adoption: Range
    pv_kwp: tuple[tuple[str, Range], ...]
    pv_max_trafo_ratio: float
    line_fault_rate_per_km_year: Range
    line_repair_h: Range
    trafo_fault_rate_per_year: Range
    trafo_repair_h: Range
    n_sectionalisers: tuple[int, int]
    automated_share: float
    switch_time_auto_h: Range = (0.05, 0.1)
    switch_time_manual_h: Range = (0.5, 1.5)
    lateral_fuses: bool = True
    trafo_fuses: bool = True
    n_ties: tuple[int, int] = (1, 1)
    tie_length_km: Range = (0.5, 2.0)
    route_factor: Range = (1.1, 1.3)

    def __post_init__(self) -> None:
        problems = []
        for t in self.trunk_types + self.lateral_types:
            if t not in eq.LINE_TYPES:
                problems.append(f"unknown line type {t!r}")
        for kva in self.trafo_kva:
            try:
                eq.trafo_type_name(self.trafo_family, kva)
            except KeyError as exc:
                problems.append(str(exc.args[0]))
        if len(self.trafo_kva) != len(self.trafo_kva_weights):
            problems.append("trafo_kva and trafo_kva_weights differ in length")
        for cls, _ in self.class_mix:
            if cls not in LOAD_CLASSES:
                problems.append(f"unknown load class {cls!r}")
        if self.kind not in ("urban", "rural", "industrial"):
            problems.append(f"kind must be urban/rural/industrial, got {self.kind!r}")
        if problems:
            raise FeederError(f"template {self.name!r}: " + "; ".join(problems))


TEMPLATES: dict[str, FeederTemplate] = {
    "xt-yuetang-urban": FeederTemplate(
        name="xt-yuetang-urban",
        description="Urban 10 kV cable feeder in Yuetang district: residential compounds and shops, "
        "YJV22 cables, ring-main units with automated load-break switches, one open tie",
        kind="urban",
        substation="Yuetang 110 kV substation (synthetic)",
        lat=27.8660,
        lon=112.9540,
        heading_deg=120.0,
        seed=1101,
        ext_grid_vm_pu=1.03,
        s_sc_max_mva=300.0,
        s_sc_min_mva=200.0,
        ext_grid_rx=0.1,
        trunk_types=("YJV22-8.7/15-3x300",),
        lateral_types=("YJV22-8.7/15-3x70", "YJV22-8.7/15-3x120", "YJV22-8.7/15-3x185", "YJV22-8.7/15-3x240"),
        design_loading=0.8,
        total_length_km=(6.0, 12.0),
        trunk_share=(0.45, 0.6),
        n_trafos=(20, 40),
        trafo_family="SCB13",
        trafo_kva=(400, 630, 800),
        trafo_kva_weights=(0.3, 0.45, 0.25),
        trafos_per_node=(1, 2),
        trunk_node_share=(0.45, 0.6),
        nodes_per_lateral=(1, 3),
        sublateral_probability=0.2,
        load_rate=(0.2, 0.45),
        feeder_peak_mva_max=6.0,
        class_mix=(("residential", 0.75), ("commercial", 0.25)),
        mixed_probability=0.35,
        kw_per_customer=(("residential", (1.2, 1.8)), ("commercial", (8.0, 25.0))),
        pv_probability=(("residential", 0.05), ("commercial", 0.3)),
        pv_residential_adoption=(0.02, 0.05),
        pv_kwp=(("residential", (5.0, 15.0)), ("commercial", (50.0, 300.0))),
        pv_max_trafo_ratio=0.6,
        line_fault_rate_per_km_year=(0.03, 0.05),
        line_repair_h=(8.0, 12.0),
        trafo_fault_rate_per_year=(0.01, 0.015),
        trafo_repair_h=(8.0, 16.0),
        n_sectionalisers=(-1, -1),
        automated_share=1.0,
        lateral_fuses=True,
        trafo_fuses=True,
        n_ties=(1, 2),
        tie_length_km=(1.0, 3.0),
        route_factor=(1.2, 1.4),
    ),
    "xt-county-rural": FeederTemplate(
        name="xt-county-rural",
        description="Long rural 10 kV overhead feeder in Xiangtan County: villages and irrigation, "
        "LGJ conductors, 50-200 kVA pole-mounted transformers, whole-county rooftop PV",
        kind="rural",
        substation="Shebu 35 kV substation (synthetic)",
        lat=27.6300,
        lon=112.8000,
        heading_deg=230.0,
        seed=2202,
        ext_grid_vm_pu=1.03,
        s_sc_max_mva=120.0,
        s_sc_min_mva=80.0,
        ext_grid_rx=0.3,
        trunk_types=("LGJ-150/25", "LGJ-185/25", "LGJ-240/30"),
        lateral_types=("LGJ-50/8", "LGJ-70/10", "LGJ-95/15", "LGJ-120/20"),
        design_loading=0.7,
        total_length_km=(20.0, 40.0),
        trunk_share=(0.35, 0.5),
        n_trafos=(30, 50),
        trafo_family="S13-M",
        trafo_kva=(50, 100, 200),
        trafo_kva_weights=(0.2, 0.45, 0.35),
        trafos_per_node=(1, 1),
        trunk_node_share=(0.3, 0.4),
        nodes_per_lateral=(1, 5),
        sublateral_probability=0.3,
        load_rate=(0.35, 0.7),
        feeder_peak_mva_max=3.5,
        class_mix=(("residential", 0.85), ("agricultural", 0.15)),
        mixed_probability=0.3,
        kw_per_customer=(("residential", (0.9, 1.5)), ("agricultural", (5.0, 15.0))),
        pv_probability=(("residential", 0.6), ("agricultural", 0.2)),
        pv_residential_adoption=(0.03, 0.08),
        pv_kwp=(("residential", (10.0, 30.0)), ("agricultural", (20.0, 60.0))),
        pv_max_trafo_ratio=0.8,
        line_fault_rate_per_km_year=(0.1, 0.2),
        line_repair_h=(4.0, 6.0),
        trafo_fault_rate_per_year=(0.015, 0.02),
        trafo_repair_h=(12.0, 24.0),
        n_sectionalisers=(2, 3),
        automated_share=0.5,
        lateral_fuses=True,
        trafo_fuses=True,
        n_ties=(1, 1),
        tie_length_km=(1.0, 3.0),
        route_factor=(1.15, 1.35),
    ),
    "xt-jingkai-industrial": FeederTemplate(
        name="xt-jingkai-industrial",
        description="Industrial-park 10 kV cable feeder in the Xiangtan economic and technological "
        "development zone (Jiuhua): factories with 1,250-2,000 kVA transformers and large rooftop PV",
        kind="industrial",
        substation="Jiuhua 110 kV substation (synthetic)",
        lat=27.9350,
        lon=112.8800,
        heading_deg=20.0,
        seed=3303,
        ext_grid_vm_pu=1.03,
        s_sc_max_mva=300.0,
        s_sc_min_mva=200.0,
        ext_grid_rx=0.1,
        trunk_types=("YJV22-8.7/15-3x300",),
        lateral_types=("YJV22-8.7/15-3x120", "YJV22-8.7/15-3x185", "YJV22-8.7/15-3x240"),
        design_loading=0.85,
        total_length_km=(3.0, 8.0),
        trunk_share=(0.55, 0.7),
        n_trafos=(4, 8),
        trafo_family="S13-M",
        trafo_kva=(1250, 1600, 2000),
        trafo_kva_weights=(0.35, 0.4, 0.25),
        trafos_per_node=(1, 1),
        trunk_node_share=(0.5, 0.7),
        nodes_per_lateral=(1, 2),
        sublateral_probability=0.0,
        load_rate=(0.45, 0.75),
        feeder_peak_mva_max=7.0,
        class_mix=(("industrial", 0.85), ("commercial", 0.15)),
        mixed_probability=0.3,
        kw_per_customer=(("industrial", (600.0, 1500.0)), ("commercial", (20.0, 60.0))),
        pv_probability=(("industrial", 0.75), ("commercial", 0.3)),
        pv_residential_adoption=(0.0, 0.0),
        pv_kwp=(("industrial", (200.0, 1200.0)), ("commercial", (50.0, 200.0))),
        pv_max_trafo_ratio=0.8,
        line_fault_rate_per_km_year=(0.03, 0.05),
        line_repair_h=(8.0, 12.0),
        trafo_fault_rate_per_year=(0.01, 0.015),
        trafo_repair_h=(8.0, 24.0),
        n_sectionalisers=(-1, -1),
        automated_share=1.0,
        lateral_fuses=True,
        trafo_fuses=True,
        n_ties=(1, 1),
        tie_length_km=(1.0, 2.5),
        route_factor=(1.15, 1.35),
    ),
}


# ----------------------------------------------------------------------------------
# topology
# ----------------------------------------------------------------------------------
@dataclass
class _Topology:
    parent: np.ndarray  # parent node of node i (node 0 = substation, parent -1)
    length_km: np.ndarray  # length of the section feeding node i (0 for node 0)
    on_trunk: np.ndarray  # bool
    lateral_id: np.ndarray  # -1 for trunk
    trafo_node: np.ndarray  # node of each transformer
    trafo_kva: np.ndarray


def _uniform(rng: np.random.Generator, r: Range) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def _integer(rng: np.random.Generator, r: tuple[int, int]) -> int:
    return int(rng.integers(r[0], r[1] + 1))


def _build_topology(t: FeederTemplate, rng: np.random.Generator) -> _Topology:
    n_tr = _integer(rng, t.n_trafos)
    w = np.asarray(t.trafo_kva_weights, dtype=float)
    kva = rng.choice(np.asarray(t.trafo_kva), size=n_tr, p=w / w.sum())
    groups: list[int] = []
    left = n_tr
    while left > 0:
        k = min(left, _integer(rng, t.trafos_per_node))
        groups.append(k)
        left -= k
    n_nodes = len(groups)
    n_trunk = int(np.clip(round(n_nodes * _uniform(rng, t.trunk_node_share)), 2, n_nodes))
    n_lat_nodes = n_nodes - n_trunk

    parent = [-1] + list(range(0, n_trunk))  # nodes 1..n_trunk on the trunk
    on_trunk = [False] + [True] * n_trunk
    lateral = [-1] * (n_trunk + 1)
    lat_members: list[list[int]] = []
    remaining = n_lat_nodes
    while remaining > 0:
        size = min(remaining, _integer(rng, t.nodes_per_lateral))
        if lat_members and rng.random() < t.sublateral_probability:
            pool = [n for m in lat_members for n in m]
            attach = int(pool[rng.integers(len(pool))])
        else:
            attach = int(rng.integers(1, n_trunk + 1))
        lid = len(lat_members)
        members = []
        prev = attach
        for _ in range(size):
            node = len(parent)
            parent.append(prev)
            on_trunk.append(False)
            lateral.append(lid)
            members.append(node)
            prev = node
        lat_members.append(members)
        remaining -= size

    parent_a = np.asarray(parent)
    on_trunk_a = np.asarray(on_trunk)
    total = _uniform(rng, t.total_length_km)
    share = _uniform(rng, t.trunk_share) if n_lat_nodes else 1.0
    length = np.zeros(len(parent))
    trunk_idx = np.flatnonzero(on_trunk_a)
    length[trunk_idx] = rng.dirichlet(np.full(len(trunk_idx), 2.5)) * total * share
    lat_idx = np.flatnonzero(~on_trunk_a)[1:]
    if len(lat_idx):
        length[lat_idx] = rng.dirichlet(np.full(len(lat_idx), 2.5)) * total * (1.0 - share)
    length[1:] = np.maximum(length[1:], 0.05)
    length[1:] *= total / length[1:].sum()
    length = np.round(length, 3)
    longest = 1 + int(np.argmax(length[1:]))  # rounding must not move the total
    length[longest] = round(length[longest] + round(total, 3) - length[1:].sum(), 3)

    # transformers on nodes 1..n_nodes in node order; groups in the same order
    trafo_node = np.repeat(np.arange(1, n_nodes + 1), groups)
    return _Topology(parent_a, length, on_trunk_a, np.asarray(lateral), trafo_node, kva.astype(int))


def _bfs_order(parent: np.ndarray) -> np.ndarray:
    children: dict[int, list[int]] = {}
    for i, p in enumerate(parent):
        if p >= 0:
            children.setdefault(int(p), []).append(i)
    order, queue = [], [0]
    while queue:
        n = queue.pop(0)
        order.append(n)
        queue.extend(children.get(n, []))
    return np.asarray(order)


def _renumber(top: _Topology) -> _Topology:
    """Renumber nodes in breadth-first order (N01 near the substation)."""
    order = _bfs_order(top.parent)
    new_of_old = np.empty_like(order)
    new_of_old[order] = np.arange(len(order))
    parent = np.where(top.parent[order] >= 0, new_of_old[np.maximum(top.parent[order], 0)], -1)
    tn = new_of_old[top.trafo_node]
    srt = np.argsort(tn, kind="stable")
    return _Topology(parent, top.length_km[order], top.on_trunk[order], top.lateral_id[order], tn[srt], top.trafo_kva[srt])


# ----------------------------------------------------------------------------------
# loads and PV
# ----------------------------------------------------------------------------------
@dataclass
class _LoadRow:
    trafo: int
    category: str
    p_mw: float
    q_mvar: float
    customers: int


@dataclass
class _PvRow:
    trafo: int
    category: str  # load class behind the PV
    kwp: float
    systems: int  # PV systems aggregated in this sgen


def _draw_loads(t: FeederTemplate, top: _Topology, rng: np.random.Generator) -> tuple[list[_LoadRow], list[_PvRow]]:
    classes = [c for c, _ in t.class_mix]
    probs = np.asarray([p for _, p in t.class_mix], dtype=float)
    probs = probs / probs.sum()
    kwpc = dict(t.kw_per_customer)
    pv_prob = dict(t.pv_probability)
    pv_kwp = dict(t.pv_kwp)
    loads: list[_LoadRow] = []
    pvs: list[_PvRow] = []
    for i, kva in enumerate(top.trafo_kva):
        s_peak_kva = kva * _uniform(rng, t.load_rate)
        main = classes[int(rng.choice(len(classes), p=probs))]
        parts = [(main, 1.0)]
        if len(classes) > 1 and rng.random() < t.mixed_probability:
            other = [c for c in classes if c != main]
            second = other[int(rng.integers(len(other)))]
            share = _uniform(rng, (0.2, 0.4))
            parts = [(main, 1.0 - share), (second, share)]
        for cls, share in parts:
            s_kva = s_peak_kva * share
            pf = CLASS_POWER_FACTOR[cls]
            p_kw = s_kva * pf
            per_cust = _uniform(rng, kwpc.get(cls, (5.0, 10.0)))
            customers = max(1, int(round(p_kw / per_cust)))
            loads.append(_LoadRow(i, cls, p_kw / 1000.0, p_kw * math.tan(math.acos(pf)) / 1000.0, customers))
            if rng.random() < pv_prob.get(cls, 0.0):
                lo, hi = pv_kwp.get(cls, (0.0, 0.0))
                n_sys = 1
                if cls == "residential":
                    n_sys = max(1, int(round(customers * _uniform(rng, t.pv_residential_adoption))))
                    kwp = float(np.sum(rng.uniform(lo, hi, n_sys)))
                else:
                    kwp = _uniform(rng, (lo, hi))
                if kwp > 0:
                    pvs.append(_PvRow(i, cls, kwp, n_sys))
    # cap PV per transformer
    for i, kva in enumerate(top.trafo_kva):
        rows = [r for r in pvs if r.trafo == i]
        ac = sum(r.kwp for r in rows) / PV_DC_AC_RATIO
        cap = t.pv_max_trafo_ratio * kva
        if ac > cap:
            for r in rows:
                r.kwp *= cap / ac
    # cap the feeder peak
    s_total = sum(math.hypot(r.p_mw, r.q_mvar) for r in loads)
    if s_total > t.feeder_peak_mva_max:
        f = t.feeder_peak_mva_max / s_total
        for r in loads:
            r.p_mw *= f
            r.q_mvar *= f
            r.customers = max(1, int(round(r.customers * f)))
    return loads, pvs


def _select_conductors(t: FeederTemplate, top: _Topology, loads: Sequence[_LoadRow], pvs: Sequence[_PvRow]) -> list[int]:
    """Index into the allowed type list of every section (node 1..n)."""
    n = len(top.parent)
    s_node = np.zeros(n)
    for r in loads:
        s_node[top.trafo_node[r.trafo]] += math.hypot(r.p_mw, r.q_mvar)
    pv_node = np.zeros(n)
    for r in pvs:
        pv_node[top.trafo_node[r.trafo]] += r.kwp / PV_DC_AC_RATIO / 1000.0
    down_s, down_pv = s_node.copy(), pv_node.copy()
    for node in _bfs_order(top.parent)[::-1]:
        p = top.parent[node]
        if p >= 0:
            down_s[p] += down_s[node]
            down_pv[p] += down_pv[node]
    idx = [0] * n
    for node in range(1, n):
        types = t.trunk_types if top.on_trunk[node] else t.lateral_types
        i_ka = max(down_s[node], down_pv[node]) / (math.sqrt(3) * 10.0 * 0.97)
        choice = len(types) - 1
        for k, name in enumerate(types):
            if eq.LINE_TYPES[name]["max_i_ka"] * t.design_loading >= i_ka:
                choice = k
                break
        idx[node] = choice
    # the trunk does not get thicker downstream
    for node in _bfs_order(top.parent)[::-1]:
        p = top.parent[node]
        if p > 0 and top.on_trunk[node] and top.on_trunk[p]:
            idx[p] = max(idx[p], idx[node])
    return idx


# ----------------------------------------------------------------------------------
# geography
# ----------------------------------------------------------------------------------
def _positions(t: FeederTemplate, top: _Topology, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Node coordinates (lon, lat) [deg] and the straight distance of each section [km]."""
    n = len(top.parent)
    xy = np.zeros((n, 2))  # km east, km north of the substation
    heading = np.zeros(n)
    heading[0] = math.radians(t.heading_deg)
    lat_side = {}
    for node in _bfs_order(top.parent)[1:]:
        p = top.parent[node]
        if top.on_trunk[node]:
            h = heading[p] + math.radians(rng.normal(0.0, 15.0))
        elif top.on_trunk[p] or top.lateral_id[p] != top.lateral_id[node]:
            side = lat_side.setdefault(int(top.lateral_id[node]), 1.0 if rng.random() < 0.5 else -1.0)
            h = heading[p] + side * math.radians(70.0 + rng.uniform(0.0, 40.0))
        else:
            h = heading[p] + math.radians(rng.normal(0.0, 20.0))
        heading[node] = h
        d = top.length_km[node] / _uniform(rng, t.route_factor)
        xy[node] = xy[p] + d * np.array([math.sin(h), math.cos(h)])
    lon, lat = _km_to_deg(t, xy)
    return np.column_stack([lon, lat]), xy


def _km_to_deg(t: FeederTemplate, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat = t.lat + xy[:, 1] / _KM_PER_DEG_LAT
    lon = t.lon + xy[:, 0] / (_KM_PER_DEG_LON_EQ * math.cos(math.radians(t.lat)))
    return np.round(lon, 6), np.round(lat, 6)


# ----------------------------------------------------------------------------------
# net assembly
# ----------------------------------------------------------------------------------
def _resolve(template_or_name: FeederTemplate | str) -> FeederTemplate:
    if isinstance(template_or_name, FeederTemplate):
        return template_or_name
    try:
        return TEMPLATES[template_or_name]
    except KeyError:
        raise FeederError(f"unknown feeder template {template_or_name!r}; known: {sorted(TEMPLATES)}") from None


def generate_feeder(
    template_or_name: FeederTemplate | str,
    seed: int | None = None,
    name: str | None = None,
    profiles: pd.DataFrame | None = None,
) -> pandapowerNet:
    """Generate one synthetic 10 kV feeder as a pandapower net.

    Parameters
    ----------
    template_or_name : FeederTemplate or str
        A template or the name of one in :data:`TEMPLATES`.
    seed : int, optional
        Seed for ``numpy.random.default_rng``; default: the template's own seed
        (the committed feeder file).
    name : str, optional
        Net name and prefix of the bus names; default: the template name.
    profiles : pandas.DataFrame, optional
        Class profiles (:func:`gridint.grid.loadshapes.generate_class_profiles`);
        when given, each load gets ``p_avg_mw`` = ``p_mw`` x mean of its class
        profile [MW] for energy-not-supplied studies.

    Returns
    -------
    pandapower.pandapowerNet
        Radial feeder, loads at annual peak, PV sgens at AC rating, in service.
        ``net["gridint"]`` records template, seed and the tuning outcome
        (``tuned`` is False only if the limits could not be met, which is logged
        as a warning).

    Raises
    ------
    FeederError
        If the template name is unknown, the template is inconsistent or a tuning
        power flow does not converge.
    """
    import pandapower as pp

    t = _resolve(template_or_name)
    seed = t.seed if seed is None else int(seed)
    name = t.name if name is None else str(name)
    rng = np.random.default_rng(seed)

    # ---- draw everything (fixed order of random draws) --------------------------
    top = _renumber(_build_topology(t, rng))
    loads, pvs = _draw_loads(t, top, rng)
    type_idx = _select_conductors(t, top, loads, pvs)
    lonlat, xy = _positions(t, top, rng)
    n_nodes = len(top.parent)
    n_tr = len(top.trafo_kva)
    sec_nodes = np.arange(1, n_nodes)
    n_sec = len(sec_nodes)
    line_fr = np.round(rng.uniform(*t.line_fault_rate_per_km_year, n_sec), 3)
    line_rep = np.round(rng.uniform(*t.line_repair_h, n_sec), 1)
    tr_fr = np.round(rng.uniform(*t.trafo_fault_rate_per_year, n_tr), 4)
    tr_rep = np.round(rng.uniform(*t.trafo_repair_h, n_tr), 1)
    ang = rng.uniform(0, 2 * np.pi, n_tr)
    off = rng.uniform(0.02, 0.06, n_tr)
    switches = _plan_switches(t, top, rng)
    ties = _plan_ties(t, top, xy, rng)

    # ---- buses --------------------------------------------------------------------
    net = pp.create_empty_network(name=name, f_hz=50.0, add_stdtypes=False)
    eq.register_std_types(net)
    tr_names = [f"T{i + 1:02d}" for i in range(n_tr)]
    lv_lon, lv_lat = _km_to_deg(t, xy[top.trafo_node] + np.column_stack([off * np.sin(ang), off * np.cos(ang)]))
    tie_lonlat = [(_km_to_deg(t, tie["xy"])) for tie in ties]
    bus_names = ([f"{name}-SUB"] + [f"{name}-N{i:02d}" for i in range(1, n_nodes)]
                 + [f"{name}-{tn}-LV" for tn in tr_names])
    bus_vn = [10.0] * n_nodes + [LV_NOMINAL_KV] * n_tr
    bus_type = ["b"] + ["n"] * (n_nodes - 1) + ["b"] * n_tr
    bus_geo = [(float(x), float(y)) for x, y in lonlat] + [(float(x), float(y)) for x, y in zip(lv_lon, lv_lat)]
    bus_zone = [name] * (n_nodes + n_tr)
    for tie, (lon, lat) in zip(ties, tie_lonlat):
        bus_names += [f"{name}-TIE{tie['sfx']}", f"{name}-NBR{tie['sfx']}"]
        bus_vn += [10.0, 10.0]
        bus_type += ["n", "b"]
        bus_geo += [(float(lon[0]), float(lat[0])), (float(lon[1]), float(lat[1]))]
        bus_zone += [f"{name}-neighbour"] * 2
    buses = pp.create_buses(net, len(bus_names), bus_vn, name=bus_names, type=bus_type, geodata=bus_geo,
                            zone=bus_zone)
    node_bus = buses[:n_nodes]
    lv_bus = buses[n_nodes:n_nodes + n_tr]
    tie_bus = [buses[n_nodes + n_tr + 2 * j] for j in range(len(ties))]
    nbr_bus = [buses[n_nodes + n_tr + 2 * j + 1] for j in range(len(ties))]

    # ---- supplies -------------------------------------------------------------------
    pp.create_ext_grid(net, node_bus[0], vm_pu=t.ext_grid_vm_pu, name=t.substation, s_sc_max_mva=t.s_sc_max_mva,
                       s_sc_min_mva=t.s_sc_min_mva, rx_max=t.ext_grid_rx, rx_min=t.ext_grid_rx, role="substation")
    for j, tie in enumerate(ties):
        pp.create_ext_grid(net, nbr_bus[j], vm_pu=t.ext_grid_vm_pu, name=f"neighbour feeder {j + 1} of {name}",
                           s_sc_max_mva=t.s_sc_max_mva, s_sc_min_mva=t.s_sc_min_mva, rx_max=t.ext_grid_rx,
                           rx_min=t.ext_grid_rx, role="neighbour")

    # ---- lines ------------------------------------------------------------------------
    std = [(t.trunk_types if top.on_trunk[k] else t.lateral_types)[type_idx[k]] for k in sec_nodes]
    from_b = [int(node_bus[top.parent[k]]) for k in sec_nodes]
    to_b = [int(node_bus[k]) for k in sec_nodes]
    geo = [[tuple(map(float, lonlat[top.parent[k]])), tuple(map(float, lonlat[k]))] for k in sec_nodes]
    names = [f"L{j + 1:02d}" for j in range(n_sec)]
    section = ["trunk" if top.on_trunk[k] else "lateral" for k in sec_nodes]
    lengths = [float(top.length_km[k]) for k in sec_nodes]
    fr, rep = line_fr.tolist(), line_rep.tolist()
    for j, tie in enumerate(ties):
        lon, lat = tie_lonlat[j]
        std.append(t.trunk_types[-1])
        from_b.append(int(nbr_bus[j]))
        to_b.append(int(tie_bus[j]))
        geo.append([(float(lon[1]), float(lat[1])), (float(lon[0]), float(lat[0]))])
        names.append(f"L-TIE{j + 1}")
        section.append("tie")
        lengths.append(tie["length_km"])
        fr.append(round(float(np.mean(t.line_fault_rate_per_km_year)), 3))
        rep.append(round(float(np.mean(t.line_repair_h)), 1))
    line_ids = pp.create_lines(net, from_b, to_b, lengths, std, name=names, geodata=geo, section=section,
                               fault_rate_per_km_year=fr, repair_h=rep)
    line_of_node = {int(k): int(line_ids[j]) for j, k in enumerate(sec_nodes)}

    # ---- transformers -------------------------------------------------------------------
    tr_types = [eq.trafo_type_name(t.trafo_family, int(k)) for k in top.trafo_kva]
    for ttype in sorted(set(tr_types)):
        idx = [i for i in range(n_tr) if tr_types[i] == ttype]
        pp.create_transformers(net, [int(node_bus[top.trafo_node[i]]) for i in idx], [int(lv_bus[i]) for i in idx],
                               ttype, name=[tr_names[i] for i in idx], tap_pos=0, index=idx,
                               fault_rate_per_year=[float(tr_fr[i]) for i in idx],
                               repair_h=[float(tr_rep[i]) for i in idx])
    net.trafo = net.trafo.sort_index()

    # ---- loads and PV ---------------------------------------------------------------------
    extra = {}
    if profiles is not None:
        means = profiles[list(LOAD_CLASSES)].mean()
        extra["p_avg_mw"] = [round(r.p_mw * float(means[r.category]), 6) for r in loads]
    pp.create_loads(net, [int(lv_bus[r.trafo]) for r in loads], [round(r.p_mw, 6) for r in loads],
                    q_mvar=[round(r.q_mvar, 6) for r in loads],
                    name=[f"{tr_names[r.trafo]}-{r.category[:3].upper()}" for r in loads],
                    customers=[int(r.customers) for r in loads], category=[r.category for r in loads],
                    profile=[r.category for r in loads], **extra)
    net.load["customers"] = net.load["customers"].astype("int64")
    if pvs:
        p_ac = [r.kwp / PV_DC_AC_RATIO / 1000.0 for r in pvs]
        pp.create_sgens(net, [int(lv_bus[r.trafo]) for r in pvs], p_ac, q_mvar=0.0, sn_mva=p_ac,
                        name=[f"{tr_names[r.trafo]}-PV-{r.category[:3].upper()}" for r in pvs], type="PV",
                        kwp=[r.kwp for r in pvs], systems=[int(r.systems) for r in pvs], profile="pv",
                        category=[_PV_CATEGORY[r.category][0] for r in pvs],
                        mode=[_PV_CATEGORY[r.category][1] for r in pvs], load_class=[r.category for r in pvs])
    else:  # keep the PV columns so every feeder has the same schema
        for col, dtype in (("kwp", float), ("systems", "int64"), ("profile", object), ("category", object),
                           ("mode", object), ("load_class", object)):
            net.sgen[col] = pd.Series(dtype=dtype)

    # ---- switches ------------------------------------------------------------------------
    sw_bus, sw_el, sw_et, sw_closed, sw_type, sw_name, sw_time, sw_auto = [], [], [], [], [], [], [], []
    for sw in switches:
        sw_bus.append(int(node_bus[sw["node"]]) if sw["et"] != "t" else int(node_bus[top.trafo_node[sw["element"]]]))
        sw_el.append(line_of_node[sw["element"]] if sw["et"] == "l" else int(sw["element"]))
        sw_et.append(sw["et"])
        sw_closed.append(True)
        sw_type.append(sw["type"])
        sw_name.append(sw["name"] if sw["et"] != "t" else f"FU-{tr_names[sw['element']]}")
        sw_time.append(sw["time_h"])
        sw_auto.append(sw["automated"])
    for j, tie in enumerate(ties):
        sw_bus.append(int(node_bus[tie["node"]]))
        sw_el.append(int(tie_bus[j]))
        sw_et.append("b")
        sw_closed.append(False)
        sw_type.append("LBS")
        sw_name.append(f"TIE-{j + 1}")
        sw_time.append(tie["time_h"])
        sw_auto.append(tie["automated"])
    pp.create_switches(net, sw_bus, sw_el, sw_et, closed=sw_closed, type=sw_type, name=sw_name,
                       switch_time_h=sw_time, automated=sw_auto)
    net.switch["automated"] = net.switch["automated"].astype(bool)
    net.switch["closed"] = net.switch["closed"].astype(bool)

    # ---- operating point -------------------------------------------------------------------
    kwp_drawn = net.sgen["kwp"].to_numpy(dtype=float).copy()
    outcome = _tune(net, t, top, line_of_node)
    _finalise(net)
    if len(net.sgen):  # PV trimmed by the tuning: fewer installations of the drawn size
        kept = net.sgen["kwp"].to_numpy(dtype=float) / kwp_drawn
        net.sgen["systems"] = np.maximum(1, np.round(net.sgen["systems"].to_numpy() * kept)).astype("int64")
    net["gridint"] = {
        "generator": "gridint.grid.synthetic",
        "template": t.name,
        "kind": t.kind,
        "seed": seed,
        "substation": t.substation,
        **outcome,
    }
    _add_storage(net, t, seed)  # storage units (issue 7), after the operating point: p_mw = 0
    return net


def _plan_switches(t: FeederTemplate, top: _Topology, rng: np.random.Generator) -> list[dict]:
    """Head CB, trunk sectionalisers, lateral fuses, transformer fuses (node indices)."""

    def sw_time(auto: bool) -> float:
        return round(_uniform(rng, t.switch_time_auto_h if auto else t.switch_time_manual_h), 2)

    order = _bfs_order(top.parent)
    out: list[dict] = []
    trunk_nodes = [int(k) for k in order if top.on_trunk[k]]
    first = trunk_nodes[0]
    out.append(dict(node=0, element=first, et="l", type="CB", name="CB-HEAD", time_h=sw_time(True), automated=True))
    rest = trunk_nodes[1:]
    if t.n_sectionalisers[0] < 0:
        chosen = rest
    else:
        k = min(len(rest), _integer(rng, t.n_sectionalisers))
        pos = sorted(set(np.round(np.linspace(0, len(rest), k + 2)[1:-1]).astype(int).tolist())) if k else []
        chosen = [rest[min(p, len(rest) - 1)] for p in pos]
    for j, node in enumerate(chosen):
        auto = bool(rng.random() < t.automated_share)
        kind = "LBS" if auto else "DS"
        out.append(dict(node=int(top.parent[node]), element=node, et="l", type=kind, name=f"{kind}-{j + 1:02d}",
                        time_h=sw_time(auto), automated=auto))
    if t.lateral_fuses:
        j = 0
        for node in order:
            p = int(top.parent[node])
            if p < 0 or top.on_trunk[node]:
                continue
            if top.on_trunk[p] or top.lateral_id[p] != top.lateral_id[node]:
                j += 1
                out.append(dict(node=p, element=int(node), et="l", type="fuse", name=f"FU-LAT{j:02d}",
                                time_h=sw_time(False), automated=False))
    if t.trafo_fuses:
        for i in range(len(top.trafo_kva)):
            out.append(dict(node=int(top.trafo_node[i]), element=i, et="t", type="fuse", name="",
                            time_h=sw_time(False), automated=False))
    return out


def _plan_ties(t: FeederTemplate, top: _Topology, xy: np.ndarray, rng: np.random.Generator) -> list[dict]:
    """Normally-open ties: trunk end first, then the farthest lateral ends."""
    n_ties = _integer(rng, t.n_ties)
    order = _bfs_order(top.parent)
    has_child = np.zeros(len(top.parent), dtype=bool)
    has_child[top.parent[top.parent >= 0]] = True
    leaves = [int(k) for k in order if k > 0 and not has_child[k]]
    dist = np.zeros(len(top.parent))
    for k in order[1:]:
        dist[k] = dist[top.parent[k]] + top.length_km[k]
    trunk_end = [int(k) for k in order if top.on_trunk[k]][-1]  # far end of the trunk
    lat_leaves = sorted((k for k in leaves if not top.on_trunk[k]), key=lambda k: (-dist[k], k))
    ends = [trunk_end] + lat_leaves[: max(0, n_ties - 1)]
    ties = []
    for j, end in enumerate(ends):
        base = xy[end]
        direction = base / (np.linalg.norm(base) or 1.0)
        length = round(_uniform(rng, t.tie_length_km), 3)
        auto = bool(rng.random() < t.automated_share)
        ties.append(dict(
            node=end, sfx="" if j == 0 else str(j + 1), length_km=length, automated=auto,
            time_h=round(_uniform(rng, t.switch_time_auto_h if auto else t.switch_time_manual_h), 2),
            xy=np.vstack([base + 0.03 * direction, base + (0.03 + length / 1.2) * direction]),
        ))
    return ties


# ----------------------------------------------------------------------------------
# operating point: taps, reinforcement, load and PV trimming
# ----------------------------------------------------------------------------------
def _run(net) -> None:
    import pandapower as pp

    try:
        pp.runpp(net, calculate_voltage_angles=False, init="flat", numba=False)
    except pp.LoadflowNotConverged:
        raise FeederError(f"{net.name}: power flow does not converge while setting the operating point") from None


def _tune(net, t: FeederTemplate, top: _Topology, line_of_node: Mapping[int, int]) -> dict:
    """Set taps, reinforce, trim load / PV until both bounding cases hold (see module doc)."""
    settings = get_settings()
    vmin = settings.vm_min_pu + _VM_MARGIN_PU
    vmax = settings.vm_max_pu - _VM_MARGIN_PU
    step = 0.025  # tap step [p.u.]
    feeder = (net.bus["zone"] == net.name).to_numpy()
    mv = feeder & (net.bus["vn_kv"].to_numpy() > 1.0)
    n_tr = len(net.trafo)
    lv = net.trafo["lv_bus"].to_numpy()
    hv = net.trafo["hv_bus"].to_numpy()
    load_bus = net.load["bus"].to_numpy()
    sgen_bus = net.sgen["bus"].to_numpy()
    p_peak = net.load["p_mw"].to_numpy(dtype=float).copy()
    q_peak = net.load["q_mvar"].to_numpy(dtype=float).copy()
    p_orig = p_peak.copy()
    f_min = net.load["category"].map(MIN_LOAD_FRACTION).to_numpy(dtype=float)
    pv_in = net.sgen["in_service"].to_numpy(dtype=bool).copy()
    feeder_lines = np.asarray(sorted(line_of_node.values()))
    allowed = {li: (t.trunk_types if top.on_trunk[k] else t.lateral_types) for k, li in line_of_node.items()}
    path_lines: dict[int, list[int]] = {}
    for k in range(1, len(top.parent)):
        lines, node = [], k
        while node > 0:
            lines.append(line_of_node[node])
            node = int(top.parent[node])
        path_lines[k] = lines  # node k == bus k for the 10 kV nodes

    actions: list[str] = []
    ok = False
    need_peak = True
    n_pf = 0
    for _round in range(_MAX_TUNING_ROUNDS):
        if need_peak:
            net.load["p_mw"], net.load["q_mvar"] = p_peak, q_peak
            net.sgen["in_service"] = False
            _run(net)
            n_pf += 1
            v_pk = net.res_bus["vm_pu"].to_numpy().copy()
            ll_pk = net.res_line["loading_percent"].to_numpy().copy()
            lt_pk = net.res_trafo["loading_percent"].to_numpy().copy()
        net.load["p_mw"], net.load["q_mvar"] = p_peak * f_min, q_peak * f_min
        net.sgen["in_service"] = pv_in
        _run(net)
        n_pf += 1
        v_lt = net.res_bus["vm_pu"].to_numpy().copy()
        ll_lt = net.res_line["loading_percent"].to_numpy().copy()
        lt_lt = net.res_trafo["loading_percent"].to_numpy().copy()
        need_peak = False

        # 1) taps: centre each LV busbar in the band over both cases (hysteresis 0.004 pu)
        taps = net.trafo["tap_pos"].to_numpy(dtype=int)
        new_taps = taps.copy()
        for i in range(n_tr):
            vp0 = v_pk[lv[i]] * (1 + taps[i] * step)  # LV voltage at neutral tap
            vl0 = v_lt[lv[i]] * (1 + taps[i] * step)

            def margin(tp: int) -> float:
                return min(vp0 / (1 + tp * step) - vmin, vmax - vl0 / (1 + tp * step))

            cur = margin(int(taps[i]))
            if cur >= 0.01:
                continue
            best = max(range(-2, 3), key=lambda tp: (round(margin(tp), 4), -abs(tp)))
            if margin(best) > cur + 0.004:
                new_taps[i] = best
        if np.any(new_taps != taps):
            net.trafo["tap_pos"] = new_taps
            actions.append(f"taps: {int(np.sum(new_taps != taps))} changed")
            need_peak = True
            continue

        hv_low = np.flatnonzero(mv & (v_pk < vmin))
        hv_high = np.flatnonzero(mv & (v_lt > vmax))
        lv_low = [i for i in range(n_tr) if v_pk[lv[i]] < vmin]
        lv_high = [i for i in range(n_tr) if v_lt[lv[i]] > vmax]
        ln_over_pk = [int(li) for li in feeder_lines if ll_pk[li] > _LOADING_MAX_PERCENT]
        ln_over_lt = [int(li) for li in feeder_lines if ll_lt[li] > _LOADING_MAX_PERCENT]
        tr_over_pk = [i for i in range(n_tr) if lt_pk[i] > _LOADING_MAX_PERCENT]
        tr_over_lt = [i for i in range(n_tr) if lt_lt[i] > _LOADING_MAX_PERCENT]
        if not (len(hv_low) or len(hv_high) or lv_low or lv_high or ln_over_pk or ln_over_lt or tr_over_pk
                or tr_over_lt):
            ok = True
            break

        # 2) undervoltage (10 kV, or at a 台区 whose tap cannot help) or overloaded
        #    lines: reinforce the path from the substation, else trim
        if len(hv_low) or ln_over_pk or ln_over_lt or lv_low:
            targets = set(ln_over_pk) | set(ln_over_lt)
            if len(hv_low):
                worst = int(hv_low[np.argmin(v_pk[hv_low])])
                targets |= set(path_lines.get(worst, []))
            if lv_low:
                worst_tr = min(lv_low, key=lambda k: v_pk[lv[k]])
                targets |= set(path_lines.get(int(hv[worst_tr]), []))
            upgraded = 0
            for li in sorted(targets):
                types = allowed[li]
                cur_i = types.index(net.line.at[li, "std_type"])
                if cur_i + 1 < len(types):
                    _change_line_type(net, li, types[cur_i + 1])
                    upgraded += 1
            if upgraded:
                _monotone_trunk(net, t, top, line_of_node)
                actions.append(f"reinforced {upgraded} section(s)")
                need_peak = True
                continue
            if len(hv_low) or ln_over_pk:  # nothing left to reinforce: trim the feeder load
                f = 0.95 if not ln_over_pk else min(0.95, _LOADING_MAX_PERCENT / max(ll_pk[ln_over_pk]) * 0.98)
                p_peak *= f
                q_peak *= f
                actions.append(f"feeder load x{f:.3f}")
                need_peak = True
            if ln_over_lt:  # reverse flow above the rating: trim the feeder PV
                f = min(0.95, _LOADING_MAX_PERCENT / max(ll_lt[ln_over_lt]) * 0.98)
                _scale_pv(net, net.sgen.index, f)
                actions.append(f"feeder PV x{f:.3f} (line loading)")
            if len(hv_low) or ln_over_pk or ln_over_lt:
                continue
            # only 台区 undervoltage is left: handled in step 5
        # 3) light-load 10 kV overvoltage: trim all PV in proportion
        if len(hv_high):
            vm_ext = float(net.ext_grid["vm_pu"].iloc[0])
            v_hi = float(np.max(v_lt[hv_high]))
            f = float(np.clip(1.0 - 1.3 * (v_hi - vmax) / max(v_hi - vm_ext, 1e-3), 0.3, 0.95))
            _scale_pv(net, net.sgen.index, f)
            actions.append(f"feeder PV x{f:.3f} (10 kV overvoltage)")
            continue
        # 4) light-load LV overvoltage / reverse overload: trim the 台区's PV
        trimmed = 0
        for i in sorted(set(lv_high) | set(tr_over_lt)):
            sg = np.flatnonzero(sgen_bus == lv[i])
            if not len(sg):
                continue
            f = 0.95
            if v_lt[lv[i]] > vmax:
                v_hv_ref = v_lt[hv[i]] / (1 + net.trafo.at[i, "tap_pos"] * step)
                f = min(f, 1.0 - 1.3 * (v_lt[lv[i]] - vmax) / max(v_lt[lv[i]] - v_hv_ref, 1e-3))
            if lt_lt[i] > _LOADING_MAX_PERCENT:
                f = min(f, _LOADING_MAX_PERCENT / lt_lt[i] * 0.98)
            _scale_pv(net, net.sgen.index[sg], float(np.clip(f, 0.2, 0.95)))
            trimmed += 1
        if trimmed:
            actions.append(f"PV trimmed at {trimmed} transformer(s)")
            continue
        if lv_high:  # overvoltage at a 台区 without PV: voltage rise from PV elsewhere
            vm_ext = float(net.ext_grid["vm_pu"].iloc[0])
            i = max(lv_high, key=lambda k: v_lt[lv[k]])
            f = float(np.clip(1.0 - 1.3 * (v_lt[lv[i]] - vmax) / max(v_lt[hv[i]] - vm_ext, 1e-3), 0.5, 0.95))
            _scale_pv(net, net.sgen.index, f)
            actions.append(f"feeder PV x{f:.3f} (LV overvoltage without local PV)")
            continue
        # 5) LV undervoltage / transformer overload at peak: trim that 台区's load
        for i in sorted(set(lv_low) | set(tr_over_pk)):
            f = 0.95
            if v_pk[lv[i]] < vmin:  # the transformer's own drop shrinks with its load
                drop = v_pk[hv[i]] / (1 + net.trafo.at[i, "tap_pos"] * step) - v_pk[lv[i]]
                f = min(f, float(np.clip(1.0 - 1.3 * (vmin - v_pk[lv[i]]) / max(drop, 1e-3), 0.5, 0.95)))
            if lt_pk[i] > _LOADING_MAX_PERCENT:
                f = min(f, _LOADING_MAX_PERCENT / lt_pk[i] * 0.98)
            m = load_bus == lv[i]
            p_peak[m] *= f
            q_peak[m] *= f
        actions.append(f"load trimmed at {len(set(lv_low) | set(tr_over_pk))} transformer(s)")
        need_peak = True
    net.load["p_mw"] = np.round(p_peak, 6)
    net.load["q_mvar"] = np.round(q_peak, 6)
    if "p_avg_mw" in net.load.columns:  # keep the average in proportion to a trimmed peak
        ratio = np.divide(p_peak, p_orig, out=np.ones_like(p_peak), where=p_orig > 0)
        net.load["p_avg_mw"] = (net.load["p_avg_mw"].to_numpy(dtype=float) * ratio).round(6)
    net.sgen["in_service"] = pv_in
    if not ok:
        logger.warning("%s: limits not met after %d tuning rounds (%s)", net.name, _MAX_TUNING_ROUNDS,
                       "; ".join(actions[-3:]))
    return {"tuned": ok, "tuning_power_flows": n_pf, "tuning_actions": actions}


def _change_line_type(net, li: int, std_type: str) -> None:
    d = eq.LINE_TYPES[std_type]
    net.line.at[li, "std_type"] = std_type
    for k in ("r_ohm_per_km", "x_ohm_per_km", "c_nf_per_km", "max_i_ka"):
        net.line.at[li, k] = d[k]


def _monotone_trunk(net, t: FeederTemplate, top: _Topology, line_of_node: Mapping[int, int]) -> None:
    for node in _bfs_order(top.parent)[::-1]:
        p = int(top.parent[node])
        if p > 0 and top.on_trunk[node] and top.on_trunk[p]:
            a, b = line_of_node[p], line_of_node[int(node)]
            ia = t.trunk_types.index(net.line.at[a, "std_type"])
            ib = t.trunk_types.index(net.line.at[b, "std_type"])
            if ib > ia:
                _change_line_type(net, a, t.trunk_types[ib])


def _scale_pv(net, idx, factor: float) -> None:
    net.sgen.loc[idx, "p_mw"] *= factor
    net.sgen.loc[idx, "sn_mva"] = net.sgen.loc[idx, "p_mw"]
    net.sgen.loc[idx, "kwp"] = net.sgen.loc[idx, "p_mw"] * PV_DC_AC_RATIO * 1000.0


def _finalise(net) -> None:
    """Round values so that the JSON file is compact and reproducible; clear results."""
    import pandapower as pp

    net.sgen["p_mw"] = net.sgen["p_mw"].astype(float).round(6)
    net.sgen["sn_mva"] = net.sgen["p_mw"]
    net.sgen["kwp"] = (net.sgen["p_mw"] * PV_DC_AC_RATIO * 1000.0).round(2)
    net.trafo["tap_pos"] = net.trafo["tap_pos"].astype("int64")
    pp.reset_results(net)
    for key in ("_ppc", "_ppc0", "_ppc1", "_ppc2", "_is_elements"):
        if key in net:
            net[key] = None
    if "_pd2ppc_lookups" in net:
        net["_pd2ppc_lookups"] = {}


# ----------------------------------------------------------------------------------
# storage units (issue 7, storage dispatch) -- kept apart from the other columns
# ----------------------------------------------------------------------------------
#: Utility battery power as a share of the feeder's PV AC rating [-] (assumption: the
#: "new energy + storage" allocation rules of Chinese provinces ask 5-20 % of the PV
#: rating; a distribution utility sizing against PV voltage rise needs more).
STORAGE_UTILITY_PV_SHARE = 0.3
#: Customer battery power as a share of the PV AC rating at its LV busbar [-] (range).
STORAGE_CUSTOMER_PV_SHARE: Range = (0.3, 0.5)
#: Share of the LV busbars with PV that get customer batteries: the PV-heaviest
#: (highest PV AC / transformer rating) third.
STORAGE_CUSTOMER_BUS_SHARE = 1.0 / 3.0
#: Energy / power ratio of every battery [h]: the 2-hour duration usual in Chinese
#: "new energy + storage" allocation rules.
STORAGE_DURATION_H = 2.0
#: Critical share of the peak load a battery backs up in island mode [-] (assumption),
#: at most :data:`STORAGE_CRITICAL_MAX_POWER_SHARE` of the battery power (so that the
#: reserve takes at most about a quarter of the energy and the rest is dispatchable).
STORAGE_CRITICAL_SHARE = 0.2
STORAGE_CRITICAL_MAX_POWER_SHARE = 0.25
#: Hours of critical load kept in reserve [h] (assumption; see Settings.storage_reserve_h).
STORAGE_RESERVE_H = 2.0
#: Probability that a customer battery can island (hybrid inverter with backup port).
STORAGE_CUSTOMER_ISLAND_PROBABILITY = 0.5
_STORAGE_SEED_STREAM = 7  # own random stream: the feeder's draws stay as they were


def _downstream_buses(net, graph, switch_idx: int) -> set:
    """Buses cut off from the substation when line switch ``switch_idx`` opens."""
    import networkx as nx

    line = int(net.switch.at[switch_idx, "element"])
    f, t = int(net.line.at[line, "from_bus"]), int(net.line.at[line, "to_bus"])
    g = graph.copy()
    g.remove_edge(f, t, key=("line", line))
    head = int(net.ext_grid.loc[net.ext_grid["role"] == "substation", "bus"].iloc[0])
    return set(g.nodes) - set(nx.node_connected_component(g, head))


def _add_storage(net, t: FeederTemplate, seed: int) -> None:
    """Add the feeder's batteries as pandapower ``storage`` rows (``p_mw = 0``).

    * one utility battery (``owner = "utility"``) on the 10 kV node at the far end
      of the trunk (the node of tie ``TIE-1``), power
      :data:`STORAGE_UTILITY_PV_SHARE` x feeder PV AC rounded to 50 kW; it can
      island the section behind the last trunk sectionalising switch
      (``island_capable``), whose critical load it backs up;
    * customer batteries (``owner = "customer"``, the aggregated behind-the-meter
      batteries of the PV owners) at the PV-heaviest LV busbars, power drawn from
      :data:`STORAGE_CUSTOMER_PV_SHARE` x the busbar's PV AC, rounded to 5 kW.

    Every battery has :data:`STORAGE_DURATION_H` hours of energy. Columns (see
    :mod:`gridint.dispatch.units`): ``max_e_mwh`` energy rating [MWh], ``sn_mva``,
    ``max_p_mw`` (charging limit) and ``-min_p_mw`` (discharging limit) [MW],
    ``soc_percent`` initial SoC, ``min_e_mwh`` = ``soc_min_percent`` x
    ``max_e_mwh``, ``soc_min_percent`` / ``soc_max_percent`` window,
    ``eff_charge`` / ``eff_discharge`` [-], ``critical_kw`` [kW], ``reserve_h`` [h],
    ``owner``, ``island_capable``. Seeded by ``(seed, 7)``: the rest of the feeder
    does not change.
    """
    import pandapower as pp

    s = get_settings()
    rng = np.random.default_rng([seed, _STORAGE_SEED_STREAM])
    name = net.name
    rows: list[dict] = []
    sgen = net.sgen[net.sgen["in_service"].astype(bool)]
    pv_kw = float(sgen["p_mw"].sum()) * 1000.0
    load_kw = net.load.groupby("bus")["p_mw"].sum() * 1000.0
    # utility battery at the trunk end
    tie = net.switch[net.switch["name"] == "TIE-1"]
    if len(tie) and pv_kw > 0:
        end_bus = int(tie["bus"].iloc[0])
        sect = net.switch[net.switch["type"].isin(["LBS", "DS"]) & (net.switch["et"] == "l")
                          & net.switch["closed"].astype(bool)]
        import pandapower.topology as pt

        graph = pt.create_nxgraph(net, respect_switches=True)
        section: set = set()
        for k in sect.index:  # the sectionaliser with the smallest downstream part holding the end
            down = _downstream_buses(net, graph, int(k))
            if end_bus in down and (not section or len(down) < len(section)):
                section = down
        p_kw = max(50.0, round(STORAGE_UTILITY_PV_SHARE * pv_kw / 50.0) * 50.0)
        crit = min(STORAGE_CRITICAL_SHARE * float(load_kw.reindex(sorted(section)).fillna(0.0).sum()),
                   STORAGE_CRITICAL_MAX_POWER_SHARE * p_kw)
        rows.append(dict(name=f"{name}-ESS-U1", bus=end_bus, p_kw=p_kw, owner="utility",
                         island=True, critical_kw=round(crit, 1)))
    # customer batteries at the PV-heaviest LV busbars
    if len(sgen):
        pv_bus = sgen.groupby("bus")["p_mw"].sum() * 1000.0
        tr_kva = net.trafo.set_index("lv_bus")["sn_mva"] * 1000.0
        ratio = (pv_bus / tr_kva.reindex(pv_bus.index)).fillna(0.0)
        order = sorted(pv_bus.index, key=lambda b: (-round(float(ratio[b]), 6), int(b)))
        n_cust = max(1, int(math.ceil(STORAGE_CUSTOMER_BUS_SHARE * len(order))))
        for b in sorted(order[:n_cust]):
            share = _uniform(rng, STORAGE_CUSTOMER_PV_SHARE)
            p_kw = max(5.0, round(share * float(pv_bus[b]) / 5.0) * 5.0)
            island = bool(rng.random() < STORAGE_CUSTOMER_ISLAND_PROBABILITY)
            crit = min(STORAGE_CRITICAL_SHARE * float(load_kw.get(b, 0.0)), STORAGE_CRITICAL_MAX_POWER_SHARE * p_kw)
            tname = str(net.bus.at[b, "name"]).removeprefix(f"{name}-").removesuffix("-LV")
            rows.append(dict(name=f"{tname}-ESS-C", bus=int(b), p_kw=p_kw, owner="customer",
                             island=island, critical_kw=round(crit, 1)))
    if not rows:
        return
    soc_min, soc_max = s.storage_soc_min_percent, s.storage_soc_max_percent
    for r in rows:
        p_mw = r["p_kw"] / 1000.0
        e_mwh = round(p_mw * STORAGE_DURATION_H, 6)
        pp.create_storage(
            net, r["bus"], 0.0, e_mwh, q_mvar=0.0, sn_mva=p_mw, soc_percent=s.storage_soc_initial_percent,
            min_e_mwh=round(e_mwh * soc_min / 100.0, 6), name=r["name"], type="LFP",
            max_p_mw=p_mw, min_p_mw=-p_mw, controllable=True,
            eff_charge=s.storage_eff_charge, eff_discharge=s.storage_eff_discharge,
            soc_min_percent=soc_min, soc_max_percent=soc_max, critical_kw=r["critical_kw"],
            reserve_h=STORAGE_RESERVE_H, owner=r["owner"], island_capable=r["island"])
    net.storage["island_capable"] = net.storage["island_capable"].astype(bool)
    net.storage["controllable"] = net.storage["controllable"].astype(bool)


# ----------------------------------------------------------------------------------
# files
# ----------------------------------------------------------------------------------
def write_feeder_files(directory: str | Path) -> list[Path]:
    """(Re)write the committed feeder JSON files and the class-profile file.

    Writes ``<directory>/<name>.json`` for every template in :data:`TEMPLATES`
    (default seeds) with ``pandapower.to_json`` and
    ``<directory>/profiles/xiangtan_2024.csv.gz``. The output is deterministic.

    Parameters
    ----------
    directory : str or pathlib.Path
        Target directory (created if missing), normally ``feeders/``.

    Returns
    -------
    list of pathlib.Path
        Files written, profile file last.
    """
    import pandapower as pp

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    profiles = generate_class_profiles(2024, PROFILE_SEED)
    written = []
    for tname in TEMPLATES:
        net = generate_feeder(tname, profiles=profiles)
        path = directory / f"{tname}.json"
        text = pp.to_json(net)
        path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        written.append(path)
        logger.info("wrote %s (%d buses, %d trafos)", path, len(net.bus), len(net.trafo))
    written.append(write_class_profiles(profiles, directory / PROFILE_FILE))
    logger.info("wrote %s", written[-1])
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m gridint.grid.synthetic feeders/``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status (0 on success).
    """
    parser = argparse.ArgumentParser(prog="python -m gridint.grid.synthetic",
                                     description="Regenerate the synthetic Xiangtan feeders and class profiles.")
    parser.add_argument("directory", type=Path, help="target directory, normally feeders/")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    for p in write_feeder_files(args.directory):
        logger.info("%s", p)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
