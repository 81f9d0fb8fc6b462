"""gridint hosting-capacity / publish: required fields, files, one-line errors."""

from __future__ import annotations

import json

import pandapower as pp
import pandapower.networks as pn

from gridint.cli import main


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_hosting_json_fields_and_files(capsys, tmp_path):
    csv_path, geo_path = tmp_path / "hc.csv", tmp_path / "hc.geojson"
    rc, out, _ = run(capsys, "hosting-capacity", "xt-jingkai-industrial", "--json",
                     "--no-progress", "--csv", str(csv_path), "--geojson", str(geo_path))
    assert rc == 0
    d = json.loads(out)
    assert {"feeder", "n_steps", "runtime_s", "feeder_hc_kw", "zone", "buses",
            "transformers"} <= set(d)
    assert d["n_steps"] == 35136 and d["zone"] in ("green", "yellow", "red")
    for b in d["buses"]:
        assert {"name", "hc_kw", "binding"} <= set(b)
        assert {"constraint", "element", "time"} <= set(b["binding"])
    for t in d["transformers"]:
        assert {"name", "rated_kva", "pv_kw", "reverse_load_rate", "zone", "c1_kw",
                "c2_kw"} <= set(t)
    assert "level,name" in csv_path.read_text()
    geo = json.loads(geo_path.read_text())
    assert len(geo["features"]) == len(d["buses"])


def test_hosting_plain_file_is_a_snapshot(capsys, tmp_path):
    path = tmp_path / "case33.json"
    pp.to_json(pn.case33bw(), str(path))
    rc, out, _ = run(capsys, "hosting-capacity", str(path), "--bus", "17", "--json")
    d = json.loads(out)
    assert rc == 0 and d["steps"] == "snapshot" and d["n_steps"] == 1
    assert [b["name"] for b in d["buses"]] == ["17"]
    assert d["buses"][0]["binding"]["constraint"] == "voltage"


def test_hosting_bad_input_one_line(capsys):
    rc, _, err = run(capsys, "hosting-capacity", "nosuch")
    assert rc == 2 and err.startswith("gridint: error: unknown feeder 'nosuch'")
    rc, _, err = run(capsys, "hosting-capacity", "case33bw", "--bus", "99")
    assert rc == 2 and "unknown bus(es) on case33bw: 99" in err and err.count("\n") == 1


def test_publish_writes_three_files(capsys, tmp_path):
    rc, out, _ = run(capsys, "publish", "--quarter", "2025Q3", "--out", str(tmp_path),
                     "--feeder", "case33bw", "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["quarter"] == "2025Q3" and set(d["files"]) == {"csv", "json", "geojson"}
    assert (tmp_path / "open_capacity_2025Q3.json").exists()
    rc, _, err = run(capsys, "publish", "--quarter", "Q3", "--feeder", "case33bw")
    assert rc == 2 and "--quarter must look like 2025Q3" in err
