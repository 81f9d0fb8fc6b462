"""``gridint telemetry``: devices, register, ingest, status, export on a real SQLite file
(GRIDINT_DATABASE_URL), through main() and once as a subprocess; bad flags exit 2."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gridint.cli import main
from gridint.config import get_settings

ROOT = Path(__file__).resolve().parents[2]
FEEDER = "xt-county-rural"
T01_LV = f"{FEEDER}-T01-LV"
NOW = "2025-06-01T12:15:00+08:00"



def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def bad_flag(capsys, *argv) -> str:
    """argparse refuses the flag: exit 2, the message on stderr."""
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    assert exc.value.code == 2
    return capsys.readouterr().err


def one_line_error(err: str) -> str:
    assert err.startswith("gridint: error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture
def fleet(db, capsys):
    """Users alice (installer), oscar (operator), eve (engineer); pv-a, bat-a of alice."""
    for name, role in (("alice", "installer"), ("oscar", "operator"), ("eve", "engineer")):
        assert main(["user", "add", name, "--role", role]) == 0
    capsys.readouterr()
    rc, out, _ = run(capsys, "telemetry", "register", "pv-a", "--feeder", FEEDER, "--bus", T01_LV,
                     "--kind", "pv", "--rating-kw", 10, "--owner", "alice")
    assert rc == 0 and out.strip() == (f"registered pv-a: pv 10 kW at bus {T01_LV} of {FEEDER}, "
                                       "owner alice")
    rc, out, _ = run(capsys, "telemetry", "register", "bat-a", "--feeder", FEEDER, "--bus", "T01",
                     "--kind", "storage", "--rating-kw", 5, "--energy-kwh", 10, "--owner", "alice",
                     "--json")
    assert rc == 0
    assert json.loads(out) == {"name": "bat-a", "feeder": FEEDER, "bus": T01_LV, "kind": "storage",
                               "rating_kw": 5.0, "energy_kwh": 10.0, "owner": "alice"}
    return db


def _csv(tmp_path, rows, name="batch.csv") -> Path:
    path = tmp_path / name
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["device", "time", "p_kw", "soc_percent", "v_pu"])
        w.writerows(rows)
    return path


def test_register_checks_the_grid_model_and_flags(fleet, capsys):
    base = ["telemetry", "register", "x1", "--feeder", FEEDER, "--kind", "pv", "--rating-kw", 3,
            "--owner", "alice"]
    rc, _, err = run(capsys, *base, "--bus", "X")
    assert rc == 2
    assert one_line_error(err).startswith(f"gridint: error: bus: 'X' is not a bus of {FEEDER} "
                                          f"(e.g. {FEEDER}-N01, {FEEDER}-N02")
    rc, _, err = run(capsys, *base, "--bus", f"{FEEDER}-NBR")
    assert rc == 2 and "behind the normally-open tie" in one_line_error(err)
    rc, _, err = run(capsys, *[a if a != FEEDER else "nowhere" for a in base], "--bus", "N01")
    assert rc == 2 and "feeder: 'nowhere' is not a catalog feeder" in one_line_error(err)
    assert "xt-yuetang-urban" in err
    rc, _, err = run(capsys, *base[:-2], "--owner", "ghost", "--bus", T01_LV)
    assert rc == 2 and "--owner: no user 'ghost'" in one_line_error(err)
    rc, _, err = run(capsys, "telemetry", "register", "x2", "--feeder", FEEDER, "--bus", T01_LV,
                     "--kind", "storage", "--rating-kw", 3, "--owner", "alice")
    assert rc == 2 and "energy_kwh" in one_line_error(err)
    rc, _, err = run(capsys, *base, "--bus", T01_LV)
    assert rc == 0
    rc, _, err = run(capsys, *base, "--bus", T01_LV)
    assert rc == 2 and "already registered" in one_line_error(err)
    err = bad_flag(capsys, *base[:-4], "--rating-kw", "-3", "--owner", "alice", "--bus", T01_LV)
    assert "--rating-kw: must be a number in (0, 1,000,000] kW, got -3" in err
    err = bad_flag(capsys, *base, "--bus", T01_LV, "--energy-kwh", "lots")
    assert "--energy-kwh: must be a number in (0, 10,000,000] kWh, got 'lots'" in err
    err = bad_flag(capsys, *base, "--bus", T01_LV, "--kind", "wind")
    assert "--kind" in err and "'pv', 'storage'" in err


def test_devices_list(fleet, capsys):
    rc, out, _ = run(capsys, "telemetry", "devices")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == "2 device(s)" and lines[1].split() == ["device", "kind", "feeder", "bus", "kW",
                                                              "kWh", "owner"]
    assert lines[2].split() == ["bat-a", "storage", FEEDER, T01_LV, "5.0", "10.0", "alice"]
    assert lines[3].split() == ["pv-a", "pv", FEEDER, T01_LV, "10.0", "-", "alice"]
    rc, out, _ = run(capsys, "telemetry", "devices", "--feeder", FEEDER, "--json")
    assert rc == 0 and [d["name"] for d in json.loads(out)] == ["bat-a", "pv-a"]
    rc, out, _ = run(capsys, "telemetry", "devices", "--feeder", "case33bw")
    assert rc == 0 and out.strip() == "no devices registered"
    rc, _, err = run(capsys, "telemetry", "devices", "--feeder", "nope")
    assert rc == 2 and "feeder: 'nope' is not a catalog feeder" in one_line_error(err)


def test_ingest_counts_reasons_and_exit_status(fleet, capsys, tmp_path):
    rows = [["pv-a", "2025-06-01T12:00:00+08:00", 5.0, "", 1.09],
            ["bat-a", "2025-06-01T10:00:00+08:00", -2.0, 50, 1.0],
            ["pv-a", "2025-06-01T11:45:00+08:00", 4.0, "", 1.0],
            ["nope", "2025-06-01T12:00:00+08:00", 1.0, "", ""],
            ["pv-a", "2025-06-01T12:30:00", 1.0, "", ""]]
    path = _csv(tmp_path, rows)
    rc, out, _ = run(capsys, "telemetry", "ingest", path, "--as", "alice")
    assert rc == 1
    assert out.splitlines() == ["accepted 3, duplicates 0, rejected 2 of 5 point(s)",
                                "  point 3: unknown device 'nope'",
                                "  point 4: time '2025-06-01T12:30:00' has no time zone (give an "
                                "offset such as +08:00 or Z)"]
    rc, out, _ = run(capsys, "telemetry", "ingest", path, "--as", "oscar", "--json")
    got = json.loads(out)
    assert rc == 1 and (got["accepted"], got["duplicates"], len(got["rejected"])) == (0, 3, 2)
    # JSON, as the API takes it, and a bare list; all good: exit 0
    body = {"points": [{"device": "pv-a", "time": "2025-06-01T12:15:00+08:00", "p_kw": 6.0}]}
    (tmp_path / "b.json").write_text(json.dumps(body))
    rc, out, _ = run(capsys, "telemetry", "ingest", tmp_path / "b.json", "--as", "alice")
    assert rc == 0 and out.strip() == "accepted 1, duplicates 0, rejected 0 of 1 point(s)"
    (tmp_path / "c.json").write_text(json.dumps(body["points"]))
    rc, out, _ = run(capsys, "telemetry", "ingest", tmp_path / "c.json", "--as", "alice")
    assert rc == 0 and out.startswith("accepted 0, duplicates 1")
    # many rejections: the first five and a count
    many = _csv(tmp_path, [["nope", "2025-06-01T12:00:00+08:00", 1.0, "", ""]] * 8, "many.csv")
    rc, out, _ = run(capsys, "telemetry", "ingest", many, "--as", "alice")
    assert rc == 1 and len(out.splitlines()) == 7
    assert out.splitlines()[-1] == "  ... and 3 more rejected (--json lists all)"
    # who may send, and files
    rc, _, err = run(capsys, "telemetry", "ingest", path, "--as", "eve")
    assert rc == 2 and "--as: user 'eve' has role engineer; allowed installer, operator, admin" in err
    rc, _, err = run(capsys, "telemetry", "ingest", path, "--as", "ghost")
    assert rc == 2 and "--as: no user 'ghost'" in one_line_error(err)
    rc, _, err = run(capsys, "telemetry", "ingest", tmp_path / "missing.csv", "--as", "alice")
    assert rc == 2 and "not found" in one_line_error(err)
    (tmp_path / "x.txt").write_text("device,time,p_kw\n")
    rc, _, err = run(capsys, "telemetry", "ingest", tmp_path / "x.txt", "--as", "alice")
    assert rc == 2 and "must end in .csv or .json" in one_line_error(err)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    rc, _, err = run(capsys, "telemetry", "ingest", tmp_path / "bad.csv", "--as", "alice")
    assert rc == 2 and "header" in one_line_error(err)


def test_ingest_splits_a_large_file_into_batches(fleet, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDINT_TELEMETRY_MAX_POINTS", "3")
    get_settings.cache_clear()
    rows = [["pv-a", f"2025-06-01T1{h}:00:00+08:00", 5.0, "", ""] for h in range(6)]
    rows.insert(4, ["nope", "2025-06-01T12:00:00+08:00", 1.0, "", ""])
    rc, out, _ = run(capsys, "telemetry", "ingest", _csv(tmp_path, rows), "--as", "alice", "--json")
    got = json.loads(out)
    assert rc == 1 and got["accepted"] == 6
    assert got["rejected"] == [{"index": 4, "reason": "unknown device 'nope'"}]


def _load_status_data(tmp_path, capsys):
    rows = [["pv-a", "2025-06-01T12:00:00+08:00", 5.0, "", 1.09],     # out of band, reporting
            ["bat-a", "2025-06-01T10:00:00+08:00", -2.0, 50, 1.0]]    # silent since 10:00
    assert run(capsys, "telemetry", "ingest", _csv(tmp_path, rows), "--as", "alice")[0] == 0


def test_status_table_in_local_time_and_json(fleet, capsys, tmp_path):
    _load_status_data(tmp_path, capsys)
    rc, out, _ = run(capsys, "telemetry", "status", FEEDER, "--now", "2025-06-01T04:15:00Z",
                     "--silent-intervals", 4)
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == (f"{FEEDER} at 2025-06-01 12:15 (Asia/Shanghai): 2 device(s), 1 silent, "
                        "1 out of limits")
    assert lines[1] == "  silent = no data since 2025-06-01 11:15"
    assert lines[2].split()[:8] == ["device", "kind", "bus", "last", "data", "p", "kW", "SoC"]
    bat = next(x for x in lines if x.strip().startswith("bat-a"))
    pv = next(x for x in lines if x.strip().startswith("pv-a"))
    assert "2025-06-01 10:00" in bat and bat.rstrip().endswith("silent") and "50" in bat
    assert "2025-06-01 12:00" in pv and "v_pu 1.090 outside 0.93..1.07" in pv and "silent" not in pv
    rc, out, _ = run(capsys, "telemetry", "status", FEEDER, "--now", NOW, "--json")
    st = json.loads(out)
    assert rc == 0 and st["now"] == NOW and st["silent_since"] == "2025-06-01T11:15:00+08:00"
    assert {d["device"]: d["time"] for d in st["devices"]} == {
        "bat-a": "2025-06-01T10:00:00+08:00", "pv-a": "2025-06-01T12:00:00+08:00"}
    rc, out, _ = run(capsys, "telemetry", "status", FEEDER, "--now", NOW, "--silent-intervals", 20)
    assert rc == 0 and "0 silent" in out
    rc, out, _ = run(capsys, "telemetry", "status", "case33bw", "--now", NOW)
    assert rc == 0 and "every device reports and is within limits" in out
    rc, _, err = run(capsys, "telemetry", "status", "nope")
    assert rc == 2 and "feeder: 'nope'" in one_line_error(err)
    err = bad_flag(capsys, "telemetry", "status", FEEDER, "--now", "2025-06-01T12:00")
    assert "--now: '2025-06-01T12:00' has no time zone" in err
    err = bad_flag(capsys, "telemetry", "status", FEEDER, "--now", "noon")
    assert "--now: 'noon' is not ISO 8601" in err
    err = bad_flag(capsys, "telemetry", "status", FEEDER, "--silent-intervals", "0")
    assert "--silent-intervals: must be an integer in [1, 10,000], got 0" in err
    err = bad_flag(capsys, "telemetry", "status", FEEDER, "--silent-intervals", "2.5")
    assert "--silent-intervals: must be an integer" in err


def test_export_round_trips_through_ingest(fleet, capsys, tmp_path):
    rows = [["pv-a", f"2025-06-01T{h:02d}:00:00Z", 4.0 + h, "", 1.01] for h in range(2, 7)]
    assert run(capsys, "telemetry", "ingest", _csv(tmp_path, rows), "--as", "alice")[0] == 0
    out_file = tmp_path / "out.csv"
    rc, out, _ = run(capsys, "telemetry", "export", "--device", "pv-a", "--start",
                     "2025-06-01T11:00+08:00", "--end", "2025-06-01T14:00+08:00", "--out", out_file)
    assert rc == 0 and out.strip() == f"3 point(s) written to {out_file}"
    got = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert [r["time"] for r in got] == ["2025-06-01T11:00:00+08:00", "2025-06-01T12:00:00+08:00",
                                        "2025-06-01T13:00:00+08:00"]   # [start, end), local time
    assert [float(r["p_kw"]) for r in got] == [7.0, 8.0, 9.0] and got[0]["soc_percent"] == ""
    rc, out, _ = run(capsys, "telemetry", "ingest", out_file, "--as", "alice")
    assert rc == 0 and out.startswith("accepted 0, duplicates 3")
    rc, out, _ = run(capsys, "telemetry", "export", "--feeder", FEEDER, "--start",
                     "2025-06-01T00:00Z", "--end", "2025-06-02T00:00Z")
    assert rc == 0 and out.startswith("device,time,p_kw,soc_percent,v_pu\n") and out.count("\n") == 6
    rc, _, err = run(capsys, "telemetry", "export", "--device", "ghost", "--start",
                     "2025-06-01T00:00Z", "--end", "2025-06-02T00:00Z")
    assert rc == 2 and "device: no device 'ghost'" in one_line_error(err)
    rc, _, err = run(capsys, "telemetry", "export", "--feeder", FEEDER, "--start",
                     "2025-06-02T00:00Z", "--end", "2025-06-01T00:00Z")
    assert rc == 2 and "--end:" in one_line_error(err) and "must be after --start" in err
    err = bad_flag(capsys, "telemetry", "export", "--start", "2025-06-01T00:00Z", "--end",
                   "2025-06-02T00:00Z")
    assert "one of the arguments --device --feeder is required" in err
    err = bad_flag(capsys, "telemetry", "export", "--device", "pv-a", "--feeder", FEEDER,
                   "--start", "2025-06-01T00:00Z", "--end", "2025-06-02T00:00Z")
    assert "not allowed with argument" in err


def test_console_command_uses_the_configured_database(fleet, capsys, tmp_path):
    _load_status_data(tmp_path, capsys)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRIDINT_DATABASE_URL": fleet}
    proc = subprocess.run([sys.executable, "-m", "gridint.cli", "telemetry", "status", FEEDER,
                           "--now", NOW, "--json"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    st = json.loads(proc.stdout)
    assert st["devices_total"] == 2 and st["silent"] == 1 and st["out_of_limits"] == 1
    assert not (tmp_path / "gridint.db").exists()  # not the default database of the folder
