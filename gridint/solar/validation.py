"""Validation of the PV fleet model against measured AC power (NREL SERF East).

Nobody on this project made these data: pvanalytics ships 15-minute measured AC
power of the NREL SERF East array (``serf_east_15min_ac_power.csv``, PVDAQ
system 50, 2016-07-01 to 2016-10-13, UTC-07:00) together with NSRDB PSM3
satellite weather for the same site and steps (``serf_east_psm3_data.csv``:
``ghi``, the PSM3 clear-sky ``ghi_clear``, ``dni_clear``, ``dhi_clear``, and
``temp_air``; resampled by pvanalytics from PSM3's 30 minutes to 15 minutes).
:func:`serf_validation` models the array with the production fleet model
(:func:`gridint.solar.fleet.fleet_ac_kw`, the same code that serves every
feeder) from its metadata, and scores it on the daytime steps.

System metadata (:data:`SERF_EAST`) and every assumption
--------------------------------------------------------
* Site 39.742 N, -105.1727 E, tilt 45 deg, azimuth 158 deg: the "ground truth
  metadata" of the SERF East array in pvanalytics' own examples
  (``docs/examples/system/infer-orientation-fit-pvwatts.py``,
  ``docs/examples/outliers/pvwatts-outlier-detection.py``); the same values in
  the PVDAQ metadata as republished by the Solar Forecast Arbiter
  (``pvdaq_reference_sites.json``: "NREL x-Si #6", network id 50, elevation
  1777.2 m, Siemens M55 c-Si modules, Fronius IG 4500-LV inverter, DC and AC
  capacity 0.006 MW, fixed tilt).
* DC rating 6.0 kWp (PVDAQ system size). AC limit 6.0 kW: the measured AC power
  exceeds the 4.5 kW of one IG 4500-LV (CEC ``Paco``) at 413 steps, up to
  5.43 kW, so the metadata's 6 kW AC capacity is used; it never binds.
* Temperature coefficient of power -0.00509 /degC: the Sandia module database
  shipped with pvlib, ``Siemens_Solar_SM55___1997_`` (Vmp coefficient
  ``Bvmpo / Vmpo`` = -0.0857 / 17.31 plus Imp coefficient ``Aimp`` = -0.00014).
* Open-rack mounting, glass/polymer SAPM parameters (roof racks at 45 deg,
  glass/Tedlar modules).
* Losses 14.08 % (PVWatts default, Settings ``pv_losses_percent``), inverter
  nominal efficiency 0.96 (PVWatts default): nothing fitted to the measured data.
* Weather: PSM3 values are instantaneous at their stamps (checked: PSM3's
  ``ghi_clear`` matches pvlib's Ineichen clear sky at the stamps, not half an
  interval later), so the model runs with ``label='instant'``; the measured AC
  is paired with the weather on the same stamps, as pvanalytics' examples pair
  them. The file has no DNI/DHI for the actual sky: where PSM3 flags the sky
  clear (``ghi == ghi_clear``, the test pvanalytics' example uses) its own
  clear-sky DNI/DHI are used, elsewhere DNI from GHI with the DISC model
  (``pvlib.irradiance.disc``, the model PSM3 itself uses for cloudy-sky DNI,
  Sengupta et al. 2018) and DHI = GHI - DNI cos(zenith). Wind speed is not in
  the file: 1 m/s (light wind) is assumed; the sensitivity is reported.
* Daytime points: solar zenith below 85 deg at the stamp (5,108 of 10,000
  steps). Metrics follow the Solar Forecast Arbiter definitions of
  :mod:`gridint.solar.metrics` with the model as the "forecast": MBE > 0 means
  the model is too high.

References
----------
.. [1] NREL PVDAQ, DOE Open Energy Data Initiative,
   https://data.openei.org/submissions/4568 (system 50, SERF East).
.. [2] pvanalytics, https://github.com/pvlib/pvanalytics (data files and
   examples, v0.2).
.. [3] M. Sengupta et al., "The National Solar Radiation Data Base (NSRDB)",
   Renewable and Sustainable Energy Reviews 89, 51-60, 2018.
.. [4] E. L. Maxwell, "A quasi-physical model for converting hourly global
   horizontal to direct normal insolation", SERI/TR-215-3087, 1987 (DISC).
.. [5] D. L. King et al., "Photovoltaic Array Performance Model",
   SAND2004-3535, 2004 (module database, SAPM temperature).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib

from gridint.config import get_settings
from gridint.errors import WeatherError

__all__ = ["SERF_EAST", "serf_data_dir", "read_serf_east", "serf_weather", "serf_systems",
           "serf_validation"]

logger = logging.getLogger(__name__)

#: NREL SERF East (PVDAQ system 50) as modelled; see the module docstring.
SERF_EAST = {
    "name": "NREL SERF East (PVDAQ system 50, 'NREL x-Si #6'), Golden CO",
    "latitude": 39.742,
    "longitude": -105.1727,
    "altitude": 1777.2,
    "tz": "Etc/GMT+7",
    "tilt_deg": 45.0,
    "azimuth_deg": 158.0,
    "kwp": 6.0,
    "ac_kw": 6.0,
    "mounting": "rack",
    # Sandia module database (pvlib), Siemens_Solar_SM55___1997_: Bvmpo/Vmpo + Aimp
    "gamma_pdc_per_c": -0.0857 / 17.31 - 0.00014,
    "capacity_kw": 6.0,
    "daytime_max_zenith_deg": 85.0,
    "wind_speed_m_s": 1.0,
}

_AC_FILE = "serf_east_15min_ac_power.csv"
_WEATHER_FILE = "serf_east_psm3_data.csv"


def serf_data_dir() -> Path:
    """Folder of the data files shipped with the installed pvanalytics package."""
    try:
        import pvanalytics
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise WeatherError("the measured-data validation needs the pvanalytics package "
                           "(pip install pvanalytics)") from exc
    return Path(pvanalytics.__file__).resolve().parent / "data"


def read_serf_east(data_dir: str | Path | None = None) -> tuple[pd.Series, pd.DataFrame]:
    """Measured AC power and PSM3 weather of SERF East, as shipped.

    Parameters
    ----------
    data_dir : path, optional
        Folder holding the two files; default pvanalytics' data folder.

    Returns
    -------
    ac_kw : Series
        Measured AC power [kW] (the file is in W), tz-aware (UTC-07:00).
    psm3 : DataFrame
        The weather file's columns on the same index: ``ghi``, ``ghi_clear``,
        ``dni_clear``, ``dhi_clear`` [W/m2], ``temp_air`` [degC].

    Raises
    ------
    WeatherError
        Missing files or columns, or the two files on different steps.
    """
    folder = Path(data_dir) if data_dir is not None else serf_data_dir()
    frames = []
    for name, cols in ((_AC_FILE, ("ac_power",)),
                       (_WEATHER_FILE, ("ghi", "ghi_clear", "dni_clear", "dhi_clear",
                                        "temp_air"))):
        path = folder / name
        if not path.is_file():
            raise WeatherError(f"{path} not found (shipped with pvanalytics >= 0.2)")
        df = pd.read_csv(path, index_col=0)
        df.index = pd.to_datetime(df.index)
        if df.index.tz is None:
            raise WeatherError(f"{path}: time stamps carry no UTC offset")
        missing = [c for c in cols if c not in df]
        if missing:
            raise WeatherError(f"{path}: missing column(s) {missing}")
        frames.append(df.sort_index())
    ac, wx = frames
    if not ac.index.equals(wx.index):
        raise WeatherError(f"{_AC_FILE} and {_WEATHER_FILE} are not on the same time steps")
    cols = ["ghi", "ghi_clear", "dni_clear", "dhi_clear", "temp_air"]
    return ac["ac_power"].astype(float) / 1000.0, wx[cols].astype(float)


def _location() -> pvlib.location.Location:
    s = SERF_EAST
    return pvlib.location.Location(s["latitude"], s["longitude"], tz=s["tz"],
                                   altitude=s["altitude"], name="SERF East")


def serf_weather(psm3: pd.DataFrame, loc=None, *, wind_speed: float | None = None) -> pd.DataFrame:
    """Weather frame (GHI, DNI, DHI, temp_air, wind_speed) from the PSM3 file.

    Clear steps (``ghi == ghi_clear > 0``) take PSM3's clear-sky DNI and DHI;
    the others DNI from DISC (``pvlib.irradiance.disc`` with the site
    pressure) and DHI = GHI - DNI cos(zenith), DNI lowered where that would be
    negative. Values are instantaneous at the stamps.

    Parameters
    ----------
    psm3 : DataFrame
        From :func:`read_serf_east`.
    loc : pvlib.location.Location, optional
        Default the SERF East site.
    wind_speed : float, optional
        [m/s], default ``SERF_EAST['wind_speed_m_s']`` (not in the file).

    Returns
    -------
    DataFrame
    """
    loc = loc if loc is not None else _location()
    wind = SERF_EAST["wind_speed_m_s"] if wind_speed is None else float(wind_speed)
    sp = loc.get_solarposition(psm3.index, temperature=psm3["temp_air"].to_numpy())
    ghi = psm3["ghi"].to_numpy(dtype=float)
    pressure = pvlib.atmosphere.alt2pres(loc.altitude)
    dni_disc = pvlib.irradiance.disc(pd.Series(ghi, psm3.index), sp["zenith"], psm3.index,
                                     pressure=pressure)["dni"].to_numpy(dtype=float)
    cosz = np.cos(np.radians(sp["zenith"].to_numpy(dtype=float)))
    clear = (ghi > 0) & (ghi == psm3["ghi_clear"].to_numpy())
    dni = np.where(clear, psm3["dni_clear"].to_numpy(), np.nan_to_num(dni_disc))
    dhi = np.where(clear, psm3["dhi_clear"].to_numpy(), ghi - dni * np.clip(cosz, 0, None))
    low = dhi < 0
    dni = np.where(low & (cosz > 0), ghi / np.where(cosz > 0, cosz, 1.0), dni)
    dhi = np.clip(dhi, 0.0, None)
    dni = np.where(ghi > 0, np.clip(dni, 0.0, None), 0.0)
    out = pd.DataFrame({"ghi": ghi, "dni": dni, "dhi": dhi,
                        "temp_air": psm3["temp_air"].to_numpy(dtype=float),
                        "wind_speed": wind}, index=psm3.index)
    out.attrs["location"] = {"latitude": loc.latitude, "longitude": loc.longitude,
                             "altitude": loc.altitude, "tz": str(loc.tz), "name": loc.name}
    return out


def serf_systems() -> pd.DataFrame:
    """The SERF East array as a one-row systems table for :func:`fleet_ac_kw`."""
    s = SERF_EAST
    return pd.DataFrame({
        "bus": [0], "kwp": [s["kwp"]], "ac_kw": [s["ac_kw"]], "tilt_deg": [s["tilt_deg"]],
        "azimuth_deg": [s["azimuth_deg"]], "mounting": [s["mounting"]],
        "losses_percent": [get_settings().pv_losses_percent], "category": ["commercial"],
        "gamma_pdc_per_c": [s["gamma_pdc_per_c"]]}, index=pd.Index([0], name="system"))


def serf_validation(*, data_dir: str | Path | None = None, wind_speed: float | None = None,
                    time_shift_min: float = 0.0, return_series: bool = False) -> dict:
    """Model NREL SERF East from its metadata and score it on measured AC power.

    Parameters
    ----------
    data_dir : path, optional
        Folder with the pvanalytics data files (default: the installed package's).
    wind_speed : float, optional
        Assumed wind speed [m/s] (default 1, not in the data) - for sensitivity.
    time_shift_min : float
        Evaluate the model this many minutes after each stamp (default 0) - for
        the sensitivity to the time convention of the measured averages.
    return_series : bool
        Also return the measured and modelled series (keys ``measured_kw``,
        ``modelled_kw``, ``daytime``; not JSON-serialisable).

    Returns
    -------
    dict
        ``mbe_kw``, ``mae_kw``, ``rmse_kw`` [kW]; ``nrmse_percent`` (RMSE /
        capacity), ``nrmse_mean_percent`` (RMSE / mean measured power),
        ``mbe_percent`` (MBE / mean measured power), ``mae_percent`` (MAE /
        capacity); ``mean_measured_kw``, ``capacity_kw``, ``n_points`` (daytime
        steps scored), ``start``, ``end`` (ISO 8601), ``energy_measured_kwh``,
        ``energy_modelled_kwh`` (daytime), ``correlation``, ``site`` (name),
        ``model`` (one-line summary), ``wind_speed_m_s``, ``time_shift_min``; ``clear_nrmse_percent`` and
        ``clear_mbe_percent``: the same on the daytime steps PSM3 flags clear
        (the model without the satellite's cloud errors).
    """
    from gridint.solar.fleet import fleet_ac_kw
    from gridint.solar.metrics import mae, mbe, nrmse, rmse

    measured, psm3 = read_serf_east(data_dir)
    loc = _location()
    shifted = psm3.copy()
    if time_shift_min:
        shifted.index = psm3.index + pd.Timedelta(minutes=float(time_shift_min))
    weather = serf_weather(shifted, loc, wind_speed=wind_speed)
    modelled = fleet_ac_kw(serf_systems(), weather, loc, orientation_step_deg=0,
                           label="instant").iloc[:, 0]
    modelled.index = psm3.index
    zenith = loc.get_solarposition(psm3.index)["zenith"].to_numpy()
    day = zenith < SERF_EAST["daytime_max_zenith_deg"]
    o, f = measured[day], modelled[day]
    cap = SERF_EAST["capacity_kw"]
    mean_o = float(o.mean())
    step_h = 0.25
    out = {
        "site": SERF_EAST["name"],
        "model": ("gridint fleet model (pvlib): Perez transposition, physical IAM, SAPM "
                  "open-rack cell temperature, PVWatts DC (gamma -0.51 %/degC, Sandia SM55) "
                  "with 14.08 % losses, PVWatts inverter; 6 kWp, tilt 45, azimuth 158"),
        "start": psm3.index[0].isoformat(),
        "end": (psm3.index[-1] + pd.Timedelta(minutes=15)).isoformat(),
        "n_points": int(day.sum()),
        "capacity_kw": cap,
        "mean_measured_kw": round(mean_o, 4),
        "mbe_kw": round(mbe(o, f), 4),
        "mae_kw": round(mae(o, f), 4),
        "rmse_kw": round(rmse(o, f), 4),
        "nrmse_percent": round(nrmse(o, f, cap), 2),
        "nrmse_mean_percent": round(nrmse(o, f, mean_o), 2),
        "mbe_percent": round(100.0 * mbe(o, f) / mean_o, 2),
        "mae_percent": round(100.0 * mae(o, f) / cap, 2),
        "correlation": round(float(np.corrcoef(o, f)[0, 1]), 4),
        "energy_measured_kwh": round(float(o.sum() * step_h), 1),
        "energy_modelled_kwh": round(float(f.sum() * step_h), 1),
        "wind_speed_m_s": SERF_EAST["wind_speed_m_s"] if wind_speed is None else float(wind_speed),
        "time_shift_min": float(time_shift_min),
    }
    clear = (day & (psm3["ghi"] > 0).to_numpy()
             & (psm3["ghi"] == psm3["ghi_clear"]).to_numpy())
    oc, fc = measured[clear], modelled[clear]
    out.update(
        clear_nrmse_percent=round(nrmse(oc, fc, cap), 2),
        clear_mbe_percent=round(100.0 * mbe(oc, fc) / float(oc.mean()), 2),
    )
    logger.info("SERF East validation: nRMSE %.1f %% of capacity, MBE %.1f %% of mean",
                out["nrmse_percent"], out["mbe_percent"])
    if return_series:
        out.update(measured_kw=measured, modelled_kw=modelled,
                   daytime=pd.Series(day, index=psm3.index))
    return out
