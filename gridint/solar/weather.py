"""Weather for the PV model: the default Xiangtan weather year, date mapping, readers.

Everything here works on one table layout, the *weather frame*:

* index ``time``: tz-aware, interval-beginning labels every 15 minutes (a value is the
  mean over ``[time, time + 15 min)``, like every gridint time series);
* columns :data:`WEATHER_COLUMNS` = ``ghi, dni, dhi`` [W/m2], ``temp_air`` [degC],
  ``wind_speed`` [m/s];
* ``DataFrame.attrs``: ``location`` (dict ``latitude, longitude, altitude, tz, name``
  or None when the file does not say), ``typical`` (True for a typical year that serves
  any calendar date by month-day, see :func:`weather_for_period`), ``source``.

Default weather year
--------------------
:func:`generate_weather_year` builds a seeded, reproducible 15-minute year for Xiangtan
(27.83 N, 112.94 E, 54 m, Asia/Shanghai) from pvlib's models only — no network:

1. Solar position (NREL SPA, :meth:`pvlib.location.Location.get_solarposition`) at the
   middle of each quarter-hour; Ineichen-Perez clear sky with pvlib's shipped Linke
   turbidity climatology (:func:`pvlib.clearsky.lookup_linke_turbidity`, LinkeTurbidities.h5;
   Xiangtan Jan-Dec 3.2 ... 5.19 ... 3.3).
2. Daily clear-sky index ``k_d`` (daily GHI / daily clear-sky GHI) from a Gaussian-copula
   AR(1) process: a latent standard-normal AR(1) series (lag-1 correlation
   :data:`DAILY_PERSISTENCE`) mapped through the normal CDF into a Beta distribution whose
   mean is the month's clear-sky index of the climatology (Beta concentration 3.5:
   overcast, broken-cloud and clear days all occur). Overcast days (Hunan's spring
   rains, the June Meiyu) therefore come in spells: daily clearness is persistent from
   one day to the next (the reason Aguiar et al. 1988 generate it with Markov transition
   matrices). Each month is then rescaled to its target irradiation
   :data:`MONTHLY_GHI_KWH_M2_DAY` exactly.
3. Intra-day clear-sky index: AR(1) at 15 minutes (phi 0.9, i.e. cloud regimes of about
   2-3 h) around ``k_d`` with a standard deviation ``1.2 k_d (1 - k_d)`` (smooth on clear
   and on overcast days, most variable on broken-cloud days), limited to
   ``0.02 <= k <= 1.08`` (a little cloud enhancement); each day then rescaled back to its
   irradiation, each month to its target.
4. DNI and DHI from GHI with the Erbs decomposition (:func:`pvlib.irradiance.erbs`),
   DNI capped at the clear-sky DNI, DHI = GHI - DNI cos(zenith) so that the closure
   ``DNI cos(z) + DHI = GHI`` holds (to the rounding of the file).
5. Air temperature: daily means from the monthly normals
   :data:`MONTHLY_TEMP_AIR_C` (interpolated between mid-month days) plus an AR(1)
   anomaly (sd 3 K in winter, 1.2 K in midsummer, lag-1 0.75) plus a summer cloud term
   (clear summer days warmer); diurnal cycle with the minimum at sunrise and the
   maximum at 15:00, range ``2.5 + 8.5 k_d`` K (3-11 K: overcast to clear).
6. Wind speed at 10 m: monthly means about 2 m/s, lognormal daily AR(1) and 15-min
   variability, afternoon maximum; 0.1-15 m/s.

The committed file ``weather/xiangtan_typical_15min.csv.gz`` is this year for 2024 with
:data:`DEFAULT_SEED`; ``python -m gridint.solar.weather weather/`` rewrites it (and the
stand-in forecast sample) byte for byte.

User weather
------------
:func:`read_weather` reads the formats of :mod:`pvlib.iotools` (TMY3, TMY2, EPW, PVGIS
TMY csv/json/epw, SRML, MIDC) and the plain gridint CSV (``time,ghi,dni,dhi,temp_air,
wind_speed``, ISO 8601 with offset), checks them (gaps, units, time zone, ranges) and
brings them to 15 minutes:

* finer data (1-min, 5-min, 10-min, ...) are averaged into quarter-hours;
* coarser irradiance (hourly TMY) is disaggregated through the clear-sky index: the
  interval's clear-sky index (mean irradiance / mean pvlib clear-sky irradiance over the
  interval's quarter-hours, per component) is interpolated linearly between interval
  centres, multiplied by the 15-min clear sky and rescaled so that each interval keeps
  exactly its energy — hence daily energy is kept and night (clear sky zero) stays zero;
* coarser temperature and wind (instantaneous readings, "at the time indicated") are
  interpolated linearly in time to the quarter-hour centres.

References
----------
Ineichen P., Perez R. (2002), A new airmass independent formulation for the Linke
turbidity coefficient, Solar Energy 73(3), 151-157.
Remund J. et al. (2003), Worldwide Linke turbidity information, ISES Solar World Congress.
Erbs D.G., Klein S.A., Duffie J.A. (1982), Estimation of the diffuse radiation fraction
for hourly, daily and monthly-average global radiation, Solar Energy 28(4), 293-302.
Aguiar R., Collares-Pereira M., Conde J.P. (1988), Simple procedure for generating
sequences of daily radiation values using a library of Markov transition matrices,
Solar Energy 40(3), 269-279.
Wilcox S., Marion W. (2008), Users Manual for TMY3 Data Sets, NREL/TP-581-43156.
Long C.N., Dutton E.G. (2002), BSRN Global Network recommended QC tests, V2.0.
"""

from __future__ import annotations

import gzip
import logging
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridint.config import get_settings, project_root
from gridint._io import write_reproducible
from gridint.errors import WeatherError

__all__ = [
    "WEATHER_COLUMNS",
    "XIANGTAN",
    "DEFAULT_SEED",
    "DEFAULT_YEAR",
    "WEATHER_FILE",
    "FORECAST_SAMPLE_FILE",
    "WEATHER_KINDS",
    "MONTHLY_GHI_KWH_M2_DAY",
    "MONTHLY_TEMP_AIR_C",
    "DAILY_PERSISTENCE",
    "location",
    "generate_weather_year",
    "write_weather",
    "write_default_files",
    "default_weather",
    "weather_for_period",
    "read_weather",
    "read_forecast_weather",
    "main",
]

logger = logging.getLogger(__name__)

#: Columns of a weather frame: GHI, DNI, DHI [W/m2], air temperature [degC], wind speed [m/s].
WEATHER_COLUMNS: tuple[str, ...] = ("ghi", "dni", "dhi", "temp_air", "wind_speed")
#: The default site (city centre of Xiangtan, Hunan).
XIANGTAN: dict[str, Any] = dict(latitude=27.83, longitude=112.94, altitude=54.0, tz="Asia/Shanghai", name="Xiangtan")
#: Seed of the committed weather year.
DEFAULT_SEED = 20231
#: Calendar year of the committed weather year (a leap year: it has 29 February).
DEFAULT_YEAR = 2024
#: Committed typical year, relative to ``weather/``.
WEATHER_FILE = "xiangtan_typical_15min.csv.gz"
#: Committed stand-in forecast weather, relative to ``weather/``.
FORECAST_SAMPLE_FILE = "xiangtan_forecast_sample.csv"
#: Formats :func:`read_weather` understands.
WEATHER_KINDS: tuple[str, ...] = ("gridint", "tmy3", "tmy2", "epw", "pvgis_tmy", "srml", "midc")

# Monthly mean daily global horizontal irradiation, Xiangtan [kWh/m2/day], Jan..Dec.
# Typical values for the Changsha-Xiangtan area (China solar resource class IV), see
# weather/README.md: annual 1,183 kWh/m2 (4,260 MJ/m2) in 2024 (366 days); Changsha
# station about 1,194 kWh/m2. Shape: winter minimum, Feb-Apr rainy season, June Meiyu
# dip, July maximum under the subtropical high.
MONTHLY_GHI_KWH_M2_DAY: tuple[float, ...] = (1.85, 2.05, 2.45, 3.20, 3.80, 4.05, 5.20, 4.85, 3.90, 3.00, 2.45, 1.95)
# Monthly mean air temperature [degC], CMA 1991-2020 normals of Changsha (57687),
# valid for Xiangtan (40 km south, same plain) within a few tenths of a degree.
MONTHLY_TEMP_AIR_C: tuple[float, ...] = (4.9, 7.3, 11.3, 17.4, 22.3, 26.0, 29.3, 28.5, 24.4, 18.9, 12.9, 7.3)
# Monthly mean wind speed at 10 m [m/s]: typical of the Changsha/Xiangtan stations
# (annual about 2 m/s, slightly windier in July under the southerly monsoon).
MONTHLY_WIND_MS: tuple[float, ...] = (2.1, 2.2, 2.3, 2.2, 2.0, 2.0, 2.4, 2.2, 2.1, 2.0, 2.0, 2.0)
#: Lag-1 correlation of the latent daily clearness process (day-to-day persistence).
DAILY_PERSISTENCE = 0.5

_STEP = pd.Timedelta(minutes=15)
_STEPS_PER_DAY = 96
_MID_DOY = np.array([15.5, 45.5, 75.0, 105.5, 136.0, 166.5, 197.0, 228.0, 258.5, 289.0, 319.5, 350.0])
_BETA_CONCENTRATION = 3.5
_K_DAY_MIN, _K_DAY_MAX = 0.04, 0.97
_K_MIN, _K_MAX = 0.02, 1.08
_INTRADAY_PHI = 0.9
_T_ANOMALY_SD_WINTER_C = 3.0
_T_ANOMALY_SD_SUMMER_C = 1.2
_T_ANOMALY_PHI = 0.75
_T_MAX_CLOCK_H = 15.0
_DECIMALS = {"ghi": 1, "dni": 1, "dhi": 1, "temp_air": 2, "wind_speed": 2}

# --- plausibility limits of user data ----------------------------------------------
# Irradiance: mean W/m2 never above 1,500 (extraterrestrial normal irradiance is
# 1,321-1,412 W/m2; BSRN "physically possible" limits, Long & Dutton 2002, stay below
# it for any real sky); thermopile night offsets reach a few W/m2 below zero, so small
# negative values are clipped to 0 and only values below -10 W/m2 are rejected.
IRRADIANCE_MAX_W_M2 = 1500.0
IRRADIANCE_NEG_TOL_W_M2 = -10.0
# A day of data whose GHI never reaches 2 is in kW/m2 or kWh/m2, not W/m2.
GHI_UNIT_MIN_PEAK_W_M2 = 2.0
# Over a week or more, GHI peaking below 35 % of clear sky means energy per step
# (e.g. Wh/m2 per quarter-hour), not mean irradiance.
GHI_PEAK_TO_CLEARSKY_MIN = 0.35
TEMP_AIR_RANGE_C = (-50.0, 60.0)
WIND_SPEED_RANGE_MS = (0.0, 60.0)
# Gaps up to this length are interpolated; longer ones are an error.
MAX_GAP = pd.Timedelta(hours=1)
# Wind speed used when a file has none [m/s] (pvlib's default in its temperature models).
DEFAULT_WIND_MS = 1.0
# Year given to typical-year files (TMY2/3, EPW, PVGIS TMY) whose months come from
# different years; a non-leap year, as those files have no 29 February.
TYPICAL_YEAR = 1990


# ======================================================================================
# site
# ======================================================================================
def location(**overrides: Any):
    """The default site as a :class:`pvlib.location.Location`.

    Parameters
    ----------
    **overrides
        Any of ``latitude`` [deg N], ``longitude`` [deg E], ``altitude`` [m], ``tz``,
        ``name``. Defaults: the Settings ``site_latitude_deg``,
        ``site_longitude_deg``, ``site_altitude_m`` and ``timezone`` (Xiangtan,
        Asia/Shanghai).

    Returns
    -------
    pvlib.location.Location
    """
    import pvlib

    s = get_settings()
    site = dict(XIANGTAN)
    site.update(latitude=s.site_latitude_deg, longitude=s.site_longitude_deg, altitude=s.site_altitude_m, tz=s.timezone)
    if (site["latitude"], site["longitude"]) != (XIANGTAN["latitude"], XIANGTAN["longitude"]):
        site["name"] = "site"
    unknown = set(overrides) - set(site)
    if unknown:
        raise WeatherError(f"location(): unknown field(s) {sorted(unknown)}; allowed {sorted(site)}")
    site.update(overrides)
    return pvlib.location.Location(site["latitude"], site["longitude"], tz=site["tz"],
                                   altitude=site["altitude"], name=site["name"])


def _as_location(loc: Any):
    import pvlib

    if loc is None:
        return location()
    if isinstance(loc, pvlib.location.Location):
        return loc
    if isinstance(loc, dict):
        d = dict(XIANGTAN)
        d.update(loc)
        return pvlib.location.Location(d["latitude"], d["longitude"], tz=d.get("tz", "UTC"),
                                       altitude=d.get("altitude", 0.0), name=d.get("name"))
    raise WeatherError(f"loc must be a dict or pvlib.location.Location, got {type(loc).__name__}")


def _loc_dict(loc) -> dict[str, Any]:
    return dict(latitude=float(loc.latitude), longitude=float(loc.longitude), altitude=float(loc.altitude),
                tz=str(loc.tz), name=loc.name)


def _clearsky(mid: pd.DatetimeIndex, loc) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ineichen clear sky (night = 0) and solar position at the given instants."""
    import pvlib

    sol = loc.get_solarposition(mid)
    linke = pvlib.clearsky.lookup_linke_turbidity(mid, loc.latitude, loc.longitude)
    cs = loc.get_clearsky(mid, model="ineichen", linke_turbidity=linke, solar_position=sol)
    up = (sol["apparent_zenith"] < 90.0).to_numpy()
    cs = cs.where(pd.Series(up, index=cs.index), 0.0).fillna(0.0)
    return cs, sol


# ======================================================================================
# generator
# ======================================================================================
def _year_index(year: int, tz: str) -> pd.DatetimeIndex:
    start = pd.Timestamp(year=year, month=1, day=1, tz=tz)
    return pd.date_range(start, start + pd.DateOffset(years=1), freq=_STEP, inclusive="left", name="time")


def _ar1(eps: np.ndarray, phi: float, axis: int = -1) -> np.ndarray:
    """Unit-variance AR(1) from standard-normal innovations along ``axis``."""
    x = np.moveaxis(np.array(eps, dtype=float), axis, 0)
    c = math.sqrt(1.0 - phi * phi)
    for i in range(1, x.shape[0]):
        x[i] = phi * x[i - 1] + c * x[i]
    return np.moveaxis(x, 0, axis)


def _doy_interp(doy: np.ndarray, monthly: tuple[float, ...]) -> np.ndarray:
    xp = np.concatenate([_MID_DOY - 365.25, _MID_DOY, _MID_DOY + 365.25])
    return np.interp(doy, xp, np.tile(np.asarray(monthly, dtype=float), 3))


def _daily_clearness(month: np.ndarray, cs_daily_kwh: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Daily clear-sky index: Beta marginals, Gaussian-copula AR(1), monthly calibration."""
    from scipy import special, stats

    target = np.asarray(MONTHLY_GHI_KWH_M2_DAY) * np.bincount(month, minlength=12)
    cs_month = np.bincount(month, weights=cs_daily_kwh, minlength=12)
    mean_k = np.clip(np.divide(target, cs_month, out=np.full(12, 0.5), where=cs_month > 0), 0.05, 0.95)[month]
    z = _ar1(rng.standard_normal(len(month)), DAILY_PERSISTENCE)
    u = np.clip(special.ndtr(z), 1e-9, 1 - 1e-9)
    k = stats.beta.ppf(u, mean_k * _BETA_CONCENTRATION, (1.0 - mean_k) * _BETA_CONCENTRATION)
    for _ in range(6):
        got = np.bincount(month, weights=k * cs_daily_kwh, minlength=12)
        k = np.clip(k * np.divide(target, got, out=np.ones(12), where=got > 0)[month], _K_DAY_MIN, _K_DAY_MAX)
    return k


def _rescale_groups(x: np.ndarray, groups: np.ndarray, want: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Scale ``x`` so each group sums to ``want[group]``, keeping ``x <= cap``."""
    for _ in range(6):
        got = np.bincount(groups, weights=x, minlength=len(want))
        f = np.divide(want, got, out=np.ones_like(want), where=got > 0)
        x = np.minimum(x * f[groups], cap)
    return x


def _diurnal_shape(hour: np.ndarray, sunrise_h: np.ndarray) -> np.ndarray:
    """-1 at sunrise, +1 at 15:00, half-cosines in between; zero daily mean."""
    tmax = _T_MAX_CLOCK_H
    rising = (hour >= sunrise_h) & (hour < tmax)
    after = hour >= tmax
    out = np.empty_like(hour)
    out[rising] = -np.cos(np.pi * (hour[rising] - sunrise_h[rising]) / (tmax - sunrise_h[rising]))
    span = 24.0 + sunrise_h - tmax
    h_since = np.where(after, hour - tmax, hour + 24.0 - tmax)
    fall = ~rising
    out[fall] = np.cos(np.pi * h_since[fall] / span[fall])
    return out


def generate_weather_year(year: int = DEFAULT_YEAR, seed: int = DEFAULT_SEED, loc: Any = XIANGTAN) -> pd.DataFrame:
    """A seeded 15-minute weather year for Xiangtan (see the module notes for the model).

    Parameters
    ----------
    year : int
        Calendar year (1900-2200); leap years get 29 February.
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same table.
    loc : dict or pvlib.location.Location
        Site (default :data:`XIANGTAN`). It sets the sun geometry and clear sky; the
        climatology (monthly irradiation, temperature, wind) is always Xiangtan's, so
        only use nearby sites.

    Returns
    -------
    pandas.DataFrame
        Weather frame: index ``time`` (tz of ``loc``, 15-min interval-beginning labels,
        35,136 rows in a leap year), columns :data:`WEATHER_COLUMNS`: ``ghi, dni, dhi``
        [W/m2], ``temp_air`` [degC], ``wind_speed`` [m/s], rounded to 1 (irradiance)
        and 2 decimals. ``attrs``: ``location``, ``typical=True``, ``source``.

    Raises
    ------
    WeatherError
        If the year is out of range.
    """
    if not 1900 <= int(year) <= 2200:
        raise WeatherError(f"year {year} outside the supported range 1900-2200")
    site = _as_location(loc)
    rng = np.random.default_rng(seed)
    index = _year_index(int(year), str(site.tz))
    mid = index + _STEP / 2
    n = len(index)
    n_days = n // _STEPS_PER_DAY
    days = index[::_STEPS_PER_DAY]
    month = days.month.to_numpy() - 1
    doy_day = days.dayofyear.to_numpy().astype(float)

    cs, sol = _clearsky(mid, site)
    cs_ghi = cs["ghi"].to_numpy().reshape(n_days, _STEPS_PER_DAY)
    cs_dni = cs["dni"].to_numpy()
    cs_daily = cs_ghi.sum(axis=1) * 0.25 / 1000.0  # kWh/m2

    # --- GHI -------------------------------------------------------------------------
    k_day = _daily_clearness(month, cs_daily, rng)
    sd = 1.2 * k_day * (1.0 - k_day)
    ar = _ar1(rng.standard_normal((n_days, _STEPS_PER_DAY)), _INTRADAY_PHI, axis=1)
    kt = np.clip(k_day[:, None] + sd[:, None] * ar, _K_MIN, _K_MAX)
    ghi = (kt * cs_ghi).ravel()
    cap = _K_MAX * cs_ghi.ravel()
    day_of_step = np.repeat(np.arange(n_days), _STEPS_PER_DAY)
    ghi = _rescale_groups(ghi, day_of_step, k_day * cs_daily * 1000.0 / 0.25, cap)
    month_of_step = np.repeat(month, _STEPS_PER_DAY)
    target_month = np.asarray(MONTHLY_GHI_KWH_M2_DAY) * np.bincount(month, minlength=12) * 1000.0 / 0.25
    ghi = _rescale_groups(ghi, month_of_step, target_month, cap)

    # --- DNI / DHI (Erbs), closure DNI cos z + DHI = GHI --------------------------------
    dni, dhi, zen = _decompose(ghi, sol, mid, cs_dni)

    # --- air temperature -------------------------------------------------------------
    winter = 0.5 * (1.0 + np.cos(2 * np.pi * (doy_day - 15.0) / 365.25))  # 1 mid-Jan, 0 mid-Jul
    t_sd = _T_ANOMALY_SD_SUMMER_C + (_T_ANOMALY_SD_WINTER_C - _T_ANOMALY_SD_SUMMER_C) * winter
    anom = _ar1(rng.standard_normal(n_days), _T_ANOMALY_PHI)
    k_month_mean = np.bincount(month, weights=k_day, minlength=12) / np.maximum(np.bincount(month, minlength=12), 1)
    cloud_term = 3.0 * (1.0 - winter) * (k_day - k_month_mean[month])  # clear summer days warmer
    t_anom = t_sd * anom + cloud_term
    n_month = np.maximum(np.bincount(month, minlength=12), 1)
    t_anom -= (np.bincount(month, weights=t_anom, minlength=12) / n_month)[month]  # months keep their normals
    t_day = _doy_interp(doy_day, MONTHLY_TEMP_AIR_C) + t_anom
    t_day += (np.asarray(MONTHLY_TEMP_AIR_C) - np.bincount(month, weights=t_day, minlength=12) / n_month)[month]
    dtr = 2.5 + 8.5 * k_day  # diurnal range [K]
    # sunrise clock hour per day (first quarter-hour with sun), interpolated per step
    up = cs_ghi > 0
    sunrise_h = np.argmax(up, axis=1) * 0.25
    hour = (mid.hour + mid.minute / 60.0).to_numpy()
    t_step = (np.arange(n) + 0.5) / _STEPS_PER_DAY  # days since start, at mid-step
    day_centre = np.arange(n_days) + 0.5
    t_mean = np.interp(t_step, day_centre, t_day)
    amp = np.interp(t_step, day_centre, dtr / 2.0)
    temp_air = t_mean + amp * _diurnal_shape(hour, np.repeat(sunrise_h, _STEPS_PER_DAY))

    # --- wind ------------------------------------------------------------------------
    w_month = _doy_interp(doy_day, MONTHLY_WIND_MS)
    sd_day, sd_step = 0.35, 0.2
    w_day = np.exp(sd_day * _ar1(rng.standard_normal(n_days), 0.6) - sd_day**2 / 2)
    w_day /= (np.bincount(month, weights=w_day, minlength=12) / n_month)[month]  # monthly means kept
    w_step = np.exp(sd_step * _ar1(rng.standard_normal(n), 0.8) - sd_step**2 / 2)
    diurnal = 1.0 + 0.35 * np.cos(2 * np.pi * (hour - 14.0) / 24.0)
    wind = np.clip(np.repeat(w_month * w_day, _STEPS_PER_DAY) * diurnal * w_step, 0.1, 15.0)

    df = pd.DataFrame({"ghi": ghi, "dni": dni, "dhi": dhi, "temp_air": temp_air, "wind_speed": wind}, index=index)
    df = _round(df)
    df.attrs = {"location": _loc_dict(site), "typical": True, "source": f"generate_weather_year({year}, seed={seed})"}
    logger.debug("weather year %d: GHI %.0f kWh/m2", year, df["ghi"].sum() * 0.25 / 1000.0)
    return df


def _decompose(ghi: np.ndarray, sol: pd.DataFrame, mid: pd.DatetimeIndex, cs_dni: np.ndarray | None):
    """Erbs decomposition; DNI capped at clear-sky DNI; DHI from closure."""
    import pvlib

    zen = sol["zenith"].to_numpy()
    erbs = pvlib.irradiance.erbs(ghi, zen, mid.dayofyear.to_numpy())
    dni = np.nan_to_num(np.asarray(erbs["dni"], dtype=float))
    if cs_dni is not None:
        dni = np.minimum(dni, cs_dni)
    dni = np.where(ghi > 0, np.clip(dni, 0.0, None), 0.0)
    cosz = np.cos(np.radians(zen))
    dhi = np.clip(ghi - dni * np.clip(cosz, 0.0, None), 0.0, None)
    return dni, dhi, zen


def _round(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c, d in _DECIMALS.items():
        if c in out:
            out[c] = out[c].round(d) + 0.0  # +0.0: no "-0.0" in files
    return out


# ======================================================================================
# writing
# ======================================================================================
def _iso(index: pd.DatetimeIndex) -> list[str]:
    return [t.isoformat() for t in index]


def write_weather(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a weather frame as gridint weather CSV (gzip when the name ends in ``.gz``).

    Columns ``time`` (ISO 8601 with offset), then ``issue_time`` when present (forecast
    files), then :data:`WEATHER_COLUMNS`; irradiance rounded to 0.1 W/m2, temperature
    and wind to 0.01; ``\\n`` line ends; gzip with ``mtime=0`` and no file name, so the
    same table always gives the same bytes.

    Parameters
    ----------
    df : pandas.DataFrame
        Weather frame (tz-aware index).
    path : str or pathlib.Path
        Target file; parent directories are created.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    WeatherError
        If the index is not tz-aware or a column is missing.
    """
    path = Path(path)
    if not isinstance(df.index, pd.DatetimeIndex) or df.index.tz is None:
        raise WeatherError(f"{path}: weather index must be a tz-aware DatetimeIndex")
    missing = [c for c in WEATHER_COLUMNS if c not in df.columns]
    if missing:
        raise WeatherError(f"{path}: missing column(s) {missing}; required {list(WEATHER_COLUMNS)}")
    table = _round(df.loc[:, list(WEATHER_COLUMNS)])
    if "issue_time" in df.columns:
        table.insert(0, "issue_time", _iso(pd.DatetimeIndex(df["issue_time"])))
    table.index = pd.Index(_iso(df.index), name="time")
    data = table.to_csv(lineterminator="\n").encode("utf-8")
    return write_reproducible(path, data)


def _stand_in_forecast(truth: pd.DataFrame, first_day: str, n_days: int, seed: int) -> pd.DataFrame:
    """Day-ahead stand-in forecast: the typical year degraded like an NWP forecast.

    For each day D: issue time D-1 12:00 local; clear-sky index = 0.65 x the 3-h smoothed
    true index + 0.35 x the month's mean index, times a daily error (sd 0.15) and an
    hourly AR(1) error (sd 0.10); Erbs decomposition; temperature + daily (sd 1 K) and
    AR(1) (sd 0.5 K) errors; wind x lognormal (sd 0.2).
    """
    site = _as_location(truth.attrs.get("location") or XIANGTAN)
    rng = np.random.default_rng(seed)
    tz = truth.index.tz
    start = pd.Timestamp(first_day).tz_localize(tz)
    frames = []
    mid_all = truth.index + _STEP / 2
    cs_all, _ = _clearsky(mid_all, site)
    cs_ghi = cs_all["ghi"].to_numpy()
    kc_all = pd.Series(np.where(cs_ghi > 20.0, truth["ghi"].to_numpy() / np.maximum(cs_ghi, 1e-9), np.nan),
                       index=truth.index)
    kc_month = kc_all.groupby(truth.index.month).mean()
    for d in range(n_days):
        day = start + pd.Timedelta(days=d)
        idx = pd.date_range(day, day + pd.Timedelta(days=1), freq=_STEP, inclusive="left", name="time")
        sel = truth.loc[idx]
        mid = idx + _STEP / 2
        cs, sol = _clearsky(mid, site)
        kc = kc_all.loc[idx].rolling(12, center=True, min_periods=1).mean().fillna(kc_month.loc[day.month])
        hourly = np.repeat(_ar1(rng.standard_normal(24), 0.7), 4)
        kc_f = (0.65 * kc.to_numpy() + 0.35 * kc_month.loc[day.month]) * (1.0 + 0.15 * rng.standard_normal()) \
            + 0.10 * hourly
        kc_f = np.clip(kc_f, _K_MIN, 1.05)
        ghi = kc_f * cs["ghi"].to_numpy()
        dni, dhi, _ = _decompose(ghi, sol, mid, cs["dni"].to_numpy())
        temp = sel["temp_air"].to_numpy() + 1.0 * rng.standard_normal() + 0.5 * _ar1(rng.standard_normal(96), 0.9)
        wind = np.clip(sel["wind_speed"].to_numpy() * np.exp(0.2 * rng.standard_normal() - 0.02), 0.1, 15.0)
        f = pd.DataFrame({"ghi": ghi, "dni": dni, "dhi": dhi, "temp_air": temp, "wind_speed": wind}, index=idx)
        f.insert(0, "issue_time", day - pd.Timedelta(hours=12))
        frames.append(f)
    return pd.concat(frames)


def write_default_files(out_dir: str | Path) -> list[Path]:
    """Write the committed weather year and the stand-in forecast sample into ``out_dir``.

    Returns
    -------
    list of pathlib.Path
    """
    out = Path(out_dir)
    year = generate_weather_year(DEFAULT_YEAR, DEFAULT_SEED)
    p1 = write_weather(year, out / WEATHER_FILE)
    fc = _stand_in_forecast(year, f"{DEFAULT_YEAR}-07-01", 7, DEFAULT_SEED + 1)
    p2 = write_weather(fc, out / FORECAST_SAMPLE_FILE)
    return [p1, p2]


# ======================================================================================
# default weather and date mapping
# ======================================================================================
@lru_cache(maxsize=1)
def _default_weather_cached() -> pd.DataFrame:
    path = project_root() / "weather" / WEATHER_FILE
    df = read_weather(path, kind="gridint", tz=XIANGTAN["tz"])
    df.attrs.update(location=dict(XIANGTAN), typical=True, source=str(path))
    return df


def default_weather() -> pd.DataFrame:
    """The committed Xiangtan typical year (``weather/xiangtan_typical_15min.csv.gz``).

    Read once per process and cached; every call returns a fresh copy.

    Returns
    -------
    pandas.DataFrame
        Weather frame, 2024, Asia/Shanghai, 35,136 quarter-hours; ``attrs['typical']``
        is True (any calendar date is served by :func:`weather_for_period`).

    Raises
    ------
    WeatherError
        If the file is missing or damaged (regenerate with
        ``python -m gridint.solar.weather weather/``).
    """
    df = _default_weather_cached()
    out = df.copy()
    out.attrs = {k: (dict(v) if isinstance(v, dict) else v) for k, v in df.attrs.items()}
    return out


def _as_timestamp(t: Any, tz: str, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(t)
    except Exception as exc:  # noqa: BLE001
        raise WeatherError(f"{what} {t!r} is not a date/time ({exc})") from None
    if ts is pd.NaT:
        raise WeatherError(f"{what} is missing")
    return ts.tz_localize(tz) if ts.tzinfo is None else ts


def _covered(weather: pd.DataFrame) -> str:
    idx = weather.index
    return f"{idx[0].isoformat()} to {(idx[-1] + _STEP).isoformat()}"


def weather_for_period(start: Any, end: Any, weather: pd.DataFrame | None = None) -> pd.DataFrame:
    """Weather at 15 minutes for ``[start, end)``, for any calendar dates.

    Parameters
    ----------
    start, end : str, datetime.date, datetime.datetime or pandas.Timestamp
        Period, ``end`` exclusive; naive values are in the Settings time zone
        (Asia/Shanghai). ``start`` is floored to the quarter-hour.
    weather : pandas.DataFrame, optional
        A weather frame (:func:`read_weather`). Default: :func:`default_weather`.
        A *typical* year (``attrs['typical']``: the default year, TMY/EPW/PVGIS files)
        serves any date by month-day (29 February -> 28 February when the typical year
        has none); other weather serves the dates it covers only.

    Returns
    -------
    pandas.DataFrame
        Index = the requested quarter-hours (tz of ``start``), columns
        :data:`WEATHER_COLUMNS` [W/m2, W/m2, W/m2, degC, m/s].

    Raises
    ------
    WeatherError
        If the period is empty, or weather does not cover it (the message names the
        covered range).
    """
    tz = get_settings().timezone
    t0 = _as_timestamp(start, tz, "start").floor(_STEP)
    t1 = _as_timestamp(end, tz, "end")
    if t1 <= t0:
        raise WeatherError(f"empty period: end {t1.isoformat()} is not after start {t0.isoformat()}")
    idx = pd.date_range(t0, t1, freq=_STEP, inclusive="left", name="time")
    if weather is None:
        weather = default_weather()
    if not isinstance(weather, pd.DataFrame) or not isinstance(weather.index, pd.DatetimeIndex) \
            or weather.index.tz is None:
        raise WeatherError("weather must be a DataFrame with a tz-aware DatetimeIndex (see read_weather)")
    missing = [c for c in WEATHER_COLUMNS if c not in weather.columns]
    if missing:
        raise WeatherError(f"weather lacks column(s) {missing}; required {list(WEATHER_COLUMNS)}")
    if len(weather) == 0:
        raise WeatherError("weather is empty")
    wtz = weather.index.tz
    req = idx.tz_convert(wtz)
    if weather.attrs.get("typical"):
        years = weather.index.year
        wyear = int(pd.Series(years).mode().iloc[0])
        has_feb29 = bool(((weather.index.month == 2) & (weather.index.day == 29)).any())
        month, day = req.month.to_numpy(), req.day.to_numpy().copy()
        if not has_feb29 or not _is_leap(wyear):
            day[(month == 2) & (day == 29)] = 28
        naive = pd.to_datetime(pd.DataFrame({"year": wyear, "month": month, "day": day,
                                             "hour": req.hour, "minute": req.minute}))
        target = pd.DatetimeIndex(naive).tz_localize(wtz, ambiguous="NaT", nonexistent="NaT")
    else:
        target = req
    values = weather.loc[:, list(WEATHER_COLUMNS)].reindex(target)
    bad = values.isna().any(axis=1).to_numpy()
    if bad.any():
        first = idx[int(np.argmax(bad))]
        kind = "typical year" if weather.attrs.get("typical") else "weather"
        raise WeatherError(
            f"{kind} covers {_covered(weather)}; requested {idx[0].isoformat()} to {(idx[-1] + _STEP).isoformat()} "
            f"is not covered (first missing quarter-hour {first.isoformat()})")
    out = pd.DataFrame(values.to_numpy(), index=idx, columns=list(WEATHER_COLUMNS))
    out.attrs = {"location": weather.attrs.get("location"), "typical": False,
                 "source": weather.attrs.get("source")}
    return out


def _is_leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


# ======================================================================================
# readers
# ======================================================================================
_ISO_OFFSET = re.compile(r"(?:[+-]\d\d:?\d\d|Z)$")


def _detect_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".epw"):
        return "epw"
    if name.endswith(".tm2"):
        return "tmy2"
    if name.endswith(".json"):
        return "pvgis_tmy"
    opener = gzip.open if name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            head = [f.readline() for _ in range(3)]
    except OSError as exc:
        raise WeatherError(f"{path}: cannot read ({exc})") from None
    first = head[0].strip()
    second = head[1].strip() if len(head) > 1 else ""
    if first.upper().startswith("LOCATION,"):
        return "epw"
    if first.startswith("Latitude (decimal degrees)"):
        return "pvgis_tmy"
    if second.startswith("Date (MM/DD/YYYY),Time (HH:MM)"):
        return "tmy3"
    if "DATE (MM/DD/YYYY)" in first.upper():
        return "midc"
    cols = [c.strip().strip('"') for c in first.split(",")]
    if "time" in cols and "ghi" in cols:
        return "gridint"
    tabs = first.split("\t")
    if len(tabs) >= 4 and all(re.fullmatch(r"-?\d+(\.\d+)?", t.strip()) for t in tabs if t.strip()):
        return "srml"
    raise WeatherError(
        f"{path}: unknown weather format (first line {first[:80]!r}); readable kinds: {', '.join(WEATHER_KINDS)} "
        f"— pass kind=... or use the gridint CSV: time,ghi,dni,dhi,temp_air,wind_speed (ISO 8601 with offset)")


class _Raw:
    """A parsed file before checks: interval-beginning index, columns in gridint names."""

    def __init__(self, data: pd.DataFrame, loc: dict | None, typical: bool, instant_offset: pd.Timedelta | None,
                 source: str):
        self.data = data
        self.loc = loc
        self.typical = typical
        # temperature/wind are instantaneous readings at label + instant_offset; None: interval means
        self.instant_offset = instant_offset
        self.source = source


def _site_from_meta(lat: Any, lon: Any, alt: Any, tz: Any, name: Any) -> dict | None:
    """Site dict; ``tz`` an IANA name or a whole-hour UTC offset [h] (file metadata)."""
    if not isinstance(tz, str):
        try:
            h = float(tz)
            tz = "UTC" if h == 0 else (f"Etc/GMT{-int(h):+d}" if h == int(h) else "UTC")
        except (TypeError, ValueError):
            tz = "UTC"
    try:
        return dict(latitude=float(lat), longitude=float(lon), altitude=float(alt or 0.0), tz=tz,
                    name=str(name).strip('"'))
    except (TypeError, ValueError):
        return None


def _coerce_year(index: pd.DatetimeIndex, year: int) -> pd.DatetimeIndex:
    tz = index.tz
    naive = index.tz_localize(None)
    feb29 = (naive.month == 2) & (naive.day == 29)
    if feb29.any():
        raise WeatherError("typical-year file contains 29 February; cannot map it onto one non-leap year")
    new = pd.to_datetime(pd.DataFrame({"year": year, "month": naive.month, "day": naive.day,
                                       "hour": naive.hour, "minute": naive.minute}))
    return pd.DatetimeIndex(new).tz_localize(tz)


def _parse_pvlib(path: Path, kind: str) -> _Raw:
    import pvlib.iotools as iot

    src = str(path)
    if kind == "tmy3":
        data, meta = iot.read_tmy3(path, coerce_year=TYPICAL_YEAR, map_variables=True)
        # TMY3 labels the hour ending at the stamp: shift to interval beginning
        data.index = data.index - pd.Timedelta(hours=1)
        loc = _site_from_meta(meta["latitude"], meta["longitude"], meta["altitude"], meta["TZ"], meta.get("Name", ""))
        for c in WEATHER_COLUMNS:  # -9900: missing (TMY3 manual)
            data[c] = pd.to_numeric(data[c], errors="coerce").where(lambda v: v > -9900)
        return _Raw(data, loc, True, pd.Timedelta(hours=1), src)
    if kind == "tmy2":
        data, meta = iot.read_tmy2(path)
        data = data.rename(columns={"GHI": "ghi", "DNI": "dni", "DHI": "dhi"})
        data["temp_air"] = data["DryBulb"] / 10.0  # tenths of degC
        data["wind_speed"] = data["Wspd"] / 10.0  # tenths of m/s
        data.index = _coerce_year(data.index, TYPICAL_YEAR)  # labels already hour-beginning
        loc = _site_from_meta(meta["latitude"], meta["longitude"], meta["altitude"], meta["TZ"], meta.get("City", ""))
        return _Raw(data, loc, True, pd.Timedelta(hours=1), src)
    if kind == "epw" or (kind == "pvgis_tmy" and path.suffix.lower() == ".epw"):
        data, meta = iot.read_epw(path)
        tz = data.index.tz
        # rebuild one year from the month/day/hour columns (hour 1 = 00:00-01:00)
        new = pd.to_datetime(pd.DataFrame({"year": TYPICAL_YEAR, "month": data["month"], "day": data["day"]}),
                             errors="coerce")
        if new.isna().any():
            raise WeatherError(f"{path}: EPW rows with 29 February or invalid dates cannot form one typical year")
        data.index = pd.DatetimeIndex(new + pd.to_timedelta(data["hour"].to_numpy() - 1, unit="h")).tz_localize(tz)
        for c, bad in (("ghi", 9999), ("dni", 9999), ("dhi", 9999), ("temp_air", 99.9), ("wind_speed", 999)):
            data[c] = data[c].where(data[c] < bad)
        loc = _site_from_meta(meta["latitude"], meta["longitude"], meta["altitude"], meta["TZ"], meta.get("city", ""))
        return _Raw(data, loc, True, pd.Timedelta(hours=1), src)
    if kind == "pvgis_tmy":
        data, meta = iot.read_pvgis_tmy(path, map_variables=True)
        inputs = meta.get("inputs", {}) if isinstance(meta, dict) else {}
        site = inputs.get("location", inputs)
        idx = pd.DatetimeIndex(data.index).floor("h")  # HH:10 satellite stamps -> hour
        data.index = _coerce_year(idx.tz_convert("UTC"), TYPICAL_YEAR)
        data = data.sort_index()
        loc = _site_from_meta(site.get("latitude"), site.get("longitude"), site.get("elevation"), "UTC", "PVGIS")
        return _Raw(data, loc, True, pd.Timedelta(0), src)
    if kind == "srml":
        data = iot.read_srml(src, map_variables=True)
        out = pd.DataFrame(index=data.index)
        for c in WEATHER_COLUMNS:
            cand = [k for k in data.columns if k.startswith(c + "_") and not k.endswith("_flag")]
            if cand:
                out[c] = data[cand[0]].astype(float)
        return _Raw(out, None, False, None, src)
    if kind == "midc":
        from pvlib.iotools.midc import MIDC_VARIABLE_MAP

        raw = pd.read_csv(path, nrows=0)
        vmap: dict[str, str] = {}
        for site_map in MIDC_VARIABLE_MAP.values():
            for k, v in site_map.items():
                vmap.setdefault(k, "dni" if v.startswith("dni") else v)
        for col in raw.columns:
            low = col.lower()
            if col in vmap or "[" not in col:
                continue
            if "global" in low and "w/m^2" in low:
                vmap[col] = "ghi"
            elif "direct" in low and "w/m^2" in low:
                vmap[col] = "dni"
            elif "diffuse" in low and "w/m^2" in low:
                vmap[col] = "dhi"
            elif ("dry bulb" in low or "air temp" in low) and "deg c" in low:
                vmap[col] = "temp_air"
            elif "wind speed" in low and "m/s" in low:
                vmap[col] = "wind_speed"
        present = {k: v for k, v in vmap.items() if k in raw.columns}
        data = iot.read_midc(src, variable_map=present)
        out = pd.DataFrame(index=data.index)
        for c in WEATHER_COLUMNS:
            cols = [k for k, v in present.items() if v == c]
            if cols:
                out[c] = pd.to_numeric(data[c] if c in data.columns else data[cols[0]], errors="coerce")
                if isinstance(out[c], pd.DataFrame):  # duplicated mapping: first instrument
                    out[c] = out[c].iloc[:, 0]
        return _Raw(out, None, False, None, src)
    raise WeatherError(f"{path}: unknown weather kind {kind!r}; allowed {', '.join(WEATHER_KINDS)}")


def _parse_times(stamps: pd.Series, tz: str | None, source: str, field: str) -> pd.DatetimeIndex:
    s = stamps.astype(str).str.strip()
    has = s.str.contains(_ISO_OFFSET, regex=True)
    if not has.any():
        if tz is None:
            raise WeatherError(
                f"{source}: '{field}' {s.iloc[0]!r} has no UTC offset (time zone missing); write ISO 8601 with "
                f"offset like 2024-01-01T00:00:00+08:00, or pass tz='Asia/Shanghai'")
        try:
            return pd.DatetimeIndex(pd.to_datetime(s, format="ISO8601")).tz_localize(tz, ambiguous="raise",
                                                                                      nonexistent="raise")
        except Exception as exc:  # noqa: BLE001
            raise WeatherError(f"{source}: cannot parse '{field}' as ISO 8601 in {tz} ({exc})") from None
    if not has.all():
        bad = s[~has].iloc[0]
        raise WeatherError(f"{source}: '{field}' {bad!r} has no UTC offset while other rows do")
    try:
        utc = pd.DatetimeIndex(pd.to_datetime(s, format="ISO8601", utc=True))
    except Exception as exc:  # noqa: BLE001
        raise WeatherError(f"{source}: cannot parse '{field}' as ISO 8601 ({exc})") from None
    if tz is not None:
        return utc.tz_convert(tz)
    home = get_settings().timezone
    local = utc.tz_convert(home)
    offs = s.str.extract(r"([+-])(\d\d):?(\d\d)$")
    sign = np.where(offs[0].to_numpy() == "-", -1, 1)
    hh = offs[1].fillna("0").astype(int).to_numpy()
    mm = offs[2].fillna("0").astype(int).to_numpy()
    given_s = sign * (hh * 3600 + mm * 60)
    local_s = (local.tz_localize(None).asi8 - utc.tz_localize(None).asi8) // 1_000_000_000
    if np.array_equal(given_s, local_s):
        return local
    return utc


def _parse_gridint(path: Path, tz: str | None, extra: tuple[str, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    try:
        raw = pd.read_csv(path, dtype={"time": str, "issue_time": str}, comment="#")
    except Exception as exc:  # noqa: BLE001
        raise WeatherError(f"{path}: cannot read as CSV ({exc})") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    need = ("time",) + extra + ("ghi", "temp_air")
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise WeatherError(
            f"{path}: missing column(s) {missing}; required {list(need)}, optional dni, dhi, wind_speed "
            f"(found {list(raw.columns)})")
    idx = _parse_times(raw["time"], tz, str(path), "time")
    data = raw.drop(columns=["time"] + list(extra))
    data.index = idx.rename("time")
    extras = raw.loc[:, list(extra)]
    extras.index = data.index
    return data, extras


def _check_and_regularize(raw: _Raw, loc_override: Any, source: str) -> pd.DataFrame:
    data = raw.data
    missing = [c for c in ("ghi", "temp_air") if c not in data.columns]
    if missing:
        raise WeatherError(
            f"{source}: missing column(s) {missing}; required ghi [W/m2] and temp_air [degC] "
            f"(dni/dhi are derived with Erbs and wind_speed defaults to {DEFAULT_WIND_MS} m/s when absent); "
            f"found {[c for c in data.columns][:12]}")
    cols = [c for c in WEATHER_COLUMNS if c in data.columns]
    data = data.loc[:, cols].apply(pd.to_numeric, errors="coerce").astype(float)
    idx = data.index
    if not isinstance(idx, pd.DatetimeIndex):
        raise WeatherError(f"{source}: no time index")
    if idx.tz is None:
        raise WeatherError(f"{source}: timestamps have no time zone; pass tz=...")
    if len(data) < 2:
        raise WeatherError(f"{source}: need at least two time steps, got {len(data)}")
    if idx.has_duplicates:
        raise WeatherError(f"{source}: duplicate timestamp {idx[idx.duplicated()][0].isoformat()}")
    if not idx.is_monotonic_increasing:
        data = data.sort_index()
        idx = data.index
    diffs = np.diff(idx.asi8)
    step_ns = int(np.min(diffs))
    step = pd.Timedelta(step_ns)
    if step < pd.Timedelta(seconds=1):
        raise WeatherError(f"{source}: time step {step} too small")
    if np.any(diffs % step_ns != 0):
        pos = int(np.argmax(diffs % step_ns != 0))
        raise WeatherError(f"{source}: irregular time steps: {pd.Timedelta(int(diffs[pos]))} after "
                           f"{idx[pos].isoformat()} is not a multiple of the {step} step")
    gap = diffs - step_ns
    if np.any(gap > MAX_GAP.value):
        pos = int(np.argmax(gap > MAX_GAP.value))
        raise WeatherError(
            f"{source}: gap of {pd.Timedelta(int(gap[pos]))} in the data after {idx[pos].isoformat()} "
            f"(next {idx[pos + 1].isoformat()}); gaps up to {MAX_GAP} are interpolated, longer ones must be filled")
    grid = pd.date_range(idx[0], idx[-1], freq=step)
    data = data.reindex(grid)
    # NaN runs (missing values in the file or from the reindex above)
    for c in cols:
        na = data[c].isna().to_numpy()
        if na.all():
            raise WeatherError(f"{source}: column {c!r} has no values")
        if na.any():
            run = _longest_run(na)
            if run * step > MAX_GAP:
                pos = _run_start(na, run)
                raise WeatherError(
                    f"{source}: column {c!r} is missing for {run * step} from {grid[pos].isoformat()}; gaps up to "
                    f"{MAX_GAP} are interpolated, longer ones must be filled")
    data = data.interpolate(method="time", limit_direction="both")
    span = grid[-1] - grid[0] + step

    # --- units and ranges ----------------------------------------------------------
    for c in ("ghi", "dni", "dhi"):
        if c not in data:
            continue
        v = data[c].to_numpy()
        lo = float(v.min())
        if lo < IRRADIANCE_NEG_TOL_W_M2:
            t = grid[int(np.argmin(v))]
            raise WeatherError(
                f"{source}: column {c!r} is {lo:.1f} W/m2 at {t.isoformat()}; irradiance must be >= 0 "
                f"(values down to {IRRADIANCE_NEG_TOL_W_M2:.0f} W/m2 are sensor offsets and are set to 0)")
        hi = float(v.max())
        if hi > IRRADIANCE_MAX_W_M2:
            t = grid[int(np.argmax(v))]
            raise WeatherError(
                f"{source}: column {c!r} reaches {hi:.0f} at {t.isoformat()}; allowed 0-{IRRADIANCE_MAX_W_M2:.0f} "
                f"W/m2 (mean irradiance) — are the values in J/m2 or kJ/m2 per step?")
        data[c] = np.clip(v, 0.0, None)
    ghi_peak = float(data["ghi"].max())
    if span >= pd.Timedelta(hours=12) and ghi_peak < GHI_UNIT_MIN_PEAK_W_M2:
        raise WeatherError(
            f"{source}: column 'ghi' never exceeds {ghi_peak:.3f}; expected mean irradiance in W/m2 (0-1500) "
            f"— the values look like kW/m2 or kWh/m2 per step; multiply by 1000 (and divide by the step in hours)")
    t = data["temp_air"].to_numpy()
    lo_t, hi_t = TEMP_AIR_RANGE_C
    if t.min() < lo_t or t.max() > hi_t:
        bad = float(t.min()) if t.min() < lo_t else float(t.max())
        hint = " (Kelvin? subtract 273.15)" if bad > 200 else ""
        raise WeatherError(f"{source}: column 'temp_air' is {bad:.1f}; allowed {lo_t:.0f} to {hi_t:.0f} degC{hint}")
    if "wind_speed" in data:
        w = data["wind_speed"].to_numpy()
        lo_w, hi_w = WIND_SPEED_RANGE_MS
        if w.min() < lo_w or w.max() > hi_w:
            bad = float(w.min()) if w.min() < lo_w else float(w.max())
            raise WeatherError(f"{source}: column 'wind_speed' is {bad:.1f}; allowed {lo_w:.0f}-{hi_w:.0f} m/s")

    # --- site: needed for coarse data, the unit check and decomposition -------------
    site = None
    if loc_override is not None:
        site = _as_location(loc_override)
    elif raw.loc is not None:
        site = _as_location(raw.loc)
    if site is not None and span >= pd.Timedelta(days=7):
        cs, _ = _clearsky(grid + step / 2, site)
        cs_peak = float(cs["ghi"].max())
        if cs_peak > 0 and ghi_peak < GHI_PEAK_TO_CLEARSKY_MIN * cs_peak:
            raise WeatherError(
                f"{source}: column 'ghi' peaks at {ghi_peak:.0f} while clear sky reaches {cs_peak:.0f} W/m2 over "
                f"{span.days} days; values look like energy per step (e.g. Wh/m2 per quarter-hour), expected mean "
                f"irradiance in W/m2")

    out = _to_15min(data, step, site, raw.instant_offset)
    # --- complete columns ----------------------------------------------------------
    if "dni" not in out or "dhi" not in out:
        mid = out.index + _STEP / 2
        if site is None:
            raise WeatherError(
                f"{source}: columns 'dni'/'dhi' are missing and the file names no site; pass "
                f"loc=dict(latitude=..., longitude=..., altitude=...) so they can be derived from GHI (Erbs)")
        cs, sol = _clearsky(mid, site)
        ghi = out["ghi"].to_numpy()
        if "dni" in out:
            cosz = np.clip(np.cos(np.radians(sol["zenith"].to_numpy())), 0.0, None)
            out["dhi"] = np.clip(ghi - out["dni"].to_numpy() * cosz, 0.0, None)
        elif "dhi" in out:
            cosz = np.cos(np.radians(sol["zenith"].to_numpy()))
            out["dni"] = np.where(cosz > 0.065, np.clip(ghi - out["dhi"].to_numpy(), 0, None) / np.maximum(cosz, 0.065),
                                  0.0)
        else:
            dni, dhi, _ = _decompose(ghi, sol, mid, None)
            out["dni"], out["dhi"] = dni, dhi
            logger.info("%s: DNI/DHI derived from GHI with the Erbs model", source)
    if "wind_speed" not in out:
        logger.warning("%s: no wind speed; using %.1f m/s", source, DEFAULT_WIND_MS)
        out["wind_speed"] = DEFAULT_WIND_MS
    out = out.loc[:, list(WEATHER_COLUMNS)]
    out.index.name = "time"
    out.attrs = {"location": _loc_dict(site) if site is not None else None, "typical": raw.typical,
                 "source": source}
    return out


def _longest_run(mask: np.ndarray) -> int:
    best = cur = 0
    for m in mask:
        cur = cur + 1 if m else 0
        best = max(best, cur)
    return best


def _run_start(mask: np.ndarray, length: int) -> int:
    cur = 0
    for i, m in enumerate(mask):
        cur = cur + 1 if m else 0
        if cur == length:
            return i - length + 1
    return 0


def _to_15min(data: pd.DataFrame, step: pd.Timedelta, site, instant_offset: pd.Timedelta | None) -> pd.DataFrame:
    """Bring a regular, gap-free series with interval-beginning labels to 15 minutes."""
    irr = [c for c in ("ghi", "dni", "dhi") if c in data]
    met = [c for c in ("temp_air", "wind_speed") if c in data]
    if step == _STEP:
        return data.copy()
    first = data.index[0].floor(_STEP)
    end = data.index[-1] + step
    target = pd.date_range(first, end, freq=_STEP, inclusive="left", name="time")
    if step < _STEP or (step % _STEP) != pd.Timedelta(0):
        # interval values held over their interval on a common fine grid, then averaged
        fine_ns = math.gcd(step.value, _STEP.value)
        fine = pd.date_range(data.index[0], end, freq=pd.Timedelta(fine_ns), inclusive="left")
        held = data.reindex(fine, method="ffill")
        out = held.resample(_STEP, label="left", closed="left").mean()
        return out.reindex(target).interpolate(limit_direction="both")
    # coarser, multiple of 15 min: clear-sky-index disaggregation of irradiance
    n_sub = int(step / _STEP)
    target = pd.date_range(data.index[0], end, freq=_STEP, inclusive="left", name="time")
    mid = target + _STEP / 2
    out = pd.DataFrame(index=target)
    parent = np.repeat(np.arange(len(data)), n_sub)
    if site is None:
        logger.warning("no site for %s data: irradiance held constant within each interval", step)
        for c in irr:
            out[c] = np.repeat(data[c].to_numpy(), n_sub)
    else:
        cs, sol = _clearsky(mid, site)
        t_mid = (mid.asi8 - mid.asi8[0]) / 1e9
        centres = t_mid.reshape(-1, n_sub).mean(axis=1)
        for c in irr:
            e = data[c].to_numpy()
            ref = cs[c].to_numpy()
            ref_mean = ref.reshape(-1, n_sub).mean(axis=1)
            ok = ref_mean > 1.0
            kc = np.full(len(e), np.nan)
            kc[ok] = e[ok] / ref_mean[ok]
            if ok.sum() >= 1:
                kc_sub = np.interp(t_mid, centres[ok], kc[ok])
            else:
                kc_sub = np.zeros_like(t_mid)
            x = np.clip(kc_sub, 0.0, None) * ref
            xm = x.reshape(-1, n_sub).mean(axis=1)
            scale = np.divide(e, xm, out=np.zeros_like(e), where=xm > 0)
            x = x * scale[parent]
            # energy of intervals where the sun is down all along (file stamps a little off,
            # twilight): moved to the nearest sunlit quarter-hour of the same day, so night
            # stays zero and daily energy is kept
            rest = np.flatnonzero((xm <= 0) & (e > 0))
            if len(rest):
                lit = np.flatnonzero(ref > 0)
                day = np.asarray(target.normalize().asi8)
                for i in rest:
                    centre = i * n_sub + n_sub // 2
                    if len(lit) == 0:
                        break
                    j = int(np.searchsorted(lit, centre))
                    near = [lit[k] for k in (j - 1, j) if 0 <= k < len(lit)]
                    best = min(near, key=lambda k: abs(k - centre))
                    if day[best] == day[centre]:
                        x[best] += e[i] * n_sub
            out[c] = x
    # instantaneous readings at label + offset; interval means are placed at interval centres
    at = data.index + (instant_offset if instant_offset is not None else step / 2)
    for c in met:
        out[c] = np.interp(mid.asi8, at.asi8, data[c].to_numpy())
    return out


def read_weather(path: str | Path, kind: str | None = None, tz: str | None = None, *, loc: Any = None) -> pd.DataFrame:
    """Read a weather file, check it and bring it to 15-minute steps.

    Parameters
    ----------
    path : str or pathlib.Path
        Weather file.
    kind : {'gridint', 'tmy3', 'tmy2', 'epw', 'pvgis_tmy', 'srml', 'midc'}, optional
        Format; inferred from the extension and first lines when None:

        ``gridint``  CSV (optionally .gz): ``time`` ISO 8601 with offset, interval
                     beginning; ``ghi, dni, dhi`` [W/m2, interval mean], ``temp_air``
                     [degC], ``wind_speed`` [m/s]; ``ghi`` and ``temp_air`` required.
                     Any step (1 min ... 1 h). Lines starting ``#`` are comments.
        ``tmy3``     NREL TMY3 (:func:`pvlib.iotools.read_tmy3`), hour-ending stamps.
        ``tmy2``     NREL TMY2 (:func:`pvlib.iotools.read_tmy2`).
        ``epw``      EnergyPlus weather (:func:`pvlib.iotools.read_epw`).
        ``pvgis_tmy``  PVGIS TMY csv/json/epw (:func:`pvlib.iotools.read_pvgis_tmy`), UTC.
        ``srml``     University of Oregon SRML (:func:`pvlib.iotools.read_srml`).
        ``midc``     NREL MIDC (:func:`pvlib.iotools.read_midc`); columns mapped with
                     pvlib's ``MIDC_VARIABLE_MAP`` and by name (Global/Direct/Diffuse
                     [W/m^2], air temperature [deg C], wind speed [m/s]).
    tz : str, optional
        Time zone of naive timestamps (gridint CSV) and of the result; without it,
        naive timestamps are an error and aware ones keep their zone (gridint CSVs
        whose offsets are those of the Settings zone get that zone).
    loc : dict or pvlib.location.Location, optional
        Site for clear-sky calculations when the file names none (gridint CSV: the
        Settings site; SRML/MIDC: none — hourly SRML/MIDC are then held constant).

    Returns
    -------
    pandas.DataFrame
        Weather frame: 15-min interval-beginning index ``time``, columns
        :data:`WEATHER_COLUMNS`; ``attrs`` ``location``, ``typical`` (TMY2/3, EPW and
        PVGIS TMY: True, re-dated to :data:`TYPICAL_YEAR`) and ``source``.

    Raises
    ------
    WeatherError
        Missing file, unknown format, missing columns, timestamps without a time
        zone, gaps longer than 1 h, irradiance in kW/kWh or energy per step instead
        of W/m2, irradiance above 1,500 W/m2 or below -10 W/m2, air temperature
        outside -50..60 degC, wind outside 0..60 m/s. Each message names the file,
        the column and the allowed range.
    """
    path = Path(path)
    if not path.is_file():
        raise WeatherError(f"weather file {path} does not exist")
    if kind is None:
        kind = _detect_kind(path)
    if kind not in WEATHER_KINDS:
        raise WeatherError(f"{path}: unknown weather kind {kind!r}; allowed {', '.join(WEATHER_KINDS)}")
    source = str(path)
    if kind == "gridint":
        data, _ = _parse_gridint(path, tz)
        site = None if loc is not None else _loc_dict(location())
        raw = _Raw(data, site, False, None, source)
    else:
        try:
            raw = _parse_pvlib(path, kind)
        except WeatherError:
            raise
        except Exception as exc:  # noqa: BLE001 - any parser failure names the file and kind
            raise WeatherError(f"{path}: cannot read as {kind} ({type(exc).__name__}: {exc})") from None
    out = _check_and_regularize(raw, loc, source)
    if tz is not None:
        out.index = out.index.tz_convert(tz)
    return out


def read_forecast_weather(path: str | Path, tz: str | None = None) -> pd.DataFrame:
    """Read a forecast weather file: gridint weather CSV plus an ``issue_time`` column.

    Parameters
    ----------
    path : str or pathlib.Path
        CSV (optionally .gz) with ``time`` (valid time, interval beginning),
        ``issue_time`` (when the forecast was issued), both ISO 8601 with offset, and
        the weather columns of the gridint CSV. Several issues may cover the same
        valid times.
    tz : str, optional
        As in :func:`read_weather`.

    Returns
    -------
    pandas.DataFrame
        Index ``time`` (15-min valid times; repeated across issues), columns
        ``issue_time`` (tz-aware Timestamp) and :data:`WEATHER_COLUMNS`; sorted by
        issue time, then valid time. Each issue is checked and brought to 15 min
        on its own.

    Raises
    ------
    WeatherError
        As :func:`read_weather`; also when ``issue_time`` is missing or later than a
        valid time of its forecast.
    """
    path = Path(path)
    if not path.is_file():
        raise WeatherError(f"forecast weather file {path} does not exist")
    data, extras = _parse_gridint(path, tz, extra=("issue_time",))
    issue = _parse_times(extras["issue_time"], tz, str(path), "issue_time")
    late = issue > data.index
    if late.any():
        i = int(np.argmax(late))
        raise WeatherError(f"{path}: issue_time {issue[i].isoformat()} is after the valid time "
                           f"{data.index[i].isoformat()}; a forecast must be issued before the time it is for")
    frames = []
    for it in pd.unique(issue):
        sel = data[issue == it]
        raw = _Raw(sel, _loc_dict(location()), False, None, f"{path} (issue {pd.Timestamp(it).isoformat()})")
        f = _check_and_regularize(raw, None, raw.source)
        f.insert(0, "issue_time", pd.Timestamp(it))
        frames.append(f)
    out = pd.concat(frames).sort_values(["issue_time"], kind="stable")
    if tz is not None:
        out.index = out.index.tz_convert(tz)
    out.index.name = "time"
    out.attrs = {"location": _loc_dict(location()), "typical": False, "source": str(path)}
    return out


# ======================================================================================
# command line
# ======================================================================================
def main(argv: list[str] | None = None) -> int:
    """``python -m gridint.solar.weather OUT_DIR [-v]``: write the default weather files."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m gridint.solar.weather", description=main.__doc__)
    p.add_argument("out_dir", nargs="?", default=str(project_root() / "weather"))
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.verbose:
        logger.setLevel(logging.DEBUG)
    for path in write_default_files(args.out_dir):
        logger.info("wrote %s", path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
