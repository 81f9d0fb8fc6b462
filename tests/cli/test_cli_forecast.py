"""`gridint forecast`: JSON fields, readable table, defaults, one-line errors (through main())."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gridint.cli import main
from gridint.config import project_root

FIELDS = {"feeder", "issue_time", "horizon", "interval_min", "n_steps", "timestamps", "pv_kw_p10",
          "pv_kw_p50", "pv_kw_p90", "energy_kwh_p50", "capacity_kwp", "history", "measured_steps"}
SAMPLE = str(project_root() / "weather" / "xiangtan_forecast_sample.csv")


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_error(rc, out, err, *words):
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gridint: error: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_day_ahead_json(capsys):
    rc, out, err = run(capsys, "forecast", "xt-county-rural", "--date", "2025-06-15", "--json")
    assert rc == 0, err
    f = json.loads(out)
    assert set(f) == FIELDS
    assert f["feeder"] == "xt-county-rural" and f["horizon"] == "day-ahead"
    assert f["interval_min"] == 15 and f["n_steps"] == 96 == len(f["timestamps"]) == len(f["pv_kw_p50"])
    assert f["issue_time"] == "2025-06-14T12:00:00+08:00"
    assert all(pd.Timestamp(t).utcoffset() == pd.Timedelta(hours=8) for t in f["timestamps"])
    p10, p50, p90 = (np.array(f[k]) for k in ("pv_kw_p10", "pv_kw_p50", "pv_kw_p90"))
    assert np.all(p10 <= p50) and np.all(p50 <= p90) and p50.max() > 0
    assert f["energy_kwh_p50"] == pytest.approx(p50.sum() * 0.25, abs=0.01)


def test_per_bus_json(capsys):
    rc, out, _ = run(capsys, "forecast", "xt-yuetang-urban", "--date", "2025-06-15", "--per-bus", "--json")
    assert rc == 0
    f = json.loads(out)
    assert set(f) == FIELDS | {"buses"}
    assert f["buses"] and all(set(b) == {"name", "pv_kw_p50"} and len(b["pv_kw_p50"]) == 96
                              for b in f["buses"])
    total = np.sum([b["pv_kw_p50"] for b in f["buses"]], axis=0)
    np.testing.assert_allclose(total, f["pv_kw_p50"], atol=0.01 * len(f["buses"]))


def test_readable_table(capsys):
    rc, out, _ = run(capsys, "forecast", "xt-county-rural", "--date", "2025-06-15")
    assert rc == 0
    assert "day-ahead PV forecast for 2025-06-15" in out and "issued 2025-06-14T12:00:00+08:00" in out
    assert "P10 kW" in out and "P50 kW" in out and "P90 kW" in out and "kWh" in out
    assert "12:00" in out and "03:00" not in out          # hourly rows, night left out


def test_intraday_json_and_issue_time(capsys):
    rc, out, _ = run(capsys, "forecast", "xt-county-rural", "--horizon", "intraday", "--date", "2024-09-03",
                     "--issue-time", "11:00", "--json")
    assert rc == 0
    f = json.loads(out)
    assert f["horizon"] == "intraday" and f["n_steps"] == 16
    assert f["issue_time"] == "2024-09-03T11:00:00+08:00" == f["timestamps"][0]
    rc, out, _ = run(capsys, "forecast", "xt-county-rural", "--horizon", "intraday", "--date", "2024-09-03")
    assert rc == 0 and "intraday PV forecast 10:00 .. 13:45 on 2024-09-03" in out


def test_default_date_is_tomorrow_in_shanghai(capsys):
    rc, out, _ = run(capsys, "forecast", "xt-county-rural", "--json")
    assert rc == 0
    tomorrow = (pd.Timestamp.now(tz="Asia/Shanghai").normalize() + pd.Timedelta(days=1))
    assert json.loads(out)["timestamps"][0] == tomorrow.isoformat()


def test_forecast_weather_file(capsys):
    rc, out, _ = run(capsys, "forecast", "xt-county-rural", "--date", "2024-07-03", "--weather", SAMPLE, "--json")
    assert rc == 0
    f = json.loads(out)
    assert f["issue_time"] == "2024-07-02T12:00:00+08:00" and f["n_steps"] == 96


@pytest.mark.parametrize("argv, words", [
    (("forecast", "no-such-feeder"), ("no-such-feeder",)),
    (("forecast", "xt-county-rural", "--date", "2025-13-01"), ("2025-13-01", "YYYY-MM-DD")),
    (("forecast", "xt-county-rural", "--date", "tomorrow"), ("tomorrow",)),
    (("forecast", "xt-county-rural", "--weather", "/nonexistent/fc.csv"), ("/nonexistent/fc.csv",)),
    (("forecast", "xt-county-rural", "--date", "2024-08-03", "--weather", SAMPLE), ("covers",)),
    (("forecast", "case33bw"), ("case33bw", "PV")),
    (("forecast",), ("FEEDER",)),
    (("forecast", "xt-county-rural", "--issue-time", "noon"), ("noon",)),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, words):
    one_line_error(*run(capsys, *argv), *words)


def test_bad_weather_file_content(tmp_path, capsys):
    bad = tmp_path / "fc.csv"
    bad.write_text("time,ghi\n2024-07-01T00:00:00+08:00,0\n")
    one_line_error(*run(capsys, "forecast", "xt-county-rural", "--date", "2024-07-01", "--weather", str(bad)),
                   str(bad))


def test_validate_prints_the_measured_data_metrics(capsys):
    rc, out, err = run(capsys, "forecast", "--validate", "--json")
    assert rc == 0, err
    v = json.loads(out)
    assert {"mbe_kw", "mae_kw", "rmse_kw", "nrmse_percent", "n_points"} <= set(v)
    assert v["n_points"] > 1000
    rc, out, _ = run(capsys, "forecast", "--validate")
    assert rc == 0 and "rmse_kw" in out and "SERF" in out
