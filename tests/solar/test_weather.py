"""Weather year, date mapping and weather-file readers (gridint.solar.weather).

Independent references: published climate figures for Changsha/Xiangtan (annual GHI about
1,150-1,200 kWh/m2, CMA temperature normals: January 4.9 degC, July 29.3 degC), pvlib's
own solar position and Ineichen clear sky recomputed here, pvlib's shipped TMY3/TMY2
files read by pvlib itself, and measured 1-min GHI (NREL MIDC BMS, shipped with
pvanalytics).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
import pytest

from gridint.config import project_root
from gridint.errors import GridintError, WeatherError
from gridint.solar import weather as W
from gridint.solar.weather import (
    WEATHER_COLUMNS,
    default_weather,
    generate_weather_year,
    read_forecast_weather,
    read_weather,
    weather_for_period,
    write_weather,
)

WEATHER_DIR = project_root() / "weather"
PVLIB_DATA = Path(pvlib.__file__).parent / "data"
TMY3 = PVLIB_DATA / "723170TYA.CSV"  # Greensboro NC, NREL TMY3
TMY2 = PVLIB_DATA / "12839.tm2"  # Miami FL, NREL TMY2
LAT, LON, ALT = 27.83, 112.94, 54.0

# Documented climatology (weather/README.md), mean daily GHI [kWh/m2/day], Jan..Dec.
README_MONTHLY_GHI = [1.85, 2.05, 2.45, 3.20, 3.80, 4.05, 5.20, 4.85, 3.90, 3.00, 2.45, 1.95]


@pytest.fixture(scope="module")
def year() -> pd.DataFrame:
    return default_weather()


@pytest.fixture(scope="module")
def sun(year) -> tuple[pd.DataFrame, pd.DataFrame]:
    """pvlib solar position and Ineichen clear sky at mid-interval, computed here."""
    loc = pvlib.location.Location(LAT, LON, tz="Asia/Shanghai", altitude=ALT)
    mid = year.index + pd.Timedelta(minutes=7.5)
    sol = loc.get_solarposition(mid)
    tl = pvlib.clearsky.lookup_linke_turbidity(mid, LAT, LON)
    cs = loc.get_clearsky(mid, model="ineichen", linke_turbidity=tl, solar_position=sol)
    return sol, cs


# --------------------------------------------------------------------------------------
# default year: climatology and physics
# --------------------------------------------------------------------------------------
def test_default_year_layout(year):
    assert list(year.columns) == list(WEATHER_COLUMNS)
    assert str(year.index.tz) == "Asia/Shanghai"
    assert len(year) == 366 * 96
    assert year.index[0] == pd.Timestamp("2024-01-01T00:00:00+08:00")
    assert (np.diff(year.index.asi8) == 15 * 60 * 10**9).all()
    assert np.isfinite(year.to_numpy()).all()
    assert year.attrs["typical"] is True and year.attrs["location"]["latitude"] == LAT


def test_annual_and_monthly_ghi_match_published_climatology(year):
    annual = year["ghi"].sum() * 0.25 / 1000.0
    assert 1150.0 <= annual <= 1200.0
    by_month = year["ghi"].groupby(year.index.month)
    per_day = by_month.sum() * 0.25 / 1000.0 / (by_month.size() / 96)
    np.testing.assert_allclose(per_day.to_numpy(), README_MONTHLY_GHI, rtol=0.15)
    assert per_day.idxmax() == 7 and per_day[6] < per_day[7]  # June Meiyu dip before the July maximum


def test_ghi_below_clear_sky_and_zero_at_night(year, sun):
    sol, cs = sun
    night = (sol["apparent_elevation"] < 0).to_numpy()
    assert (year["ghi"].to_numpy()[night] == 0).all()
    assert (year["dni"].to_numpy()[night] == 0).all() and (year["dhi"].to_numpy()[night] == 0).all()
    assert (year["ghi"].to_numpy() <= 1.1 * cs["ghi"].to_numpy() + 0.1).all()
    assert (year[["ghi", "dni", "dhi"]].to_numpy() >= 0).all()
    # clear days exist and reach clear sky at noon; overcast days too
    cs_day = pd.Series(cs["ghi"].to_numpy(), index=year.index).resample("D").sum().to_numpy()
    k_day = year["ghi"].resample("D").sum().to_numpy() / cs_day
    assert (k_day > 0.8).sum() >= 20 and (k_day < 0.3).sum() >= 40
    # day-to-day persistence of cloudiness (lag-1 autocorrelation of daily clear-sky index)
    assert 0.2 < pd.Series(k_day).autocorr() < 0.8


def test_dni_dhi_closure(year, sun):
    sol, _ = sun
    cosz = np.cos(np.radians(sol["zenith"].to_numpy()))
    recon = year["dni"].to_numpy() * np.clip(cosz, 0, None) + year["dhi"].to_numpy()
    assert np.abs(recon - year["ghi"].to_numpy()).max() < 0.2  # file rounding (0.1 W/m2)
    assert year["dni"].max() < 1100.0
    # diffuse fraction: overcast steps nearly all diffuse, the year about 40-65 % diffuse (humid subtropics)
    frac = year["dhi"].sum() / year["ghi"].sum()
    assert 0.4 < frac < 0.7


def test_temperature_and_wind_climate(year):
    monthly = year["temp_air"].groupby(year.index.month).mean()
    assert 3.9 <= monthly[1] <= 6.5  # CMA normal 4.9 degC
    assert 28.3 <= monthly[7] <= 30.3  # CMA normal 29.3 degC
    assert monthly.idxmax() in (7, 8) and monthly.idxmin() in (1, 12)
    assert -10.0 < year["temp_air"].min() and year["temp_air"].max() < 41.0
    hourly = year["temp_air"].groupby(year.index.hour).mean()
    assert hourly.idxmax() in (14, 15, 16) and hourly.idxmin() in (4, 5, 6, 7)
    daily = year["temp_air"].resample("D")
    dtr = (daily.max() - daily.min()).mean()
    assert 4.0 < dtr < 11.0  # Changsha mean diurnal range about 6-8 K
    assert 1.0 <= year["wind_speed"].mean() <= 3.0
    assert year["wind_speed"].min() > 0 and year["wind_speed"].max() < 20


def test_regeneration_reproduces_committed_files(tmp_path):
    W.write_default_files(tmp_path)
    for name in (W.WEATHER_FILE, W.FORECAST_SAMPLE_FILE):
        new, old = (tmp_path / name).read_bytes(), (WEATHER_DIR / name).read_bytes()
        if name.endswith(".gz"):
            assert gzip.decompress(new) == gzip.decompress(old), f"{name}: run python -m gridint.solar.weather weather/"
        assert new == old, f"{name} differs from its regeneration; run python -m gridint.solar.weather weather/"


def test_generator_is_seeded():
    a = generate_weather_year(2023, seed=5)
    b = generate_weather_year(2023, seed=6)
    assert len(a) == 365 * 96
    assert not a["ghi"].equals(b["ghi"])
    # the climatology holds for any seed
    for df in (a, b):
        assert 1150 <= df["ghi"].sum() / 4000 <= 1200


def test_forecast_sample(year):
    fc = read_forecast_weather(WEATHER_DIR / W.FORECAST_SAMPLE_FILE)
    assert list(fc.columns) == ["issue_time", *WEATHER_COLUMNS]
    assert (fc["issue_time"] < fc.index).all()
    assert fc["issue_time"].nunique() == 7 and len(fc) == 7 * 96
    truth = weather_for_period(fc.index[0], fc.index[-1] + pd.Timedelta(minutes=15))
    err = fc["ghi"].to_numpy() - truth["ghi"].to_numpy()
    assert 0 < np.abs(err).mean() < 0.5 * truth["ghi"].mean()  # a forecast, neither perfect nor useless
    el = pvlib.solarposition.get_solarposition(fc.index + pd.Timedelta(minutes=7.5), LAT, LON, ALT)
    assert (fc["ghi"].to_numpy()[el["apparent_elevation"].to_numpy() < 0] == 0).all()  # night stays zero


# --------------------------------------------------------------------------------------
# weather_for_period: month-day mapping
# --------------------------------------------------------------------------------------
def test_period_in_2031_maps_by_month_day(year):
    w = weather_for_period("2031-07-15", "2031-07-17")
    assert len(w) == 192 and w.index[0] == pd.Timestamp("2031-07-15T00:00+08:00")
    np.testing.assert_array_equal(w.to_numpy(), year.loc["2024-07-15":"2024-07-16"].to_numpy())


def test_period_across_new_year_and_other_time_zone(year):
    w = weather_for_period(pd.Timestamp("2030-12-31T12:00", tz="UTC"), pd.Timestamp("2031-01-01T12:00", tz="UTC"))
    assert str(w.index.tz) == "UTC" and len(w) == 96
    local = w.index.tz_convert("Asia/Shanghai")
    # 2030-12-31 20:00+08 -> 2024-12-31 20:00; 2031-01-01 00:00+08 -> 2024-01-01 00:00
    assert w.loc[pd.Timestamp("2030-12-31T12:00", tz="UTC")].equals(year.loc[pd.Timestamp("2024-12-31T20:00+08:00")])
    first_jan = local.month == 1
    np.testing.assert_array_equal(w.to_numpy()[first_jan], year.loc["2024-01-01 00:00":"2024-01-01 19:45"].to_numpy())


def test_29_february(year, tmy3):
    # the default year (2024) has 29 February: kept
    w = weather_for_period("2028-02-29", "2028-03-01")
    np.testing.assert_array_equal(w.to_numpy(), year.loc["2024-02-29"].to_numpy())
    # a typical year without 29 February (TMY3) serves it with 28 February
    w2 = weather_for_period("2028-02-29T00:00-05:00", "2028-03-01T00:00-05:00", weather=tmy3)
    np.testing.assert_array_equal(w2.to_numpy(), tmy3.loc["1990-02-28"].to_numpy())
    # and a non-leap request of 28 February is unaffected
    w3 = weather_for_period("2031-02-28", "2031-03-01")
    np.testing.assert_array_equal(w3.to_numpy(), year.loc["2024-02-28"].to_numpy())


def test_user_weather_serves_only_its_dates(tmp_path, year):
    path = write_weather(year.loc["2024-07-01":"2024-07-03"], tmp_path / "own.csv")
    own = read_weather(path)
    assert own.attrs["typical"] is False
    w = weather_for_period("2024-07-02", "2024-07-03", weather=own)
    np.testing.assert_array_equal(w.to_numpy(), year.loc["2024-07-02"].to_numpy())
    with pytest.raises(WeatherError, match=r"covers 2024-07-01T00:00:00\+08:00 to 2024-07-04T00:00:00\+08:00"):
        weather_for_period("2025-07-02", "2025-07-03", weather=own)
    with pytest.raises(WeatherError, match="empty period"):
        weather_for_period("2024-07-02", "2024-07-01")


# --------------------------------------------------------------------------------------
# readers: pvlib iotools formats and measured data
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tmy3() -> pd.DataFrame:
    return read_weather(TMY3)


def _tmy3_raw() -> pd.DataFrame:
    data, _ = pvlib.iotools.read_tmy3(TMY3, coerce_year=1990)
    return data


def test_read_tmy3_keeps_hourly_energy_and_night(tmy3):
    w = tmy3
    raw = _tmy3_raw()
    assert w.attrs["typical"] and w.attrs["location"]["latitude"] == pytest.approx(36.1)
    assert len(w) == 8760 * 4 and (np.diff(w.index.asi8) == 15 * 60 * 10**9).all()
    assert w.index[0] == pd.Timestamp("1990-01-01T00:00-05:00")
    # hour-ending TMY3 values -> each hour's energy kept in its four quarter-hours (except the
    # little energy of hours with the sun down all along, moved into the nearest sunlit
    # quarter-hour), each day's energy exactly
    ref = pd.DataFrame(raw[["ghi", "dni", "dhi"]].astype(float).to_numpy(), index=raw.index - pd.Timedelta(hours=1),
                       columns=["ghi", "dni", "dhi"])
    for c in ("ghi", "dni", "dhi"):
        diff = np.abs(w[c].resample("h").mean().to_numpy() - ref[c].to_numpy())
        assert (diff < 1e-6).mean() > 0.99 and diff.max() < 30.0
        np.testing.assert_allclose(w[c].resample("D").sum().to_numpy() / 4, ref[c].resample("D").sum().to_numpy(),
                                   atol=1e-6)
    # night (pvlib: sun below the horizon all quarter-hour) is zero
    loc = pvlib.location.Location(36.1, -79.95, altitude=273)
    el = loc.get_solarposition(w.index + pd.Timedelta(minutes=7.5))["apparent_elevation"].to_numpy()
    assert (w["ghi"].to_numpy()[el < -1] == 0).all()
    # temperature: readings "at the time indicated", interpolated to quarter-hour centres
    t = w["temp_air"]
    t00, t01 = raw["temp_air"].loc["1990-07-01 00:00"], raw["temp_air"].loc["1990-07-01 01:00"]
    assert t.loc["1990-07-01 00:45"] == pytest.approx(t00 + 52.5 / 60 * (t01 - t00))
    assert abs(t.mean() - raw["temp_air"].mean()) < 0.05
    assert 13 < t.mean() < 16 and 2 < w["wind_speed"].mean() < 4  # Greensboro climate


def test_read_tmy2():
    w = read_weather(TMY2)
    assert w.attrs["location"]["name"].strip() == "MIAMI"
    assert 1700 < w["ghi"].sum() / 4000 < 1900  # Miami ~1,790 kWh/m2 (TMY2)
    assert 23 < w["temp_air"].mean() < 26  # tenths of degC converted


def _write_epw(path: Path, raw: pd.DataFrame) -> None:
    lines = [
        "LOCATION,Greensboro,NC,USA,TMY3,723170,36.10,-79.95,-5.0,273.0",
        "DESIGN CONDITIONS,0", "TYPICAL/EXTREME PERIODS,0", "GROUND TEMPERATURES,0",
        "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0", "COMMENTS 1,written by gridint tests from pvlib 723170TYA.CSV",
        "COMMENTS 2,", "DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31",
    ]
    begin = raw.index - pd.Timedelta(hours=1)
    for t, (_, r) in zip(begin, raw.iterrows()):
        fields = [1990, t.month, t.day, t.hour + 1, 60, "?9?9?9?9E0?9?9?9?9?9?9?9?9?9?9?9?9?9?9*9*9?9?9?9",
                  r["temp_air"], r["temp_dew"], r["relative_humidity"], r["pressure"] * 100, 0, 0, 300,
                  r["ghi"], r["dni"], r["dhi"], 0, 0, 0, 0, r["wind_direction"], r["wind_speed"], 5, 5, 16.0,
                  77777, 9, 999999999, 10, 0.1, 0, 88, 0.2, 0, 0]
        lines.append(",".join(str(f) for f in fields))
    path.write_text("\n".join(lines) + "\n")


def test_read_epw_agrees_with_tmy3(tmp_path, tmy3):
    raw = _tmy3_raw()
    epw = tmp_path / "greensboro.epw"
    _write_epw(epw, raw)
    a = read_weather(epw)
    b = tmy3
    assert a.attrs["typical"]
    pd.testing.assert_frame_equal(a, b, check_exact=False, atol=1e-6, check_freq=False)


def test_read_pvgis_tmy_json(tmp_path, tmy3):
    raw = _tmy3_raw()
    begin_utc = (raw.index - pd.Timedelta(hours=1)).tz_convert("UTC")
    # PVGIS: irradiance = mean of the hour starting at the stamp, T2m/WS10m = reading at the stamp
    t_at = np.roll(raw["temp_air"].to_numpy(), 1)
    ws_at = np.roll(raw["wind_speed"].to_numpy(), 1)
    rows = [{"time(UTC)": t.strftime("%Y%m%d:%H%M"), "T2m": ta, "RH": r["relative_humidity"],
             "G(h)": r["ghi"], "Gb(n)": r["dni"], "Gd(h)": r["dhi"], "IR(h)": 300.0, "WS10m": ws,
             "WD10m": r["wind_direction"], "SP": r["pressure"] * 100}
            for t, ta, ws, (_, r) in zip(begin_utc, t_at, ws_at, raw.iterrows())]
    src = {"inputs": {"location": {"latitude": 36.1, "longitude": -79.95, "elevation": 273.0}},
           "outputs": {"months_selected": [{"month": m, "year": 2007} for m in range(1, 13)], "tmy_hourly": rows},
           "meta": {"inputs": {}}}
    path = tmp_path / "pvgis_tmy.json"
    path.write_text(json.dumps(src))
    a = read_weather(path)
    assert str(a.index.tz) == "UTC" and a.attrs["typical"] and len(a) == 8760 * 4
    b = tmy3.copy()
    b.index = b.index.tz_convert("UTC")
    june = slice("1990-06-01", "1990-06-30")
    pd.testing.assert_frame_equal(a.loc[june], b.loc[june], check_exact=False, atol=1e-6, check_freq=False)


def _bms_ghi() -> pd.Series:
    """Measured 1-min GHI, NREL MIDC BMS (Golden, CO), 20 Jan 2022, shipped with pvanalytics."""
    import pvanalytics

    path = Path(pvanalytics.__file__).parent / "data" / "midc_bms_ghi_20220120.csv"
    s = pd.read_csv(path, index_col=0).iloc[:, 0]
    s.index = pd.to_datetime(s.index)
    return s


BMS_LOC = dict(latitude=39.742, longitude=-105.18, altitude=1828.8, tz="Etc/GMT+7", name="NREL SRRL BMS")


def test_read_midc_measured_1min(tmp_path):
    ghi = _bms_ghi()
    temp = -5 + 5 * np.sin(np.linspace(0, 2 * np.pi, len(ghi)))
    lines = ["DATE (MM/DD/YYYY),MST,Global CMP22 (vent/cor) [W/m^2],Tower Dry Bulb Temp [deg C],"
             "Avg Wind Speed @ 6ft [m/s]"]
    for t, g, tc in zip(ghi.index, ghi.to_numpy(), temp):
        lines.append(f"{t:%m/%d/%Y},{t:%H:%M},{g:.3f},{tc:.2f},2.5")
    path = tmp_path / "bms.csv"
    path.write_text("\n".join(lines) + "\n")
    w = read_weather(path, loc=BMS_LOC)
    assert len(w) == 96 and w.index[0] == pd.Timestamp("2022-01-20T00:00-07:00")
    ref = ghi.clip(lower=0).resample("15min").mean()  # night offsets (-1.4 W/m2) are clipped
    np.testing.assert_allclose(w["ghi"].to_numpy(), ref.to_numpy(), atol=1e-3)  # file written to 0.001
    assert 2.5 < w["ghi"].sum() / 4000 < 4.0  # a clear January day at Golden, CO
    # DNI/DHI derived with Erbs, closure holds
    sol = pvlib.location.Location(39.742, -105.18, altitude=1828.8).get_solarposition(w.index + pd.Timedelta("7.5min"))
    recon = w["dni"].to_numpy() * np.clip(np.cos(np.radians(sol["zenith"].to_numpy())), 0, None) + w["dhi"].to_numpy()
    np.testing.assert_allclose(recon, w["ghi"].to_numpy(), atol=1e-6)
    assert 0 < w["dhi"].sum() < 0.5 * w["ghi"].sum()  # a clear day is mostly beam
    # without a site, DNI/DHI cannot be derived: the error says what to pass
    with pytest.raises(WeatherError, match="loc="):
        read_weather(path)


def test_read_srml_5min(tmp_path):
    ghi = _bms_ghi().clip(lower=0).resample("5min").mean()
    lines = ["94255\t2022\t1000\t0\t9300\t0\t9210\t0"]
    for t, g in zip(ghi.index, ghi.to_numpy()):
        end = t + pd.Timedelta(minutes=5)
        hhmm = 2400 if end.day != t.day else end.hour * 100 + end.minute
        lines.append(f"20\t{hhmm}\t{g:.2f}\t11\t3.5\t11\t2.0\t11")
    path = tmp_path / "EUPO2201.txt"
    path.write_text("\n".join(lines) + "\n")
    w = read_weather(path, loc=BMS_LOC)
    assert len(w) == 96 and (w["temp_air"] == 3.5).all()
    np.testing.assert_allclose(w["ghi"].to_numpy(), ghi.resample("15min").mean().round(2).to_numpy(), atol=0.01)


def test_gridint_csv_hourly_and_naive_with_tz(tmp_path, year):
    day = year.loc["2024-07-15"]
    hourly = day.resample("h").mean()
    text = "time,ghi,dni,dhi,temp_air,wind_speed\n" + "".join(
        f"{t:%Y-%m-%d %H:%M},{r.ghi:.3f},{r.dni:.3f},{r.dhi:.3f},{r.temp_air:.2f},{r.wind_speed:.2f}\n"
        for t, r in hourly.iterrows())
    path = tmp_path / "hourly.csv"
    path.write_text(text)
    with pytest.raises(WeatherError, match="no UTC offset"):
        read_weather(path)
    w = read_weather(path, tz="Asia/Shanghai")
    assert len(w) == 96 and str(w.index.tz) == "Asia/Shanghai"
    np.testing.assert_allclose(w["ghi"].resample("h").mean().to_numpy(), hourly["ghi"].to_numpy(), atol=1e-3)
    assert np.corrcoef(w["ghi"], day["ghi"])[0, 1] > 0.9  # the disaggregated shape follows the original


# --------------------------------------------------------------------------------------
# readers: bad inputs give clear errors
# --------------------------------------------------------------------------------------
def _csv(tmp_path: Path, df: pd.DataFrame, name: str = "w.csv") -> Path:
    return write_weather(df, tmp_path / name)


@pytest.fixture(scope="module")
def week(year) -> pd.DataFrame:
    return year.loc["2024-07-01":"2024-07-07"].copy()


def test_error_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(WeatherError, match="does not exist"):
        read_weather(tmp_path / "nope.csv")
    p = tmp_path / "junk.csv"
    p.write_text("hello,world\n1,2\n")
    with pytest.raises(WeatherError, match="unknown weather format.*tmy3"):
        read_weather(p)
    with pytest.raises(WeatherError, match="unknown weather kind 'netcdf'"):
        read_weather(p, kind="netcdf")
    assert issubclass(WeatherError, GridintError)


def test_error_missing_column(tmp_path, week):
    p = tmp_path / "w.csv"
    week.drop(columns="temp_air").rename_axis("time").to_csv(p)
    with pytest.raises(WeatherError, match=r"missing column\(s\) \['temp_air'\]"):
        read_weather(p)


def test_error_gap_longer_than_one_hour_and_short_gap_filled(tmp_path, week):
    short = week.drop(week.index[40:44])  # 1 h missing: interpolated
    w = read_weather(_csv(tmp_path, short, "short.csv"))
    assert len(w) == len(week)
    long = week.drop(week.index[40:45])  # 1 h 15 min missing
    with pytest.raises(WeatherError, match=r"gap of 0 days 01:15:00.*2024-07-01T09:45:00\+08:00"):
        read_weather(_csv(tmp_path, long, "long.csv"))
    nan = week.copy()
    nan.iloc[40:46, 0] = np.nan
    p = tmp_path / "nan.csv"
    nan.rename_axis("time").to_csv(p)
    p.write_text(p.read_text().replace(" ", "T"))
    with pytest.raises(WeatherError, match="column 'ghi' is missing for 0 days 01:30:00"):
        read_weather(p)


@pytest.mark.parametrize(
    ("factor", "pattern"),
    [
        (1 / 1000.0, "kW/m2 or kWh/m2"),  # kW/m2 or kWh/m2 per hour
        (0.25, "energy per step"),  # Wh/m2 per quarter-hour
        (3.6, r"allowed 0-1500 W/m2"),  # kJ/m2 per hour
    ],
)
def test_error_irradiance_units(tmp_path, week, factor, pattern):
    bad = week.copy()
    bad[["ghi", "dni", "dhi"]] *= factor
    with pytest.raises(WeatherError, match=pattern):
        read_weather(_csv(tmp_path, bad))


def test_error_negative_irradiance_and_small_offsets_clipped(tmp_path, week):
    noisy = week.copy()
    noisy.loc[noisy["ghi"] == 0, "ghi"] = -3.0  # night offset of a thermopile
    w = read_weather(_csv(tmp_path, noisy, "noisy.csv"))
    assert (w["ghi"] >= 0).all() and w["ghi"].sum() == pytest.approx(week["ghi"].sum())
    bad = week.copy()
    bad.iloc[10, 0] = -50.0
    with pytest.raises(WeatherError, match=r"column 'ghi' is -50.0 W/m2.*must be >= 0"):
        read_weather(_csv(tmp_path, bad))


def test_error_temperature_range(tmp_path, week):
    kelvin = week.copy()
    kelvin["temp_air"] += 273.15
    with pytest.raises(WeatherError, match=r"temp_air.*allowed -50 to 60 degC \(Kelvin"):
        read_weather(_csv(tmp_path, kelvin))


def test_error_forecast_issued_after_valid_time(tmp_path, week):
    fc = week.iloc[:96].copy()
    fc.insert(0, "issue_time", fc.index[10])
    with pytest.raises(WeatherError, match="issue_time .* is after the valid time"):
        read_forecast_weather(write_weather(fc, tmp_path / "fc.csv"))
