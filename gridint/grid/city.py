"""A seeded synthetic city of 10 kV feeders: Xiangtan's five counties / districts.

:func:`city_layout` lays out the city -- which feeder is in which county /
district, under which substation, drawn from which Xiangtan template
(:data:`gridint.grid.synthetic.TEMPLATES`) -- as a small table; it is cheap and
runs on the client. :func:`city_feeder` builds one feeder of that table as a
:class:`gridint.grid.catalog.Feeder` with its profile year; it runs on the
(Dask) workers, so no feeder file is ever shipped. The same ``(n_feeders,
seed)`` always gives the same city, feeder for feeder.

Counties / districts (:data:`DISTRICTS`)
-----------------------------------------
Xiangtan (湘潭) has two urban districts and three counties / county-level cities.
The mixes are assumptions of this study (no public feeder inventory), chosen
from what the places are:

=====================  ==========  =====================  =============================
district               feeders     urban / rural /        substations (feeders each)
                                   industrial [%]
=====================  ==========  =====================  =============================
Yuhu 雨湖区            18 %        65 / 15 / 20           110 kV, 8-16
Yuetang 岳塘区         20 %        55 / 5 / 40            110 kV, 8-16 (Jiuhua and the
                                                          economic development zone)
Xiangtan County 湘潭县  28 %        10 / 80 / 10           35 / 110 kV, 4-10
Xiangxiang 湘乡市       26 %        15 / 70 / 15           35 / 110 kV, 4-10
Shaoshan 韶山市         8 %         20 / 75 / 5            35 kV, 3-8
=====================  ==========  =====================  =============================

"urban" is the Yuetang urban cable template, "rural" the county overhead
template, "industrial" the Jiuhua industrial-park template. Feeder shares follow
the population and area (the two counties are the largest; Shaoshan is small).

The cheap path: archetypes plus seeded variations
-------------------------------------------------
:func:`gridint.grid.synthetic.generate_feeder` sets each feeder's operating point
with pandapower power flows in a tuning loop (about 0.7-2.5 s per feeder here,
half of it creating the pandapower net) and its profile year needs the pvlib
fleet model (about 0.6 s). For a city that would cost more than the studies
themselves, so the city uses, per template, ``city_archetypes_per_template``
fully generated and tuned feeders (*archetypes*, seeds derived from the city
seed) and derives every city feeder from one of them by a seeded variation that
keeps the archetype's topology, conductors and taps:

* the load of each distribution transformer (台区) scaled by its own factor from
  ``city_load_scale_range`` (customers and average demand in proportion);
* the existing rooftop PV of each transformer scaled by the same factor times a
  feeder-wide factor from ``city_pv_scale_range`` (DC and AC rating alike, so the
  fleet model's output scales exactly; PV systems in proportion);
* fault rates and repair times of lines and transformers redrawn from the
  template's ranges, and which sectionalising / tie switches are automated
  redrawn with the template's automated share (reliability differs feeder by
  feeder);
* bus, zone and supply names carry the city feeder's name.

Only downward scaling is used: at peak (PV off) every load is lower than in the
tuned archetype and at light load the PV export is lower, so the archetype's
bounding cases (see :mod:`gridint.grid.synthetic`) hold up to second-order
effects; any pre-existing violation is reported by the studies like on any real
feeder. Each worker process generates an archetype once (cached), and a city
feeder costs a deep copy and a few array operations.

The profile year of a city feeder is exactly what
:attr:`gridint.grid.catalog.Feeder.profiles` computes for it (loads from the class
shapes of ``feeders/profiles/xiangtan_2024.csv.gz``, PV from the fleet model on
the default weather year): loads are rebuilt from the shapes, PV is the
archetype's fleet output scaled per system (the fleet model is linear in the
system size at a fixed DC/AC ratio and orientation, and the orientation of a
system is seeded by its sgen index, which the variation keeps). A test checks
this against the full computation.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from gridint.config import get_settings
from gridint.errors import FeederError

__all__ = ["Archetype", "District", "DISTRICTS", "KIND_TEMPLATE", "build_archetype", "city_layout", "city_feeder",
           "archetype_seed",
           "roof_potential_kw", "shapes_path"]

logger = logging.getLogger(__name__)

#: Template of each feeder kind.
KIND_TEMPLATE = {"urban": "xt-yuetang-urban", "rural": "xt-county-rural",
                 "industrial": "xt-jingkai-industrial"}


@dataclass(frozen=True)
class District:
    """One county / district of the city.

    Attributes
    ----------
    name, code : str
        Name and the short code that prefixes its feeders' names.
    kind : str
        ``urban district``, ``county`` or ``county-level city``.
    feeder_share : float
        Share of the city's feeders [-].
    mix : tuple of (str, float)
        Feeder kind (``urban``, ``rural``, ``industrial``) and its share [-].
    feeders_per_substation : tuple of int
        Feeders per substation, inclusive range.
    substation_kv : int
        Primary voltage of its substations [kV].
    lat, lon : float
        Approximate centre [deg N, deg E].
    """

    name: str
    code: str
    kind: str
    feeder_share: float
    mix: tuple[tuple[str, float], ...]
    feeders_per_substation: tuple[int, int]
    substation_kv: int
    lat: float
    lon: float


DISTRICTS: tuple[District, ...] = (
    District("Yuhu", "YH", "urban district", 0.18, (("urban", 0.65), ("rural", 0.15), ("industrial", 0.20)),
             (8, 16), 110, 27.86, 112.90),
    District("Yuetang", "YT", "urban district", 0.20, (("urban", 0.55), ("rural", 0.05), ("industrial", 0.40)),
             (8, 16), 110, 27.87, 112.96),
    District("Xiangtan County", "XT", "county", 0.28, (("urban", 0.10), ("rural", 0.80), ("industrial", 0.10)),
             (4, 10), 35, 27.78, 112.95),
    District("Xiangxiang", "XX", "county-level city", 0.26,
             (("urban", 0.15), ("rural", 0.70), ("industrial", 0.15)), (4, 10), 35, 27.73, 112.53),
    District("Shaoshan", "SS", "county-level city", 0.08, (("urban", 0.20), ("rural", 0.75), ("industrial", 0.05)),
             (3, 8), 35, 27.92, 112.53),
)

#: Columns of :func:`city_layout`.
LAYOUT_COLUMNS = ("feeder", "county", "county_kind", "substation", "substation_kv", "substation_lat",
                  "substation_lon", "kind", "template", "archetype", "archetype_seed", "variant_seed")


def _largest_remainder(total: int, shares) -> np.ndarray:
    """Integer counts summing to ``total`` in proportion to ``shares``."""
    w = np.asarray(shares, dtype=float)
    exact = total * w / w.sum()
    n = np.floor(exact).astype(int)
    left = total - int(n.sum())
    order = np.argsort(-(exact - n), kind="stable")
    n[order[:left]] += 1
    return n


def archetype_seed(city_seed: int, template: str, k: int) -> int:
    """Seed of archetype ``k`` of a template in the city of ``city_seed`` (derived, stable)."""
    from gridint.grid.synthetic import TEMPLATES

    t_idx = list(TEMPLATES).index(template)
    return int(np.random.SeedSequence([int(city_seed), 7919, t_idx, int(k)]).generate_state(1)[0])


def city_layout(n_feeders: int, seed: int, *, archetypes_per_template: int | None = None) -> pd.DataFrame:
    """The city's feeders: county, substation, template, archetype and variation seed.

    Parameters
    ----------
    n_feeders : int
        Number of feeders (>= number of districts).
    seed : int
        City seed; the same ``(n_feeders, seed)`` gives the same table.
    archetypes_per_template : int, optional
        Default Settings ``city_archetypes_per_template``.

    Returns
    -------
    DataFrame
        One row per feeder, columns :data:`LAYOUT_COLUMNS`: ``feeder`` (e.g.
        ``XT-S03-F05``), ``county``, ``county_kind``, ``substation`` (e.g. ``XT-S03``),
        ``substation_kv``, ``substation_lat`` / ``_lon`` [deg], ``kind``
        (urban / rural / industrial), ``template``, ``archetype`` (0..k-1),
        ``archetype_seed``, ``variant_seed``.

    Raises
    ------
    FeederError
        ``n_feeders`` below the number of districts or ``archetypes_per_template`` < 1.
    """
    s = get_settings()
    k_arch = int(s.city_archetypes_per_template if archetypes_per_template is None else archetypes_per_template)
    n_feeders = int(n_feeders)
    if n_feeders < len(DISTRICTS):
        raise FeederError(f"n_feeders must be at least {len(DISTRICTS)} (one per district), got {n_feeders}")
    if k_arch < 1:
        raise FeederError(f"archetypes_per_template must be >= 1, got {k_arch}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 104729]))
    counts = 1 + _largest_remainder(n_feeders - len(DISTRICTS), [d.feeder_share for d in DISTRICTS])
    rows = []
    for d, n_d in zip(DISTRICTS, counts):
        kinds = [k for k, _ in d.mix]
        per_kind = _largest_remainder(int(n_d), [w for _, w in d.mix])
        order = np.repeat(np.arange(len(kinds)), per_kind)
        rng.shuffle(order)
        pos, sub = 0, 0
        while pos < len(order):
            sub += 1
            size = int(rng.integers(d.feeders_per_substation[0], d.feeders_per_substation[1] + 1))
            r_km, ang = 3.0 + 12.0 * float(rng.random()), 2.0 * math.pi * float(rng.random())
            lat = d.lat + r_km * math.cos(ang) / 110.574
            lon = d.lon + r_km * math.sin(ang) / (111.320 * math.cos(math.radians(d.lat)))
            for f in range(min(size, len(order) - pos)):
                kind = kinds[int(order[pos])]
                template = KIND_TEMPLATE[kind]
                arch = int(rng.integers(k_arch))
                rows.append((f"{d.code}-S{sub:02d}-F{f + 1:02d}", d.name, d.kind, f"{d.code}-S{sub:02d}",
                             d.substation_kv, round(lat, 5), round(lon, 5), kind, template, arch,
                             archetype_seed(seed, template, arch),
                             int(rng.integers(2 ** 62))))
                pos += 1
    return pd.DataFrame(rows, columns=list(LAYOUT_COLUMNS))


# ----------------------------------------------------------------------------------
# building one feeder (on a worker)
# ----------------------------------------------------------------------------------
def shapes_path() -> Path:
    """The class-shape file of the Xiangtan feeders (``<feeders_dir>/profiles/xiangtan_2024.csv.gz``)."""
    from gridint.grid.synthetic import PROFILE_FILE

    return Path(get_settings().feeders_dir) / PROFILE_FILE


@lru_cache(maxsize=4)
def _shapes(path: str) -> pd.DataFrame:
    from gridint.grid.profiles import read_shapes

    return read_shapes(Path(path))


@dataclass
class Archetype:
    """A generated, tuned feeder that city feeders are varied from.

    Attributes
    ----------
    template : str
    seed : int
    net : pandapowerNet
        As :func:`gridint.grid.synthetic.generate_feeder` returns it (name ``A<seed>``).
    time_index : DatetimeIndex
        Steps of the profile year.
    sgen_p_mw : ndarray (steps, n_sgen)
        Fleet-model AC output of the archetype's PV sgens [MW] (pvlib, default weather year).
    generate_s : float
        Time it took to build [s].
    """

    template: str
    seed: int
    net: object
    time_index: pd.DatetimeIndex
    sgen_p_mw: np.ndarray
    generate_s: float


def build_archetype(template: str, seed: int, profiles_path: str | Path | None = None) -> Archetype:
    """Generate (once per process, cached) the archetype of a template and seed.

    Parameters
    ----------
    template : str
        Name in :data:`gridint.grid.synthetic.TEMPLATES`.
    seed : int
        Generator seed (:func:`archetype_seed`).
    profiles_path : path, optional
        Class-shape file; default :func:`shapes_path`.

    Returns
    -------
    Archetype

    Raises
    ------
    FeederError
        Unknown template or a failing generation.
    """
    from gridint.grid.synthetic import TEMPLATES

    if template not in TEMPLATES:
        raise FeederError(f"unknown feeder template {template!r}; known: {sorted(TEMPLATES)}")
    return _archetype(str(template), int(seed), str(profiles_path or shapes_path()))


@lru_cache(maxsize=64)
def _archetype(template: str, seed: int, path: str) -> Archetype:
    import time

    from gridint.grid.catalog import Feeder
    from gridint.grid.synthetic import generate_feeder

    t0 = time.perf_counter()
    shapes = _shapes(path)
    name = f"A{seed}"
    net = generate_feeder(template, seed=seed, name=name, profiles=shapes)
    prof = Feeder(name, net, voltage_kv=10.0, profiles_ref=path).profiles
    sg = prof.values.get("sgen_p_mw")
    sgen_p = sg[list(net.sgen.index)].to_numpy(dtype=float) if sg is not None and len(net.sgen) \
        else np.zeros((len(prof.time_index), 0))
    logger.debug("archetype %s seed %d: %.2f s", template, seed, time.perf_counter() - t0)
    return Archetype(template, seed, net, prof.time_index, sgen_p, time.perf_counter() - t0)


def _rename(net, old: str, new: str) -> None:
    def fix(series: pd.Series) -> pd.Series:
        return series.astype(str).map(lambda x: new + x[len(old):] if x.startswith(old) else x)

    net.bus["name"] = fix(net.bus["name"])
    if "zone" in net.bus:
        net.bus["zone"] = fix(net.bus["zone"])
    net.ext_grid["name"] = net.ext_grid["name"].astype(str).str.replace(f" of {old}", f" of {new}", regex=False)
    net.name = new


def _vary(net, template: str, rng: np.random.Generator) -> dict:
    """Seeded variation of a copied archetype (module docstring); returns the PV ratios."""
    from gridint.grid.synthetic import TEMPLATES

    s = get_settings()
    t = TEMPLATES[template]
    # load and PV per distribution transformer
    f_tr = rng.uniform(*s.city_load_scale_range, len(net.trafo))
    g_pv = float(rng.uniform(*s.city_pv_scale_range))
    tr_of_lv = {int(b): i for i, b in enumerate(net.trafo["lv_bus"].to_numpy())}
    if len(net.load):
        f = np.array([f_tr[tr_of_lv[int(b)]] if int(b) in tr_of_lv else 1.0 for b in net.load["bus"]])
        p_old = net.load["p_mw"].to_numpy(dtype=float)
        p_new = np.round(p_old * f, 6)
        ratio = np.divide(p_new, p_old, out=np.ones_like(p_new), where=p_old > 0)
        net.load["p_mw"] = p_new
        net.load["q_mvar"] = np.round(net.load["q_mvar"].to_numpy(dtype=float) * ratio, 6)
        if "p_avg_mw" in net.load:
            net.load["p_avg_mw"] = np.round(net.load["p_avg_mw"].to_numpy(dtype=float) * ratio, 6)
        net.load["customers"] = np.maximum(1, np.round(net.load["customers"].to_numpy() * ratio)).astype("int64")
    pv_ratio = np.ones(len(net.sgen))
    if len(net.sgen):
        pv_ratio = np.array([f_tr[tr_of_lv[int(b)]] if int(b) in tr_of_lv else 1.0 for b in net.sgen["bus"]]) * g_pv
        # DC and AC rating scale alike, unrounded: the fleet output scales exactly
        net.sgen["p_mw"] = net.sgen["p_mw"].to_numpy(dtype=float) * pv_ratio
        net.sgen["sn_mva"] = net.sgen["p_mw"]
        net.sgen["kwp"] = net.sgen["kwp"].to_numpy(dtype=float) * pv_ratio
        net.sgen["systems"] = np.maximum(1, np.round(net.sgen["systems"].to_numpy() * pv_ratio)).astype("int64")
    # reliability data
    feeder_lines = net.line["section"].astype(str).to_numpy() != "tie"
    n_l = int(feeder_lines.sum())
    fr = net.line["fault_rate_per_km_year"].to_numpy(dtype=float).copy()
    rep = net.line["repair_h"].to_numpy(dtype=float).copy()
    fr[feeder_lines] = np.round(rng.uniform(*t.line_fault_rate_per_km_year, n_l), 3)
    rep[feeder_lines] = np.round(rng.uniform(*t.line_repair_h, n_l), 1)
    net.line["fault_rate_per_km_year"], net.line["repair_h"] = fr, rep
    net.trafo["fault_rate_per_year"] = np.round(rng.uniform(*t.trafo_fault_rate_per_year, len(net.trafo)), 4)
    net.trafo["repair_h"] = np.round(rng.uniform(*t.trafo_repair_h, len(net.trafo)), 1)
    sw = net.switch
    names = sw["name"].astype(str)
    sect = (sw["type"].isin(["LBS", "DS"]) & ~names.str.startswith("TIE")).to_numpy()
    tie = (~sw["closed"].astype(bool)).to_numpy()
    for idx in sw.index[sect | tie]:
        auto = bool(rng.random() < t.automated_share)
        rng_t = t.switch_time_auto_h if auto else t.switch_time_manual_h
        sw.at[idx, "automated"] = auto
        sw.at[idx, "switch_time_h"] = round(float(rng.uniform(*rng_t)), 2)
        if not str(sw.at[idx, "name"]).startswith("TIE"):
            kind = "LBS" if auto else "DS"
            sw.at[idx, "type"] = kind
            sw.at[idx, "name"] = kind + str(sw.at[idx, "name"])[len(str(sw.at[idx, "name"]).split("-")[0]):]
    return {"pv_ratio": pv_ratio, "pv_scale": g_pv}


def city_feeder(spec, *, profiles_path: str | Path | None = None, archetype: Archetype | None = None):
    """Build one city feeder (a row of :func:`city_layout`) with its profile year.

    Parameters
    ----------
    spec : Mapping or pandas.Series
        A row of :func:`city_layout` (``feeder``, ``template``, ``archetype_seed``,
        ``variant_seed``, ``substation``, ``county``).
    profiles_path : path, optional
        Class-shape file; default :func:`shapes_path`.
    archetype : Archetype, optional
        The spec's archetype when the caller has it (e.g. a Dask task's result);
        default :func:`build_archetype` (cached in this process).

    Returns
    -------
    gridint.grid.catalog.Feeder
        ``profiles_ref`` is the class-shape file and ``profiles`` is already set
        (the same values :attr:`Feeder.profiles` would compute, see the module
        docstring); ``net["gridint"]`` records the archetype and the variation.

    Raises
    ------
    FeederError
        Unknown template or a failing archetype.
    """
    from gridint.grid.catalog import Feeder
    from gridint.grid.profiles import ElementProfiles, profiles_from_classes
    from gridint.grid.synthetic import TEMPLATES

    template = str(spec["template"])
    if template not in TEMPLATES:
        raise FeederError(f"{spec['feeder']}: unknown feeder template {template!r}; known: {sorted(TEMPLATES)}")
    path = str(profiles_path or shapes_path())
    if archetype is None:
        archetype = build_archetype(template, int(spec["archetype_seed"]), path)
    elif (archetype.template, archetype.seed) != (template, int(spec["archetype_seed"])):
        raise FeederError(f"{spec['feeder']}: archetype {archetype.template} seed {archetype.seed} does not "
                          f"match the spec ({template} seed {int(spec['archetype_seed'])})")
    arch = archetype
    net = copy.deepcopy(arch.net)
    name = str(spec["feeder"])
    rng = np.random.default_rng(int(spec["variant_seed"]))
    var = _vary(net, template, rng)
    _rename(net, arch.net.name, name)
    net["gridint"] = {**arch.net["gridint"], "city": {
        "archetype": arch.net.name, "archetype_seed": int(spec["archetype_seed"]),
        "variant_seed": int(spec["variant_seed"]), "county": str(spec.get("county", "")),
        "pv_scale": var["pv_scale"]}}
    shapes = _shapes(path)
    prof = profiles_from_classes(net, shapes, source=path)
    values = {k: v for k, v in prof.values.items() if k.startswith("load_")}
    if len(net.sgen):
        values["sgen_p_mw"] = pd.DataFrame(arch.sgen_p_mw * var["pv_ratio"][None, :], index=shapes.index,
                                           columns=net.sgen.index)
        values["sgen_q_mvar"] = pd.DataFrame(0.0, index=shapes.index, columns=net.sgen.index)
    profiles = ElementProfiles(prof.time_index, values,
                               f"{path} + PV fleet model (gridint.solar.fleet), city variation")
    feeder = Feeder(name=name, net=net, description=f"synthetic city feeder from {template} "
                    f"(archetype seed {int(spec['archetype_seed'])})", source="gridint.grid.city",
                    substation=str(spec.get("substation", "")), voltage_kv=10.0, profiles_ref=path)
    feeder.__dict__["profiles"] = profiles  # pre-set the cached property
    return feeder


def roof_potential_kw(net, kind: str) -> dict:
    """Rooftop-PV potential of a feeder's customers for the city scenario [kW AC].

    Residential roofs by customers (Settings ``city_roof_kw_per_customer_urban`` on an
    urban or industrial feeder, ``..._rural`` on a rural one: apartment blocks vs.
    self-built houses); public buildings / shops (``commercial`` loads) and factories
    (``industrial`` loads) by their peak load (``city_roof_kw_per_kw_commercial`` /
    ``..._industrial``) times ``city_ci_roof_share`` (the plan's 50 % of new public
    buildings and factories). Existing PV occupies roofs and is subtracted.

    Parameters
    ----------
    net : pandapowerNet
    kind : {'urban', 'rural', 'industrial'}

    Returns
    -------
    dict
        ``residential_kw``, ``ci_kw``, ``existing_pv_kw``, ``potential_kw`` (new PV).
    """
    s = get_settings()
    load = net.load[net.load["in_service"].astype(bool)]
    cat = load["category"].astype(str)
    per_cust = s.city_roof_kw_per_customer_rural if kind == "rural" else s.city_roof_kw_per_customer_urban
    res_kw = float(load.loc[cat == "residential", "customers"].sum()) * per_cust
    p_kw = load["p_mw"].astype(float) * 1000.0
    ci_kw = s.city_ci_roof_share * float(
        p_kw[cat == "commercial"].sum() * s.city_roof_kw_per_kw_commercial
        + p_kw[cat == "industrial"].sum() * s.city_roof_kw_per_kw_industrial)
    sg = net.sgen[net.sgen["in_service"].astype(bool)] if len(net.sgen) else net.sgen
    pv_kw = float(sg["p_mw"].astype(float).sum() * 1000.0) if len(sg) else 0.0
    return {"residential_kw": res_kw, "ci_kw": ci_kw, "existing_pv_kw": pv_kw,
            "potential_kw": max(res_kw + ci_kw - pv_kw, 0.0)}
