"""PV forecasts: baselines against independent definitions, calibration, backtest, JSON.

The year of "measured" fleet power (the fleet model on the default typical
year) and the backtest are computed once per module. References: the
baselines are re-derived here with plain pandas (groupby, explicit slicing);
the forecast-weather P50 is the fleet model run directly on the file's
weather; coverage is judged on days the calibration never saw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridint.config import project_root
from gridint.errors import FeederError, GridintError, WeatherError
from gridint.grid.catalog import load_feeder
from gridint.solar import forecast as fc
from gridint.solar.fleet import fleet_ac_kw, pv_systems
from gridint.solar.weather import default_weather, read_forecast_weather

FEEDER = "xt-county-rural"
FIELDS = {"feeder", "issue_time", "horizon", "interval_min", "n_steps", "timestamps", "pv_kw_p10",
          "pv_kw_p50", "pv_kw_p90", "energy_kwh_p50", "capacity_kwp", "history", "measured_steps"}
SAMPLE = project_root() / "weather" / "xiangtan_forecast_sample.csv"


@pytest.fixture(scope="module")
def year():
    feeder = load_feeder(FEEDER)
    systems = pv_systems(feeder.net)
    truth = fc.fleet_truth(systems)
    cap = float(systems["ac_kw"].sum())
    results, model = fc.backtest(truth["measured_kw"], truth["clearsky_kw"], cap)
    return dict(feeder=feeder, systems=systems, truth=truth, cap=cap, results=results, model=model,
                y=truth["measured_kw"], cs=truth["clearsky_kw"])


def _row(results, horizon, method="calibrated"):
    r = results[(results.horizon == horizon) & (results.method == method)]
    assert len(r) == 1
    return r.iloc[0]


# --------------------------------------------------------------------------- baselines
def test_day_ahead_persistence_takes_the_latest_day_measured_at_issue(year):
    y = year["y"]
    day = pd.Timestamp("2024-05-10", tz="Asia/Shanghai")
    idx = pd.date_range(day, periods=96, freq="15min")
    got = fc.persistence_day_ahead(y, idx, issue_hour=12)
    # issued 9 May 12:00: mornings from 9 May, afternoons (not yet measured) from 8 May
    ref = np.concatenate([y.loc["2024-05-09 00:00":"2024-05-09 11:45"].to_numpy(),
                          y.loc["2024-05-08 12:00":"2024-05-08 23:45"].to_numpy()])
    np.testing.assert_allclose(got.to_numpy(), ref)


def test_smart_persistence_uses_the_24h_before_issue(year):
    y, cs = year["y"], year["cs"]
    idx = pd.date_range("2024-08-20", periods=96, freq="15min", tz="Asia/Shanghai")
    got = fc.smart_persistence_day_ahead(y, cs, idx, issue_hour=12)
    win = slice("2024-08-18 12:00", "2024-08-19 11:45")      # 24 h before 19 Aug 12:00
    k24 = y.loc[win].sum() / cs.loc[win].sum()
    np.testing.assert_allclose(got.to_numpy(), k24 * cs.loc[idx].to_numpy(), rtol=1e-12)
    # intraday: the latest quarter-hour's clear-sky index, 1 h ahead
    t = pd.date_range("2024-08-20 11:00", periods=4, freq="15min", tz="Asia/Shanghai")
    got = fc.smart_persistence_intraday(y, cs, t, horizon_steps=4)
    k_last = (y.loc[t - pd.Timedelta("1h")] / cs.loc[t - pd.Timedelta("1h")]).to_numpy()
    np.testing.assert_allclose(got.to_numpy(), k_last * cs.loc[t].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(fc.persistence_intraday(y, t, 4).to_numpy(),
                               y.loc[t - pd.Timedelta("1h")].to_numpy())


def test_climatology_is_the_month_time_of_day_mean(year):
    y = year["y"]
    ref = y.groupby([y.index.month, y.index.hour, y.index.minute]).mean()
    idx = pd.date_range("2031-03-05", periods=96, freq="15min", tz="Asia/Shanghai")
    got = fc.climatology(y, idx)
    want = [ref.loc[(3, t.hour, t.minute)] for t in idx]
    np.testing.assert_allclose(got.to_numpy(), want, rtol=1e-12)


# --------------------------------------------------------------------------- probabilistic
def test_quantiles_never_cross_are_zero_at_night_and_within_capacity(year):
    m, y, cs, cap = year["model"], year["y"], year["cs"], year["cap"]
    idx = y.index[2 * 96:]
    k = fc.day_ahead_k(m, y, cs, idx)
    q = fc.quantile_forecast(m, k * cs.loc[idx].to_numpy(), cs.loc[idx].to_numpy(), 0).to_numpy()
    assert list(fc.quantile_forecast(m, [1.0], [2.0], 0).columns) == ["p10_kw", "p50_kw", "p90_kw"]
    assert np.all(np.diff(q, axis=1) >= 0)
    night = cs.loc[idx].to_numpy() <= 0
    assert night.sum() > 10_000 and np.all(q[night] == 0)
    assert q.min() >= 0 and q.max() <= cap + 1e-9
    for h in (1, 8, 16):
        k = fc.intraday_k(m, y, cs, idx, h)
        q = fc.quantile_forecast(m, k * cs.loc[idx].to_numpy(), cs.loc[idx].to_numpy(), h).to_numpy()
        assert np.all(np.diff(q, axis=1) >= 0) and np.all(q[night] == 0)
    # a P50 far outside the error quantiles is still sorted into place
    q = fc.quantile_forecast(m, [cap], [0.3 * cap], 0).to_numpy()
    assert np.all(np.diff(q, axis=1) >= 0)


def test_p10_p90_coverage_on_held_out_days_is_80_percent(year):
    res = year["results"]
    for horizon in ("day-ahead", "intraday 15 min", "intraday 1 h", "intraday 2 h", "intraday 4 h"):
        cov = _row(res, horizon)["coverage_percent"]
        assert 75.0 <= cov <= 85.0, (horizon, cov)


def test_coverage_is_recomputed_independently_on_held_out_days(year):
    """Recount the day-ahead coverage by hand on the held-out days only."""
    m, y, cs = year["model"], year["y"], year["cs"]
    days = (y.index.normalize() - y.index[0].normalize()).days
    held = (days % 4 == 3) & (days >= 2) & (cs.to_numpy() > 0)
    idx = y.index[held]
    p50 = fc.day_ahead_k(m, y, cs, idx) * cs.loc[idx].to_numpy()
    q = fc.quantile_forecast(m, np.minimum(p50, year["cap"]), cs.loc[idx].to_numpy(), 0)
    inside = (y.loc[idx].to_numpy() >= q["p10_kw"].to_numpy()) & (y.loc[idx].to_numpy() <= q["p90_kw"].to_numpy())
    assert 100 * inside.mean() == pytest.approx(_row(year["results"], "day-ahead")["coverage_percent"])
    # the calibration never saw these days
    assert m.n_train_days == pytest.approx(366 - 2 - 91, abs=1)


def test_calibrated_day_ahead_is_at_least_as_skilful_as_smart_persistence(year):
    res = year["results"]
    da = _row(res, "day-ahead")
    assert da["skill_vs_smart_persistence"] >= 0.0
    assert da["rmse_kw"] <= _row(res, "day-ahead", "smart persistence")["rmse_kw"]
    for horizon in ("intraday 15 min", "intraday 1 h", "intraday 2 h", "intraday 4 h"):
        assert _row(res, horizon)["skill_vs_smart_persistence"] >= -0.02, horizon
    # intraday errors grow with the horizon, and every intraday horizon beats day-ahead
    rmse = [_row(res, h)["rmse_kw"] for h in ("intraday 15 min", "intraday 1 h", "intraday 2 h",
                                              "intraday 4 h", "day-ahead")]
    assert rmse == sorted(rmse)


# --------------------------------------------------------------------------- one feeder, one day
def test_forecast_feeder_json_fields(year):
    out = fc.forecast_feeder(year["feeder"], "2025-06-15", per_bus=True)
    assert set(out) == FIELDS | {"buses"}
    assert out["horizon"] == "day-ahead" and out["interval_min"] == 15 and out["n_steps"] == 96
    assert out["issue_time"] == "2025-06-14T12:00:00+08:00"
    assert out["timestamps"][0] == "2025-06-15T00:00:00+08:00"
    assert out["timestamps"][-1] == "2025-06-15T23:45:00+08:00"
    p10, p50, p90 = (np.array(out[k]) for k in ("pv_kw_p10", "pv_kw_p50", "pv_kw_p90"))
    assert len(p10) == len(p50) == len(p90) == 96
    assert np.all(p10 <= p50) and np.all(p50 <= p90)
    assert p50[:16].max() == 0 and p50[-12:].max() == 0          # midnight to 4:00, 21:00 on
    assert out["energy_kwh_p50"] == pytest.approx(p50.sum() / 4, abs=0.01)
    assert out["capacity_kwp"] == pytest.approx(year["systems"]["kwp"].sum(), abs=1e-3)
    assert p90.max() <= year["cap"] + 1e-6
    buses = out["buses"]
    assert {b["name"] for b in buses} == {str(year["feeder"].net.bus.at[b, "name"])
                                          for b in year["systems"]["bus"].unique()}
    total = np.sum([b["pv_kw_p50"] for b in buses], axis=0)
    np.testing.assert_allclose(total, p50, atol=0.01 * len(buses))


def test_day_ahead_uses_no_measurement_after_the_issue_time(year):
    """Change the weather after D-1 12:00: the day-ahead forecast must not move."""
    w = default_weather()
    out = fc.forecast_feeder(year["feeder"], "2024-04-11")
    w2 = w.copy()
    later = (w2.index >= pd.Timestamp("2024-04-10 12:00", tz="Asia/Shanghai")) & \
            (w2.index < pd.Timestamp("2024-04-12", tz="Asia/Shanghai"))
    w2.loc[later, ["ghi", "dni", "dhi"]] *= 0.1
    out2 = fc.forecast_feeder(year["feeder"], "2024-04-11", weather=w2)
    assert out2["pv_kw_p50"] == out["pv_kw_p50"] and out2["pv_kw_p90"] == out["pv_kw_p90"]
    # ... while the history before the issue time does move it
    w3 = w.copy()
    w3.loc["2024-04-10 06:00":"2024-04-10 11:45", ["ghi", "dni", "dhi"]] *= 0.1
    out3 = fc.forecast_feeder(year["feeder"], "2024-04-11", weather=w3)
    assert sum(out3["pv_kw_p50"]) != pytest.approx(sum(out["pv_kw_p50"]), rel=1e-3)


def test_intraday_follows_the_latest_measurement(year):
    y = year["y"]
    out = fc.forecast_feeder(year["feeder"], "2024-09-03", horizon="intraday", issue_time="11:00")
    assert set(out) == FIELDS and out["n_steps"] == 16
    assert out["issue_time"] == "2024-09-03T11:00:00+08:00"
    assert out["timestamps"][0] == "2024-09-03T11:00:00+08:00"
    assert out["timestamps"][-1] == "2024-09-03T14:45:00+08:00"
    p10, p50, p90 = (np.array(out[k]) for k in ("pv_kw_p10", "pv_kw_p50", "pv_kw_p90"))
    assert np.all(p10 <= p50) and np.all(p50 <= p90)
    # 15 min ahead the P50 is close to what is then measured (clear-sky-index persistence)
    actual = y.loc["2024-09-03 11:00"]
    last = y.loc["2024-09-03 10:45"]
    assert abs(p50[0] - actual) <= abs(last - actual) + 0.1 * year["cap"]
    # the interval widens with the horizon
    assert (p90 - p10)[-4:].mean() > (p90 - p10)[:2].mean()


def test_forecast_weather_p50_is_the_fleet_model_on_it(year):
    out = fc.forecast_feeder(year["feeder"], "2024-07-03", forecast_weather=SAMPLE)
    fw = read_forecast_weather(SAMPLE)
    issue = pd.Timestamp("2024-07-02 12:00", tz="Asia/Shanghai")
    assert out["issue_time"] == issue.isoformat()
    sub = fw[fw["issue_time"] == issue].loc["2024-07-03"]
    ref = fleet_ac_kw(year["systems"], sub.drop(columns="issue_time")).sum(axis=1).to_numpy()
    np.testing.assert_allclose(out["pv_kw_p50"], ref, atol=2e-3)
    p10, p90 = np.array(out["pv_kw_p10"]), np.array(out["pv_kw_p90"])
    assert np.all(p10 <= out["pv_kw_p50"]) and np.all(out["pv_kw_p50"] <= p90)
    with pytest.raises(WeatherError, match="covers"):
        fc.forecast_feeder(year["feeder"], "2024-08-03", forecast_weather=SAMPLE)


def test_any_calendar_date_maps_to_the_typical_year(year):
    out = fc.forecast_feeder(year["feeder"], "2031-01-01")          # history on 30/31 Dec
    assert out["issue_time"] == "2030-12-31T12:00:00+08:00" and out["energy_kwh_p50"] > 0
    leap = fc.forecast_feeder(year["feeder"], "2028-02-29")
    assert leap["n_steps"] == 96 and leap["energy_kwh_p50"] > 0


def test_bad_inputs_raise_gridint_errors(year):
    with pytest.raises(GridintError, match="YYYY-MM-DD"):
        fc.forecast_feeder(year["feeder"], "2025-02-30")
    with pytest.raises(GridintError, match="horizon"):
        fc.forecast_feeder(year["feeder"], "2025-02-03", horizon="week-ahead")
    with pytest.raises(GridintError, match="before"):
        fc.forecast_feeder(year["feeder"], "2025-02-03", issue_time="2025-02-03T08:00+08:00")
    with pytest.raises(FeederError, match="no in-service PV"):
        fc.forecast_feeder("case33bw", "2025-02-03")
