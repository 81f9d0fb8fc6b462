"""City-scale studies (gridint.studies, gridint.grid.city): a small city through the
in-process path, a LocalCluster and an existing scheduler; determinism; failures;
summaries and the scenario placement."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gridint.config import get_settings
from gridint.errors import ConfigError, FeederError, GridintError
from gridint.grid.city import DISTRICTS, KIND_TEMPLATE, city_feeder, city_layout, roof_potential_kw
from gridint.studies import FEEDER_COLUMNS, place_scenario, run_city, summarise

SEED = 11
SCENARIO_MW = 8.0
TIMING = ["build_s", "hc_s", "reliability_s", "runtime_s", "worker"]
SUMS = ["customers", "peak_load_kw", "existing_pv_kw", "roof_potential_kw", "hc_kw", "scenario_share_kw",
        "fits_kw", "excess_kw"]


@pytest.fixture(scope="module")
def layout() -> pd.DataFrame:
    """A small city (one archetype per template): a feeder of each template and a broken one."""
    lay = city_layout(8, SEED, archetypes_per_template=1)
    first = lay.groupby("template", sort=False).head(1)
    assert set(first["template"]) == set(KIND_TEMPLATE.values())
    broken = lay.drop(first.index).iloc[[-1]].assign(template="xt-no-such-template")
    return pd.concat([first, broken], ignore_index=True)


@pytest.fixture(scope="module")
def inproc(layout):
    return run_city(layout=layout, use_dask=False, scenario_mw=SCENARIO_MW)


@pytest.fixture(scope="module")
def local_cluster(layout):
    done = []
    res = run_city(layout=layout, workers=2, scenario_mw=SCENARIO_MW,
                   progress=lambda stage, k, n: done.append((stage, k, n)))
    assert done[-1] == ("feeders", len(layout), len(layout))
    return res


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = [c for c in a.columns if c not in TIMING]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True))


def test_local_cluster_gives_the_in_process_results(inproc, local_cluster):
    assert local_cluster.meta["scheduler"] == "LocalCluster" and local_cluster.meta["workers"] == 2
    assert inproc.meta["scheduler"] == "in-process"
    _same(inproc.feeders, local_cluster.feeders)
    _same(inproc.counties, local_cluster.counties)
    _same(inproc.substations, local_cluster.substations)
    assert list(inproc.feeders.columns) == list(FEEDER_COLUMNS)
    # the feeders were studied on the worker processes, not here
    assert local_cluster.feeders["worker"].nunique() >= 1
    assert set(local_cluster.feeders["worker"]) != set(inproc.feeders["worker"])


def test_existing_scheduler_from_the_settings(layout, inproc, monkeypatch):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0") as cluster:
        monkeypatch.setenv("GRIDINT_DASK_SCHEDULER", cluster.scheduler_address)
        get_settings.cache_clear()
        try:
            res = run_city(layout=layout.iloc[:3], scenario_mw=SCENARIO_MW)
        finally:
            monkeypatch.delenv("GRIDINT_DASK_SCHEDULER")
            get_settings.cache_clear()
    assert res.meta["scheduler"] == cluster.scheduler_address and res.meta["workers"] == 1
    cols = [c for c in FEEDER_COLUMNS if c not in TIMING + ["scenario_share_kw", "fits_kw", "excess_kw"]]
    _same(inproc.feeders.iloc[:3][cols], res.feeders[cols])
    assert res.feeders["error"].isna().all()


def test_failing_feeder_is_recorded_not_fatal(inproc, local_cluster, layout):
    for res in (inproc, local_cluster):
        df = res.feeders
        bad = df[df["error"].notna()]
        assert list(bad["feeder"]) == [layout["feeder"].iloc[-1]]
        assert "unknown feeder template" in bad["error"].iloc[0]
        assert bad[["hc_kw", "saidi_h", "scenario_share_kw", "fits_kw"]].isna().all(axis=None)
        good = df[df["error"].isna()]
        assert len(good) == len(layout) - 1
        assert (good["hc_kw"] > 0).all() and good["zone"].isin(["green", "yellow", "red"]).all()
        assert good["rs1_percent"].between(99.0, 100.0).all()
        assert res.meta["failed"] == 1 and res.city["failed"] == 1
        county = bad["county"].iloc[0]
        assert int(res.counties.set_index("county").at[county, "failed"]) == 1


def test_summaries_add_up(inproc):
    df = inproc.feeders
    ok = df[df["error"].isna()]
    by_county = ok.groupby("county")[SUMS].sum()
    counties = inproc.counties.set_index("county")
    for col in SUMS:
        np.testing.assert_allclose(counties.loc[by_county.index, col], by_county[col], rtol=1e-12)
        np.testing.assert_allclose(counties[col].sum(), inproc.city[col], rtol=1e-12)
        np.testing.assert_allclose(inproc.substations.groupby("county")[col].sum().loc[counties.index],
                                   counties[col], rtol=1e-12)
    assert counties["feeders"].sum() == len(df) == inproc.city["feeders"]
    # customer-weighted SAIDI and RS-1 of a county from its feeders
    for county, g in ok.groupby("county"):
        saidi = float((g["saidi_h"] * g["customers"]).sum() / g["customers"].sum())
        assert counties.at[county, "saidi_h"] == pytest.approx(saidi, rel=1e-12)
        assert counties.at[county, "rs1_percent"] == pytest.approx(100.0 * (1 - saidi / 8760.0), rel=1e-12)
        assert counties.at[county, "meets_target"] == (counties.at[county, "rs1_percent"] >= 99.89)
    # excess split by binding constraint adds up to the excess
    split = inproc.city["excess_voltage_kw"] + inproc.city["excess_thermal_kw"] + \
        inproc.city["excess_reverse_power_kw"]
    assert split <= inproc.city["excess_kw"] + 1e-6
    assert summarise(df, None).iloc[0]["fits_kw"] == pytest.approx(inproc.city["fits_kw"])


def test_scenario_placement_sums_to_the_requested_mw(inproc):
    df = inproc.feeders
    ok = df["error"].isna()
    assert df.loc[ok, "scenario_share_kw"].sum() == pytest.approx(1000.0 * SCENARIO_MW, rel=1e-12)
    np.testing.assert_allclose(df.loc[ok, "fits_kw"] + df.loc[ok, "excess_kw"], df.loc[ok, "scenario_share_kw"])
    assert (df.loc[ok, "fits_kw"] <= df.loc[ok, "hc_kw"] + 1e-9).all()
    assert (df.loc[ok, "fits_kw"] <= df.loc[ok, "scenario_share_kw"] + 1e-9).all()
    share = df.loc[ok, "scenario_share_kw"] / df.loc[ok, "roof_potential_kw"]
    np.testing.assert_allclose(share[df.loc[ok, "roof_potential_kw"] > 0], share.max(), rtol=1e-12)
    # the default: the plan's 800 MW, on a table built by hand
    toy = pd.DataFrame({"error": [None, None, "X: failed", None], "roof_potential_kw": [100.0, 300.0, 50.0, 0.0],
                        "hc_kw": [500_000.0, 100_000.0, np.nan, 10.0]})
    out = place_scenario(toy)
    assert out["scenario_share_kw"].sum() == pytest.approx(800_000.0)
    assert out["scenario_share_kw"].tolist()[:2] == pytest.approx([200_000.0, 600_000.0])
    assert out["fits_kw"].tolist()[:2] == pytest.approx([200_000.0, 100_000.0])
    assert out["excess_kw"].tolist()[:2] == pytest.approx([0.0, 500_000.0])
    assert np.isnan(out["scenario_share_kw"].iloc[2]) and out["scenario_share_kw"].iloc[3] == 0.0
    with pytest.raises(GridintError, match="roof potential"):
        place_scenario(toy.assign(roof_potential_kw=0.0))


def test_layout_is_deterministic_and_follows_the_district_mix():
    a = city_layout(1000, 2025)
    pd.testing.assert_frame_equal(a, city_layout(1000, 2025))
    assert not a.equals(city_layout(1000, 2026))
    assert len(a) == 1000 and a["feeder"].is_unique
    counts = a.groupby("county").size()
    for d in DISTRICTS:
        assert counts[d.name] == pytest.approx(1000 * d.feeder_share, abs=2)
        mix = a[a["county"] == d.name]["kind"].value_counts(normalize=True)
        for kind, share in d.mix:
            assert mix.get(kind, 0.0) == pytest.approx(share, abs=0.01)
        sizes = a[a["county"] == d.name].groupby("substation").size()
        assert sizes.max() <= d.feeders_per_substation[1]
    assert (a["template"] == a["kind"].map(KIND_TEMPLATE)).all()
    small = city_layout(6, 1)
    assert set(small["county"]) == {d.name for d in DISTRICTS}  # every district has a feeder
    with pytest.raises(FeederError, match="n_feeders"):
        city_layout(3, 1)


def test_city_feeder_is_deterministic_and_its_profiles_are_the_full_models(layout):
    from gridint.grid.catalog import Feeder

    spec = layout[layout["template"] == "xt-county-rural"].iloc[0]
    a, b = city_feeder(spec), city_feeder(spec)
    for table in ("bus", "line", "trafo", "load", "sgen", "switch"):
        pd.testing.assert_frame_equal(a.net[table], b.net[table])
    assert a.net.name == spec["feeder"] and a.net.bus["name"].str.startswith(spec["feeder"]).all()
    # the cheap path's profile year is what Feeder.profiles computes (fleet model, class shapes)
    full = Feeder(a.name, a.net, voltage_kv=10.0, profiles_ref=a.profiles_ref).profiles
    assert set(full.values) == set(a.profiles.values)
    for key, frame in a.profiles.values.items():
        np.testing.assert_allclose(frame.to_numpy(), full.values[key][frame.columns].to_numpy(),
                                   rtol=1e-9, atol=1e-12, err_msg=key)
    # the variation only scales down; reliability data stay in the template's ranges
    from gridint.grid.synthetic import TEMPLATES

    t = TEMPLATES["xt-county-rural"]
    lines = a.net.line[a.net.line["section"] != "tie"]
    assert lines["fault_rate_per_km_year"].between(*t.line_fault_rate_per_km_year).all()
    roof = roof_potential_kw(a.net, "rural")
    assert roof["potential_kw"] == pytest.approx(max(roof["residential_kw"] + roof["ci_kw"]
                                                     - roof["existing_pv_kw"], 0.0))


def test_lv_busbar_subset_gives_the_same_feeder_capacity(layout):
    from gridint.hosting import feeder_hosting_capacity

    f = city_feeder(layout[layout["template"] == "xt-jingkai-industrial"].iloc[0])
    lv = [str(f.net.bus.at[int(b), "name"]) for b in f.net.trafo["lv_bus"]]
    every = feeder_hosting_capacity(f, steps="screening")
    subset = feeder_hosting_capacity(f, steps="screening", buses=lv)
    assert subset.feeder_hc_kw == every.feeder_hc_kw and subset.zone == every.zone
    assert [t["zone"] for t in subset.transformers] == [t["zone"] for t in every.transformers]


def test_cli_city_in_process(tmp_path, monkeypatch, capsys, inproc):
    from gridint.cli import main

    monkeypatch.setenv("GRIDINT_CITY_ARCHETYPES_PER_TEMPLATE", "1")  # the archetypes already built here
    get_settings.cache_clear()
    try:
        rc = main(["city", "--feeders", "5", "--seed", str(SEED), "--workers", "0", "--out", str(tmp_path),
                   "--json", "--no-progress"])
    finally:
        monkeypatch.delenv("GRIDINT_CITY_ARCHETYPES_PER_TEMPLATE")
        get_settings.cache_clear()
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["meta"]["n_feeders"] == 5 and out["meta"]["failed"] == 0
    assert {c["county"] for c in out["counties"]} == {d.name for d in DISTRICTS}
    assert out["city"]["scenario_share_kw"] == pytest.approx(800_000.0)
    df = pd.read_parquet(out["files"]["feeders"])
    assert list(df.columns) == list(FEEDER_COLUMNS) and len(df) == 5
    assert pd.read_parquet(out["files"]["counties"])["feeders"].sum() == 5
    with pytest.raises(SystemExit):
        main(["city", "--steps", "snapshot"])


def test_bad_arguments(monkeypatch):
    with pytest.raises(GridintError, match="steps"):
        run_city(4, steps="snapshot", use_dask=False)
    with pytest.raises(GridintError, match="workers"):
        run_city(6, workers=0)
    monkeypatch.setenv("GRIDINT_CITY_PV_SCALE_RANGE", "[0.5, 1.5]")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match="city_pv_scale_range"):
            get_settings()
    finally:
        monkeypatch.delenv("GRIDINT_CITY_PV_SCALE_RANGE")
        get_settings.cache_clear()
