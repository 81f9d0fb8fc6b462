"""Rooftop-PV fleet model: AC power of every PV system on a feeder, with pvlib.

Every in-service PV sgen of a pandapower net is one rooftop system (or, on the
Xiangtan feeders, the aggregate of the ``systems`` behind one distribution
transformer) with a DC rating ``kwp``, an AC (inverter) rating ``ac_kw``, a
tilt, an azimuth, a mounting and a loss assumption (:func:`pv_systems`).
:func:`fleet_ac_kw` computes its AC power for any weather period with pvlib:

1. solar position (``Location.get_solarposition``, NREL SPA, air temperature
   for refraction) at the centre of each interval (gridint weather rows are
   interval means labelled by the interval's beginning; ``label='instant'``
   for instantaneous data), extraterrestrial DNI and relative air mass
   (Kasten & Young);
2. plane-of-array irradiance, Perez 1990 transposition
   (``pvlib.irradiance.get_total_irradiance(model='perez')``), ground albedo 0.2;
3. incidence-angle loss on the beam component (``pvlib.iam.physical``);
4. cell temperature, SAPM (``pvlib.temperature.sapm_cell``) with the mounting's
   parameters (``roof``: close roof mount, ``rack``: open rack);
5. DC power, PVWatts (``pvlib.pvsystem.pvwatts_dc``) times (1 - losses);
6. AC power, PVWatts inverter (``pvlib.inverter.pvwatts``), clipped at the AC
   rating.

This is the chain of ``pvlib.modelchain.ModelChain`` with ``dc_model='pvwatts'``,
``ac_model='pvwatts'``, ``aoi_model='physical'``, ``spectral_model='no_loss'``,
``temperature_model='sapm'``, ``transposition_model='perez'`` and a PVWatts loss
factor (the tests check that both agree). Only the arrangement differs: systems
are grouped by orientation (tilt, azimuth rounded to ``orientation_step_deg``),
mounting and temperature coefficient; the per-kWp DC shape is computed once per
group, on daytime steps only, for many groups at once (pvlib's functions
broadcast over a (groups x steps) array); the inverter curve is evaluated once
per group and DC/AC ratio, and each system is that per-unit AC shape times its
rating. A 10,000-system fleet over a year takes seconds
(``sims/bench_pvfleet.py``).

Sign and units: AC power is generation, positive, in kW; the per-bus
injections of :func:`pv_injections` follow gridint's power-flow convention
(generation positive, load positive as consumption, storage ``p_mw``
positive = charging).

Defaults where the net does not say (documented assumptions)
-------------------------------------------------------------
* PV sgens: ``type`` containing ``"PV"`` (case-insensitive; CIGRE ``PV``,
  SimBench ``PV``/``PV_MV``, Xiangtan ``PV``), a ``profile`` of ``"pv"``, and
  SimBench ``lv_RES``: the aggregated generation of the LV grids below an MV
  node. SimBench's LV grids hold PV generators only, and the ``lv_RES``
  profiles are zero at night with the PV full-load hours (649 h/yr against
  639 h/yr for ``PV_MV`` on ``1-MV-rural--0-sw``), so they are rooftop PV.
  Wind, hydro, biomass, CHP and fuel cells are not PV and keep their own
  values.
* AC rating: ``p_mw`` (the Xiangtan files store the inverter rating there;
  SimBench and CIGRE the installed power), ``sn_mva`` if ``p_mw`` is not
  positive (the power flow applies the sgen's ``scaling`` on top, as
  pandapower does). DC rating: the ``kwp`` column, else ``DEFAULT_DC_AC_RATIO`` (1.1)
  times the AC rating - the ratio of the Xiangtan feeders and common Chinese
  residential practice (inverters sized at 1.0-1.2 of the array).
* Roof class (``category`` of the result): the sgen's ``load_class`` when it is
  one of residential / agricultural / commercial / industrial, else the
  ``category`` column if it is, ``residential_*`` NEA categories -> residential,
  ``general_ci`` / ``large_ci`` -> commercial, anything else -> ``unknown``.
* Geometry per roof class (Settings, drawn per sgen from a generator seeded by
  ``GEOMETRY_SEED`` and the sgen index, so a system keeps its roof whatever
  else is on the net): residential, agricultural and unknown roofs (pitched
  tile roofs): tilt ``pv_tilt_residential_deg`` +/- ``pv_tilt_spread_residential_deg``
  (uniform, 20-30 deg); commercial and industrial (flat concrete roofs with
  low racks, colour-steel sheds): tilt ``pv_tilt_industrial_deg`` +/-
  ``INDUSTRIAL_TILT_SPREAD_DEG`` (6-10 deg); azimuth ``pv_azimuth_deg`` +/-
  ``pv_azimuth_spread_deg`` (150-210 deg, pvlib convention: 180 = south);
  mounting ``roof``; losses ``pv_losses_percent`` (PVWatts 14.08 %).
  Columns ``tilt_deg``, ``azimuth_deg``, ``mounting``, ``losses_percent`` on
  the sgen table override these per system.

References
----------
.. [1] W. F. Holmgren, C. W. Hansen, M. A. Mikofski, "pvlib python: a python
   package for modeling solar energy systems", JOSS 3(29), 884, 2018.
.. [2] A. P. Dobos, "PVWatts Version 5 Manual", NREL/TP-6A20-62641, 2014.
.. [3] R. Perez et al., "Modeling daylight availability and irradiance
   components from direct and global irradiance", Solar Energy 44(5), 1990.
.. [4] D. L. King, W. E. Boyson, J. A. Kratochvil, "Photovoltaic Array
   Performance Model", SAND2004-3535, 2004 (SAPM cell temperature).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pvlib

from gridint.config import get_settings
from gridint.errors import FeederError, WeatherError
from gridint.grid.profiles import profile_positions  # noqa: F401  (re-exported)

__all__ = [
    "SYSTEM_COLUMNS",
    "MOUNTINGS",
    "pv_systems",
    "fleet_ac_kw",
    "clearsky_fleet_ac_kw",
    "bus_pv_kw",
    "pv_injections",
    "specific_yield_kwh_per_kwp",
    "profile_positions",
]

logger = logging.getLogger(__name__)

#: Columns of the systems table (index: sgen index).
SYSTEM_COLUMNS = ("bus", "kwp", "ac_kw", "tilt_deg", "azimuth_deg", "mounting",
                  "losses_percent", "category")

#: Mounting -> SAPM cell-temperature parameters (King et al. 2004, Table 1, as in
#: ``pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS['sapm']``). ``roof``: modules
#: flush on a pitched or shed roof with a small air gap (close roof mount);
#: ``rack``: open rack (flat roofs with tilted racks, ground mounts).
MOUNTINGS = {
    "roof": "close_mount_glass_glass",
    "rack": "open_rack_glass_polymer",
}

#: DC/AC ratio where the net gives no ``kwp`` (the Xiangtan feeders' own ratio).
DEFAULT_DC_AC_RATIO = 1.1
#: Half-width of the tilt spread on commercial / industrial roofs [deg]
#: (8 +/- 2 deg: the 5-10 deg of factory roofs).
INDUSTRIAL_TILT_SPREAD_DEG = 2.0
#: Ground albedo: PVWatts default 0.2 (Dobos 2014, section 5).
ALBEDO = 0.2
#: Seed of the default roof geometry (combined with each sgen index).
GEOMETRY_SEED = 20_240_401
#: Air temperature [degC] and wind speed [m/s] used for clear-sky power and
#: where a weather frame has no temperature / wind (PVWatts / SAPM reference
#: conditions: 25 degC; 1 m/s is the SAPM NOCT-like light-wind case).
CLEARSKY_TEMP_AIR_C = 25.0
CLEARSKY_WIND_SPEED_M_S = 1.0

_ROOF_CLASSES = ("residential", "agricultural", "commercial", "industrial")
_LOW_TILT_CLASSES = ("commercial", "industrial")
_WEATHER_IRRADIANCE = ("ghi", "dni", "dhi")
_GROUP_CHUNK = 16        # orientation groups per vectorised pvlib call (cache-sized)
_ROW_BLOCK = 64          # daytime steps per output block (cache-sized)


def _threads() -> int:
    """Worker threads for the vectorised stages (numpy releases the GIL).

    ``GRIDINT_PV_THREADS`` if set, else the usable cores (at most 8).
    """
    env = os.environ.get("GRIDINT_PV_THREADS")
    if env:
        return max(1, int(env))
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(8, n))


def _run_parallel(fn, items) -> None:
    """Call ``fn(item)`` for every item, on worker threads when there are several."""
    n = min(_threads(), len(items))
    if n <= 1:
        for it in items:
            fn(it)
        return
    with ThreadPoolExecutor(max_workers=n) as pool:
        for _ in pool.map(fn, items):
            pass


# --------------------------------------------------------------------------- systems

def _is_pv(sgen: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the PV rows of an sgen table (see module docstring)."""
    n = len(sgen)
    mask = np.zeros(n, dtype=bool)
    if "type" in sgen:
        typ = sgen["type"].astype(str).str.lower()
        mask |= typ.str.contains("pv", regex=False).to_numpy()
        mask |= (typ == "lv_res").to_numpy()
    if "profile" in sgen:
        mask |= (sgen["profile"].astype(str).str.lower() == "pv").to_numpy()
    return mask


def _roof_class(sgen: pd.DataFrame) -> np.ndarray:
    out = np.full(len(sgen), "unknown", dtype=object)
    for col in ("category", "load_class"):  # load_class wins (applied last)
        if col not in sgen:
            continue
        vals = sgen[col].astype(str).str.lower().to_numpy()
        for k, v in enumerate(vals):
            if v in _ROOF_CLASSES:
                out[k] = v
            elif col == "category" and v.startswith("residential"):
                out[k] = "residential"
            elif col == "category" and v in ("general_ci", "large_ci"):
                out[k] = "commercial"
    return out


def _column(sgen: pd.DataFrame, name: str, default: np.ndarray) -> np.ndarray:
    """Per-row override from an sgen column where it holds a value."""
    if name not in sgen:
        return default
    vals = pd.to_numeric(sgen[name], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(vals), vals, default)


def pv_systems(net) -> pd.DataFrame:
    """The PV systems of a net: one row per in-service PV sgen.

    Parameters
    ----------
    net : pandapowerNet

    Returns
    -------
    DataFrame
        Index: sgen index. Columns ``bus`` (pandapower bus index), ``kwp`` (DC
        rating [kWp]), ``ac_kw`` (inverter AC rating [kW]), ``tilt_deg``
        [deg from horizontal], ``azimuth_deg`` [deg, pvlib convention: 180 =
        south], ``mounting`` (``roof`` or ``rack``), ``losses_percent`` (DC
        system losses [%]), ``category`` (roof class: residential, agricultural,
        commercial, industrial, unknown). Defaults: see the module docstring.

    Raises
    ------
    FeederError
        A PV sgen has no positive AC rating, or an override is out of range.
    """
    s = get_settings()
    sgen = net.sgen
    if not len(sgen):
        return pd.DataFrame(columns=list(SYSTEM_COLUMNS), index=pd.Index([], name="sgen"))
    in_service = sgen["in_service"].astype(bool).to_numpy() if "in_service" in sgen \
        else np.ones(len(sgen), dtype=bool)
    df = sgen[_is_pv(sgen) & in_service]
    idx = df.index.to_numpy(dtype=np.int64)

    p_mw = pd.to_numeric(df["p_mw"], errors="coerce").to_numpy(dtype=float)
    sn = (pd.to_numeric(df["sn_mva"], errors="coerce").to_numpy(dtype=float)
          if "sn_mva" in df else np.full(len(df), np.nan))
    ac_kw = 1000.0 * np.where(np.isfinite(p_mw) & (p_mw > 0), p_mw, sn)
    bad = ~(np.isfinite(ac_kw) & (ac_kw > 0))
    if bad.any():
        raise FeederError(f"PV sgen {idx[bad][0]} has no positive AC rating "
                          "(p_mw or sn_mva)")
    kwp = _column(df, "kwp", DEFAULT_DC_AC_RATIO * ac_kw)
    kwp = np.where(kwp > 0, kwp, DEFAULT_DC_AC_RATIO * ac_kw)

    category = _roof_class(df)
    low = np.isin(category, _LOW_TILT_CLASSES)
    tilt0 = np.where(low, s.pv_tilt_industrial_deg, s.pv_tilt_residential_deg)
    spread = np.where(low, INDUSTRIAL_TILT_SPREAD_DEG, s.pv_tilt_spread_residential_deg)
    u = np.array([np.random.default_rng([GEOMETRY_SEED, int(i)]).random(2) for i in idx]
                 ).reshape(-1, 2)
    tilt = np.clip(tilt0 + spread * (2.0 * u[:, 0] - 1.0), 0.0, 90.0)
    azimuth = (s.pv_azimuth_deg + s.pv_azimuth_spread_deg * (2.0 * u[:, 1] - 1.0)) % 360.0
    tilt = _column(df, "tilt_deg", tilt)
    azimuth = _column(df, "azimuth_deg", azimuth)
    losses = _column(df, "losses_percent", np.full(len(df), s.pv_losses_percent))
    mounting = np.full(len(df), "roof", dtype=object)
    if "mounting" in df:
        given = df["mounting"].to_numpy(dtype=object)
        has = pd.notna(given)
        mounting[has] = [str(m).lower() for m in given[has]]

    out = pd.DataFrame({
        "bus": df["bus"].to_numpy(dtype=np.int64),
        "kwp": kwp, "ac_kw": ac_kw, "tilt_deg": tilt, "azimuth_deg": azimuth,
        "mounting": mounting, "losses_percent": losses, "category": category,
    }, index=pd.Index(idx, name="sgen"))
    _check_systems(out)
    return out


def _check_systems(systems: pd.DataFrame) -> None:
    missing = [c for c in SYSTEM_COLUMNS if c not in systems and c != "category"]
    if missing:
        raise FeederError(f"systems table lacks column(s) {missing}; "
                          f"expected {list(SYSTEM_COLUMNS)}")
    checks = (("kwp", 0.0, np.inf, False), ("ac_kw", 0.0, np.inf, False),
              ("tilt_deg", 0.0, 90.0, True), ("azimuth_deg", 0.0, 360.0, True),
              ("losses_percent", 0.0, 100.0, True))
    for col, lo, hi, lo_incl in checks:
        v = pd.to_numeric(systems[col], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(v) & (v <= hi) & ((v >= lo) if lo_incl else (v > lo))
        if not ok.all():
            k = int(np.argmin(ok))
            raise FeederError(f"PV system {systems.index[k]}: {col} = {v[k]!r} outside "
                              f"{'[' if lo_incl else '('}{lo}, {hi}]")
    unknown = sorted(set(map(str, systems["mounting"])) - set(MOUNTINGS))
    if unknown:
        raise FeederError(f"PV mounting(s) {unknown} unknown; allowed: {sorted(MOUNTINGS)}")


# --------------------------------------------------------------------------- weather

def _resolve_location(loc, weather: pd.DataFrame | None = None):
    """The site: ``loc`` if given, else the weather frame's ``attrs['location']``,
    else the configured site (:func:`gridint.solar.weather.location`)."""
    from gridint.solar.weather import location

    if loc is not None:
        if isinstance(loc, pvlib.location.Location):
            return loc
        if isinstance(loc, dict):
            return location(**loc)
        raise WeatherError(f"loc must be a pvlib Location or a dict, got {type(loc).__name__}")
    site = getattr(weather, "attrs", {}).get("location") if weather is not None else None
    if isinstance(site, dict) and {"latitude", "longitude"} <= set(site):
        return location(**{k: v for k, v in site.items()
                           if k in ("latitude", "longitude", "altitude", "tz", "name")})
    return location()


def _check_weather(weather: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(weather, pd.DataFrame) or not isinstance(weather.index, pd.DatetimeIndex):
        raise WeatherError("weather must be a DataFrame with a DatetimeIndex")
    if weather.index.tz is None:
        raise WeatherError("weather index must be time-zone aware (ISO 8601 with offset)")
    missing = [c for c in _WEATHER_IRRADIANCE if c not in weather]
    if missing:
        raise WeatherError(f"weather lacks column(s) {missing}; needs ghi, dni, dhi [W/m2], "
                           "temp_air [degC], wind_speed [m/s]")
    w = pd.DataFrame(index=weather.index)
    for col, default in (("ghi", None), ("dni", None), ("dhi", None),
                         ("temp_air", CLEARSKY_TEMP_AIR_C),
                         ("wind_speed", CLEARSKY_WIND_SPEED_M_S)):
        if col in weather:
            v = pd.to_numeric(weather[col], errors="coerce").to_numpy(dtype=float)
        else:
            logger.info("weather has no %s; using %s", col, default)
            v = np.full(len(weather), float(default))
        if not np.all(np.isfinite(v)):
            k = int(np.argmin(np.isfinite(v)))
            raise WeatherError(f"weather column {col} has a missing or non-numeric value "
                               f"at {weather.index[k].isoformat()}")
        w[col] = v
    neg = (w[list(_WEATHER_IRRADIANCE)] < 0).to_numpy()
    if neg.any():
        r, c = np.argwhere(neg)[0]
        raise WeatherError(f"weather column {_WEATHER_IRRADIANCE[c]} is negative at "
                           f"{w.index[r].isoformat()} (irradiance must be >= 0 W/m2)")
    return w


def _sun(weather: pd.DataFrame, loc, offset: pd.Timedelta) -> dict:
    """Solar geometry on the irradiated steps (what ModelChain computes), at the
    index instants plus ``offset`` (half a step for interval-mean values)."""
    w = weather
    irr = ((w["ghi"].to_numpy() > 0) | (w["dni"].to_numpy() > 0) | (w["dhi"].to_numpy() > 0))
    day = np.flatnonzero(irr)
    times = w.index[day] + offset
    sp = loc.get_solarposition(times, temperature=w["temp_air"].to_numpy()[day])
    zen = sp["apparent_zenith"].to_numpy(dtype=float)
    return {
        "day": day,
        "apparent_zenith": zen,
        "azimuth": sp["azimuth"].to_numpy(dtype=float),
        "dni_extra": np.asarray(pvlib.irradiance.get_extra_radiation(times), dtype=float),
        "airmass": np.asarray(pvlib.atmosphere.get_relative_airmass(zen), dtype=float),
        "ghi": w["ghi"].to_numpy()[day], "dni": w["dni"].to_numpy()[day],
        "dhi": w["dhi"].to_numpy()[day], "temp_air": w["temp_air"].to_numpy()[day],
        "wind_speed": w["wind_speed"].to_numpy()[day],
    }


def _dc_per_kwp(tilt: np.ndarray, azimuth: np.ndarray, mounting: np.ndarray,
                gamma: np.ndarray, sun: dict) -> np.ndarray:
    """DC power per kWp before losses [kW/kWp], (groups x daytime steps).

    pvlib functions applied to (groups, 1) orientation columns broadcast
    against (1, steps) weather rows: one call serves many orientations.
    """
    row = {k: sun[k][None, :] for k in ("apparent_zenith", "azimuth", "dni_extra",
                                        "airmass", "ghi", "dni", "dhi", "temp_air",
                                        "wind_speed")}
    out = np.empty((len(tilt), len(sun["day"])))
    temp_params = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]

    def chunk(sl: slice) -> None:
        t, az = tilt[sl, None], azimuth[sl, None]
        # the body of pvlib.irradiance.get_total_irradiance(model='perez'), with
        # the angle of incidence kept for the incidence-angle modifier
        aoi = pvlib.irradiance.aoi(t, az, row["apparent_zenith"], row["azimuth"])
        sky = pvlib.irradiance.perez(t, az, row["dhi"], row["dni"], row["dni_extra"],
                                     row["apparent_zenith"], row["azimuth"], row["airmass"])
        ground = pvlib.irradiance.get_ground_diffuse(t, row["ghi"], albedo=ALBEDO)
        poa = pvlib.irradiance.poa_components(aoi, row["dni"], sky, ground)
        effective = poa["poa_direct"] * pvlib.iam.physical(aoi) + poa["poa_diffuse"]
        par = {k: np.array([temp_params[MOUNTINGS[m]][k] for m in mounting[sl]])[:, None]
               for k in ("a", "b", "deltaT")}
        temp_cell = pvlib.temperature.sapm_cell(poa["poa_global"], row["temp_air"],
                                                row["wind_speed"], **par)
        out[sl] = pvlib.pvsystem.pvwatts_dc(effective, temp_cell, 1.0, gamma[sl, None])

    slices = [slice(a, a + _GROUP_CHUNK) for a in range(0, len(tilt), _GROUP_CHUNK)]
    _run_parallel(chunk, slices)
    np.nan_to_num(out, copy=False)
    return out


def fleet_ac_kw(systems: pd.DataFrame, weather: pd.DataFrame, loc=None, *,
                orientation_step_deg: float = 1.0, label: str = "beginning") -> pd.DataFrame:
    """AC power of every system for every weather step [kW].

    Parameters
    ----------
    systems : DataFrame
        As returned by :func:`pv_systems` (columns ``SYSTEM_COLUMNS``; an
        optional ``gamma_pdc_per_c`` column [1/degC] overrides Settings
        ``pv_gamma_pdc_per_c`` per system).
    weather : DataFrame
        Time-zone aware index; ``ghi``, ``dni``, ``dhi`` [W/m2], ``temp_air``
        [degC] and ``wind_speed`` [m/s] (the last two default to 25 degC and
        1 m/s when absent), e.g. from :mod:`gridint.solar.weather`.
    loc : pvlib.location.Location or dict, optional
        Site; default ``weather.attrs['location']`` when the frame carries one,
        else the configured site (:func:`gridint.solar.weather.location`).
    orientation_step_deg : float
        Systems are grouped by tilt and azimuth rounded to this step [deg];
        0 computes every distinct orientation exactly.
    label : {'beginning', 'instant'}
        ``beginning`` (gridint's convention, every weather frame of
        :mod:`gridint.solar.weather`): a row holds the mean over
        ``[t, t + step)``, so the sun is placed at the interval centre
        ``t + step / 2`` and the result is the interval's power on the same
        label. ``instant``: values at the instants ``t`` (pvlib ModelChain's
        convention; e.g. NSRDB PSM3 instantaneous values).

    Returns
    -------
    DataFrame
        (steps x systems) AC power [kW], index = weather index, columns =
        systems index; 0 at night.

    Raises
    ------
    WeatherError
        Missing columns, missing values, negative irradiance, naive index.
    FeederError
        Invalid systems table.
    """
    w = _check_weather(weather)
    _check_systems(systems)
    if label not in ("beginning", "instant"):
        raise WeatherError(f"label must be 'beginning' or 'instant', got {label!r}")
    loc = _resolve_location(loc, weather)
    offset = (pd.Timedelta(hours=_step_hours(w.index) / 2.0) if label == "beginning"
              else pd.Timedelta(0))
    n_steps, n_sys = len(w), len(systems)
    out = np.zeros((n_steps, n_sys))

    def result() -> pd.DataFrame:
        return pd.DataFrame(out, index=weather.index, columns=systems.index, copy=False)

    if n_sys == 0 or n_steps == 0:
        return result()
    s = get_settings()
    eta = s.pv_inverter_efficiency
    tilt = systems["tilt_deg"].to_numpy(dtype=float)
    azimuth = systems["azimuth_deg"].to_numpy(dtype=float) % 360.0
    if orientation_step_deg and orientation_step_deg > 0:
        tilt = np.round(tilt / orientation_step_deg) * orientation_step_deg
        azimuth = (np.round(azimuth / orientation_step_deg) * orientation_step_deg) % 360.0
    gamma = (pd.to_numeric(systems["gamma_pdc_per_c"], errors="coerce")
             .fillna(s.pv_gamma_pdc_per_c).to_numpy(dtype=float)
             if "gamma_pdc_per_c" in systems else np.full(n_sys, s.pv_gamma_pdc_per_c))
    mounting = systems["mounting"].astype(str).to_numpy()
    keys = pd.DataFrame({"t": tilt, "a": azimuth, "m": mounting, "g": gamma})
    group_of, groups = pd.factorize(pd.MultiIndex.from_frame(keys))
    g_tilt = np.array([g[0] for g in groups], dtype=float)
    g_az = np.array([g[1] for g in groups], dtype=float)
    g_mount = np.array([g[2] for g in groups], dtype=object)
    g_gamma = np.array([g[3] for g in groups], dtype=float)

    sun = _sun(w, loc, offset)
    day = sun["day"]
    if len(day) == 0:
        return result()
    dc = _dc_per_kwp(g_tilt, g_az, g_mount, g_gamma, sun)  # (groups, day) kW/kWp

    # PVWatts inverter with pdc0 = ac_kw / eta (the DC input limit): in per unit of
    # pdc0 the AC shape depends only on the group and r = kwp (1 - losses) / pdc0.
    kwp = systems["kwp"].to_numpy(dtype=float)
    ac = systems["ac_kw"].to_numpy(dtype=float)
    losses = systems["losses_percent"].to_numpy(dtype=float)
    pdc0 = ac / eta
    ratio = kwp * (1.0 - losses / 100.0) / pdc0
    shape_of, shapes = pd.factorize(pd.MultiIndex.from_arrays(
        [group_of, np.round(ratio, 12)]))
    sh_group = np.array([k[0] for k in shapes], dtype=np.int64)
    sh_ratio = np.array([k[1] for k in shapes], dtype=float)
    dc_t = np.ascontiguousarray(dc.T)  # (daytime steps, groups)
    del dc

    # per block of consecutive daytime steps (contiguous output rows): the inverter
    # curve once per AC shape, then every system = its shape x its DC input limit
    breaks = np.flatnonzero(np.diff(day) != 1) + 1
    runs = []
    for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(day)]):
        for a in range(lo, hi, _ROW_BLOCK):
            runs.append((a, min(hi, a + _ROW_BLOCK)))

    def block(run: tuple[int, int]) -> None:
        a, b = run
        ac_pu = pvlib.inverter.pvwatts(dc_t[a:b][:, sh_group] * sh_ratio, 1.0,
                                       eta_inv_nom=eta)
        rows = out[day[a]:day[a] + (b - a)]
        np.take(ac_pu, shape_of, axis=1, out=rows, mode="clip")
        rows *= pdc0

    _run_parallel(block, runs)
    logger.debug("fleet: %d systems, %d orientation groups, %d AC shapes, %d/%d daytime steps",
                 n_sys, len(groups), len(shapes), len(day), n_steps)
    return result()


def clearsky_fleet_ac_kw(systems: pd.DataFrame, index: pd.DatetimeIndex, loc=None, *,
                         temp_air: float = CLEARSKY_TEMP_AIR_C,
                         wind_speed: float = CLEARSKY_WIND_SPEED_M_S) -> pd.DataFrame:
    """Clear-sky AC power of every system [kW].

    Clear-sky irradiance from pvlib (Ineichen/Perez with pvlib's monthly Linke
    turbidity climatology, ``Location.get_clearsky``) at the interval centres,
    a constant air temperature and wind speed, then :func:`fleet_ac_kw`
    (interval-beginning labels, like every gridint series).

    Parameters
    ----------
    systems : DataFrame
        See :func:`pv_systems`.
    index : DatetimeIndex
        Time-zone aware steps.
    loc : pvlib.location.Location, optional
        Default the configured site.
    temp_air : float
        Air temperature [degC] (default 25).
    wind_speed : float
        Wind speed [m/s] (default 1).

    Returns
    -------
    DataFrame
        (steps x systems) clear-sky AC power [kW].
    """
    index = pd.DatetimeIndex(index)
    if index.tz is None:
        raise WeatherError("clear-sky index must be time-zone aware")
    loc = _resolve_location(loc)
    # interval means approximated by the clear sky at the interval centres, as the
    # default weather year is built (gridint.solar.weather)
    mid = index + pd.Timedelta(hours=_step_hours(index) / 2.0)
    cs = loc.get_clearsky(mid)
    weather = pd.DataFrame({"ghi": cs["ghi"].to_numpy(), "dni": cs["dni"].to_numpy(),
                            "dhi": cs["dhi"].to_numpy(), "temp_air": float(temp_air),
                            "wind_speed": float(wind_speed)}, index=index).fillna(0.0)
    return fleet_ac_kw(systems, weather, loc)


def bus_pv_kw(systems: pd.DataFrame, ac_kw: pd.DataFrame) -> pd.DataFrame:
    """Sum system AC power per bus [kW].

    Parameters
    ----------
    systems : DataFrame
        With a ``bus`` column, index = system (sgen) index.
    ac_kw : DataFrame
        (steps x systems) AC power [kW], e.g. from :func:`fleet_ac_kw`.

    Returns
    -------
    DataFrame
        (steps x buses) [kW], columns = sorted bus indices that hold PV.
    """
    bus = systems["bus"].reindex(ac_kw.columns)
    if bus.isna().any():
        raise FeederError(f"systems {list(ac_kw.columns[bus.isna()][:5])} have no bus")
    codes, buses = pd.factorize(bus.to_numpy(dtype=np.int64), sort=True)
    import scipy.sparse as sp

    # (bus x system) incidence; blocks of steps keep the transposes in cache
    incidence = sp.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))),
                              shape=(len(buses), len(codes)))
    arr = ac_kw.to_numpy(dtype=float)
    vals = np.empty((arr.shape[0], len(buses)))
    for a in range(0, arr.shape[0], _ROW_BLOCK * 2):
        blk = np.ascontiguousarray(arr[a:a + _ROW_BLOCK * 2].T)
        vals[a:a + _ROW_BLOCK * 2] = (incidence @ blk).T
    return pd.DataFrame(vals, index=ac_kw.index, columns=pd.Index(buses, name="bus"))


# --------------------------------------------------------------------------- power flow


def pv_injections(compiled, feeder, weather: pd.DataFrame | None = None, *,
                  loc=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-bus injections with PV from the fleet model: forecast -> power flow.

    Loads (and storage, and non-PV sgens) take the feeder's profile values at
    the weather timestamps (month-day mapped, :func:`profile_positions`) when
    the feeder has profiles, else the net's own snapshot values; every
    in-service PV sgen takes its AC power from :func:`fleet_ac_kw` at unity
    power factor (q = 0).

    Parameters
    ----------
    compiled : gridint.powerflow.CompiledNet
        ``compile_net(feeder.net)``.
    feeder : gridint.grid.Feeder
    weather : DataFrame, optional
        Weather for the steps to study (see :func:`fleet_ac_kw`); default the
        default weather year (``gridint.solar.weather.default_weather()``).
    loc : pvlib.location.Location, optional
        Default the configured site.

    Returns
    -------
    p_inj_mw, q_inj_mvar : ndarray (steps, n_bus)
        Generation-positive injections per bus [MW], [Mvar], columns
        ``compiled.bus_index``; pass them with ``time_index=weather.index`` to
        :func:`gridint.powerflow.run_batch`.
    """
    from gridint.powerflow import element_injections

    if weather is None:
        from gridint.solar.weather import default_weather

        weather = default_weather()
    systems = pv_systems(feeder.net)
    ac = fleet_ac_kw(systems, weather, loc)
    values = {}
    if feeder.has_profiles:
        prof = feeder.profiles
        pos = profile_positions(prof.time_index, weather.index)
        for key, df in prof.values.items():
            frame = df.iloc[pos]
            frame.index = weather.index
            values[key] = frame
    pv_cols = systems.index
    sgen_p = values.get("sgen_p_mw")
    sgen_p = sgen_p.copy() if sgen_p is not None else pd.DataFrame(index=weather.index)
    sgen_p[pv_cols] = ac.to_numpy() / 1000.0
    values["sgen_p_mw"] = sgen_p
    sgen_q = values.get("sgen_q_mvar")
    sgen_q = sgen_q.copy() if sgen_q is not None else pd.DataFrame(index=weather.index)
    sgen_q[pv_cols] = 0.0
    values["sgen_q_mvar"] = sgen_q
    for key in ("sgen_p_mw", "sgen_q_mvar"):
        if values[key].shape[1] == 0:
            del values[key]
    p, q = element_injections(compiled, **values)
    if p.shape[0] != len(weather):  # nothing time-varying: the snapshot every step
        p = np.repeat(p, len(weather), axis=0)
        q = np.repeat(q, len(weather), axis=0)
    return p, q


# --------------------------------------------------------------------------- yield

def specific_yield_kwh_per_kwp(weather: pd.DataFrame | None = None, *, tilt_deg: float = 25.0,
                               azimuth_deg: float = 180.0, mounting: str = "roof",
                               dc_ac_ratio: float = DEFAULT_DC_AC_RATIO,
                               losses_percent: float | None = None, loc=None) -> float:
    """AC energy per kWp of DC over the weather period [kWh/kWp].

    Over a full weather year this is the specific (final) yield in
    kWh/kWp/yr (IEC 61724-1 ``Y_f``).

    Parameters
    ----------
    weather : DataFrame, optional
        Default the default weather year.
    tilt_deg, azimuth_deg : float
        Orientation [deg] (pvlib convention, 180 = south).
    mounting : str
        ``roof`` or ``rack``.
    dc_ac_ratio : float
        DC rating over AC rating.
    losses_percent : float, optional
        Default Settings ``pv_losses_percent``.
    loc : pvlib.location.Location, optional

    Returns
    -------
    float
    """
    if weather is None:
        from gridint.solar.weather import default_weather

        weather = default_weather()
    s = get_settings()
    systems = pd.DataFrame({
        "bus": [0], "kwp": [1.0], "ac_kw": [1.0 / dc_ac_ratio], "tilt_deg": [tilt_deg],
        "azimuth_deg": [azimuth_deg], "mounting": [mounting],
        "losses_percent": [s.pv_losses_percent if losses_percent is None else losses_percent],
        "category": ["unknown"]})
    ac = fleet_ac_kw(systems, weather, loc, orientation_step_deg=0)
    step_h = _step_hours(weather.index)
    return float(ac.iloc[:, 0].sum() * step_h)


def _step_hours(index: pd.DatetimeIndex) -> float:
    if len(index) < 2:
        return get_settings().step_minutes / 60.0
    d = np.diff(index.asi8)
    return float(np.median(d)) / 3.6e12


# --------------------------------------------------------------------------- profiles

def fleet_profiles(net, profiles, weather: pd.DataFrame | None = None, *, loc=None):
    """A feeder's profile year with every PV sgen from the fleet model.

    The catalog's class shapes give loads; rooftop PV comes from this module
    (pvlib on the weather), so every study sees one PV model. PV sgens run at
    unity power factor (q = 0); other sgens keep their profile values.

    Parameters
    ----------
    net : pandapowerNet
    profiles : gridint.grid.profiles.ElementProfiles
    weather : DataFrame, optional
        Weather on ``profiles.time_index``; default the default weather year
        mapped by month-day (:func:`gridint.solar.weather.weather_for_period`).
    loc : pvlib.location.Location, optional

    Returns
    -------
    ElementProfiles
        A copy with ``sgen_p_mw`` / ``sgen_q_mvar`` of the PV sgens replaced [MW], [Mvar].
    """
    from gridint.grid.profiles import ElementProfiles

    systems = pv_systems(net)
    if not len(systems):
        return profiles
    index = profiles.time_index
    if weather is None:
        from gridint.solar.weather import weather_for_period

        weather = weather_for_period(index[0], index[-1] + (index[-1] - index[-2]))
    if len(weather) != len(index) or not weather.index.equals(index):
        raise WeatherError(f"weather has {len(weather)} steps; the profiles need "
                           f"{len(index)} steps from {index[0].isoformat()}")
    ac_mw = fleet_ac_kw(systems, weather, loc) / 1000.0
    values = dict(profiles.values)
    for col, fill in (("p_mw", ac_mw.to_numpy()), ("q_mvar", 0.0)):
        key = f"sgen_{col}"
        frame = values[key].copy() if key in values else pd.DataFrame(index=index)
        frame[systems.index] = fill
        values[key] = frame[[c for c in net.sgen.index if c in frame.columns]]
    return ElementProfiles(index, values, f"{profiles.source} + PV fleet model (gridint.solar.fleet)")
