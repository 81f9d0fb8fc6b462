"""Synthetic Xiangtan feeders, Chinese equipment types and class profiles.

References used here are independent of the generator: pandapower's own power flow
(GB/T 12325 band, thermal ratings), published conductor data (GB/T 1179), the
clock-number convention of Dyn11 checked on a one-transformer pandapower net, and
calendar facts (weekends, Spring Festival 2024, summer evening peak).
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pandapower as pp
import pytest

from gridint.config import get_settings, project_root
from gridint.errors import FeederError, ProfileError
from gridint.grid import equipment as eq
from gridint.grid.loadshapes import (
    LOAD_CLASSES,
    MIN_LOAD_FRACTION,
    PROFILE_COLUMNS,
    read_class_profiles,
    write_class_profiles,
)
from gridint.grid.synthetic import PROFILE_FILE, TEMPLATES, generate_feeder, write_feeder_files

FEEDERS = project_root() / "feeders"
NAMES = list(TEMPLATES)
XIANGTAN = (27.83, 112.94)


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance [km]."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def _lonlat(geo: str) -> tuple[float, float]:
    return tuple(json.loads(geo)["coordinates"])


@pytest.fixture(scope="module")
def committed() -> dict:
    return {n: pp.from_json(str(FEEDERS / f"{n}.json")) for n in NAMES}


@pytest.fixture(scope="module")
def profiles() -> pd.DataFrame:
    return read_class_profiles(FEEDERS / PROFILE_FILE)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("feeders")
    write_feeder_files(out)
    return out


def _own_lines(net) -> pd.DataFrame:
    return net.line[net.line["section"] != "tie"]


# --------------------------------------------------------------------------------------
# 1. reproducibility
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_regeneration_reproduces_committed_feeder(regenerated, name):
    new = (regenerated / f"{name}.json").read_bytes()
    old = (FEEDERS / f"{name}.json").read_bytes()
    old_version = json.loads(old)["_object"]["version"]
    if old_version == pp.__version__:
        assert new == old, f"{name}.json differs from its regeneration; run python -m gridint.grid.synthetic feeders/"
    else:  # another pandapower writes other bytes: compare the model itself
        a, b = pp.from_json(str(regenerated / f"{name}.json")), pp.from_json(str(FEEDERS / f"{name}.json"))
        assert pp.toolbox.nets_equal(a, b, check_only_results=False), name
        for table in ("bus", "line", "trafo", "load", "sgen", "switch", "ext_grid"):
            pd.testing.assert_frame_equal(a[table], b[table], check_dtype=False)


def test_regeneration_reproduces_profile_file(regenerated):
    new = (regenerated / PROFILE_FILE).read_bytes()
    old = (FEEDERS / PROFILE_FILE).read_bytes()
    assert gzip.decompress(new) == gzip.decompress(old)
    assert new == old


def test_generate_feeder_is_seeded():
    a = generate_feeder("xt-jingkai-industrial", seed=7)
    b = generate_feeder(TEMPLATES["xt-jingkai-industrial"], seed=7)
    c = generate_feeder("xt-jingkai-industrial", seed=8, name="jk-08")
    assert pp.toolbox.nets_equal(a, b, check_only_results=False)
    assert not (len(a.bus) == len(c.bus) and np.allclose(a.line.length_km.sum(), c.line.length_km.sum()))
    assert c.name == "jk-08" and c.bus["name"].str.startswith("jk-08-").all()


def test_unknown_template_is_a_feeder_error():
    with pytest.raises(FeederError, match="unknown feeder template"):
        generate_feeder("xt-nowhere")


# --------------------------------------------------------------------------------------
# 2. structure and ranges
# --------------------------------------------------------------------------------------
def _check_structure(net, template) -> None:
    t = template
    name = net.name
    own = _own_lines(net)
    # lengths, transformer counts and sizes
    assert t.total_length_km[0] - 1e-6 <= own["length_km"].sum() <= t.total_length_km[1] + 1e-6
    assert t.n_trafos[0] <= len(net.trafo) <= t.n_trafos[1]
    assert set((net.trafo["sn_mva"] * 1000).round().astype(int)) <= set(t.trafo_kva)
    assert net.trafo["std_type"].map(eq.trafo_family).eq(t.trafo_family).all()
    # conductor families and pandapower line type
    cable = t.kind in ("urban", "industrial")
    family = net.line["std_type"].map(eq.line_family)
    assert (family == ("YJV22" if cable else "LGJ")).all()
    assert (net.line["type"] == ("cs" if cable else "ol")).all()
    assert set(own["std_type"]) <= set(t.trunk_types) | set(t.lateral_types)
    # every distribution transformer (rated 0.4 kV) feeds its own 380 V busbar with loads
    lv = net.bus.loc[net.trafo["lv_bus"]]
    assert (lv["vn_kv"] == 0.38).all() and (net.trafo["vn_lv_kv"] == 0.4).all()
    assert list(lv["name"]) == [f"{name}-{tn}-LV" for tn in net.trafo["name"]]
    assert net.trafo["lv_bus"].isin(net.load["bus"]).all()
    assert net.load["bus"].isin(net.trafo["lv_bus"]).all() and net.sgen["bus"].isin(net.trafo["lv_bus"]).all()
    assert (net.bus.loc[net.trafo["hv_bus"], "vn_kv"] == 10.0).all()
    # unique names per table
    for table in ("bus", "line", "trafo", "load", "sgen", "switch", "ext_grid"):
        assert net[table]["name"].is_unique, table
    # head CB at the substation end of the first section, closed
    sub_bus = int(net.ext_grid.loc[net.ext_grid["role"] == "substation", "bus"].iloc[0])
    cb = net.switch[net.switch["type"] == "CB"]
    assert len(cb) == 1 and cb["closed"].all() and (cb["et"] == "l").all()
    assert int(cb["bus"].iloc[0]) == sub_bus
    assert net.line.at[int(cb["element"].iloc[0]), "from_bus"] == sub_bus
    # at least one normally-open tie to a neighbouring supply (nothing islanded with it open)
    ties = net.switch[~net.switch["closed"]]
    assert len(ties) >= 1 and (ties["et"] == "b").all()
    nbr_buses = set(net.ext_grid.loc[net.ext_grid["role"] == "neighbour", "bus"])
    for _, sw in ties.iterrows():
        tie_bus = int(sw["element"])
        assert net.bus.at[tie_bus, "name"].startswith(f"{name}-TIE")
        tie_lines = net.line[(net.line["to_bus"] == tie_bus) | (net.line["from_bus"] == tie_bus)]
        assert len(tie_lines) == 1
        other = set(tie_lines[["from_bus", "to_bus"]].to_numpy().ravel()) - {tie_bus}
        assert other <= nbr_buses
    # switchgear and reliability columns of DESIGN.md
    assert set(net.switch["type"]) <= {"CB", "LBS", "DS", "fuse"}
    assert {"LBS", "DS"} & set(net.switch["type"])
    assert "fuse" in set(net.switch["type"])
    assert net.switch["switch_time_h"].between(0.05, 1.5).all()
    assert net.switch.loc[net.switch["automated"], "switch_time_h"].between(0.05, 0.1).all()
    assert own["fault_rate_per_km_year"].between(*t.line_fault_rate_per_km_year).all()
    assert own["repair_h"].between(*t.line_repair_h).all()
    assert net.trafo["fault_rate_per_year"].between(0.01, 0.02).all()
    assert net.trafo["repair_h"].between(8.0, 24.0).all()
    # loads and PV
    assert net.load["customers"].dtype.kind == "i" and (net.load["customers"] >= 1).all()
    assert set(net.load["category"]) <= set(LOAD_CLASSES)
    assert (net.load["profile"] == net.load["category"]).all()
    assert (net.load["p_mw"] > 0).all() and (net.load["q_mvar"] > 0).all()
    if len(net.sgen):
        assert (net.sgen["type"] == "PV").all() and (net.sgen["profile"] == "pv").all()
        assert np.allclose(net.sgen["kwp"], net.sgen["p_mw"] * 1100.0, atol=0.01)
        assert net.sgen["systems"].dtype.kind == "i" and (net.sgen["systems"] >= 1).all()
        assert set(net.sgen["category"]) <= {"residential_natural_person", "residential_non_natural_person",
                                             "general_ci", "large_ci"}
    # geography: a GeoJSON point on every bus, lines not shorter than the straight distance
    pts = net.bus["geo"].map(_lonlat)
    for _, ln in own.iterrows():
        (x1, y1), (x2, y2) = pts[ln["from_bus"]], pts[ln["to_bus"]]
        assert _km(y1, x1, y2, x2) <= ln["length_km"] + 0.01


@pytest.mark.parametrize("name", NAMES)
def test_committed_feeder_structure(committed, name):
    _check_structure(committed[name], TEMPLATES[name])


@pytest.mark.parametrize("name", NAMES)
def test_other_seeds_keep_the_ranges(name):
    for seed in (11, 12):
        net = generate_feeder(name, seed=seed)
        assert net["gridint"]["tuned"]
        _check_structure(net, TEMPLATES[name])


def test_feeder_kinds(committed):
    urban, rural, ind = (committed[n] for n in NAMES)
    assert set(urban.trafo["sn_mva"]) <= {0.4, 0.63, 0.8}
    assert set(rural.trafo["sn_mva"]) <= {0.05, 0.1, 0.2}
    assert set(ind.trafo["sn_mva"]) <= {1.25, 1.6, 2.0}
    assert set(urban.load["category"]) == {"residential", "commercial"}
    assert set(rural.load["category"]) == {"residential", "agricultural"}
    assert "industrial" in set(ind.load["category"])
    # rural: weak overhead feeder, boosting taps at the far end, household PV of 10-30 kWp
    # (on the 380 V base most taps buck; far-end 台区 keep a higher ratio than the rest)
    assert rural.trafo["tap_pos"].nunique() > 1
    r = rural.line["r_ohm_per_km"] / rural.line["x_ohm_per_km"]
    assert r.max() > 1.5  # LGJ-50 laterals: R/X ~ 1.6
    assert rural.sgen["kwp"].sum() > 500
    homes = rural.sgen[rural.sgen["load_class"] == "residential"]
    assert (homes["kwp"] / homes["systems"]).between(8.0, 32.0).all()  # 10-30 kWp per home
    # industrial: factory roofs of hundreds of kWp
    assert ind.sgen.loc[ind.sgen["load_class"] == "industrial", "kwp"].max() > 200
    # locations: urban in the city, rural 20-40 km away, industrial north-west in Jiuhua
    sub = {n: _lonlat(committed[n].bus.at[0, "geo"]) for n in NAMES}
    assert _km(*XIANGTAN, sub[NAMES[0]][1], sub[NAMES[0]][0]) < 8
    assert 20 <= _km(*XIANGTAN, sub[NAMES[1]][1], sub[NAMES[1]][0]) <= 40
    assert 8 <= _km(*XIANGTAN, sub[NAMES[2]][1], sub[NAMES[2]][0]) <= 15


# --------------------------------------------------------------------------------------
# 3. power flow: GB/T 12325 band and thermal ratings (pandapower as the reference)
# --------------------------------------------------------------------------------------
def _assert_within_limits(net, label: str, vm_min: float | None = None) -> None:
    s = get_settings()
    vm = net.res_bus.loc[net.bus["in_service"], "vm_pu"]
    assert vm.notna().all(), f"{label}: unsupplied bus"
    if vm_min is not None:
        assert vm.min() >= vm_min, f"{label}: min voltage {vm.min():.4f} pu"
    assert vm.max() <= s.vm_max_pu, f"{label}: max voltage {vm.max():.4f} pu"
    assert net.res_line["loading_percent"].max() <= s.line_loading_max_percent, label
    assert net.res_trafo["loading_percent"].max() <= s.trafo_loading_max_percent, label


@pytest.mark.parametrize("name", NAMES)
def test_peak_load_without_pv_within_limits(committed, name):
    net = pp.from_json(pp.to_json(committed[name]))
    net.sgen["in_service"] = False
    pp.runpp(net)
    _assert_within_limits(net, f"{name} peak", vm_min=get_settings().vm_min_pu)


@pytest.mark.parametrize("name", NAMES)
def test_minimum_load_with_full_pv_within_limits(committed, profiles, name):
    net = pp.from_json(pp.to_json(committed[name]))
    lowest = net.load["profile"].map(profiles.min())
    assert (lowest >= net.load["profile"].map(MIN_LOAD_FRACTION) - 1e-9).all()
    net.load["p_mw"] *= lowest
    net.load["q_mvar"] *= lowest
    pp.runpp(net)
    assert net.res_sgen["p_mw"].sum() == pytest.approx(committed[name].sgen["p_mw"].sum())
    _assert_within_limits(net, f"{name} light load + PV", vm_min=get_settings().vm_min_pu)


@pytest.mark.parametrize("name", NAMES)
def test_full_snapshot_converges(committed, name):
    net = pp.from_json(pp.to_json(committed[name]))
    pp.runpp(net)  # default settings, loads at peak and PV at rating
    assert net.converged
    _assert_within_limits(net, f"{name} snapshot", vm_min=get_settings().vm_min_pu)


# --------------------------------------------------------------------------------------
# equipment data
# --------------------------------------------------------------------------------------
def test_overhead_conductors_match_gbt1179():
    r20 = {"LGJ-50/8": 0.5946, "LGJ-70/10": 0.4217, "LGJ-95/15": 0.3058, "LGJ-120/20": 0.2496,
           "LGJ-150/25": 0.1939, "LGJ-185/25": 0.1542, "LGJ-240/30": 0.1181}
    assert list(eq.OVERHEAD_LINE_TYPES) == list(r20)
    for name, r in r20.items():
        d = eq.OVERHEAD_LINE_TYPES[name]
        assert d["r_ohm_per_km"] == r and d["type"] == "ol"
        assert 0.31 <= d["x_ohm_per_km"] <= 0.40
        assert 9.0 <= d["c_nf_per_km"] <= 11.5
        assert d["max_i_ka"] < d["max_i_ka_25c"]
    amps = [eq.OVERHEAD_LINE_TYPES[n]["max_i_ka"] for n in r20]
    assert amps == sorted(amps)


def test_cables_plausible():
    for name, d in eq.CABLE_TYPES.items():
        assert d["type"] == "cs"
        assert 0.08 <= d["x_ohm_per_km"] <= 0.115, name
        assert 230 <= d["c_nf_per_km"] <= 420, name
    assert eq.CABLE_TYPES["YJV22-8.7/15-3x240"]["r_ohm_per_km"] == 0.0754  # GB/T 3956 class 2 Cu


def test_transformer_impedance_and_dyn11_convention():
    assert eq.TRAFO_TYPES["S13-M-400/10"]["vk_percent"] == 4.0
    assert eq.TRAFO_TYPES["S13-M-630/10"]["vk_percent"] == 4.5
    assert eq.TRAFO_TYPES["S13-M-1600/10"]["vk_percent"] == 4.5
    # vkr from the load loss: 400 kVA, 4.52 kW -> 1.13 %
    assert eq.TRAFO_TYPES["S13-M-400/10"]["vkr_percent"] == pytest.approx(1.13)
    net = pp.create_empty_network(add_stdtypes=False)
    eq.register_std_types(net)
    hv, lv = pp.create_bus(net, 10.0), pp.create_bus(net, 0.4)
    pp.create_ext_grid(net, hv, vm_pu=1.0)
    t = pp.create_transformer(net, hv, lv, "S13-M-400/10", tap_pos=0)
    pp.runpp(net, calculate_voltage_angles=True)
    # Dyn11: LV leads HV by 30 degrees (clock 11)
    assert net.res_bus.at[lv, "va_degree"] == pytest.approx(30.0, abs=0.1)
    v0 = net.res_bus.at[lv, "vm_pu"]
    net.trafo.at[t, "tap_pos"] = -1
    pp.runpp(net)
    assert net.res_bus.at[lv, "vm_pu"] / v0 == pytest.approx(1 / 0.975, rel=1e-3)  # -1 boosts LV by 2.5 %


# --------------------------------------------------------------------------------------
# 4. profiles
# --------------------------------------------------------------------------------------
def test_profile_shape_and_ranges(profiles):
    assert len(profiles) == 35_136
    assert list(profiles.columns) == list(PROFILE_COLUMNS)
    assert str(profiles.index.tz) == "Asia/Shanghai"
    assert profiles.index[0] == pd.Timestamp("2024-01-01 00:00", tz="Asia/Shanghai")
    assert (np.diff(profiles.index.asi8) == 15 * 60 * 10**9).all()
    for c in LOAD_CLASSES:
        assert profiles[c].max() == 1.0
        assert profiles[c].min() >= MIN_LOAD_FRACTION[c]
    assert profiles["pv"].between(0.0, 1.0).all()


def test_pv_night_and_yield(profiles):
    pv = profiles["pv"]
    hour = profiles.index.hour
    # sunrise at Xiangtan is after 05:30 and sunset before 19:45 all year (local time)
    assert (pv[(hour >= 20) | (hour < 5)] == 0.0).all()
    yield_kwh_per_kwac = pv.sum() * 0.25
    assert 950.0 <= yield_kwh_per_kwac <= 1150.0
    summer_noon = pv[(profiles.index.month == 7) & (hour == 12)].mean()
    winter_noon = pv[(profiles.index.month == 1) & (hour == 12)].mean()
    assert summer_noon > winter_noon


def test_load_shapes_follow_the_calendar(profiles):
    idx = profiles.index
    res = profiles["residential"]
    summer = res[(idx.month >= 7) & (idx.month <= 8)]
    peak_hour = summer.groupby(summer.index.date).idxmax().map(lambda t: t.hour + t.minute / 60)
    assert 20.0 <= peak_hour.median() <= 22.0
    assert res[idx.month.isin([7, 8])].max() > res[idx.month.isin([12, 1])].max() > res[idx.month == 4].max()
    ind = profiles["industrial"]
    weekday = ind[(idx.dayofweek < 5) & ~idx.month.isin([2, 10])].mean()
    weekend = ind[(idx.dayofweek >= 5) & ~idx.month.isin([2, 10])].mean()
    assert weekday > 1.2 * weekend
    festival = ind[(idx >= "2024-02-10") & (idx < "2024-02-18")].mean()
    march = ind[(idx.month == 3) & (idx.dayofweek < 5)].mean()
    assert festival < 0.5 * march
    com = profiles["commercial"]
    assert com[idx.hour.isin(range(10, 20))].mean() > 2 * com[idx.hour.isin(range(1, 6))].mean()
    agr = profiles["agricultural"]
    assert agr[idx.month == 7].mean() > 2 * agr[idx.month == 1].mean()


def test_profile_write_read_roundtrip(tmp_path, profiles):
    head = profiles.iloc[:96 * 3]
    path = write_class_profiles(head, tmp_path / "p.csv.gz")
    back = read_class_profiles(path)
    pd.testing.assert_frame_equal(back, head, check_freq=False)
    text = gzip.decompress(path.read_bytes()).decode()
    assert text.splitlines()[1].startswith("2024-01-01T00:00:00+08:00,")


def _csv(tmp_path: Path, rows: list[str], header: str = "time,residential,commercial,industrial,agricultural,pv") -> Path:
    p = tmp_path / "bad.csv"
    p.write_text("\n".join([header, *rows]) + "\n")
    return p


def test_read_profiles_rejects_bad_files(tmp_path):
    ok_rows = ["2024-01-01T00:00:00+08:00,0.5,0.5,0.5,0.5,0.0", "2024-01-01T00:15:00+08:00,0.5,0.5,0.5,0.5,0.0"]
    assert len(read_class_profiles(_csv(tmp_path, ok_rows))) == 2
    with pytest.raises(ProfileError, match="missing profile column"):
        read_class_profiles(_csv(tmp_path, [r.rsplit(",", 1)[0] for r in ok_rows],
                                 header="time,residential,commercial,industrial,agricultural"))
    with pytest.raises(ProfileError, match="no UTC offset"):
        read_class_profiles(_csv(tmp_path, [r.replace("+08:00", "") for r in ok_rows]))
    with pytest.raises(ProfileError, match="regular 15min"):
        read_class_profiles(_csv(tmp_path, [ok_rows[0], ok_rows[1].replace("00:15", "00:30")]))
    with pytest.raises(ProfileError, match="exceeds 1.0"):
        read_class_profiles(_csv(tmp_path, [ok_rows[0], ok_rows[1][:-3] + "1.5"]))
    with pytest.raises(ProfileError, match="does not exist"):
        read_class_profiles(tmp_path / "nothing.csv")
