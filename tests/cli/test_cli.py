"""The gridint command: fields, exit codes, one-line errors (run through main())."""

from __future__ import annotations

import json
import subprocess
import sys

import pandapower as pp
import pandapower.networks as pn
import pytest

from gridint.cli import main

SNAPSHOT_FIELDS = {"feeder", "n_steps", "converged_steps", "vmin_pu", "vmin_bus", "vmax_pu",
                   "vmax_bus", "losses_kw", "max_line_loading_percent",
                   "max_trafo_loading_percent", "runtime_s", "buses"}
YEAR_FIELDS = (SNAPSHOT_FIELDS - {"losses_kw", "buses"}) | {"energy_losses_kwh"}


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_feeders_json_lists_the_catalog(capsys):
    rc, out, _ = run(capsys, "feeders", "--json")
    assert rc == 0
    rows = json.loads(out)
    names = {r["name"] for r in rows}
    assert {"case33bw", "cigre-mv-der", "1-MV-rural--0-sw", "1-MV-urban--0-sw",
            "1-LV-rural1--0-sw", "xt-yuetang-urban", "xt-county-rural",
            "xt-jingkai-industrial"} <= names
    for r in rows:
        assert set(r) == {"name", "voltage_kv", "n_buses", "n_transformers", "length_km",
                          "peak_load_kw", "pv_kw", "source"}
    case = next(r for r in rows if r["name"] == "case33bw")
    assert case["n_buses"] == 33 and case["peak_load_kw"] == pytest.approx(3715.0)


def test_feeders_table_is_readable(capsys):
    rc, out, _ = run(capsys, "feeders")
    assert rc == 0 and "case33bw" in out and "peak kW" in out


def test_powerflow_snapshot_json(capsys):
    rc, out, _ = run(capsys, "powerflow", "case33bw", "--json")
    assert rc == 0
    s = json.loads(out)
    assert SNAPSHOT_FIELDS <= set(s)
    assert s["n_steps"] == s["converged_steps"] == 1
    assert s["losses_kw"] == pytest.approx(202.677, abs=1e-3)
    assert s["vmin_pu"] == pytest.approx(0.91309, abs=1e-5) and s["vmin_bus"] == "17"
    assert len(s["buses"]) == 33 and set(s["buses"][0]) == {"name", "vm_pu", "va_degree"}


def test_powerflow_year_json(capsys):
    rc, out, _ = run(capsys, "powerflow", "1-LV-rural1--0-sw", "--year", "--json")
    assert rc == 0
    s = json.loads(out)
    assert YEAR_FIELDS <= set(s)
    assert s["n_steps"] == s["converged_steps"] == 35136
    assert s["energy_losses_kwh"] > 0
    assert s["vmin_time"].startswith("2016-")


def test_powerflow_time_maps_any_year_by_month_day(capsys):
    rc, out, _ = run(capsys, "powerflow", "1-LV-rural1--0-sw", "--time",
                     "2031-06-21T12:00+01:00", "--json")
    assert rc == 0
    s = json.loads(out)
    assert s["time"] == "2016-06-21T12:00:00+01:00" and s["n_steps"] == 1


def test_powerflow_accepts_a_user_file(tmp_path, capsys):
    path = tmp_path / "my feeder.json"
    pp.to_json(pn.case33bw(), str(path))
    rc, out, _ = run(capsys, "powerflow", str(path), "--json")
    assert rc == 0 and json.loads(out)["feeder"] == "my feeder"


@pytest.mark.parametrize("argv, match", [
    (["powerflow", "no-such-feeder"], "unknown feeder 'no-such-feeder'"),
    (["powerflow", "missing.json"], "not found"),
    (["powerflow", "case33bw", "--year"], "has no profile year"),
    (["powerflow", "1-LV-rural1--0-sw", "--time", "yesterday-ish"], "ISO 8601"),
])
def test_bad_input_gives_one_clear_line(capsys, argv, match):
    rc, out, err = run(capsys, *argv)
    assert rc == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("gridint: error:")
    assert match in lines[0]


def test_bad_file_content(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    rc, _, err = run(capsys, "powerflow", str(path))
    assert rc == 2 and "broken.json" in err and len(err.strip().splitlines()) == 1


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "gridint.cli", "--help"],
                         capture_output=True, text=True, check=True)
    assert "powerflow" in out.stdout and "feeders" in out.stdout
