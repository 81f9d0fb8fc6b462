"""Input handling: documented defaults for missing columns, clear errors naming table and column,
the tie transfer-capacity check, other feeders of the catalog, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gridint.cli import main
from gridint.config import get_settings
from gridint.errors import ReliabilityError
from gridint.reliability import build_model, reliability_study
from tests.reliability import rbts_reference as ref
from tests.reliability.data import rbts_bus2 as R

REQUIRED_SYSTEM = {"saifi", "saidi_h", "caidi_h", "asai", "rs1_percent", "ens_mwh_per_year", "maifi", "meets_target"}
REQUIRED_LP = {"name", "failure_rate_per_year", "outage_h", "unavailability_h_per_year", "customers",
               "ens_mwh_per_year"}


def test_missing_columns_fall_back_to_stated_defaults():
    s = get_settings()
    net = R.rbts_bus2()
    net.line = net.line.drop(columns=["fault_rate_per_km_year", "repair_h"])
    net.trafo = net.trafo.drop(columns=["repair_h"])
    net.load = net.load.drop(columns=["customers"])
    net.switch.loc[net.switch.index[:3], "switch_time_h"] = np.nan
    res = reliability_study(net)
    used = "\n".join(res["defaults_used"])
    assert "line.fault_rate_per_km_year: column missing" in used
    assert "line.repair_h: column missing" in used
    assert "trafo.repair_h: column missing" in used
    assert "load.customers: column missing" in used
    assert "switch.switch_time_h: 3 of" in used
    # the overhead-line defaults are the RBTS values, so the line part of the result is RBTS with 10 h transformers
    assert s.reliability_line_fault_rate_overhead_per_km_year == R.LINE_FAULT_RATE_PER_KM_YEAR
    m = build_model(net)
    assert np.all(m.load_customers == 1)
    assert np.allclose(m.comp_repair_h[m.comp_kind == 1], s.reliability_trafo_repair_h)


def test_cable_default_differs_from_overhead():
    net = R.rbts_bus2()
    net.line = net.line.drop(columns=["fault_rate_per_km_year"])
    net.line["type"] = "cs"
    m = build_model(net)
    s = get_settings()
    lines = m.comp_kind == 0
    length = net.line.loc[m.comp_element[lines], "length_km"].to_numpy()
    assert np.allclose(m.comp_rate_per_year[lines], s.reliability_line_fault_rate_cable_per_km_year * length)


@pytest.mark.parametrize("table,column,value,match", [
    ("line", "fault_rate_per_km_year", -0.1, r"line\.fault_rate_per_km_year: value -0\.1"),
    ("line", "repair_h", 0.0, r"line\.repair_h: value 0 .* \(0, 8760\]"),
    ("trafo", "fault_rate_per_year", np.inf, r"trafo\.fault_rate_per_year"),
    ("switch", "switch_time_h", -1.0, r"switch\.switch_time_h"),
    ("load", "customers", 2.5, r"load\.customers: value 2\.5 .* not a whole number"),
    ("load", "customers", -3, r"load\.customers"),
    ("load", "p_avg_mw", "lots", r"load\.p_avg_mw: non-numeric"),
])
def test_bad_values_name_table_and_column(table, column, value, match):
    net = R.rbts_bus2()
    df = getattr(net, table)
    df[column] = df[column].astype(object if isinstance(value, str) else float)
    df.loc[df.index[2], column] = value
    with pytest.raises(ReliabilityError, match=match):
        reliability_study(net)


def test_structural_errors():
    net = R.rbts_bus2()
    net.switch.loc[net.switch.index[1], "bus"] = 30  # not an end of the switched line
    with pytest.raises(ReliabilityError, match=r"switch\.bus: switch 1 sits at bus 30"):
        reliability_study(net)
    net = R.rbts_bus2()
    net.ext_grid = net.ext_grid.iloc[0:0]
    with pytest.raises(ReliabilityError, match="ext_grid"):
        reliability_study(net)
    with pytest.raises(ReliabilityError, match="method"):
        reliability_study(R.rbts_bus2(), "markov")
    with pytest.raises(ReliabilityError, match="customers"):
        net = R.rbts_bus2()
        net.load["customers"] = 0
        reliability_study(net)


def test_tie_capacity_check():
    """F2 lines already overloaded: F1 may not transfer onto F2; F2 may still transfer onto F1; F3 / F4 keep the tie."""
    net = R.rbts_bus2()
    net.load[["p_mw", "q_mvar"]] *= 0.3  # light load: F3 / F4 can take each other's load
    net.line["max_i_ka"] = 1.0
    f2 = net.line["name"].isin(["L12", "L14"])
    net.line.loc[f2, "max_i_ka"] = 0.01  # F2 alone loads them to about 400 %
    res = reliability_study(net, check_tie_capacity=True)
    no_tie = ref.load_point_indices(alternate_supply=False)
    tie = ref.load_point_indices()
    for d in res["load_points"]:
        lp = int(d["name"][2:])
        want = no_tie[lp] if lp <= 7 else tie[lp]  # LP9 still goes to F1: F2 then carries less than before
        assert d["unavailability_h_per_year"] == pytest.approx(want[1], rel=1e-12), lp
    assert any("NO-F1-F2" in n for n in res["notes"]) and not any("NO-F3-F4" in n for n in res["notes"])
    unchecked = reliability_study(net)
    assert unchecked["system"]["saidi_h"] < res["system"]["saidi_h"]


@pytest.mark.parametrize("name", ["xt-county-rural", "xt-yuetang-urban", "xt-jingkai-industrial", "case33bw"])
def test_catalog_feeders(catalog_feeder, name):
    res = reliability_study(catalog_feeder(name).net)
    assert REQUIRED_SYSTEM <= set(res["system"])
    assert all(REQUIRED_LP <= set(d) for d in res["load_points"])
    s = res["system"]
    assert 0 < s["saifi"] and 0 < s["saidi_h"] < 100 and 99.0 < s["rs1_percent"] < 100
    if name.startswith("xt-"):
        assert res["defaults_used"] == []  # the Xiangtan feeders carry their own data
    else:
        assert res["defaults_used"]


def test_xiangtan_urban_more_reliable_than_rural(catalog_feeder):
    from gridint.reliability import combine_feeders

    r_rural = reliability_study(catalog_feeder("xt-county-rural").net)
    r_urban = reliability_study(catalog_feeder("xt-yuetang-urban").net)
    rural, urban = r_rural["system"], r_urban["system"]
    both = combine_feeders([r_rural, r_urban])
    assert both["customers"] == rural["customers"] + urban["customers"]
    assert both["saidi_h"] == pytest.approx((rural["saidi_h"] * rural["customers"] + urban["saidi_h"]
                                            * urban["customers"]) / both["customers"])
    assert urban["rs1_percent"] > both["rs1_percent"] > rural["rs1_percent"]
    target = get_settings().reliability_target_rs1_percent
    assert urban["rs1_percent"] > rural["rs1_percent"]
    assert urban["rs1_percent"] > target
    assert rural["rs1_percent"] < target + 0.1  # a long overhead feeder sits near the target


def test_cli_json(tmp_path, capsys):
    import pandapower as pp

    path = tmp_path / "rbts.json"
    pp.to_json(R.rbts_bus2(), str(path))
    assert main(["reliability", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert REQUIRED_SYSTEM <= set(out["system"])
    assert out["system"]["saidi_h"] == pytest.approx(3.6126, abs=1e-4)
    assert len(out["load_points"]) == 22 and REQUIRED_LP <= set(out["load_points"][0])
    assert main(["reliability", str(path), "--method", "monte-carlo", "--years", "500", "--seed", "1",
                 "--json"]) == 0
    mc = json.loads(capsys.readouterr().out)
    assert {"saidi_h_p10", "saidi_h_p50", "saidi_h_p90"} <= set(mc["system"])
    assert mc["system"]["years"] == 500


def test_cli_text_and_errors(tmp_path, capsys):
    import pandapower as pp

    path = tmp_path / "rbts.json"
    pp.to_json(R.rbts_bus2(disconnects=False), str(path))
    assert main(["reliability", str(path), "--upgrades", "1"]) == 0
    text = capsys.readouterr().out
    assert "RS-1" in text and "SAIDI" in text and "greedy sequence" in text
    bad = R.rbts_bus2()
    bad.line.loc[0, "repair_h"] = -5
    pp.to_json(bad, str(tmp_path / "bad.json"))
    assert main(["reliability", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gridint: error:") and "line.repair_h" in err


def test_cli_help_lists_reliability():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "gridint.cli", "--help"], capture_output=True, text=True, check=True)
    assert "reliability" in out.stdout
    out = subprocess.run([sys.executable, "-m", "gridint.cli", "reliability", "--help"], capture_output=True,
                         text=True, check=True)
    assert "--method" in out.stdout and "--years" in out.stdout
