"""Class load profiles and a rooftop-PV shape for Xiangtan (Hunan), 15-minute steps.

:func:`generate_class_profiles` builds one year of normalised profiles, seeded and
reproducible:

* load classes ``residential``, ``commercial``, ``industrial``, ``agricultural`` —
  each scaled to an annual peak of exactly 1.0, so a load's ``p_mw`` in a feeder file
  is its annual peak and ``p_mw x profile`` its demand at a step;
* ``pv`` — AC output per unit of inverter AC rating of a 25 deg south-facing roof
  array at Xiangtan (DC/AC ratio 1.1, inverter clipping at 1.0).

Time stamps are interval-beginning labels, time-zone aware (Asia/Shanghai); the PV
model is evaluated at the middle of each interval so a value is the interval mean.

The model is deliberately modest (a weather model replaces the synthetic weather in
a later version): a daily mean temperature with the climate normals of Xiangtan and
seeded day-to-day anomalies drives air-conditioning and heating demand; a seeded
daily clear-sky index calibrated to monthly irradiation drives PV and irrigation.

Load-class shapes (hourly knots, smoothed to 15 min)
----------------------------------------------------
residential
    Base curve with a morning bump (07:00), midday (12:00) and an evening peak
    (19:00-21:30); air conditioning adds an evening/night block peaking 20:30-22:00
    on hot days (cooling degree days above 24 degC); heating (below 11 degC, Dec-Feb)
    adds morning and evening blocks. Summer evening peak about 1.4 x the winter one,
    as reported for Hunan residential feeders. Spring Festival +5 %.
commercial
    Shops, offices and malls open 09:00-21:00, night base about 0.22 (refrigeration,
    lighting); strong cooling share; Spring Festival closures.
industrial
    Two shifts 08:00-24:00 on working days with a lunch dip and a shift change at
    16:00, continuous processes at night; Saturday 0.75 and Sunday/holiday 0.5 of a
    working day; the Spring Festival shutdown (2024: low from 9 to 17 February,
    ramping down from 28 January, full production again on 2 March); official 2024 holiday
    calendar (State Council notice 国办发明电〔2023〕7号) including make-up working days.
agricultural
    Irrigation pumps for double-cropping rice (transplanting peak late April, the
    "double-rush" and drought pumping peak late July, late-rice irrigation September)
    run in daytime on dry days; a year-round base (aquaculture aerators, processing).

Every class gets a seeded lognormal day factor and 15-min noise, and never falls
below :data:`MIN_LOAD_FRACTION` (loads that never switch off: standby, lighting,
refrigeration, auxiliaries). The synthetic feeder generator checks its light-load
case at exactly these fractions.

PV chain (pvlib)
----------------
Solar position (NREL SPA) -> Ineichen clear sky with pvlib's shipped Linke turbidity
climatology (``lookup_linke_turbidity``, no network) -> seeded daily clear-sky index
(Beta distributed around the monthly mean, rescaled so every month meets its target
irradiation; annual GHI about 1,180 kWh/m2, Changsha ~1,194) with intra-day AR(1)
variability -> Erbs decomposition -> Hay-Davies transposition (albedo 0.2) ->
physical IAM on beam -> SAPM cell temperature (open rack, glass/polymer, wind
1.5 m/s) -> PVWatts DC (gamma -0.35 %/K, DC/AC 1.1) with PVWatts system losses
(soiling 3, shading 2, mismatch 2, wiring 2, connections 0.5, LID 1.5, nameplate 1 %;
no availability loss: the profile is the power of an available plant) -> PVWatts
inverter (nominal efficiency 96 %) with clipping at the AC rating.

References
----------
Ineichen P., Perez R. (2002), A new airmass independent formulation for the Linke
turbidity coefficient, Solar Energy 73(3).
Erbs D.G., Klein S.A., Duffie J.A. (1982), Estimation of the diffuse radiation
fraction for hourly, daily and monthly-average global radiation, Solar Energy 28(4).
Hay J.E., Davies J.A. (1980), Calculation of the solar radiation incident on an
inclined surface, Proc. First Canadian Solar Radiation Data Workshop.
Dobos A. (2014), PVWatts Version 5 Manual, NREL/TP-6A20-62641.
King D.L. et al. (2004), Sandia Photovoltaic Array Performance Model, SAND2004-3535.
China Meteorological Administration, 1991-2020 climate normals (Xiangtan/Changsha):
January mean 5.5 degC, July mean 29.5 degC.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from gridint._io import write_reproducible
from gridint.errors import ProfileError

__all__ = [
    "PROFILE_COLUMNS",
    "LOAD_CLASSES",
    "DEFAULT_SEED",
    "MIN_LOAD_FRACTION",
    "XIANGTAN_SITE",
    "generate_class_profiles",
    "write_class_profiles",
    "read_class_profiles",
]

logger = logging.getLogger(__name__)

#: Load classes, in column order.
LOAD_CLASSES: tuple[str, ...] = ("residential", "commercial", "industrial", "agricultural")
#: Columns of a class-profile table (load classes, then ``pv``).
PROFILE_COLUMNS: tuple[str, ...] = LOAD_CLASSES + ("pv",)
#: Seed of the committed profile file ``feeders/profiles/xiangtan_2024.csv.gz``.
DEFAULT_SEED = 20240210  # 2024 Spring Festival
#: Lowest value of each load class [per unit of annual peak].
MIN_LOAD_FRACTION: dict[str, float] = {
    "residential": 0.12,
    "commercial": 0.08,
    "industrial": 0.08,
    "agricultural": 0.03,
}
#: Xiangtan site: latitude [deg N], longitude [deg E], altitude [m].
XIANGTAN_SITE: dict[str, float] = {"latitude": 27.83, "longitude": 112.94, "altitude": 54.0}

_TZ = "Asia/Shanghai"
_STEP = "15min"
_DECIMALS = 5

# PV system
_TILT_DEG = 25.0
_AZIMUTH_DEG = 180.0
_ALBEDO = 0.2
_DC_AC_RATIO = 1.1
_GAMMA_PDC = -0.0035  # [1/K]
_INV_ETA_NOM = 0.96
_WIND_MS = 1.5
_LOSSES = {
    "soiling": 3.0,
    "shading": 2.0,
    "snow": 0.0,
    "mismatch": 2.0,
    "wiring": 2.0,
    "connections": 0.5,
    "lid": 1.5,
    "nameplate_rating": 1.0,
    "age": 0.0,
    "availability": 0.0,
}

# Mean daily GHI per month [kWh/m2/day] for Xiangtan (Changsha-area station normals
# scaled to an annual total of about 1,180 kWh/m2; resource class IV).
_MONTHLY_GHI_KWH_M2_DAY = np.array([1.85, 2.05, 2.45, 3.20, 3.80, 4.05, 5.20, 4.85, 3.90, 3.00, 2.45, 1.95])

# Climate: monthly mean air temperature [degC] (CMA 1991-2020 normals, Changsha /
# Xiangtan), interpolated between mid-month days; day-to-day anomaly AR(1) with a
# standard deviation of about 3 degC in winter and 1.2 degC in midsummer.
_MONTHLY_T_C = np.array([4.9, 7.3, 11.3, 17.4, 22.3, 26.0, 29.3, 28.5, 24.4, 18.9, 12.9, 7.3])
_T_ANOMALY_SD_WINTER_C = 3.0
_T_ANOMALY_SD_SUMMER_C = 1.2
_T_ANOMALY_PHI = 0.75

# Lunar New Year (Spring Festival day) for years the generator supports.
_LUNAR_NEW_YEAR = {
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
}

# Official 2024 calendar (国办发明电〔2023〕7号): days off and make-up working days.
_HOLIDAYS_2024 = (
    ["2024-01-01"]
    + [f"2024-02-{d:02d}" for d in range(10, 18)]
    + ["2024-04-04", "2024-04-05", "2024-04-06"]
    + [f"2024-05-{d:02d}" for d in range(1, 6)]
    + ["2024-06-10", "2024-09-15", "2024-09-16", "2024-09-17"]
    + [f"2024-10-{d:02d}" for d in range(1, 8)]
)
_WORKDAYS_2024 = ["2024-02-04", "2024-02-18", "2024-04-07", "2024-04-28", "2024-05-11",
                  "2024-09-14", "2024-09-29", "2024-10-12"]

# --- hourly shapes (value at hh:00-hh:59), smoothed when expanded to 15 min --------
_RES_BASE_WORK = np.array([0.45, 0.38, 0.34, 0.32, 0.32, 0.34, 0.45, 0.62, 0.55, 0.48, 0.48, 0.58,
                           0.62, 0.52, 0.48, 0.47, 0.50, 0.62, 0.82, 0.95, 1.00, 0.97, 0.82, 0.62])
_RES_BASE_OFF = np.array([0.48, 0.40, 0.35, 0.33, 0.32, 0.33, 0.38, 0.48, 0.60, 0.62, 0.60, 0.66,
                          0.68, 0.60, 0.56, 0.55, 0.57, 0.66, 0.84, 0.96, 1.00, 0.97, 0.84, 0.64])
_RES_COOL = np.array([0.75, 0.70, 0.65, 0.60, 0.55, 0.50, 0.35, 0.25, 0.20, 0.20, 0.25, 0.35,
                      0.45, 0.50, 0.50, 0.48, 0.45, 0.50, 0.62, 0.80, 0.95, 1.00, 0.98, 0.88])
_RES_HEAT = np.array([0.50, 0.45, 0.45, 0.45, 0.45, 0.45, 0.60, 0.85, 0.80, 0.50, 0.45, 0.45,
                      0.45, 0.45, 0.45, 0.45, 0.50, 0.60, 0.80, 0.95, 1.00, 1.00, 0.90, 0.70])
_COM_OPEN = np.array([0.22, 0.22, 0.22, 0.22, 0.22, 0.22, 0.24, 0.30, 0.50, 0.85, 0.95, 1.00,
                      0.98, 0.95, 0.97, 0.98, 0.97, 0.95, 0.95, 0.97, 0.95, 0.70, 0.40, 0.28])
_COM_COOL = np.array([0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.10, 0.30, 0.60, 0.75, 0.85,
                      0.92, 0.97, 1.00, 1.00, 0.97, 0.92, 0.85, 0.80, 0.70, 0.45, 0.20, 0.08])
_IND_WORK = np.array([0.30, 0.30, 0.30, 0.30, 0.30, 0.30, 0.32, 0.50, 0.92, 1.00, 1.00, 0.98,
                      0.82, 0.97, 1.00, 1.00, 0.90, 0.98, 1.00, 0.98, 0.97, 0.97, 0.95, 0.85])
_AGR_BASE = np.array([0.80, 0.80, 0.80, 0.80, 0.82, 0.85, 0.90, 0.95, 1.00, 1.00, 1.00, 1.00,
                      1.00, 1.00, 1.00, 1.00, 1.00, 0.98, 0.95, 0.90, 0.88, 0.85, 0.82, 0.80])
_AGR_PUMP = np.array([0.25, 0.22, 0.20, 0.20, 0.22, 0.30, 0.55, 0.85, 0.95, 1.00, 1.00, 1.00,
                      0.95, 0.95, 1.00, 1.00, 0.95, 0.85, 0.65, 0.45, 0.35, 0.30, 0.28, 0.26])


def _expand_hourly(hourly: np.ndarray) -> np.ndarray:
    """Hourly knots -> 96 quarter-hour values, circular 3-point smoothing."""
    q = np.repeat(np.asarray(hourly, dtype=float), 4)
    return (np.roll(q, 1) + 2.0 * q + np.roll(q, -1)) / 4.0


def _year_index(year: int) -> pd.DatetimeIndex:
    start = pd.Timestamp(year=year, month=1, day=1, tz=_TZ)
    end = pd.Timestamp(year=year + 1, month=1, day=1, tz=_TZ)
    return pd.date_range(start, end, freq=_STEP, inclusive="left", name="time")


def _day_types(days: pd.DatetimeIndex, year: int) -> np.ndarray:
    """0 = working day, 1 = Saturday-like, 2 = Sunday / public holiday."""
    dow = days.dayofweek.to_numpy()
    kind = np.where(dow == 5, 1, np.where(dow == 6, 2, 0))
    iso = days.strftime("%Y-%m-%d")
    if year == 2024:
        kind[np.isin(iso, _HOLIDAYS_2024)] = 2
        kind[np.isin(iso, _WORKDAYS_2024)] = 0
    else:
        logger.debug("no official holiday calendar for %d: fixed-date holidays only", year)
        md = days.strftime("%m-%d")
        fixed = ["01-01", "05-01", "05-02", "05-03", "10-01", "10-02", "10-03", "10-04", "10-05", "10-06", "10-07"]
        kind[np.isin(md, fixed)] = 2
        lny = _LUNAR_NEW_YEAR[year]
        off = (days.date - lny)  # type: ignore[operator]
        off_days = np.array([o.days for o in off])
        kind[(off_days >= 0) & (off_days <= 7)] = 2
    return kind


def _spring_festival_offset(days: pd.DatetimeIndex, year: int) -> np.ndarray:
    lny = pd.Timestamp(_LUNAR_NEW_YEAR[year])
    naive = days.tz_localize(None).normalize()
    return ((naive - lny) / pd.Timedelta(days=1)).to_numpy()


def _industrial_festival_factor(off: np.ndarray) -> np.ndarray:
    """Production level around the Spring Festival (0 = Lunar New Year's day)."""
    return np.interp(off, [-13, -2, -1, 7, 8, 15, 21], [1.0, 0.35, 0.2, 0.2, 0.3, 0.85, 1.0])


def _commercial_festival_factor(off: np.ndarray) -> np.ndarray:
    return np.interp(off, [-3, -1, 3, 4, 7, 9], [1.0, 0.7, 0.7, 0.85, 0.85, 1.0])


def _residential_festival_factor(off: np.ndarray) -> np.ndarray:
    return np.interp(off, [-4, -1, 6, 9], [1.0, 1.05, 1.05, 1.0])


def _daily_temperature(n_days: int, doy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Daily mean air temperature [degC]: monthly normals + AR(1) anomaly."""
    mid_doy = np.array([15.5, 45.5, 75.0, 105.5, 136.0, 166.5, 197.0, 228.0, 258.5, 289.0, 319.5, 350.0])
    xp = np.concatenate([mid_doy - 365.25, mid_doy, mid_doy + 365.25])
    clim = np.interp(doy, xp, np.tile(_MONTHLY_T_C, 3))
    winter = 0.5 * (1.0 + np.cos(2 * np.pi * (doy - 15.0) / 365.25))  # 1 mid-Jan, 0 mid-Jul
    sd = _T_ANOMALY_SD_SUMMER_C + (_T_ANOMALY_SD_WINTER_C - _T_ANOMALY_SD_SUMMER_C) * winter
    eps = rng.normal(0.0, 1.0, n_days)
    anom = np.empty(n_days)
    anom[0] = eps[0]
    for i in range(1, n_days):
        anom[i] = _T_ANOMALY_PHI * anom[i - 1] + np.sqrt(1 - _T_ANOMALY_PHI**2) * eps[i]
    return clim + sd * anom


def _daily_clearness(days: pd.DatetimeIndex, cs_daily_kwh: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seeded daily clear-sky index, calibrated to the monthly irradiation targets."""
    month = days.month.to_numpy() - 1
    target_month = _MONTHLY_GHI_KWH_M2_DAY * np.bincount(month, minlength=12)
    cs_month = np.bincount(month, weights=cs_daily_kwh, minlength=12)
    mean_k = np.clip(target_month / cs_month, 0.05, 0.95)[month]
    conc = 3.5  # Beta concentration: mixes overcast, partly cloudy and clear days
    k = rng.beta(mean_k * conc, (1.0 - mean_k) * conc)
    for _ in range(4):  # rescale per month, keeping 0.04 <= k <= 0.97
        got = np.bincount(month, weights=k * cs_daily_kwh, minlength=12)
        k = np.clip(k * (target_month / got)[month], 0.04, 0.97)
    return k


def _pv_per_unit(index: pd.DatetimeIndex, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """PV AC output [p.u. of AC rating], daily clear-sky index, temperature, GHI."""
    import pvlib  # local import: heavy

    lat, lon, alt = XIANGTAN_SITE["latitude"], XIANGTAN_SITE["longitude"], XIANGTAN_SITE["altitude"]
    mid = index + pd.Timedelta(minutes=7.5)
    loc = pvlib.location.Location(lat, lon, tz=_TZ, altitude=alt, name="Xiangtan")
    sol = loc.get_solarposition(mid)
    linke = pvlib.clearsky.lookup_linke_turbidity(mid, lat, lon)
    cs = loc.get_clearsky(mid, model="ineichen", linke_turbidity=linke, solar_position=sol)
    zen = sol["apparent_zenith"].to_numpy()
    day_up = zen < 90.0
    cs_ghi = np.where(day_up, cs["ghi"].to_numpy(), 0.0)
    cs_dni = np.where(day_up, cs["dni"].to_numpy(), 0.0)

    n = len(index)
    steps_per_day = 96
    n_days = n // steps_per_day
    days = index[::steps_per_day]
    cs_daily = cs_ghi.reshape(n_days, steps_per_day).sum(axis=1) * 0.25 / 1000.0  # kWh/m2
    k_day = _daily_clearness(days, cs_daily, rng)

    # intra-day variability: AR(1) around the daily index, larger on broken-cloud days
    sd = 0.45 * k_day * (1.0 - k_day)
    eps = rng.normal(0.0, 1.0, (n_days, steps_per_day))
    ar = np.empty_like(eps)
    ar[:, 0] = eps[:, 0]
    phi = 0.85
    for j in range(1, steps_per_day):
        ar[:, j] = phi * ar[:, j - 1] + np.sqrt(1 - phi**2) * eps[:, j]
    kt = np.clip(k_day[:, None] + sd[:, None] * ar, 0.02, 1.05)
    ghi = (kt * cs_ghi.reshape(n_days, steps_per_day))
    # restore each day's calibrated irradiation
    tot = ghi.sum(axis=1)
    want = k_day * cs_daily * 1000.0 / 0.25
    ghi *= np.divide(want, tot, out=np.ones_like(tot), where=tot > 0)[:, None]
    ghi = ghi.ravel()

    doy = mid.dayofyear.to_numpy()
    erbs = pvlib.irradiance.erbs(ghi, zen, doy)
    dni = np.minimum(np.nan_to_num(np.asarray(erbs["dni"], dtype=float)), cs_dni)
    dhi = np.clip(ghi - dni * np.cos(np.radians(zen)), 0.0, None)
    dni_extra = pvlib.irradiance.get_extra_radiation(mid).to_numpy()
    poa = pvlib.irradiance.get_total_irradiance(
        _TILT_DEG, _AZIMUTH_DEG, zen, sol["azimuth"].to_numpy(), dni, ghi, dhi,
        dni_extra=dni_extra, albedo=_ALBEDO, model="haydavies",
    )
    aoi = pvlib.irradiance.aoi(_TILT_DEG, _AZIMUTH_DEG, zen, sol["azimuth"].to_numpy())
    iam = pvlib.iam.physical(aoi)
    eff = np.nan_to_num(np.asarray(poa["poa_direct"]) * iam + np.asarray(poa["poa_diffuse"]))
    eff = np.where(day_up, np.clip(eff, 0.0, None), 0.0)

    # air temperature: daily mean + diurnal cycle (min ~06:00, max ~15:00)
    t_day = _daily_temperature(n_days, days.dayofyear.to_numpy(), rng)
    hour = (mid.hour + mid.minute / 60.0).to_numpy()
    ampl = np.repeat(1.5 + 3.5 * k_day, steps_per_day)
    t_air = np.repeat(t_day, steps_per_day) + ampl * np.cos(2 * np.pi * (hour - 15.0) / 24.0)
    tp = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_polymer"]
    t_cell = pvlib.temperature.sapm_cell(eff, t_air, _WIND_MS, **tp)

    loss = pvlib.pvsystem.pvwatts_losses(**_LOSSES) / 100.0
    pdc = pvlib.pvsystem.pvwatts_dc(eff, t_cell, _DC_AC_RATIO, _GAMMA_PDC) * (1.0 - loss)
    pac = pvlib.inverter.pvwatts(np.asarray(pdc, dtype=float), 1.0 / _INV_ETA_NOM, eta_inv_nom=_INV_ETA_NOM)
    pac = np.where(day_up & (eff > 0), np.clip(np.nan_to_num(np.asarray(pac, dtype=float)), 0.0, 1.0), 0.0)
    return pac, k_day, t_day, ghi


def generate_class_profiles(year: int = 2024, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """One year of normalised class load profiles and the PV shape, 15-min steps.

    Parameters
    ----------
    year : int
        Calendar year (2020-2030; the official holiday calendar is modelled for
        2024, other years use fixed-date holidays and the Spring Festival).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same table.

    Returns
    -------
    pandas.DataFrame
        Index ``time``: tz-aware (Asia/Shanghai) interval-beginning labels every
        15 min for the whole year (35,136 rows in 2024). Columns
        ``residential, commercial, industrial, agricultural`` [p.u. of the class's
        annual peak, max exactly 1.0] and ``pv`` [p.u. of inverter AC rating,
        0-1]. Values rounded to 5 decimals.

    Raises
    ------
    ProfileError
        If the year is outside the supported range.
    """
    if year not in _LUNAR_NEW_YEAR:
        raise ProfileError(f"year {year} not supported; choose {min(_LUNAR_NEW_YEAR)}-{max(_LUNAR_NEW_YEAR)}")
    rng = np.random.default_rng(seed)
    index = _year_index(year)
    n = len(index)
    n_days = n // 96
    days = index[::96]

    pv, k_day, t_day, _ = _pv_per_unit(index, rng)

    kind = _day_types(days, year)
    work = kind == 0
    sat = kind == 1
    sf_off = _spring_festival_offset(days, year)

    cool = np.clip((t_day - 24.0) / 6.0, 0.0, 1.4)  # cooling intensity
    heat = np.clip((11.0 - t_day) / 7.0, 0.0, 1.4)  # heating intensity

    def daily(shape_work: np.ndarray, shape_off: np.ndarray | None = None) -> np.ndarray:
        w = _expand_hourly(shape_work)
        o = _expand_hourly(shape_off if shape_off is not None else shape_work)
        return np.where(work[:, None], w[None, :], o[None, :])

    cols: dict[str, np.ndarray] = {}

    # residential
    res = (daily(_RES_BASE_WORK, _RES_BASE_OFF)
           + 1.2 * cool[:, None] * _expand_hourly(_RES_COOL)[None, :]
           + 0.8 * heat[:, None] * _expand_hourly(_RES_HEAT)[None, :])
    res *= _residential_festival_factor(sf_off)[:, None]
    cols["residential"] = res

    # commercial (weekends slightly busier in shopping hours)
    com_open = _expand_hourly(_COM_OPEN)
    com_scale = np.where(work, 1.0, 1.04)
    com = (com_open[None, :] * com_scale[:, None]
           + 0.7 * cool[:, None] * _expand_hourly(_COM_COOL)[None, :]
           + 0.3 * heat[:, None] * _expand_hourly(_COM_COOL)[None, :])
    com *= _commercial_festival_factor(sf_off)[:, None]
    cols["commercial"] = com

    # industrial: two shifts on working days; Saturday 0.75, Sunday/holiday 0.5 of
    # the working-day daytime level, night-time continuous processes unchanged
    ind_work = _expand_hourly(_IND_WORK)
    level = np.where(work, 1.0, np.where(sat, 0.75, 0.5))
    night = 0.30
    ind = night + (ind_work[None, :] - night) * ((level - night) / (1.0 - night))[:, None]
    ind *= (1.0 + 0.1 * cool)[:, None]
    ind *= _industrial_festival_factor(sf_off)[:, None]
    cols["industrial"] = ind

    # agricultural: base + irrigation seasons on dry days
    doy = days.dayofyear.to_numpy().astype(float)

    def bump(centre: float, width: float) -> np.ndarray:
        return np.exp(-0.5 * ((doy - centre) / width) ** 2)

    season = 1.0 * bump(206, 22) + 0.55 * bump(118, 18) + 0.35 * bump(258, 15)  # 25 Jul, 28 Apr, 15 Sep
    dryness = np.clip((k_day - 0.2) / 0.5, 0.0, 1.0) * (0.7 + 0.3 * np.clip(cool, 0, 1))
    pumps = season * dryness * rng.lognormal(0.0, 0.25, n_days)
    agr = 0.22 * _expand_hourly(_AGR_BASE)[None, :] + pumps[:, None] * _expand_hourly(_AGR_PUMP)[None, :]
    cols["agricultural"] = agr

    sigma_day = {"residential": 0.06, "commercial": 0.04, "industrial": 0.06, "agricultural": 0.10}
    out = {}
    for name in LOAD_CLASSES:
        x = cols[name] * rng.lognormal(0.0, sigma_day[name], n_days)[:, None]
        x = x.ravel() * (1.0 + rng.normal(0.0, 0.02, n))
        x = np.clip(x, 0.0, None)
        x = x / x.max()
        x = np.maximum(x, MIN_LOAD_FRACTION[name])
        out[name] = np.round(x, _DECIMALS)
    out["pv"] = np.round(pv, _DECIMALS)
    df = pd.DataFrame(out, index=index, columns=list(PROFILE_COLUMNS))
    logger.debug("class profiles %d: PV yield %.0f kWh/kWac", year, df["pv"].sum() * 0.25)
    return df


def write_class_profiles(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a class-profile table as CSV (gzip when the name ends in ``.gz``).

    The first column ``time`` is ISO 8601 with offset (``2024-01-01T00:00:00+08:00``),
    then the profile columns, values rounded to 5 decimals; gzip with ``mtime=0`` and
    no stored file name, so identical tables give identical bytes.

    Parameters
    ----------
    df : pandas.DataFrame
        Table as returned by :func:`generate_class_profiles`.
    path : str or pathlib.Path
        Target file; parent directories are created.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ProfileError
        If ``df`` does not pass the checks of :func:`read_class_profiles`.
    """
    path = Path(path)
    _validate(df, str(path))
    table = df.loc[:, list(PROFILE_COLUMNS)].round(_DECIMALS).copy()
    table.index = pd.Index([t.isoformat() for t in df.index], name="time")
    text = table.to_csv(lineterminator="\n")
    data = text.encode("utf-8")
    return write_reproducible(path, data)


def read_class_profiles(path: str | Path) -> pd.DataFrame:
    """Read and validate a class-profile file.

    Parameters
    ----------
    path : str or pathlib.Path
        CSV (optionally ``.gz``) with a ``time`` column in ISO 8601 with offset and
        the columns ``residential, commercial, industrial, agricultural, pv``.

    Returns
    -------
    pandas.DataFrame
        Index: tz-aware DatetimeIndex in Asia/Shanghai, regular 15-min steps;
        columns as in :data:`PROFILE_COLUMNS` (extra columns are kept after them).

    Raises
    ------
    ProfileError
        If the file is missing or unreadable, a column is missing, times carry no
        offset, the index is not a regular 15-min sequence, or values are negative,
        not finite, or (``pv``) above 1.
    """
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"profile file {path} does not exist")
    try:
        raw = pd.read_csv(path, dtype={"time": str})
    except Exception as exc:  # noqa: BLE001 - any parse failure is a profile error
        raise ProfileError(f"{path}: cannot read as CSV ({exc})") from None
    if "time" not in raw.columns:
        raise ProfileError(f"{path}: no 'time' column (found {list(raw.columns)})")
    stamps = raw["time"].astype(str)
    if not stamps.str.contains(r"(?:[+-]\d\d:?\d\d|Z)$", regex=True).all():
        bad = stamps[~stamps.str.contains(r"(?:[+-]\d\d:?\d\d|Z)$", regex=True)].iloc[0]
        raise ProfileError(f"{path}: time {bad!r} has no UTC offset; use ISO 8601 like 2024-01-01T00:00:00+08:00")
    try:
        idx = pd.DatetimeIndex(pd.to_datetime(stamps, format="ISO8601", utc=True)).tz_convert(_TZ)
    except Exception as exc:  # noqa: BLE001
        raise ProfileError(f"{path}: cannot parse 'time' as ISO 8601 ({exc})") from None
    df = raw.drop(columns="time")
    df.index = idx.rename("time")
    missing = [c for c in PROFILE_COLUMNS if c not in df.columns]
    if missing:
        raise ProfileError(f"{path}: missing profile column(s) {missing}; required {list(PROFILE_COLUMNS)}")
    extra = [c for c in df.columns if c not in PROFILE_COLUMNS]
    df = df[list(PROFILE_COLUMNS) + extra]
    _validate(df, str(path))
    return df


def _validate(df: pd.DataFrame, source: str) -> None:
    idx = df.index
    if not isinstance(idx, pd.DatetimeIndex):
        raise ProfileError(f"{source}: index must be a DatetimeIndex, got {type(idx).__name__}")
    if idx.tz is None:
        raise ProfileError(f"{source}: time index is not time-zone aware (expected {_TZ})")
    missing = [c for c in PROFILE_COLUMNS if c not in df.columns]
    if missing:
        raise ProfileError(f"{source}: missing profile column(s) {missing}; required {list(PROFILE_COLUMNS)}")
    if len(idx) < 2:
        raise ProfileError(f"{source}: need at least two time steps, got {len(idx)}")
    steps = np.diff(idx.asi8)
    want = pd.Timedelta(_STEP).value
    if not np.all(steps == want):
        pos = int(np.argmax(steps != want))
        raise ProfileError(
            f"{source}: time steps must be a regular {_STEP} sequence; "
            f"step after {idx[pos].isoformat()} is {pd.Timedelta(int(steps[pos]))}"
        )
    values = df.loc[:, list(PROFILE_COLUMNS)].to_numpy(dtype=float)
    if not np.isfinite(values).all():
        col = PROFILE_COLUMNS[int(np.argmax(~np.isfinite(values).all(axis=0)))]
        raise ProfileError(f"{source}: column {col!r} has missing or non-finite values")
    neg = (values < 0).any(axis=0)
    if neg.any():
        raise ProfileError(f"{source}: column {PROFILE_COLUMNS[int(np.argmax(neg))]!r} has negative values")
    if (df["pv"].to_numpy() > 1.0 + 1e-9).any():
        raise ProfileError(f"{source}: column 'pv' exceeds 1.0 (per unit of inverter AC rating)")
