"""Feeder hosting-capacity study: every answer checked on every step of the year
with the AC engine, kernels against slow references, zones, queue, publication."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gridint.errors import GridintError
from gridint.hosting import (
    Site,
    feeder_hosting_capacity,
    peak_shave_kw,
    publish,
    worst_zone,
    zone_of,
)
from gridint.hosting._kernels import candidate_mask
from gridint.hosting.engine import _Study
from gridint.hosting.study import _prepare
from gridint.interconnection import QueuedPV


@pytest.fixture(scope="module")
def rural():
    from gridint.grid.catalog import load_feeder

    feeder = load_feeder("xt-county-rural")
    return feeder, feeder_hosting_capacity(feeder, stochastic=6)


def _full_year_check(feeder, sites_kw):
    """For each (site, kW): any new violation over every step of the year? (AC)"""
    c, p, q, shape, tindex, _ = _prepare(feeder, "year")
    study = _Study(c, p, q, shape, tindex)
    steps = np.arange(study.n_steps)
    out = []
    for r in study.run_trials([(site, kw, steps) for site, kw in sites_kw]):
        ok, _, _ = study.verdict(r, steps)
        out.append(ok)
    return c, out


def test_answers_hold_on_every_step_and_break_just_above(rural):
    """The definition itself: at hc no step of the year has a new violation; at
    hc + max(1 kW, 1 %) some step has. Buses, a transformer and the feeder."""
    feeder, res = rural
    d = res.to_dict()
    c = feeder.net
    from gridint.powerflow import compile_net

    comp = compile_net(c)
    names = list(comp.bus_names)
    picks = [b for b in d["buses"] if b["hc_kw"] > 0][::16][:5]
    sites = []
    for b in picks:
        col = names.index(b["name"])
        site = Site(b["name"], np.array([col]), np.array([1.0]))
        sites += [(site, b["hc_kw"] - 0.05), (site, b["hc_kw"] + max(1.0, 0.01 * b["hc_kw"]))]
    # the feeder's simultaneous allocation (load-proportional)
    load = c.load[c.load.in_service]
    per_bus = load.groupby("bus").p_mw.sum()
    cols = np.array([names.index(comp.bus_names[comp.bus_position(b)]) for b in per_bus.index])
    fsite = Site("feeder", cols, per_bus.to_numpy() / per_bus.sum())
    fkw = d["feeder_hc_kw"]
    sites += [(fsite, fkw - 0.05), (fsite, fkw + max(1.0, 0.01 * fkw))]
    _, ok = _full_year_check(feeder, sites)
    assert all(ok[0::2]), "a reported capacity breaks a limit somewhere in the year"
    assert not any(ok[1::2]), "a reported capacity is not the largest (1 % more still fits)"


def test_result_fields_and_zones(rural):
    feeder, res = rural
    d = res.to_dict()
    assert d["n_steps"] == 35136 and d["steps"] == "year"
    assert len(d["buses"]) == 80 and len(d["transformers"]) == 40
    for t in d["transformers"]:
        assert set(t) >= {"name", "rated_kva", "pv_kw", "reverse_load_rate", "zone", "c1_kw", "c2_kw"}
        # a child is never greener than its parent
        assert worst_zone(t["zone"], d["zone"]) == t["zone"]
        own = zone_of(t["reverse_load_rate"])
        assert worst_zone(own, t["zone"]) == t["zone"]
    for b in d["buses"]:
        assert b["hc_kw"] >= 0 and b["binding"]["constraint"] in (
            "voltage", "thermal", "reverse_power")
        assert b["binding"]["time"].startswith("2024-")
    # the feeder's simultaneous capacity is far below the sum of nodal values
    assert d["feeder_hc_kw"] < sum(t["hc_kw"] for t in d["transformers"])
    # a transformer's LV busbar is its only LV bus: transformer HC = nodal HC there
    by_bus = {b["name"]: b["hc_kw"] for b in d["buses"]}
    for t in d["transformers"]:
        assert t["hc_kw"] == pytest.approx(by_bus[t["lv_bus"]], abs=max(1.0, 0.006 * t["hc_kw"]))


def test_stochastic_placement(rural):
    _, res = rural
    st = res.stochastic
    assert st["n_deployments"] == 6
    assert st["min_kw"] <= st["median_kw"] <= st["max_kw"]
    curve = [p["pv_kw"] for p in st["curve"]]
    assert curve == sorted(curve) and st["curve"][-1]["share_violating"] == 1.0


def test_zone_rules():
    assert zone_of(-0.1) == "green" and zone_of(0.0) == "green"
    assert zone_of(0.3) == "yellow" and zone_of(0.8) == "yellow"
    assert zone_of(0.81) == "red" and zone_of(0.1, limits_broken=True) == "red"
    assert worst_zone("green", "yellow") == "yellow" and worst_zone("red", "green") == "red"


def test_queue_gives_c1_c2(rural):
    feeder, res = rural
    t = res.transformers[3]
    queue = [QueuedPV(t["name"], 10.0, "connected"), QueuedPV(t["lv_bus"], 5.0, "approved")]
    again = feeder_hosting_capacity(feeder, queue=queue, buses=[t["lv_bus"]])
    t2 = next(x for x in again.transformers if x["name"] == t["name"])
    assert t2["c1_kw"] == pytest.approx(t["hc_kw"] - 10.0, abs=0.2)
    assert t2["c2_kw"] == pytest.approx(t["hc_kw"] - 15.0, abs=0.2)
    assert again.feeder_c2_kw == pytest.approx(res.feeder_hc_kw - 15.0, abs=0.2)
    with pytest.raises(GridintError, match="unknown bus or transformer 'X9'"):
        feeder_hosting_capacity(feeder, queue=[QueuedPV("X9", 1.0)], buses=[t["lv_bus"]])


def test_mitigation_whatifs_raise_voltage_bound_capacity(catalog_feeder):
    """case33bw end bus 17 (voltage binds): absorbing reactive power, volt-var and
    an export limit each raise the capacity; the battery shaves a snapshot's
    single step only by its kW."""
    res = feeder_hosting_capacity(catalog_feeder("case33bw"), buses=["17"], whatif=True)
    row = res.buses[0]
    base = row["hc_kw"]
    assert row["binding"]["constraint"] == "voltage"
    w = row["whatif"]
    assert w["pf_absorbing"]["hc_kw"] > 1.1 * base
    assert w["volt_var"]["hc_kw"] > base
    assert w["export_limit"]["hc_kw"] >= 1.9 * base  # half the rating exported
    assert w["battery"]["hc_kw"] > base


def test_snapshot_and_screening_modes(catalog_feeder):
    snap = feeder_hosting_capacity(catalog_feeder("case33bw"))
    assert snap.steps == "snapshot" and snap.n_steps == 1
    scr = feeder_hosting_capacity(catalog_feeder("xt-jingkai-industrial"), steps="screening")
    year = feeder_hosting_capacity(catalog_feeder("xt-jingkai-industrial"), steps="year")
    assert scr.n_steps < 1000 < year.n_steps
    # the year has every screened step: its answers are never larger
    for a, b in zip(scr.buses, year.buses):
        assert b["hc_kw"] <= a["hc_kw"] + max(1.0, 0.006 * a["hc_kw"])
    with pytest.raises(GridintError, match="steps must be one of"):
        feeder_hosting_capacity(catalog_feeder("case33bw"), steps="decade")


def _slow_candidates(r0, u, x, d, margin_rel, margin_abs, skip):
    out = np.zeros(u.shape, dtype=bool)
    for s in range(u.shape[0]):
        for t in range(u.shape[1]):
            if skip[s, t]:
                continue
            a = x[s] * u[s, t] * (1 + margin_rel)
            if a > 0 and np.any(r0[t] + a * d[s] + margin_abs > 1.0):
                out[s, t] = True
    return out


def test_candidate_kernel_matches_slow_reference():
    rng = np.random.default_rng(3)
    r0 = rng.uniform(0.5, 1.05, (200, 30))
    u = rng.uniform(0, 1, (7, 200)) * (rng.random((7, 200)) > 0.4)
    x = rng.uniform(10, 500, 7)
    d = rng.uniform(0, 1e-3, (7, 30))
    skip = rng.random((7, 200)) < 0.1
    got = candidate_mask(r0, r0.max(axis=1), u, x, d, d.max(axis=1), 0.25, 0.003, skip)
    np.testing.assert_array_equal(got, _slow_candidates(r0, u, x, d, 0.25, 0.003, skip))


def _slow_peak_shave(pv, kw, kwh, spd, step_h):
    out = pv.copy()
    for day in range(len(pv) // spd):
        sl = slice(day * spd, (day + 1) * spd)
        p = pv[sl]
        best = p.copy()
        for level in np.linspace(0, p.max(), 4001):
            ch = np.minimum(kw, np.maximum(p - level, 0))
            if ch.sum() * step_h <= kwh + 1e-9:
                best = p - ch
                break
        out[sl] = best
    return out


def test_peak_shave_matches_slow_reference():
    rng = np.random.default_rng(5)
    t = np.arange(96 * 3)
    pv = np.clip(np.sin((t % 96 - 24) / 48 * np.pi), 0, None) * rng.uniform(50, 100, len(t))
    got = peak_shave_kw(pv, 20.0, 40.0, 96, 0.25)
    ref = _slow_peak_shave(pv, 20.0, 40.0, 96, 0.25)
    np.testing.assert_allclose(got, ref, atol=0.05)
    assert np.all(got <= pv + 1e-12) and np.all(pv - got <= 20.0 + 1e-9)
    for day in range(3):
        assert (pv - got)[day * 96:(day + 1) * 96].sum() * 0.25 <= 40.0 + 1e-6


def test_publication_files(tmp_path):
    out = publish("2025Q3", tmp_path, feeders=["xt-jingkai-industrial", "case33bw"])
    assert out["quarter"] == "2025Q3"
    csv_text = (tmp_path / "open_capacity_2025Q3.csv").read_text()
    assert "# method:" in csv_text and "# limits:" in csv_text and "# published:" in csv_text
    payload = json.loads((tmp_path / "open_capacity_2025Q3.json").read_text())
    assert payload["quarter"] == "2025Q3" and payload["limits"]["reverse_load_rate_max"] == 0.8
    assert {s["substation"] for s in payload["substations"]} == {"Jingkai 110 kV", "test cases"}
    geo = json.loads((tmp_path / "open_capacity_2025Q3.geojson").read_text())
    assert geo["type"] == "FeatureCollection" and geo["metadata"]["method"]
    f = geo["features"][0]
    assert f["geometry"]["type"] == "Point" and 112 < f["geometry"]["coordinates"][0] < 114
    with pytest.raises(GridintError, match="--quarter must look like"):
        publish("2025Q5", tmp_path, feeders=["case33bw"])
